"""PNG's container, read directly: chunk types, and the image data inflated by libdeflate.

Most of a photo PNG's decode is inflating its zlib stream, and the zlib build libspng is linked with
(in imagecodecs' wheels) inflates at a fraction of libdeflate's speed, which imagecodecs ships too.
`with_stored_image_data` inflates the stream with libdeflate and hands libspng the same PNG with its
image data re-framed as stored (uncompressed) deflate blocks, which libspng copies instead of
inflating; unfiltering is still libspng's. Inflating is deterministic, so the pixels are the same
bit for bit (tested on every PNG kind, and checked on every PNG of the real-image sets).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

try:
    import imagecodecs
except ImportError:  # pragma: no cover - callers then keep the PNG as it is
    imagecodecs = None  # type: ignore[assignment]
# libdeflate inflates; zlib-ng's vectorised checksums frame (a builder may leave either codec out)
FRAMING = imagecodecs is not None and all(getattr(imagecodecs, codec).available for codec in ("DEFLATE", "ZLIBNG"))
CODECS: Any = imagecodecs  # its stubs name bytes, but every codec reads any buffer (memoryview, ndarray)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_RGB, PNG_PALETTE, PNG_RGBA = 2, 3, 6  # IHDR colour types
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples a pixel, by IHDR colour type
STORED_BLOCK = 65535  # the most bytes one stored deflate block holds
# Above this many inflated bytes a PNG is decoded as it is: framing holds the inflated data twice
# more (inflated, then framed) beside the decoded image, and a worker's memory budget counts the image.
MAX_FRAMED_BYTES = 64 * 2**20


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset of the chunk's length field, data length) of each chunk, up to IEND, read from the
    chunk headers (a few thousand steps for a large image, where searching the bytes for a name would
    read them all and could match compressed data)."""
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = int.from_bytes(data[offset : offset + 4], "big"), data[offset + 4 : offset + 8]
        chunks.append((kind, offset, length))
        if kind == b"IEND":
            break
        offset += 12 + length
    return chunks


def png_chunk_types(data: bytes) -> set[bytes]:
    return {kind for kind, _, _ in png_chunks(data)}


def inflated_size(data: bytes) -> int | None:
    """The bytes a non-interlaced PNG's image data inflates to (a filter byte and the packed samples of
    each row), from IHDR; None for an interlaced one (its seven passes are sized otherwise)."""
    width, height = struct.unpack(">II", data[16:24])
    depth, colour_type, interlace = data[24], data[25], data[28]
    if interlace or colour_type not in CHANNELS:
        return None
    return height * (1 + (width * CHANNELS[colour_type] * depth + 7) // 8)


def crc_intact(data: bytes, offset: int, length: int) -> bool:
    memory = memoryview(data)
    stored = int.from_bytes(memory[offset + 8 + length : offset + 12 + length], "big")
    return CODECS.zlibng_crc32(memory[offset + 4 : offset + 8 + length]) == stored


def with_stored_image_data(data: bytes) -> np.ndarray | None:
    """The PNG `data` with its image data inflated and re-framed as stored deflate blocks, as one uint8
    buffer libspng reads like the file, or None where the PNG should be decoded as it is: interlaced,
    above MAX_FRAMED_BYTES, image data in more than one run of IDAT chunks, a chunk whose checksum is
    wrong, or a stream libdeflate refuses or that does not inflate to the size IHDR gives (a damaged
    file then fails, or decodes, exactly as it did before)."""
    if not FRAMING or len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    size = inflated_size(data)
    if size is None or size > MAX_FRAMED_BYTES:
        return None
    chunks = png_chunks(data)
    runs = [i for i, (kind, _, _) in enumerate(chunks) if kind == b"IDAT"]
    if not runs or runs[-1] - runs[0] + 1 != len(runs) or len(data) < chunks[-1][1] + 12 + chunks[-1][2]:
        return None
    image_data = [chunks[i] for i in runs]
    if not all(crc_intact(data, offset, length) for _, offset, length in image_data):
        return None
    memory = memoryview(data)
    stream = b"".join(memory[offset + 8 : offset + 8 + length] for _, offset, length in image_data)
    try:
        inflated = np.frombuffer(imagecodecs.deflate_decode(stream, out=size), dtype=np.uint8)
    except Exception:  # imagecodecs' DeflateError: damaged or truncated data
        return None
    if inflated.size != size:
        return None
    return framed(np.frombuffer(data, dtype=np.uint8), image_data[0][1], image_data[-1][1] + 12 + image_data[-1][2], inflated)


def framed(png: np.ndarray, start: int, end: int, inflated: np.ndarray) -> np.ndarray:
    """`png` with bytes start:end (its IDAT chunks) replaced by one IDAT chunk holding `inflated` as a
    zlib stream of stored blocks: each a 5-byte header (final flag, length, its complement) and up to
    STORED_BLOCK bytes, then the Adler-32 of the data; the chunk ends with its CRC-32."""
    full, rest = divmod(inflated.size, STORED_BLOCK)
    stream_length = 2 + 5 * (full + 1) + inflated.size + 4
    out = np.empty(start + 12 + stream_length + png.size - end, dtype=np.uint8)
    out[:start] = png[:start]
    header = struct.pack(">I", stream_length) + b"IDAT" + b"\x78\x01"
    out[start : start + 10] = np.frombuffer(header, dtype=np.uint8)
    at = start + 10
    blocks = out[at : at + full * (STORED_BLOCK + 5)].reshape(full, STORED_BLOCK + 5)
    blocks[:, :5] = np.frombuffer(struct.pack("<BHH", 0, STORED_BLOCK, 0), dtype=np.uint8)
    blocks[:, 5:] = inflated[: full * STORED_BLOCK].reshape(full, STORED_BLOCK)
    at += full * (STORED_BLOCK + 5)
    out[at : at + 5] = np.frombuffer(struct.pack("<BHH", 1, rest, rest ^ 0xFFFF), dtype=np.uint8)
    out[at + 5 : at + 5 + rest] = inflated[full * STORED_BLOCK :]
    at += 5 + rest
    out[at : at + 4] = np.frombuffer(struct.pack(">I", CODECS.zlibng_adler32(inflated)), dtype=np.uint8)
    at += 4
    out[at : at + 4] = np.frombuffer(struct.pack(">I", CODECS.zlibng_crc32(out[start + 4 : at])), dtype=np.uint8)
    out[at + 4 :] = png[end:]
    return out
