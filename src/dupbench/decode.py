"""Decode image bytes to an 8-bit BGR array, EXIF orientation applied.

OpenCV is the default decoder. Pillow is the fallback where OpenCV cannot be imported (it publishes
no free-threaded wheel), and can be chosen with `--decoder pillow`. The two can differ by a grey level
on lossy formats (their IDCTs differ), so one run uses one decoder throughout.
"""

from __future__ import annotations

import numpy as np

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None


class DecodeError(ValueError):
    """The bytes are not an image this decoder can read; the message is the skip reason."""


def looks_truncated(data: bytes) -> str | None:
    """Why the data is a cut-off JPEG or PNG, or None.

    libjpeg does not fail on a truncated JPEG: it warns and OpenCV returns a full-size image with the
    missing part filled, so a partial download would silently become a 'valid' image.
    """
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-4096:]:
        return "truncated JPEG (no end-of-image marker)"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-64:]:
        return "truncated PNG (no IEND chunk)"
    return None


DECODERS = ("auto", "opencv", "pillow")


def resolve_decoder(name: str) -> str:
    """'auto' means OpenCV where it can be imported, else Pillow."""
    if name not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {name!r}")
    if name == "auto":
        return "opencv" if cv2 is not None else "pillow"
    if name == "opencv" and cv2 is None:
        raise ValueError("decoder 'opencv' asked for, but cv2 cannot be imported on this interpreter")
    return name


def decode_image(data: bytes, decoder: str = "opencv") -> np.ndarray:
    """Decode to (h, w, 3) uint8 BGR; raise DecodeError with a reason a user can act on."""
    if not data:
        raise DecodeError("empty file")
    truncated = looks_truncated(data)
    if truncated:
        raise DecodeError(truncated)
    if decoder == "pillow":
        return _decode_pillow(data)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV raises (not returns None) for headers beyond its pixel limit
        raise DecodeError(f"decoder refused the image: {str(exc).strip().splitlines()[-1]}") from None
    if image is None:
        raise DecodeError(_undecodable_reason(data))
    return image


def _undecodable_reason(data: bytes) -> str:
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return f"{data[8:12].decode()} (HEIF/AVIF) image: no decoder for it is installed"
    return "not a decodable image"


def _decode_pillow(data: bytes) -> np.ndarray:
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            rgb = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise DecodeError(_undecodable_reason(data)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"decoder refused the image: {exc}") from None
    return np.ascontiguousarray(rgb[..., ::-1])
