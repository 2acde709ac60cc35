"""A minimal DNG writer for tests: no camera file can be had offline, so tests make their own.

The sensor data is an RGGB Bayer mosaic of a picture at twice its size, in linear light, with a colour
matrix that makes the camera's colours linear sRGB: developed at half size it gives the picture back.
An optional JPEG preview goes in IFD0 (as cameras store it) with the raw data in a SubIFD.
"""

from __future__ import annotations

import struct

import numpy as np

BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10
TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, SRATIONAL: 8}
XYZ_TO_LINEAR_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def _values(kind: int, values) -> bytes:
    if kind == ASCII:
        return values.encode() + b"\0"
    if kind in (RATIONAL, SRATIONAL):
        fmt = "<ii" if kind == SRATIONAL else "<II"
        return b"".join(struct.pack(fmt, round(v * 10000), 10000) for v in values)
    return struct.pack("<" + {BYTE: "B", SHORT: "H", LONG: "I"}[kind] * len(values), *values)


def _ifd(entries: dict[int, tuple[int, object]], at: int) -> tuple[bytes, bytes]:
    """(the IFD, its out-of-line data) for an IFD written at offset `at`, its data right after it."""
    data = b""
    table = struct.pack("<H", len(entries))
    data_at = at + 2 + 12 * len(entries) + 4
    for tag in sorted(entries):
        kind, values = entries[tag]
        raw = _values(kind, values if isinstance(values, (str, bytes, list, tuple)) else [values])
        count = len(raw) // TYPE_SIZE[kind]
        if len(raw) <= 4:
            field = raw.ljust(4, b"\0")
        else:
            field = struct.pack("<I", data_at + len(data))
            data += raw + (b"\0" if len(raw) % 2 else b"")
        table += struct.pack("<HHI", tag, kind, count) + field
    return table + struct.pack("<I", 0), data


def bayer(bgr: np.ndarray) -> np.ndarray:
    """An RGGB mosaic (2h, 2w) uint16 of the picture in linear light."""
    srgb = bgr[..., ::-1].astype(np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    mosaic = np.empty((2 * bgr.shape[0], 2 * bgr.shape[1]), np.uint16)
    scaled = np.rint(linear * 60000).astype(np.uint16)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 0::2], mosaic[1::2, 1::2] = scaled[..., 0], scaled[..., 1], scaled[..., 1], scaled[..., 2]
    return mosaic


def make_dng(bgr: np.ndarray, preview_jpeg: bytes | None = None, preview_size: tuple[int, int] | None = None) -> bytes:
    """A DNG holding `bgr` as sensor data, with the JPEG preview (and its (width, height)) if given."""
    mosaic = bayer(bgr)
    height, width = mosaic.shape
    pixels = mosaic.astype("<u2").tobytes()
    matrix = [v for row in XYZ_TO_LINEAR_SRGB for v in row]
    common = {
        271: (ASCII, "dupbench"),
        272: (ASCII, "test camera"),
        274: (SHORT, 1),
        50706: (BYTE, [1, 4, 0, 0]),
        50707: (BYTE, [1, 1, 0, 0]),
        50708: (ASCII, "dupbench test camera"),
        50721: (SRATIONAL, matrix),
        50778: (SHORT, 21),
        50728: (RATIONAL, [1.0, 1.0, 1.0]),
    }
    raw = {
        254: (LONG, 0),
        256: (LONG, width),
        257: (LONG, height),
        258: (SHORT, 16),
        259: (SHORT, 1),
        262: (SHORT, 32803),
        273: (LONG, 0),
        277: (SHORT, 1),
        278: (LONG, height),
        279: (LONG, len(pixels)),
        284: (SHORT, 1),
        33421: (SHORT, [2, 2]),
        33422: (BYTE, [0, 1, 1, 2]),
        50717: (LONG, 60000),
    }
    if preview_jpeg is None:
        return _tiff([{**common, **raw}], [pixels])
    pw, ph = preview_size
    preview = {
        254: (LONG, 1),
        256: (LONG, pw),
        257: (LONG, ph),
        258: (SHORT, [8, 8, 8]),
        259: (SHORT, 7),
        262: (SHORT, 6),
        273: (LONG, 0),
        277: (SHORT, 3),
        278: (LONG, ph),
        279: (LONG, len(preview_jpeg)),
        284: (SHORT, 1),
        330: (LONG, 0),
    }
    return _tiff([{**common, **preview}, raw], [preview_jpeg, pixels])


def _tiff(ifds: list[dict], strips: list[bytes]) -> bytes:
    """IFD0 then the rest as its SubIFDs (tag 330), each IFD's strip (tag 273) after all IFDs."""
    sizes = [len(b"".join(_ifd(entries, 0))) for entries in ifds]
    ifd_at = [8 + sum(sizes[:i]) for i in range(len(ifds))]
    strip_at = [ifd_at[-1] + sizes[-1] + sum(len(s) for s in strips[:i]) for i in range(len(strips))]
    out = b"II*\0" + struct.pack("<I", 8)
    for i, entries in enumerate(ifds):
        entries = {**entries, 273: (LONG, strip_at[i])}
        if 330 in entries:
            entries[330] = (LONG, ifd_at[1])
        table, data = _ifd(entries, ifd_at[i])
        out += table + data
    return out + b"".join(strips)
