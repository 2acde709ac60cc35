import io
import struct
import zlib

import cv2
import imagecodecs
import numpy as np
import pytest
from PIL import Image
from planted import photo

import dupbench.detector.png as png
from dupbench.detector.png import png_chunks, with_stored_image_data


def png_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def split_image_data(data: bytes, pieces: int, between: bytes | None = None) -> bytes:
    """The PNG with its zlib stream cut into `pieces` IDAT chunks, optionally with a chunk of type
    `between` after the first (a layout the standard forbids)."""
    chunks = png_chunks(data)
    image_data = [(offset, length) for kind, offset, length in chunks if kind == b"IDAT"]
    stream = b"".join(data[offset + 8 : offset + 8 + length] for offset, length in image_data)
    cut = -(-len(stream) // pieces)
    parts = [chunk(b"IDAT", stream[i : i + cut]) for i in range(0, len(stream), cut)]
    if between is not None:
        parts.insert(1, chunk(between, b"x"))
    start, end = image_data[0][0], image_data[-1][0] + 12 + image_data[-1][1]
    return data[:start] + b"".join(parts) + data[end:]


@pytest.fixture
def rgb():
    return Image.fromarray(np.ascontiguousarray(photo("astronaut", 300)[..., ::-1]))


def kinds(rgb: Image.Image) -> dict[str, bytes]:
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, rgb.width).astype(np.uint8), (rgb.height, 1))))
    return {
        "rgb": png_bytes(rgb),
        "rgba": png_bytes(rgba),
        "palette": png_bytes(rgb.quantize(64)),
        "palette of 4 bits": png_bytes(rgb.quantize(16), bits=4),
        "grey": png_bytes(rgb.convert("L")),
        "16-bit": cv2.imencode(".png", np.asarray(rgb).astype(np.uint16) * 257)[1].tobytes(),
        "many IDAT chunks": split_image_data(png_bytes(rgb), 7),
        "one pixel": png_bytes(rgb.resize((1, 1))),
        "a row of exactly one stored block": png_bytes(Image.new("L", (65534, 1), 7)),
    }


@pytest.mark.parametrize("kind", list(kinds(Image.new("RGB", (2, 2)))))
def test_framed_png_decodes_to_the_same_pixels(rgb, kind):
    """Re-framing changes how the bytes are packed, never the pixels: libspng and, independently,
    OpenCV's libpng read the framed file exactly as the original."""
    data = kinds(rgb)[kind]
    framed = with_stored_image_data(data)
    assert framed is not None
    if kind not in ("grey", "16-bit"):  # the kinds imagecodecs' libspng returns no array for
        assert np.array_equal(imagecodecs.spng_decode(framed), imagecodecs.spng_decode(data))
    unchanged = cv2.IMREAD_UNCHANGED
    assert np.array_equal(cv2.imdecode(framed, unchanged), cv2.imdecode(np.frombuffer(data, np.uint8), unchanged))


def damaged(data: bytes, where: str) -> bytes:
    chunks = png_chunks(data)
    offset, length = next((o, n) for k, o, n in chunks if k == b"IDAT")
    out = bytearray(data)
    if where == "checksum":
        out[offset + 8 + length] ^= 0xFF
    elif where == "stream":  # a flipped bit inside the compressed data, checksum made to match
        out[offset + 8 + length // 2] ^= 0x10
        out[offset + 8 + length : offset + 12 + length] = struct.pack(">I", zlib.crc32(bytes(out[offset + 4 : offset + 8 + length])))
    elif where == "truncated":
        del out[offset + 8 + length // 2 :]
    return bytes(out)


@pytest.mark.parametrize("where", ["checksum", "stream", "truncated"])
def test_a_damaged_png_is_left_as_it_is(rgb, where):
    """Framing must not repair a file (a new checksum over damaged data would): the decoders see the
    original bytes and fail or succeed as they did before."""
    assert with_stored_image_data(damaged(png_bytes(rgb), where)) is None


def test_pngs_framing_cannot_help_are_left_as_they_are(rgb, monkeypatch):
    assert with_stored_image_data(interlaced(rgb)) is None
    assert with_stored_image_data(split_image_data(png_bytes(rgb), 3, between=b"tEXt")) is None
    assert with_stored_image_data(b"GIF89a") is None
    monkeypatch.setattr(png, "MAX_FRAMED_BYTES", 1000)
    assert with_stored_image_data(png_bytes(rgb)) is None


def interlaced(rgb: Image.Image) -> bytes:
    ok, encoded = cv2.imencode(".png", np.asarray(rgb))
    data = bytearray(encoded.tobytes())
    assert ok and data[28] == 0
    # Pillow writes no interlaced PNG; an IHDR saying so is all the check reads
    data[28] = 1
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)
