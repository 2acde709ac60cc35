"""Formats read through optional packages: HEIF/HEIC and AVIF (Pillow plugins) and camera RAW (rawpy).

Each is recognised by its bytes, not its name, and its decoder is imported only when such a file is met,
so `import dupbench` and the CLI start-up do not pay for plugins most runs never use. Where the package
is missing the file is skipped with a reason that names the extra to install.
"""

from __future__ import annotations

import functools
import io
import struct
from typing import Any

import numpy as np

FORMATS_EXTRA = "pip install 'dupbench[formats]'"
RAW_EXTRA = "pip install 'dupbench[raw]'"

AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
FTYP_SCAN = 256  # the ftyp box is first and lists a handful of brands


def container_kind(data: bytes) -> str | None:
    """'avif' or 'heif' for an ISO-BMFF image (HEIC, HEIF, AVIF), from its ftyp box; None otherwise.

    An AVIF also lists the generic HEIF brand mif1, so AVIF brands are looked for first."""
    if data[4:8] != b"ftyp":
        return None
    end = min(int.from_bytes(data[:4], "big"), FTYP_SCAN, len(data))
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}
    if brands & AVIF_BRANDS:
        return "avif"
    return "heif" if brands & HEIF_BRANDS else None


@functools.cache
def pillow_reads(kind: str) -> str | None:
    """Make Pillow open `kind` ('avif' or 'heif') in this process; the name of what reads it, or None.

    Pillow 11.2 and later read AVIF themselves where their wheel was built with libavif; older ones
    need pillow-avif-plugin. HEIF always needs pillow-heif. Both plugins register on import."""
    if kind == "avif":
        from PIL import features

        if features.check("avif"):
            return "pillow"
        try:
            import pillow_avif  # noqa: F401  (registers the AVIF opener)
        except ImportError:
            return None
        return "pillow-avif-plugin"
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return None
    register_heif_opener()
    return "pillow-heif"


def missing_plugin_reason(kind: str) -> str:
    name = "AVIF" if kind == "avif" else "HEIF/HEIC"
    return f"{name} image: no decoder for it is installed ({FORMATS_EXTRA})"


def ispe_size(data: bytes) -> tuple[int, int] | None:
    """The largest (width, height) among the ISO-BMFF 'ispe' (image spatial extent) properties, or None.

    A bound on what decoding may cost when no plugin can report the primary image's size: grid tiles and
    thumbnails have their own, smaller, 'ispe'."""
    head = data[: 1 << 20]
    sizes = []
    at = head.find(b"ispe")
    while at >= 4 and at + 16 <= len(head):
        sizes.append(struct.unpack(">II", head[at + 8 : at + 16]))
        at = head.find(b"ispe", at + 4)
    return max(sizes, key=lambda s: s[0] * s[1]) if sizes else None


# Camera RAW. CR2 says so in its TIFF header; DNG carries a DNGVersion tag, Sony's ARW an SR2Private
# tag and Nikon's NEF its raw data in SubIFDs of a TIFF whose Make is NIKON, all in the first IFD.
DNG_VERSION, SR2_PRIVATE, SUB_IFDS, MAKE = 0xC612, 0xC634, 0x014A, 0x010F
MAX_IFD_ENTRIES = 512


def tiff_ifd0(data: bytes) -> dict[int, bytes] | None:
    """The first IFD's tags of a TIFF, each tag's raw 4-byte value field (or the pointed-to text for
    Make), or None if the data is not a TIFF."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or struct.unpack(order + "H", data[2:4])[0] != 42:
        return None
    offset = struct.unpack(order + "I", data[4:8])[0]
    if offset + 2 > len(data):
        return None
    count = min(struct.unpack(order + "H", data[offset : offset + 2])[0], MAX_IFD_ENTRIES)
    tags: dict[int, bytes] = {}
    for at in range(offset + 2, min(offset + 2 + 12 * count, len(data) - 11), 12):
        tag, kind, n = struct.unpack(order + "HHI", data[at : at + 8])
        value = data[at + 8 : at + 12]
        if tag == MAKE and kind == 2 and n > 4:
            start = struct.unpack(order + "I", value)[0]
            value = data[start : start + min(n, 64)]
        tags[tag] = value
    return tags


def is_camera_raw(data: bytes) -> bool:
    """Whether the bytes are a CR2, NEF, ARW or DNG file (a TIFF whose pictures are sensor data)."""
    if data[:4] == b"II*\x00" and data[8:10] == b"CR":
        return True
    tags = tiff_ifd0(data)
    if tags is None:
        return False
    if DNG_VERSION in tags or SR2_PRIVATE in tags:
        return True
    return SUB_IFDS in tags and tags.get(MAKE, b"").upper().startswith(b"NIKON")


class RawUnavailable(Exception):
    """rawpy is not installed (the message is the skip reason)."""


def _rawpy() -> Any:
    try:
        import rawpy
    except ImportError:
        raise RawUnavailable(f"camera RAW file: no decoder for it is installed ({RAW_EXTRA})") from None
    return rawpy


def raw_size(data: bytes) -> tuple[int, int]:
    """(width, height) of the developed picture, before its turn, from the RAW's metadata (no pixels
    unpacked). Raises RawUnavailable, or rawpy's LibRawError for a file LibRaw cannot parse."""
    rawpy = _rawpy()
    with rawpy.imread(io.BytesIO(data)) as raw:
        return raw.sizes.width, raw.sizes.height


# LibRaw's flip codes (sizes.flip) as numpy turns (k quarter turns anticlockwise): 3 = 180, 5 = 90 anticlockwise, 6 = 90 clockwise.
FLIP_TURNS = {0: 0, 3: 2, 5: 1, 6: 3}


def raw_preview(data: bytes) -> tuple[bytes | None, int, tuple[int, int]]:
    """(the embedded JPEG preview or None where there is none, LibRaw's flip code, the developed size
    before its turn); reads metadata and the preview only, no sensor data."""
    rawpy = _rawpy()
    with rawpy.imread(io.BytesIO(data)) as raw:
        flip, size = raw.sizes.flip, (raw.sizes.width, raw.sizes.height)
        try:
            thumb = raw.extract_thumb()
        except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
            return None, flip, size
    return (thumb.data if thumb.format == rawpy.ThumbFormat.JPEG else None), flip, size


def raw_develop(data: bytes) -> np.ndarray:
    """The RAW developed at half size (each 2x2 block of sensor sites one pixel: no demosaicing, the
    cheapest full development LibRaw has), camera white balance, 8-bit BGR, turned as the camera was held."""
    rawpy = _rawpy()
    with rawpy.imread(io.BytesIO(data)) as raw:
        rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return np.ascontiguousarray(rgb[..., ::-1])


def turn_by_flip(image: np.ndarray, flip: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, FLIP_TURNS.get(flip, 0)))
