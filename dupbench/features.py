"""Per-image features: what the compare stage needs, so decoded bitmaps can be dropped at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None

DIGEST_BYTES = 16


@dataclass(frozen=True)
class ImageFeatures:
    path: str
    size_bytes: int
    width: int
    height: int
    file_digest: bytes
    pixel_digest: bytes | None  # None until taken: only files whose thumbnails matched need it
    thumb: np.ndarray

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
    if use_cv2 and cv2 is not None:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    if image.ndim == 3:  # ITU-R 601 luma, as cv2.COLOR_BGR2GRAY
        image = np.clip(np.rint(image[..., :3].astype(np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)), 0, 255)
    gray = image.astype(np.float32)
    thumb = area_weights(gray.shape[0], size) @ gray @ area_weights(gray.shape[1], size).T
    return np.clip(np.rint(thumb), 0, 255).astype(np.uint8)
