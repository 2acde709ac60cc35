"""Per-image features: what the compare stage needs, so decoded bitmaps can be dropped at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None  # type: ignore[assignment]

DIGEST_BYTES = 16
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

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def identity(self) -> bytes:
        """Equal for files known to hold the same picture: the pixel digest once taken, else the bytes'."""
        return b"pixels:" + self.pixel_digest if self.pixel_digest is not None else b"bytes:" + self.file_digest


def file_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def pixel_digest(image: np.ndarray) -> bytes:
    """Digest of decoded pixels and shape: the same picture saved as PNG, BMP or TIFF hashes equal."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    h.update(np.asarray(image.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def pixel_digest_with_alpha(image: np.ndarray, alpha: np.ndarray | None) -> bytes:
    """`pixel_digest` of the picture and, where there is one, its alpha plane: copies that differ only in
    transparency are not identical."""
    return pixel_digest(image if alpha is None else np.dstack([image, alpha]))


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
