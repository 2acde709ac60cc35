"""Stage 2, load: read each file once, digest it, decode it small, take its features, drop the bitmap.

Only the thumbnail is needed from the pixels, so JPEGs are decoded at a reduced scale (several times
cheaper than a full decode). The full-resolution pixel digest, which tells pixel-identical files apart
from near-duplicates, is taken during this decode where it is a full one; a reduced JPEG decode gets
it later, and only if its thumbnail matched a file that can hold the same pixels (`pixel_digest_task`).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from dupbench.config import DEFAULT_MAX_FILE_SIZE, DetectorConfig
from dupbench.detector.borders import border, scaled
from dupbench.detector.decode import (
    OPAQUE_BYTES_PER_PIXEL,
    DecodeError,
    decode_colour,
    decoded_bytes_per_pixel,
    is_float_format,
    looks_truncated,
    opencv_only_size,
    resolve_decoder,
    undecodable_reason,
)
from dupbench.detector.features import (
    ImageFeatures,
    file_digest,
    full_pixel_digest,
    jpeg_coded_digest,
    jpeg_quality,
    lossy_coding,
    pixel_digest_with_alpha,
    resize_plane,
    small_views,
)
from dupbench.detector.formats import RawUnavailable, container_kind, is_camera_raw, ispe_size, pillow_reads, raw_size
from dupbench.result import Skipped


def describe_size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size} bytes"


def read_regular_file(path: str, max_size: int | None = None) -> bytes:
    """Read a regular file's bytes; refuse FIFOs, sockets and devices without blocking on them, and
    files above `max_size` bytes unread (a sparse 1.5 GB file costs no disk but would cost 1.5 GB here)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DecodeError("not a regular file (FIFO, socket or device)")
        if max_size is not None and info.st_size > max_size:
            raise DecodeError(f"file too large: {describe_size(info.st_size)} > limit {describe_size(max_size)} (--max-file-size), not read")
        with io.FileIO(fd, closefd=False) as fh:
            if max_size is None:
                return fh.read()
            data = fh.read(info.st_size)  # never read(max_size): that allocates max_size bytes up front
            if fh.read(1):  # it grew since fstat: read no further than the limit allows
                rest = fh.read(max_size - len(data))
                if fh.read(1) or len(data) + 1 + len(rest) > max_size:
                    raise DecodeError(f"file too large: grew past limit {describe_size(max_size)} (--max-file-size) while being read")
                raise DecodeError("changed while being read")
            return data
    finally:
        os.close(fd)


ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def header_info(data: bytes) -> tuple[tuple[int, int] | None, bool]:
    """((width, height) as stored, whether it may hold transparency), from the header alone (Pillow parses
    it lazily, with the HEIF or AVIF plugin where one is installed; rawpy reads a camera RAW's metadata;
    `opencv_only_size` for HDR, PFM and PAM); the size is None if none can tell."""
    if is_camera_raw(data):
        return raw_header(data), False
    kind = container_kind(data)
    if kind is not None and pillow_reads(kind) is None:  # OpenCV may still read it (some builds read AVIF)
        return ispe_size(data), False
    from PIL import Image

    # The detector applies its own limit (DetectorConfig.max_pixels) before any decoder allocates;
    # Pillow's would raise before telling us the size.
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            has_alpha = im.mode in ALPHA_MODES or "transparency" in im.info
    except Exception:  # not a format Pillow knows: maybe one only OpenCV reads
        return opencv_only_size(data), False
    return (width, height), has_alpha


def raw_header(data: bytes) -> tuple[int, int]:
    """A camera RAW's developed size from its metadata (rawpy), or DecodeError saying why there is none."""
    try:
        return raw_size(data)
    except RawUnavailable as exc:
        raise DecodeError(str(exc)) from None
    except Exception as exc:  # rawpy's LibRawError and its kinds
        raise DecodeError(f"camera RAW file LibRaw cannot read: {type(exc).__name__}: {exc}") from None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as stored, from the header alone, or None if neither Pillow nor `opencv_only_size` can tell."""
    return header_info(data)[0]


def check_decoded_size(data: bytes, config: DetectorConfig) -> tuple[tuple[int, int], bool]:
    """(stored size, may hold transparency), if decoding it stays within the per-file budget; else
    DecodeError, before any decoder allocates. A file whose header gives no size is refused: no decoder
    may guess its cost. The budget is what an opaque 8-bit image of `max_pixels` costs to decode."""
    stored, has_alpha = header_info(data)
    if stored is None:
        raise DecodeError(looks_truncated(data) or undecodable_reason(data))
    pixels = stored[0] * stored[1]
    per_pixel = decoded_bytes_per_pixel(data, has_alpha)
    if pixels * per_pixel > OPAQUE_BYTES_PER_PIXEL * config.max_pixels:
        kind = " (a float format)" if is_float_format(data) else " (with transparency)" if per_pixel > OPAQUE_BYTES_PER_PIXEL else ""
        raise DecodeError(f"image too large: {stored[0]}x{stored[1]} = {pixels} pixels{kind} > limit {config.max_pixels * OPAQUE_BYTES_PER_PIXEL // per_pixel}")
    return stored, has_alpha


def oriented_size(stored: tuple[int, int], decoded: np.ndarray) -> tuple[int, int]:
    """The stored size turned the way the decoder turned the image (EXIF orientation may swap it)."""
    width, height = stored
    rows, cols = decoded.shape[:2]
    if (rows > cols) != (height > width) and rows != cols and width != height:
        return height, width
    return width, height


def load_features(path: str, config: DetectorConfig) -> ImageFeatures | Skipped:
    """Features of one file, or the reason it was skipped. Never raises for bad input."""
    try:
        data = read_regular_file(path, config.max_file_size)
    except DecodeError as exc:  # not a regular file, or above --max-file-size: refused unread
        return Skipped(path, str(exc))
    except OSError as exc:
        return Skipped(path, f"unreadable: {exc.strerror or exc}")
    return features_of(path, data, config)


def features_of(path: str, data: bytes, config: DetectorConfig) -> ImageFeatures | Skipped:
    """The load stage's work on a file's bytes, once read (what benchmarks/limits.py times as its ceiling)."""
    try:
        if not data:
            raise DecodeError("empty file")
        stored, has_alpha = check_decoded_size(data, config)
        decoder = resolve_decoder(config.decoder)
        image, alpha = decode_colour(data, decoder, stored, min_side=2 * config.thumb_size, has_alpha=has_alpha)
    except DecodeError as exc:
        return Skipped(path, str(exc))
    except OSError as exc:
        return Skipped(path, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug must cost one file, not the run
        return Skipped(path, f"unexpected error: {type(exc).__name__}: {exc}")
    width, height = oriented_size(stored, image)
    use_cv2 = decoder == "opencv"
    cut = border(image, image.shape[0] / height) if alpha is None else (0, 0, 0, 0)
    framed = image
    if any(cut):
        top, bottom, left, right = cut
        image = image[top : image.shape[0] - bottom, left : image.shape[1] - right]
    thumb, detail, colour = small_views(image, config.thumb_size, config.detail_size, use_cv2)
    return ImageFeatures(
        path=path,
        size_bytes=len(data),
        width=width,
        height=height,
        file_digest=file_digest(data),
        # a RAW's load decode is its preview; the pixel checks develop it (`decode.decode_raw`)
        pixel_digest=None if is_camera_raw(data) else full_pixel_digest(framed, alpha, stored),
        thumb=thumb,
        detail=detail,
        colour=colour,
        alpha=resize_plane(alpha, config.thumb_size, use_cv2) if alpha is not None else None,
        jpeg_quality=jpeg_quality(data),
        lossy_coding=lossy_coding(data),
        coded_digest=jpeg_coded_digest(data),
        border=scaled(cut, framed.shape[:2], (height, width)) if any(cut) else None,
    )


def pixel_digest_of(path: str, expected_file_digest: bytes, decoder: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes | None:
    """Digest of the full-resolution pixels, or None if the file changed since load or no longer decodes.
    The bytes equal those checked at load (same digest), so the decoded size is within the budget."""
    try:
        data = read_regular_file(path, max_file_size)
        if file_digest(data) != expected_file_digest:
            return None
        image, alpha = decode_colour(data, resolve_decoder(decoder), has_alpha=header_info(data)[1])
        return pixel_digest_with_alpha(image, alpha)
    except Exception:  # a file that went bad since load is simply not confirmed identical
        return None


def pixel_digest_chunk(items: Sequence[tuple[str, bytes]], decoder: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> list[bytes | None]:
    return [pixel_digest_of(path, digest, decoder, max_file_size) for path, digest in items]


def pixel_digest_task(decoder: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> Callable[[Sequence[tuple[str, bytes]]], list[bytes | None]]:
    """A picklable task for `executor.map` over chunks of (path, file digest)."""
    return partial(pixel_digest_chunk, decoder=decoder, max_file_size=max_file_size)


def load_chunk(paths: Sequence[str], config: DetectorConfig) -> list[ImageFeatures | Skipped]:
    return [load_features(path, config) for path in paths]


def load_task(config: DetectorConfig) -> Callable[[Sequence[str]], list[ImageFeatures | Skipped]]:
    """A picklable one-argument task for `executor.map` over chunks of paths."""
    return partial(load_chunk, config=config)
