"""Per-image features: what the compare stage needs, so decoded bitmaps can be dropped at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

DIGEST_BYTES = 16


@dataclass(frozen=True)
class ImageFeatures:
    path: str
    size_bytes: int
    width: int
    height: int
    file_digest: bytes
    pixel_digest: bytes
    thumb: np.ndarray

    @property
    def pixels(self) -> int:
        return self.width * self.height


def file_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def pixel_digest(image: np.ndarray) -> bytes:
    """Digest of decoded pixels and shape: the same picture saved as PNG, BMP or TIFF hashes equal."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    h.update(np.asarray(image.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """Grayscale (size, size) uint8 thumbnail, area-averaged, aspect ratio not kept.

    Squashing instead of padding keeps a 5%-cropped copy aligned with its original.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
