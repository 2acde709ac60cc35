"""Decode image bytes to an 8-bit BGR array, EXIF orientation applied.

OpenCV is the default decoder. Pillow is the fallback where OpenCV cannot be imported (it publishes
no free-threaded wheel), and can be chosen with `--decoder pillow`. The two can differ by a grey level
on lossy formats (their IDCTs differ), so one run uses one decoder throughout. A file OpenCV cannot
read (a GIF whose background index is past its palette, HEIC through pillow-heif) is tried with Pillow
before it is skipped; camera RAW files go to rawpy (see formats.py).
"""

from __future__ import annotations

import io
import re

import numpy as np

from dupbench.detector.formats import (
    RawUnavailable,
    container_kind,
    is_camera_raw,
    missing_plugin_reason,
    pillow_reads,
    raw_develop,
    raw_preview,
    turn_by_flip,
)
from dupbench.detector.png import CODECS, PNG_PALETTE, PNG_RGB, PNG_RGBA, PNG_SIGNATURE, png_chunk_types, with_stored_image_data

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None  # type: ignore[assignment]
try:
    import imagecodecs
except ImportError:  # pragma: no cover - the PNG fast path is then OpenCV's libpng
    imagecodecs = None  # type: ignore[assignment]


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


def refuse_empty_or_truncated(data: bytes) -> None:
    """Raise DecodeError for bytes no decoder should be given (OpenCV fills a truncated JPEG and says nothing)."""
    if not data:
        raise DecodeError("empty file")
    truncated = looks_truncated(data)
    if truncated:
        raise DecodeError(truncated)


def decode_image(data: bytes, decoder: str = "opencv") -> np.ndarray:
    """Decode to (h, w, 3) uint8 BGR; raise DecodeError with a reason a user can act on."""
    refuse_empty_or_truncated(data)
    if is_camera_raw(data):
        return decode_raw(data, decoder, min_side=1)
    if decoder == "pillow":
        return _decode_pillow(data)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV raises (not returns None) for headers beyond its pixel limit
        raise DecodeError(f"decoder refused the image: {str(exc).strip().splitlines()[-1]}") from None
    return image if image is not None else _decode_pillow(data)


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


COMPOSITE_ROWS = 256
BACKGROUND = 255  # transparency is composited on white, as flattening a drawing for print or JPEG does


def composite(bgra: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(BGR on a white background, alpha) from a 4-channel image; alpha is None when it is all opaque.

    Dropping alpha keeps the colour stored under transparent pixels, which in many drawings and icons
    is black: every black drawing on a transparent background would become the same black picture.
    """
    colour, alpha = bgra[..., :3], bgra[..., 3]
    if alpha.min() == 255:
        return np.ascontiguousarray(colour), None
    out = np.empty(colour.shape, np.uint8)
    for start in range(0, len(colour), COMPOSITE_ROWS):  # float temporaries for a block of rows, not the image
        rows = slice(start, start + COMPOSITE_ROWS)
        weight = alpha[rows].astype(np.float32)[..., None] / 255.0
        flat = colour[rows].astype(np.float32) * weight + BACKGROUND * (1.0 - weight)
        out[rows] = np.clip(np.rint(flat), 0, 255).astype(np.uint8)
    return out, np.ascontiguousarray(alpha)


def to_8bit_bgra(image: np.ndarray) -> np.ndarray | None:
    """An IMREAD_UNCHANGED result as 8-bit BGRA, or None if it carries no alpha channel."""
    if image.ndim != 3 or image.shape[2] not in (2, 4):
        return None
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(np.asarray(image, np.float32) * 255.0, 0, 255).astype(np.uint8)
    if image.shape[2] == 2:  # grey + alpha
        image = np.dstack([image[..., 0], image[..., 0], image[..., 0], image[..., 1]])
    return image


def dihedral(image: np.ndarray, k: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """The k-th of the 8 turns and mirror images (0 is the image itself, 1-3 turns, 4-7 mirrored turns) of
    the picture spanned by `axes` (rows, columns)."""
    turned = np.rot90(image, k % 4, axes=axes)
    return np.flip(turned, axis=axes[1]) if k >= 4 else turned


def align_alpha(colour: np.ndarray, bgra: np.ndarray) -> np.ndarray | None:
    """`bgra` turned the way the decoder turned `colour` (OpenCV applies EXIF orientation to colour decodes
    but not to every format's unchanged decode), found by matching pixels; None if no turn matches."""
    for k in range(8):
        candidate = dihedral(bgra, k)
        if candidate.shape[:2] != colour.shape[:2]:
            continue
        step = max(1, candidate.shape[0] // 64)
        if np.abs(candidate[::step, ::step, :3].astype(np.int16) - colour[::step, ::step].astype(np.int16)).max() <= 2:
            return np.ascontiguousarray(candidate)
    return None


def decode_png_spng(data: bytes, has_alpha: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """An 8-bit RGB, palette or RGBA PNG decoded by libspng (imagecodecs), as `decode_colour` returns it,
    or None where OpenCV's decode must be used: another bit depth or colour type, a palette or RGB image
    with a transparent colour (libspng's output drops it), an eXIf chunk (OpenCV turns by its
    orientation), or anything libspng refuses.

    PNG is lossless, so the pixels equal OpenCV's (tested for each PNG kind, and checked once on every
    PNG of the real-image sets). libspng decodes a quarter faster than libpng and releases the GIL, an
    RGBA image needs one decode here against OpenCV's two (colour, then unchanged for the alpha), and
    its image data is inflated by libdeflate first (`png.with_stored_image_data`).
    """
    if imagecodecs is None or cv2 is None or len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    depth, colour_type = data[24], data[25]
    if not (colour_type == PNG_RGBA and depth == 8 or colour_type == PNG_RGB and depth == 8 and not has_alpha or colour_type == PNG_PALETTE and not has_alpha):
        return None
    if b"eXIf" in png_chunk_types(data):
        return None
    try:
        framed = with_stored_image_data(data)
        pixels = CODECS.spng_decode(data if framed is None else framed)
    except Exception:  # imagecodecs' SpngError and its kinds: let OpenCV decide, as it does today
        return None
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        return None
    if pixels.shape[2] == 3:  # in place: the decode's own 3 bytes a pixel are the peak
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=pixels), None
    return composite(cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA, dst=pixels))


def decode_colour(
    data: bytes, decoder: str = "opencv", size: tuple[int, int] | None = None, min_side: int = 0, has_alpha: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode for features: (h, w, 3) uint8 BGR with transparency composited on white, and the alpha plane
    (None when the image is opaque), EXIF orientation applied.

    A JPEG whose header size is known is decoded at the smallest scale that keeps `min_side` pixels on
    its short side (JPEG has no alpha). `has_alpha` (from the header) asks for the extra decode that keeps
    transparency; other formats are decoded once, in full.
    """
    refuse_empty_or_truncated(data)
    if is_camera_raw(data):
        return decode_raw(data, decoder, min_side), None
    reduction = jpeg_reduction(size, min_side) if is_jpeg(data) else 1
    if decoder == "pillow":
        return _decode_pillow_colour(data, reduction)
    png = decode_png_spng(data, has_alpha)
    if png is not None:
        return png
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[reduction]
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, flag)
        if image is None:
            return _decode_pillow_colour(data, reduction)
        if not has_alpha or is_jpeg(data):
            return image, None
        unchanged = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV raises (not returns None) for headers beyond its pixel limit
        raise DecodeError(f"decoder refused the image: {str(exc).strip().splitlines()[-1]}") from None
    bgra = to_8bit_bgra(unchanged) if unchanged is not None else None
    aligned = align_alpha(image, bgra) if bgra is not None else None
    return composite(aligned) if aligned is not None else (image, None)


# What Pillow may open when it decodes: the formats dupbench scans for. Image.open alone tries every
# plugin Pillow has, and some hand the file to another program (EPS goes to Ghostscript).
PILLOW_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM", "JPEG2000", "HEIF", "AVIF")


def pillow_formats() -> list[str]:
    """Those of PILLOW_FORMATS this Pillow has an opener for now (HEIF only once its plugin registered)."""
    from PIL import Image

    Image.init()
    return [name for name in PILLOW_FORMATS if name in Image.OPEN]


def require_plugin(data: bytes) -> None:
    """Register the Pillow plugin a HEIF or AVIF file needs; DecodeError naming the extra if there is none."""
    kind = container_kind(data)
    if kind is not None and pillow_reads(kind) is None:
        raise DecodeError(missing_plugin_reason(kind))


def decode_raw(data: bytes, decoder: str, min_side: int) -> np.ndarray:
    """A camera RAW as 8-bit BGR: its embedded JPEG preview where it has one with `min_side` pixels on its
    short side and no more pixels than the sensor (a bound on its cost), else developed at half size.
    `min_side` 0 (the full-resolution pixel digest) always develops: the preview is the camera's rendering,
    not the file's pixels."""
    try:
        preview, flip, (width, height) = raw_preview(data) if min_side > 0 else (None, 0, (0, 0))
        if preview is not None and is_jpeg(preview):
            from PIL import Image

            with Image.open(io.BytesIO(preview)) as im:
                size, turned_by_exif = im.size, im.getexif().get(0x0112, 1) != 1
            if min(size) >= min_side and size[0] * size[1] <= width * height:
                image = decode_colour(preview, decoder, size, min_side)[0]
                return image if turned_by_exif else turn_by_flip(image, flip)
        return raw_develop(data)
    except RawUnavailable as exc:
        raise DecodeError(str(exc)) from None
    except DecodeError:
        raise
    except Exception as exc:  # rawpy's LibRawError and its kinds
        raise DecodeError(f"camera RAW file LibRaw cannot read: {type(exc).__name__}: {exc}") from None


def _decode_pillow_colour(data: bytes, reduction: int) -> tuple[np.ndarray, np.ndarray | None]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    require_plugin(data)
    try:
        with Image.open(io.BytesIO(data), formats=pillow_formats()) as image:
            if reduction > 1:
                image.draft("RGB", (image.width // reduction, image.height // reduction))
            turned = ImageOps.exif_transpose(image)
            if turned.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in turned.info:
                rgba = np.asarray(turned.convert("RGBA"))
                return composite(np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]))
            rgb = np.asarray(turned.convert("RGB"))
    except UnidentifiedImageError:
        raise DecodeError(undecodable_reason(data)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"decoder refused the image: {exc}") from None
    return np.ascontiguousarray(rgb[..., ::-1]), None


# What one pixel costs at the peak of a decode (measured with benchmarks/memory_bound.py): OpenCV's colour
# decode holds its RGB rows and the BGR image it returns; an image with alpha is decoded twice more
# (IMREAD_UNCHANGED, 4 bytes) and composited; the float formats decode to 3 x float32 and are converted.
OPAQUE_BYTES_PER_PIXEL = 6
ALPHA_BYTES_PER_PIXEL = 16
FLOAT_FORMAT_BYTES_PER_PIXEL = 24
_PNM_FIELD = re.compile(rb"(WIDTH|HEIGHT)\s+(\d+)")


def opencv_only_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a format OpenCV reads and Pillow does not (Radiance HDR, PFM,
    PAM), or None. Only the first 64 KiB are looked at: every one of these headers is text near the start."""
    head = data[:65536]
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        end = head.find(b"\n\n")  # the header ends with a blank line; the resolution line follows it
        match = re.match(rb"\s*([-+])([XY])\s+(\d+)\s+([-+])([XY])\s+(\d+)", head[end + 2 :]) if end >= 0 else None
        if match is None or match.group(2) == match.group(5):
            return None
        first, second = int(match.group(3)), int(match.group(6))
        return (second, first) if match.group(2) == b"Y" else (first, second)
    if head[:3] in (b"PF\n", b"Pf\n", b"PF\r", b"Pf\r") or head[:3] in (b"PF ", b"Pf "):
        match = re.match(rb"P[Ff]\s+(\d+)\s+(\d+)", head)
        return (int(match.group(1)), int(match.group(2))) if match else None
    if head.startswith(b"P7"):
        fields = dict(_PNM_FIELD.findall(head[: head.find(b"ENDHDR")] if b"ENDHDR" in head else b""))
        if b"WIDTH" in fields and b"HEIGHT" in fields:
            return int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
    return None


def is_float_format(data: bytes) -> bool:
    return data.startswith((b"#?RADIANCE", b"#?RGBE")) or data[:2] in (b"PF", b"Pf")


def decoded_bytes_per_pixel(data: bytes, has_alpha: bool = False) -> int:
    """What one pixel costs while decoding (see OPAQUE_BYTES_PER_PIXEL)."""
    if is_float_format(data):
        return FLOAT_FORMAT_BYTES_PER_PIXEL
    return ALPHA_BYTES_PER_PIXEL if has_alpha else OPAQUE_BYTES_PER_PIXEL


def undecodable_reason(data: bytes) -> str:
    kind = container_kind(data)
    if kind is not None and pillow_reads(kind) is None:
        return missing_plugin_reason(kind)
    return "not a decodable image"


def _decode_pillow(data: bytes) -> np.ndarray:
    """BGR like OpenCV."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    require_plugin(data)
    try:
        with Image.open(io.BytesIO(data), formats=pillow_formats()) as image:
            rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except UnidentifiedImageError:
        raise DecodeError(undecodable_reason(data)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"decoder refused the image: {exc}") from None
    return np.ascontiguousarray(rgb[..., ::-1])
