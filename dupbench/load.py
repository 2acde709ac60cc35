"""Stage 2, load: read each file once, digest it, decode it small, take its features, drop the bitmap.

Only the thumbnail is needed from the pixels, so JPEGs are decoded at a reduced scale (several times
cheaper than a full decode). The full-resolution pixel digest, which tells pixel-identical files apart
from near-duplicates, is taken later and only for files whose thumbnails already matched
(`pixel_digest_task`).
"""

from __future__ import annotations

import io
import os
import stat
from functools import partial
from typing import Callable, Sequence

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.decode import DecodeError, decode_colour, resolve_decoder
from dupbench.features import ImageFeatures, colour_grid, file_digest, jpeg_quality, pixel_digest_with_alpha, resize_plane, thumbnail
from dupbench.result import Skipped


def read_regular_file(path: str) -> bytes:
    """Read a regular file's bytes; refuse FIFOs, sockets and devices without blocking on them."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DecodeError("not a regular file (FIFO, socket or device)")
        with io.FileIO(fd, closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def header_info(data: bytes) -> tuple[tuple[int, int] | None, bool]:
    """((width, height) as stored, whether it may hold transparency), from the header alone (Pillow parses
    it lazily); the size is None if Pillow can't tell (then transparency is taken as absent)."""
    from PIL import Image

    # The detector applies its own limit (DetectorConfig.max_pixels) before any decoder allocates;
    # Pillow's would raise before telling us the size.
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            has_alpha = im.mode in ALPHA_MODES or "transparency" in im.info
    except Exception:  # unknown or broken headers are the decoder's to judge
        return None, False
    return (width, height), has_alpha


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as stored, from the header alone, or None if Pillow can't tell."""
    return header_info(data)[0]


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
        data = read_regular_file(path)
        if not data:
            raise DecodeError("empty file")
        stored, has_alpha = header_info(data)
        if stored is not None and stored[0] * stored[1] > config.max_pixels:
            raise DecodeError(f"image too large: {stored[0] * stored[1]} pixels > limit {config.max_pixels}")
        decoder = resolve_decoder(config.decoder)
        image, alpha = decode_colour(data, decoder, stored, min_side=2 * config.thumb_size, has_alpha=has_alpha)
    except DecodeError as exc:
        return Skipped(path, str(exc))
    except OSError as exc:
        return Skipped(path, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug must cost one file, not the run
        return Skipped(path, f"unexpected error: {type(exc).__name__}: {exc}")
    width, height = oriented_size(stored, image) if stored else (image.shape[1], image.shape[0])
    use_cv2 = decoder == "opencv"
    return ImageFeatures(
        path=path,
        size_bytes=len(data),
        width=width,
        height=height,
        file_digest=file_digest(data),
        pixel_digest=None,
        thumb=thumbnail(image, config.thumb_size, use_cv2),
        detail=thumbnail(image, config.detail_size, use_cv2),
        colour=colour_grid(image, use_cv2),
        alpha=resize_plane(alpha, config.thumb_size, use_cv2) if alpha is not None else None,
        jpeg_quality=jpeg_quality(data),
    )


def pixel_digest_of(path: str, expected_file_digest: bytes, decoder: str) -> bytes | None:
    """Digest of the full-resolution pixels, or None if the file changed since load or no longer decodes."""
    try:
        data = read_regular_file(path)
        if file_digest(data) != expected_file_digest:
            return None
        image, alpha = decode_colour(data, resolve_decoder(decoder), has_alpha=header_info(data)[1])
        return pixel_digest_with_alpha(image, alpha)
    except Exception:  # a file that went bad since load is simply not confirmed identical
        return None


def pixel_digest_chunk(items: Sequence[tuple[str, bytes]], decoder: str) -> list[bytes | None]:
    return [pixel_digest_of(path, digest, decoder) for path, digest in items]


def pixel_digest_task(decoder: str) -> Callable[[Sequence[tuple[str, bytes]]], list[bytes | None]]:
    """A picklable task for `executor.map` over chunks of (path, file digest)."""
    return partial(pixel_digest_chunk, decoder=decoder)


def load_chunk(paths: Sequence[str], config: DetectorConfig) -> list[ImageFeatures | Skipped]:
    return [load_features(path, config) for path in paths]


def load_task(config: DetectorConfig) -> Callable[[Sequence[str]], list[ImageFeatures | Skipped]]:
    """A picklable one-argument task for `executor.map` over chunks of paths."""
    return partial(load_chunk, config=config)
