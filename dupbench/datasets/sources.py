"""Real photos to cut originals from: scikit-image's bundled photos, or a user's folder.

A few photos give thousands of originals by cropping at different positions, scales and aspect ratios,
with optional mirroring; each original records its source photo and region so it can be re-derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dupbench.config import IMAGE_EXTENSIONS
from dupbench.detector.decode import DecodeError, decode_image

# (name, scene, loader name in skimage.data). Photos of the same scene (the stereo motorcycle pair) share
# a scene, so the distinctness check compares them with each other as if they were one photo.
BUNDLED_PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("astronaut", "astronaut", "astronaut"),
    ("camera", "camera", "camera"),
    ("chelsea", "chelsea", "chelsea"),
    ("coffee", "coffee", "coffee"),
    ("hubble_deep_field", "hubble_deep_field", "hubble_deep_field"),
    ("retina", "retina", "retina"),
    ("rocket", "rocket", "rocket"),
    ("motorcycle_left", "motorcycle", "stereo_motorcycle:0"),
    ("motorcycle_right", "motorcycle", "stereo_motorcycle:1"),
    ("coins", "coins", "coins"),
    ("grass", "grass", "grass"),
    ("gravel", "gravel", "gravel"),
    ("brick", "brick", "brick"),
    ("moon", "moon", "moon"),
    ("ihc", "ihc", "immunohistochemistry"),
    ("cell", "cell", "cell"),
    ("clock", "clock", "clock"),
)
ASPECTS: tuple[float, ...] = (4 / 3, 3 / 4, 1.0, 16 / 9, 3 / 2, 2 / 3)


@dataclass(frozen=True)
class SourcePhoto:
    name: str
    scene: str
    pixels: np.ndarray  # BGR uint8


@dataclass(frozen=True)
class Region:
    """A crop of a source photo: top-left (x, y), size (w, h), then mirrored left-right if ``flip``."""

    source: int
    x: int
    y: int
    w: int
    h: int
    flip: bool

    def overlap(self, other: Region) -> float:
        """Intersection over union of two regions of the same photo (mirroring ignored)."""
        if self.source != other.source:
            return 0.0
        iw = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        ih = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = iw * ih
        return inter / (self.w * self.h + other.w * other.h - inter)


def to_bgr(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])


def load_bundled() -> list[SourcePhoto]:
    """scikit-image's bundled photos (no network): all <= 2 MP."""
    import skimage.data

    photos = []
    for name, scene, loader in BUNDLED_PHOTOS:
        function, _, index = loader.partition(":")
        image = getattr(skimage.data, function)()
        if index:
            image = image[int(index)]
        photos.append(SourcePhoto(name, scene, to_bgr(image)))
    return photos


def load_folder(folder: Path) -> list[SourcePhoto]:
    """Every decodable image under ``folder``, in sorted path order (so a seed means the same crops)."""
    folder = Path(folder)
    photos = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS):
        try:
            pixels = decode_image(path.read_bytes())
        except DecodeError:
            continue
        name = path.relative_to(folder).as_posix()
        photos.append(SourcePhoto(name, name, pixels))
    if not photos:
        raise ValueError(f"no decodable images under {folder}")
    return photos


def draw_region(rng: np.random.Generator, photos: list[SourcePhoto], crop_scale: tuple[float, float]) -> Region:
    """A random crop: a random photo, a side of ``crop_scale`` times its short side, a random aspect."""
    index = int(rng.integers(len(photos)))
    h, w = photos[index].pixels.shape[:2]
    side = min(h, w) * rng.uniform(*crop_scale)
    aspect = ASPECTS[int(rng.integers(len(ASPECTS)))]
    cw = max(16, min(w, round(side * np.sqrt(aspect))))
    ch = max(16, min(h, round(side / np.sqrt(aspect))))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return Region(index, x, y, cw, ch, bool(rng.random() < 0.5))


def shifted_region(rng: np.random.Generator, region: Region, shape: tuple[int, ...], strength: float) -> Region | None:
    """The same-size window moved so it overlaps ``region`` only partly: the 'next shot' of a scene.

    The shift is 25-50% of the window along one or both axes (smaller at higher strength, i.e. more
    overlap and a harder negative). Returns None when the photo has no room for such a shift.
    """
    h, w = shape[:2]
    fraction = 0.5 - 0.25 * strength
    moves = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    for k in rng.permutation(len(moves)):
        dx, dy = moves[k]
        x = region.x + dx * round(region.w * fraction)
        y = region.y + dy * round(region.h * fraction)
        if 0 <= x <= w - region.w and 0 <= y <= h - region.h:
            return Region(region.source, x, y, region.w, region.h, region.flip)
    return None


def crop(photos: list[SourcePhoto], region: Region) -> np.ndarray:
    pixels = photos[region.source].pixels[region.y : region.y + region.h, region.x : region.x + region.w]
    return np.ascontiguousarray(pixels[:, ::-1] if region.flip else pixels)
