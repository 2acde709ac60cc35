"""Per-image features: what the compare stage needs, so decoded bitmaps can be dropped at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None  # type: ignore[assignment]
try:
    import blake3
except ImportError:  # pragma: no cover - no wheel for free-threaded interpreters
    blake3 = None  # type: ignore[assignment]

DIGEST_BYTES = 16
# The pixel digest reads every decoded byte (three per pixel) and the coded-data digest a JPEG's whole
# scan, so their speed is a share of the load stage: BLAKE3 is as collision-resistant as BLAKE2b (a
# crafted file cannot pass as another's exact copy, and actions delete exact copies) and several times
# faster. BLAKE2b is the fallback where blake3 has no wheel; the cache keys its entries by this name, so
# the two never meet. The file digest stays BLAKE2b: reports, plans and manifests record it.
CONTENT_DIGEST = "blake3" if blake3 is not None else "blake2b"
COLOUR_GRID = 8  # the colour layout is compared on an 8x8 grid of mean chroma


@dataclass(frozen=True)
class ImageFeatures:
    path: str
    size_bytes: int
    width: int
    height: int
    file_digest: bytes
    pixel_digest: bytes | None  # None until taken: only files whose thumbnails matched need it
    thumb: np.ndarray
    # What verifies a pair the thumbnail matched (see compare.verify_pairs); None where not taken.
    detail: np.ndarray | None = None  # (2 * thumb side)^2 luma, for low-information images
    colour: np.ndarray | None = None  # (8, 8, 2) float32 chroma (CIE a*, b*)
    alpha: np.ndarray | None = None  # thumbnail of the alpha plane; None for opaque images
    jpeg_quality: int | None = None  # estimated from the quantisation table; None for other formats
    # What a lossy encoder chose (see `lossy_coding`); None for lossless or unknown codings.
    lossy_coding: bytes | None = None
    coded_digest: bytes | None = None  # JPEG: its image data without metadata (see `jpeg_coded_digest`)
    # Plain border cut off before the thumbnails (top, bottom, left, right, in pixels; see borders.py).
    border: tuple[int, int, int, int] | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def content_size(self) -> tuple[int, int]:
        """(width, height) of the picture inside its plain border (the whole file's without one)."""
        if self.border is None:
            return self.width, self.height
        top, bottom, left, right = self.border
        return max(1, self.width - left - right), max(1, self.height - top - bottom)

    @property
    def content_pixels(self) -> int:
        width, height = self.content_size
        return width * height

    @property
    def identity(self) -> bytes:
        """Equal for files known to hold the same picture: the pixel digest once taken, else the bytes'."""
        return b"pixels:" + self.pixel_digest if self.pixel_digest is not None else b"bytes:" + self.file_digest


def file_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


class ContentHasher:
    """An incremental CONTENT_DIGEST of DIGEST_BYTES bytes, for decoded pixels and coded image data."""

    def __init__(self) -> None:
        self._h = blake3.blake3() if blake3 is not None else hashlib.blake2b(digest_size=DIGEST_BYTES)

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest(DIGEST_BYTES) if blake3 is not None else self._h.digest()


def pixel_digest(image: np.ndarray) -> bytes:
    """Digest of decoded pixels and shape: the same picture saved as PNG, BMP or TIFF hashes equal."""
    h = ContentHasher()
    h.update(np.asarray(image.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


DIGEST_ROWS = 256  # rows of picture and alpha joined at a time, so a digest never copies the whole image


def pixel_digest_with_alpha(image: np.ndarray, alpha: np.ndarray | None) -> bytes:
    """`pixel_digest` of the picture and, where there is one, its alpha plane: copies that differ only in
    transparency are not identical. Equal to `pixel_digest(np.dstack([image, alpha]))`, a block of rows
    at a time: the load stage takes it inside its memory budget."""
    if alpha is None:
        return pixel_digest(image)
    h = ContentHasher()
    h.update(np.asarray((*image.shape[:2], (image.shape[2] if image.ndim == 3 else 1) + 1), dtype=np.int64).tobytes())
    for start in range(0, len(image), DIGEST_ROWS):
        rows = slice(start, start + DIGEST_ROWS)
        h.update(np.dstack([image[rows], alpha[rows]]).data)
    return h.digest()


def full_pixel_digest(image: np.ndarray, alpha: np.ndarray | None, stored: tuple[int, int]) -> bytes | None:
    """The pixel digest, if `image` is the full-resolution decode (as many pixels as the header's size):
    a digest taken during the load's decode spares the file a second decode; a reduced JPEG decode gets
    none (the pixel checks decode it in full if it can be identical to another file)."""
    if image.shape[0] * image.shape[1] != stored[0] * stored[1]:
        return None
    return pixel_digest_with_alpha(image, alpha)


def area_weights(n: int, size: int) -> np.ndarray:
    """(size, n) matrix averaging n pixels into `size` bins by overlap, i.e. OpenCV's INTER_AREA."""
    edges = np.linspace(0, n, size + 1)
    pixel = np.arange(n)[None, :]
    overlap = np.clip(np.minimum(edges[1:, None], pixel + 1) - np.maximum(edges[:-1, None], pixel), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def thumbnail(image: np.ndarray, size: int, use_cv2: bool = True) -> np.ndarray:
    """Grayscale (size, size) uint8 thumbnail, area-averaged, aspect ratio not kept.

    Squashing instead of padding keeps a 5%-cropped copy aligned with its original. Without OpenCV
    the same luma weights and area averaging are done with numpy (equal to INTER_AREA when downscaling).
    """
    return resize_plane(luma(image, use_cv2), size, use_cv2)


def luma(image: np.ndarray, use_cv2: bool = True) -> np.ndarray:
    """(h, w) uint8 ITU-R 601 luma of a BGR image (as cv2.COLOR_BGR2GRAY); a grey image as it is."""
    if image.ndim == 2:
        return image
    if use_cv2 and cv2 is not None:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    weighted = image[..., :3].astype(np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)
    return np.clip(np.rint(weighted), 0, 255).astype(np.uint8)


def colour_grid(image: np.ndarray, use_cv2: bool = True) -> np.ndarray:
    """(8, 8, 2) float32 mean chroma (CIE a*, b*, about -128..127) of a BGR image, on an 8x8 grid.

    Luma thumbnails ignore hue, so a purple and a green version of one design look alike; chroma on a
    coarse grid tells them apart while brightness, contrast and gamma edits barely move it.
    """
    if image.ndim == 2:
        return np.zeros((COLOUR_GRID, COLOUR_GRID, 2), np.float32)
    if use_cv2 and cv2 is not None:
        small = cv2.resize(np.ascontiguousarray(image[..., :3]), (COLOUR_GRID, COLOUR_GRID), interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
        return lab[..., 1:] - 128.0
    from skimage.color import rgb2lab

    bgr = image[..., :3].astype(np.float32)
    small = np.stack([area_weights(bgr.shape[0], COLOUR_GRID) @ bgr[..., c] @ area_weights(bgr.shape[1], COLOUR_GRID).T for c in (2, 1, 0)], axis=-1)
    return rgb2lab(np.clip(np.rint(small), 0, 255) / 255.0)[..., 1:].astype(np.float32)


def small_views(image: np.ndarray, thumb_size: int, detail_size: int, use_cv2: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(luma thumbnail, detail thumbnail, colour grid) of a BGR image: each an area average of it.

    Area bins nest (the detail side is a multiple of the thumbnail's and of the grid's) and luma is a
    weighted sum, so with OpenCV one colour resize to the detail side serves all three: one pass over the
    full-size image instead of four (luma, two resizes, the grid's own), equal to resizing it directly
    up to rounding (a grey level). Images smaller than the detail side, and sizes that do not nest, are
    resized directly.
    """
    nested = detail_size % thumb_size == 0 and detail_size % COLOUR_GRID == 0
    if use_cv2 and cv2 is not None and image.ndim == 3 and nested and min(image.shape[:2]) >= detail_size:
        small = cv2.resize(np.ascontiguousarray(image[..., :3]), (detail_size, detail_size), interpolation=cv2.INTER_AREA)
        detail = luma(small)
        return resize_plane(detail, thumb_size), detail, colour_grid(small)
    gray = luma(image, use_cv2)
    return resize_plane(gray, thumb_size, use_cv2), resize_plane(gray, detail_size, use_cv2), colour_grid(image, use_cv2)


def resize_plane(plane: np.ndarray, size: int, use_cv2: bool = True) -> np.ndarray:
    """A (size, size) uint8 area-averaged copy of one 8-bit plane (alpha, or luma)."""
    if use_cv2 and cv2 is not None:
        return cv2.resize(plane, (size, size), interpolation=cv2.INTER_AREA)
    thumb = area_weights(plane.shape[0], size) @ plane.astype(np.float32) @ area_weights(plane.shape[1], size).T
    return np.clip(np.rint(thumb), 0, 255).astype(np.uint8)


def jpeg_quality(data: bytes) -> int | None:
    """The IJG quality (1-100) a JPEG's luminance quantisation table was most likely made with, or None.

    Recompressing at a lower quality leaves its mark in the table; the keeper rule uses it so a heavily
    recompressed copy does not win over its original because it is larger.
    """
    if data[:2] != b"\xff\xd8":
        return None
    table = _luma_table(data)
    if table is None:
        return None
    scale = 100.0 * sum(table) / sum(IJG_LUMA)
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return int(min(100, max(1, round(quality))))


IJG_LUMA = (
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
)


def _luma_table(data: bytes) -> list[int] | None:
    """The 64 entries of quantisation table 0 from the first DQT segment, or None."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDB:
            segment = data[pos + 4 : pos + 2 + length]
            while segment:
                precision, table_id = segment[0] >> 4, segment[0] & 15
                width = 2 if precision else 1
                body = segment[1 : 1 + 64 * width]
                if len(body) < 64 * width:
                    return None
                if table_id == 0:
                    return [int.from_bytes(body[k : k + width], "big") for k in range(0, 64 * width, width)]
                segment = segment[1 + 64 * width :]
        if marker == 0xDA:  # start of scan: no table before the image data
            return None
        pos += 2 + length
    return None


def may_hold_same_pixels(a: ImageFeatures, b: ImageFeatures) -> bool:
    """Whether two files can decode to exactly the same pixels, judged without decoding them.

    They need the same pixel count (not width and height: a reduced JPEG decode can round a near-square
    turned picture's sides alike), the same transparency, and not two lossy codings that differ: a copy
    with the same pixels is a lossless save of a decode (PNG, BMP, TIFF, lossless WebP) or a lossless
    JPEG rewrite (metadata, Huffman tables, progressive scans), which keeps the quantisation table.
    Two lossy encodings with other tables or codecs agree only by coincidence (an image of one flat
    colour), and then still match as near duplicates. Two JPEGs of one table hold the same pixels when
    they hold the same coefficients, and then their reduced decodes, hence all their thumbnails, agree.
    """
    if a.pixels != b.pixels or (a.alpha is None) != (b.alpha is None):
        return False
    if a.lossy_coding is None or b.lossy_coding is None:
        return True
    return a.lossy_coding == b.lossy_coding and same_thumbnails(a, b)


def same_thumbnails(a: ImageFeatures, b: ImageFeatures) -> bool:
    """Whether every thumbnail of the two (luma, detail, colour grid) is equal to the last bit."""
    pairs = ((a.thumb, b.thumb), (a.detail, b.detail), (a.colour, b.colour))
    return all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y)) for x, y in pairs)


JPEG_LENGTHLESS = frozenset({0x01, *range(0xD0, 0xDA)})  # TEM, RST0-7, SOI, EOI: markers without a length
JPEG_METADATA = frozenset({*range(0xE1, 0xEE), 0xEF, 0xFE})  # APP1-APP13, APP15, COM: no decoder reads pixels from them
JPEG_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC5, 0xC6, 0xC9, 0xCA, 0xCD, 0xCE})  # SOF of the lossy (DCT) processes
JPEG_LOSSLESS_FRAMES = frozenset({0xC3, 0xC7, 0xCB, 0xCF})
EXIF_ORIENTATION = 0x0112


def jpeg_header(data: bytes) -> tuple[list[tuple[int, bytes]], int] | None:
    """(marker, payload) of each segment before the first scan, and the scan's offset; None unless the
    header is a clean run of segments (anything else is left to a full decode to judge)."""
    if data[:2] != b"\xff\xd8":
        return None
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return segments, pos
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in JPEG_LENGTHLESS or marker < 0xC0 or end < pos + 4 or end > len(data):
            return None
        segments.append((marker, data[pos + 4 : end]))
        pos = end
    return None


def exif_orientation(tiff: bytes) -> int | None:
    """The orientation tag of an Exif block's first IFD (0 if it has none), or None if the block is not
    plain enough to be sure every decoder reads the same value from it (one SHORT tag, in bounds)."""
    byte_orders: dict[bytes, Literal["little", "big"]] = {b"II": "little", b"MM": "big"}
    order = byte_orders.get(tiff[:2])
    if order is None or int.from_bytes(tiff[2:4], order) != 42:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    if ifd < 8 or len(tiff) < ifd + 2 + 12 * count:
        return None
    entries = (tiff[ifd + 2 + 12 * k : ifd + 14 + 12 * k] for k in range(count))
    found = [e for e in entries if int.from_bytes(e[:2], order) == EXIF_ORIENTATION]
    if not found:
        return 0
    entry = found[0]
    if len(found) > 1 or int.from_bytes(entry[2:4], order) != 3 or int.from_bytes(entry[4:8], order) != 1:
        return None
    return int.from_bytes(entry[8:10], order)


def jpeg_orientations(segments: list[tuple[int, bytes]]) -> bytes | None:
    """The orientation of every Exif segment, in order (1, as stored, where there is none: decoders read
    it so), or None where it is unclear: an Exif block this parser cannot read, or an XMP packet naming
    an orientation (Pillow reads that one)."""
    found = []
    for marker, payload in segments:
        if marker != 0xE1:
            continue
        if payload.startswith(b"Exif\x00\x00"):
            value = exif_orientation(payload[6:])
            if value is None or value > 8:  # decoders differ on values outside 1-8
                return None
            found.append(value or 1)
        elif b"Orientation" in payload:
            return None
    return bytes(found or [1])


def jpeg_coded_digest(data: bytes) -> bytes | None:
    """Digest of what a decoder reads for a JPEG's pixels: every segment but the metadata ones (Exif, XMP,
    IPTC, comments), the scans and all after them, and the Exif orientation. Equal digests mean equal
    decoded pixels without decoding: the copies a tagging tool writes. None where the header is unusual."""
    header = jpeg_header(data)
    if header is None:
        return None
    segments, scan = header
    orientations = jpeg_orientations(segments)
    if orientations is None:
        return None
    h = ContentHasher()
    h.update(orientations)
    for marker, payload in segments:
        if marker not in JPEG_METADATA:
            h.update(bytes([marker]) + len(payload).to_bytes(4, "big") + payload)
    h.update(memoryview(data)[scan:])
    return h.digest()


def quantisation_tables(payload: bytes) -> dict[int, bytes] | None:
    """The tables one DQT segment defines, by id, each as its sorted entries (a turn transposes a table;
    sorting forgets it); None if the segment is malformed."""
    tables = {}
    while payload:
        width = 2 if payload[0] >> 4 else 1
        body = payload[1 : 1 + 64 * width]
        if len(body) < 64 * width:
            return None
        entries = sorted(int.from_bytes(body[k : k + width], "big") for k in range(0, 64 * width, width))
        tables[payload[0] & 15] = bytes([width]) + b"".join(v.to_bytes(2, "big") for v in entries)
        payload = payload[1 + 64 * width :]
    return tables


def jpeg_coding(data: bytes) -> bytes | None:
    """The quantisation table of a lossy JPEG's first component (luma) as the frame uses it, or None."""
    header = jpeg_header(data)
    if header is None:
        return None
    tables: dict[int, bytes] = {}
    for marker, payload in header[0]:
        if marker == 0xDB:
            defined = quantisation_tables(payload)
            if defined is None:
                return None
            tables.update(defined)
        elif marker in JPEG_FRAMES:
            table = tables.get(payload[8]) if len(payload) >= 9 else None
            return b"jpeg" + table if table is not None else None
        elif marker in JPEG_LOSSLESS_FRAMES:
            return None
    return None


def webp_coding(data: bytes) -> bytes | None:
    """b"webp-vp8" for a lossy still WebP, None for a lossless or animated one."""
    fourcc = data[12:16]
    if fourcc == b"VP8 ":
        return b"webp-vp8"
    if fourcc != b"VP8X":
        return None
    pos = 30  # past the VP8X chunk
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        if fourcc in (b"ANIM", b"ANMF", b"VP8L"):
            return None
        if fourcc == b"VP8 ":
            return b"webp-vp8"
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += 8 + size + (size & 1)
    return None


def lossy_coding(data: bytes) -> bytes | None:
    """What a lossy encoder chose, for `may_hold_same_pixels`: a JPEG's luma quantisation table, or that a
    WebP is lossy; None for lossless and unknown codings (always checked)."""
    if data[:2] == b"\xff\xd8":
        return jpeg_coding(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return webp_coding(data)
    return None
