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


JPEG_REDUCTIONS = (8, 4, 2)


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


def jpeg_reduction(size: tuple[int, int] | None, min_side: int) -> int:
    """The largest 1/8, 1/4 or 1/2 scale whose short side still has `min_side` pixels, else 1.

    libjpeg produces these scales inside its IDCT (at 1/8 it keeps only each block's DC term, the
    block's mean), so a reduced decode costs a fraction of a full one and area-averages the same way.
    """
    if size is None:
        return 1
    short = min(size)
    return next((r for r in JPEG_REDUCTIONS if short // r >= min_side), 1)


def decode_gray(data: bytes, decoder: str = "opencv", size: tuple[int, int] | None = None, min_side: int = 0) -> np.ndarray:
    """Decode to a (h, w) uint8 luma image, EXIF orientation applied, for thumbnails only.

    A JPEG whose header size is known is decoded at the smallest scale that keeps `min_side` pixels on
    its short side; other formats are decoded in full (OpenCV's reduced modes would resize them with a
    bilinear filter that aliases). Exact-duplicate checks use `decode_image`, never this.
    """
    if not data:
        raise DecodeError("empty file")
    truncated = looks_truncated(data)
    if truncated:
        raise DecodeError(truncated)
    reduction = jpeg_reduction(size, min_side) if is_jpeg(data) else 1
    if decoder == "pillow":
        return _decode_pillow(data, gray_reduction=reduction)
    flag = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[reduction]
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error as exc:
        raise DecodeError(f"decoder refused the image: {str(exc).strip().splitlines()[-1]}") from None
    if image is None:
        raise DecodeError(_undecodable_reason(data))
    return image


def _undecodable_reason(data: bytes) -> str:
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return f"{data[8:12].decode()} (HEIF/AVIF) image: no decoder for it is installed"
    return "not a decodable image"


def _decode_pillow(data: bytes, gray_reduction: int | None = None) -> np.ndarray:
    """BGR like OpenCV, or luma at 1/`gray_reduction` scale (JPEG draft mode) when that is given."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if gray_reduction is not None and gray_reduction > 1:
                image.draft("L", (image.width // gray_reduction, image.height // gray_reduction))
            image = ImageOps.exif_transpose(image)
            if gray_reduction is not None:
                return np.asarray(image.convert("L"))
            rgb = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise DecodeError(_undecodable_reason(data)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"decoder refused the image: {exc}") from None
    return np.ascontiguousarray(rgb[..., ::-1])
