"""Stage 2, load: read each file once, digest it, decode it, take its features, drop the bitmap."""

from __future__ import annotations

import io
import os
import stat
from functools import partial
from typing import Callable, Sequence

from dupbench.config import DetectorConfig
from dupbench.decode import DecodeError, decode_image, resolve_decoder
from dupbench.features import ImageFeatures, file_digest, pixel_digest, thumbnail
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


def header_pixels(data: bytes) -> int | None:
    """Pixel count from the header alone (Pillow parses it lazily), or None if Pillow can't tell."""
    from PIL import Image

    # The detector applies its own limit (DetectorConfig.max_pixels) before any decoder allocates;
    # Pillow's would raise before telling us the size.
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
    except Exception:  # unknown or broken headers are the decoder's to judge
        return None
    return width * height


def load_features(path: str, config: DetectorConfig) -> ImageFeatures | Skipped:
    """Features of one file, or the reason it was skipped. Never raises for bad input."""
    try:
        data = read_regular_file(path)
        if not data:
            raise DecodeError("empty file")
        pixels = header_pixels(data)
        if pixels is not None and pixels > config.max_pixels:
            raise DecodeError(f"image too large: {pixels} pixels > limit {config.max_pixels}")
        decoder = resolve_decoder(config.decoder)
        image = decode_image(data, decoder)
    except DecodeError as exc:
        return Skipped(path, str(exc))
    except OSError as exc:
        return Skipped(path, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a decoder bug must cost one file, not the run
        return Skipped(path, f"unexpected error: {type(exc).__name__}: {exc}")
    height, width = image.shape[:2]
    return ImageFeatures(
        path=path,
        size_bytes=len(data),
        width=width,
        height=height,
        file_digest=file_digest(data),
        pixel_digest=pixel_digest(image),
        thumb=thumbnail(image, config.thumb_size, use_cv2=decoder == "opencv"),
    )


def load_chunk(paths: Sequence[str], config: DetectorConfig) -> list[ImageFeatures | Skipped]:
    return [load_features(path, config) for path in paths]


def load_task(config: DetectorConfig) -> Callable[[Sequence[str]], list[ImageFeatures | Skipped]]:
    """A picklable one-argument task for `executor.map` over chunks of paths."""
    return partial(load_chunk, config=config)
