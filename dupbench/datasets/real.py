"""Datasets of real images with ground truth, one class at a time: photos, astro, clipart, diagrams, flat.

Why: a generated study set scores the detector on the kind of images it was tuned on; collections nobody
here made (wallpapers, clip art with transparency, diagrams, small subjects on black) are where near
groups went wrong. The images come from Debian packages and scikit-image (see `real_sources`), the
builder only picks, labels and plants:

- *photos*: every real photo is an original; most get planted copies (JPEG at several qualities, resized,
  small crops, tone edits, format changes, metadata-only edits, a blurry upscale) and some get turned or
  mirrored copies (kinds in `ORIENTATION_KINDS`, scored apart). Hard negatives: a hue-shifted version,
  a strip cut from 45% of the photo, and natural ones (other shots of one scene, a theme's other picture).
- *astro*, *diagrams*: distinct real images only; *clipart*: distinct drawings with transparency, plus the
  natural twins the sources ship (one icon at a second size: a true group; one icon in another colour
  theme: a negative).
- *flat*: generated solid, near-flat, two-colour, strip and silhouette images, some with an identical copy
  in another lossless format (an exact duplicate) or a JPEG copy (a near duplicate).

Before labelling, candidates that are the same picture (equal pixels, or the same aspect and a small-
thumbnail colour difference under `SAME_PICTURE_RMS`) are collapsed to one, so "distinct" means distinct.
The tune/holdout split hashes each picture's family with the seed, so a photo, its copies and its natural
siblings are always on the same side.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from dupbench.config import DetectorConfig
from dupbench.datasets.generate import library_versions
from dupbench.datasets.ground_truth import FILENAME, GroundTruth, ImageEntry, Role, write_ground_truth
from dupbench.datasets.real_sources import CLASSES, COLOUR_TWINS, TWIN_SIZES, Fetched, SourceSpec, fetch, key
from dupbench.datasets.transforms import COPY_TRANSFORMS, Encoded, StoredImage, decode, encode, lerp, resize_to
from dupbench.detector.features import file_digest, pixel_digest

CLASS_NAMES = (*CLASSES, "flat")
SPLITS = ("tune", "holdout", "all")  # all: both halves in one folder (see in_split)
TUNE_SHARE = 0.6
PHOTO_LONG_SIDE = 1600  # real photos are scaled down to this (INTER_AREA) so a class builds and runs in minutes
SAME_PICTURE_RMS = 4.0  # 16 px colour thumbnails (0-255) closer than this, at the same aspect, are one picture
SAME_ASPECT = 0.03
# Two distinct source files are one picture with a small edit (a true near duplicate, like the planted
# text and logo overlays) when, at the same aspect and compared as 64 px thumbnails, at most this share of
# pixels differs by more than VARIANT_LEVELS in some channel: a selection mark, a caption, a translated label.
VARIANT_CHANGED_SHARE = 0.05
VARIANT_LEVELS = 30
VARIANT_CONTENT_SHARE = 0.25  # ... and at most this share of the pixels that differ from the background
VARIANT_MIN_CONTENT = 0.02
# Where the rule is applied: nowhere by default. Checked by eye, it was right for some pairs (the same
# photo in two tutorial screenshots, a super-resolution output and its original, a photo with detected
# markers drawn on it) and wrong for others (moon phases, two galaxies, icons that differ by their symbol,
# two filter dialogs), so those classes keep their look-alikes as negatives and their known true pairs
# are listed for review in the dataset notes instead of being guessed.
VARIANT_CLASSES: tuple[str, ...] = ()
ORIENTATION_KINDS = ("turn_90", "turn_180", "turn_270", "mirror", "mirror_turn_90")
PLANTED_KINDS = (
    "jpeg_q85",
    "jpeg_q60",
    "jpeg_q40",
    "downscale",
    "small_crop",
    "brightness",
    "contrast",
    "gamma",
    "reencode_png",
    "reencode_bmp",
    "reencode_tiff",
    "format_webp",
    "metadata_edit",
    "upscale_blur",
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


@dataclass(frozen=True)
class Candidate:
    """One real file that may become an original."""

    package: str
    relative: str
    family: str
    variant: str
    path: Path
    width: int
    height: int


@dataclass
class Picked:
    candidate: Candidate
    pixels: np.ndarray  # BGR or BGRA uint8 as stored
    variant_of: int | None = None  # index (in the class's picked list) of the picture this is a variant of


@dataclass(frozen=True)
class BuildReport:
    truth: GroundTruth
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> files
    missing_sources: dict[str, str] = field(default_factory=dict)


# --- picking candidates ------------------------------------------------------------------------------


def stable_hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def split_of(family: str, seed: int, tune_share: float = TUNE_SHARE) -> str:
    """ "tune" or "holdout" for a family, from a hash of (seed, family): the same family, the same side."""
    return "tune" if stable_hash("split", seed, family) / 2**64 < tune_share else "holdout"


def in_split(family: str, seed: int, split: str) -> bool:
    """Whether a family belongs in `split`. "all" takes both halves: two look-alikes on opposite sides of
    the split are in neither half, so only the whole class counts every false merge a folder of it would
    show (it holds the holdout, so nothing is tuned on it)."""
    return split == "all" or split_of(family, seed) == split


def image_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def list_candidates(spec: SourceSpec, root: Path, skipped: dict[str, int]) -> list[Candidate]:
    """The files of one source, one per picture (variant), sampled down to the caps; sorted, deterministic."""
    files = sorted({p for pattern in spec.patterns for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES})
    by_variant: dict[str, list[Candidate]] = defaultdict(list)
    for path in files:
        relative = path.relative_to(root).as_posix()
        if spec.exclude and re.search(spec.exclude, relative):
            continue
        size = image_size(path)
        if size is None:
            skipped["unreadable header"] = skipped.get("unreadable header", 0) + 1
            continue
        variant = key(spec.variant, relative)
        family = key(spec.family, relative) if spec.family else variant
        by_variant[variant].append(Candidate(spec.package, relative, f"{spec.package}:{family}", f"{spec.package}:{variant}", path, *size))
    sign = -1 if spec.prefer == "largest" else 1
    chosen = [min(group, key=lambda c: (sign * c.width * c.height, c.relative)) for group in by_variant.values()]
    chosen.sort(key=lambda c: stable_hash("cap", c.relative))
    if spec.per_folder is not None:
        per: dict[str, int] = defaultdict(int)
        kept = []
        for c in chosen:
            folder = c.relative.rsplit("/", 1)[0]
            if per[folder] < spec.per_folder:
                per[folder] += 1
                kept.append(c)
        chosen = kept
    if spec.cap is not None:
        chosen = chosen[: spec.cap]
    return sorted(chosen, key=lambda c: c.relative)


def load_pixels(path: Path) -> np.ndarray | None:
    """8-bit BGR or BGRA pixels as stored (alpha kept; EXIF orientation not applied), or None."""
    try:
        data = path.read_bytes()
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    except (OSError, cv2.error):
        return None
    if image is None:
        return None
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        return None
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image)


def composite(pixels: np.ndarray, background: int) -> np.ndarray:
    """BGR pixels with any alpha composited on a flat grey level."""
    if pixels.shape[2] != 4:
        return pixels
    alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
    return np.rint(pixels[:, :, :3] * alpha + background * (1.0 - alpha)).astype(np.uint8)


def luma(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(composite(pixels, 0), cv2.COLOR_BGR2GRAY)


def is_photo(pixels: np.ndarray) -> bool:
    """A photo or a wallpaper: at least 200 px a side and not one flat tone (gradient wallpapers stay:
    real collections hold them, and they are where look-alikes are hardest)."""
    small = cv2.resize(luma(pixels), (128, 128), interpolation=cv2.INTER_AREA)
    histogram = np.bincount(small.ravel(), minlength=256) / small.size
    opaque = pixels.shape[2] == 3 or float((pixels[:, :, 3] < 250).mean()) < 0.01
    return min(pixels.shape[:2]) >= 200 and histogram.max() < 0.9 and opaque


def is_dark(pixels: np.ndarray) -> bool:
    """Small subjects on black: at least half the picture darker than 40 of 255."""
    return min(pixels.shape[:2]) >= 64 and float((luma(pixels) < 40).mean()) >= 0.5


def is_transparent_drawing(pixels: np.ndarray) -> bool:
    return pixels.shape[2] == 4 and min(pixels.shape[:2]) >= 16 and float((pixels[:, :, 3] < 250).mean()) >= 0.05


def is_figure(pixels: np.ndarray) -> bool:
    return min(pixels.shape[:2]) >= 64


CLASS_FILTERS: dict[str, Callable[[np.ndarray], bool]] = {"photos": is_photo, "astro": is_dark, "clipart": is_transparent_drawing, "diagrams": is_figure}


def signature(pixels: np.ndarray) -> np.ndarray:
    """16 px colour thumbnails on black and on white, for the same-picture check."""
    parts = [cv2.resize(composite(pixels, bg), (16, 16), interpolation=cv2.INTER_AREA) for bg in (0, 255)]
    return np.concatenate([p.astype(np.float32).ravel() for p in parts])


def same_picture_pairs(signatures: np.ndarray, aspects: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs whose signatures' RMS difference is under SAME_PICTURE_RMS at the same aspect."""
    squares = (signatures.astype(np.float64) ** 2).sum(1)
    pairs = []
    for start in range(0, len(signatures), 256):
        block = signatures[start : start + 256].astype(np.float64)
        distance = squares[start : start + 256, None] + squares[None, :] - 2 * block @ signatures.T.astype(np.float64)
        rms = np.sqrt(np.maximum(distance, 0) / signatures.shape[1])
        close = np.abs(np.log(aspects[start : start + 256, None] / aspects[None, :])) < SAME_ASPECT
        for i, j in zip(*np.nonzero((rms < SAME_PICTURE_RMS) & close)):
            if start + i < j:
                pairs.append((start + int(i), int(j)))
    return pairs


def collapse(picked: list[Picked], skipped: dict[str, int]) -> list[Picked]:
    """One file per picture: equal pixels or a same-picture pair keep the first (by package, path)."""
    seen: dict[bytes, int] = {}
    unique: list[Picked] = []
    for item in picked:
        digest = pixel_digest(item.pixels)
        if digest in seen:
            skipped["same pixels as another source file"] = skipped.get("same pixels as another source file", 0) + 1
            continue
        seen[digest] = len(unique)
        unique.append(item)
    if len(unique) < 2:
        return unique
    signatures = np.stack([signature(item.pixels) for item in unique])
    aspects = np.array([item.pixels.shape[1] / item.pixels.shape[0] for item in unique])
    dropped: set[int] = set()
    for i, j in same_picture_pairs(signatures, aspects):
        if i not in dropped and j not in dropped:
            dropped.add(j)
    if dropped:
        skipped["same picture as another source file"] = skipped.get("same picture as another source file", 0) + len(dropped)
    return [item for k, item in enumerate(unique) if k not in dropped]


def variant_thumbnail(pixels: np.ndarray, side: int = 64) -> np.ndarray:
    """A side x side colour thumbnail on grey (aspect dropped: only pictures of one aspect are compared)."""
    return cv2.resize(composite(pixels, 128), (side, side), interpolation=cv2.INTER_AREA).astype(np.int16)


def natural_variants(picked: list[Picked]) -> None:
    """Mark each picture that is a small edit of an earlier one (``variant_of``), keeping their families
    together so the split cannot separate them. Every member is compared with the group's first picture
    (no chaining), on 64 px colour thumbnails of pictures with the same aspect."""
    if len(picked) < 2:
        return
    thumbs = np.stack([variant_thumbnail(item.pixels) for item in picked])
    aspects = np.array([item.pixels.shape[1] / item.pixels.shape[0] for item in picked])
    background = np.median(thumbs.reshape(len(thumbs), -1, 3), axis=1)
    contents = (np.abs(thumbs - background[:, None, None, :]).max(axis=3) > VARIANT_LEVELS).mean(axis=(1, 2))
    firsts = np.ones(len(picked), bool)
    for j in range(1, len(picked)):
        candidates = np.nonzero(firsts[:j] & (np.abs(np.log(aspects[:j] / aspects[j])) < SAME_ASPECT))[0]
        if not len(candidates):
            continue
        changed = (np.abs(thumbs[candidates] - thumbs[j]).max(axis=3) > VARIANT_LEVELS).mean(axis=(1, 2))
        content = np.maximum(contents[candidates], contents[j])
        # Small subjects on black: a few changed pixels can be the whole subject, so the change must also be
        # small against the content (pixels away from the picture's background level).
        share = np.maximum(changed, changed / np.maximum(content, 1e-9) * VARIANT_CHANGED_SHARE / VARIANT_CONTENT_SHARE)
        share[content < VARIANT_MIN_CONTENT] = np.inf  # near-empty pictures carry too little to call variants
        best = int(np.argmin(share))
        if share[best] <= VARIANT_CHANGED_SHARE:
            i = int(candidates[best])
            picked[j].variant_of = i
            picked[j].candidate = replace(picked[j].candidate, family=picked[i].candidate.family)
            firsts[j] = False


def gather(class_name: str, fetched: Fetched, skipped: dict[str, int], long_side: int | None = None, limit: int | None = None) -> list[Picked]:
    """Decoded, filtered, collapsed candidates of a class (every split: the split comes after)."""
    accept = CLASS_FILTERS[class_name]
    picked: list[Picked] = []
    for spec in CLASSES[class_name]:
        root = fetched.roots.get(spec.package)
        if root is None:
            continue
        for candidate in list_candidates(spec, root, skipped):
            pixels = load_pixels(candidate.path)
            if pixels is None:
                skipped["undecodable"] = skipped.get("undecodable", 0) + 1
                continue
            if long_side is not None and max(pixels.shape[:2]) > long_side:
                h, w = pixels.shape[:2]
                scale = long_side / max(h, w)
                pixels = cv2.resize(pixels, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA)
            if not accept(pixels):
                skipped[f"not {class_name}-like"] = skipped.get(f"not {class_name}-like", 0) + 1
                continue
            picked.append(Picked(candidate, pixels))
    picked = collapse(picked, skipped)
    if limit is not None:
        picked = sorted(picked, key=lambda p: stable_hash("limit", p.candidate.relative))[:limit]
        picked.sort(key=lambda p: (p.candidate.package, p.candidate.relative))
    if class_name in VARIANT_CLASSES:
        natural_variants(picked)
    return picked


# --- writing files --------------------------------------------------------------------------------


class Writer:
    """Writes files under the dataset root and makes their ground-truth entries."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.taken: set[str] = set()
        self.entries: list[ImageEntry] = []

    def name(self, folder: str, stem: str, ext: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "image"
        path, k = f"{folder}/{stem}{ext}", 1
        while path.lower() in self.taken:
            path, k = f"{folder}/{stem} ({k}){ext}", k + 1
        self.taken.add(path.lower())
        return path

    def write(
        self,
        path: str,
        data: bytes,
        role: Role,
        kind: str,
        group: int | None,
        derived_from: str | None = None,
        source: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> ImageEntry:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        pixels = load_pixels(target)
        if pixels is None:
            raise RuntimeError(f"wrote {path} but cannot decode it back")
        entry = ImageEntry(
            path=path,
            role=role,
            kind=kind,
            group=group,
            derived_from=derived_from,
            source=source,
            region=None,
            flip=False,
            params=params or {},
            width=int(pixels.shape[1]),
            height=int(pixels.shape[0]),
            size_bytes=len(data),
            file_digest=file_digest(data).hex(),
            pixel_digest=pixel_digest(pixels).hex(),
        )
        self.entries.append(entry)
        return entry


def encode_any(pixels: np.ndarray, ext: str, quality: int | None = None) -> bytes:
    """`transforms.encode`, plus 4-channel PNG (alpha kept)."""
    if pixels.shape[2] == 4 and ext == ".png":
        ok, buffer = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise RuntimeError("OpenCV could not encode a PNG")
        return buffer.tobytes()
    return encode(composite(pixels, 255), ext, quality)


# --- planted copies and negatives for photos -------------------------------------------------------


def metadata_edit(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """The same encoded pixels with a comment added (as a tagging tool writes): bytes differ, pixels do not."""
    text = b"dupbench: tagged copy %d" % int(rng.integers(1_000_000))
    data = original.data
    if data[:2] == b"\xff\xd8":
        segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
        return Encoded(data[:2] + segment + data[2:], original.ext, {"added": "JPEG COM segment"})
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        body = b"tEXt" + b"Comment\x00" + text
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        end_of_header = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
        return Encoded(data[:end_of_header] + chunk + data[end_of_header:], original.ext, {"added": "PNG tEXt chunk"})
    raise ValueError(f"metadata_edit supports JPEG and PNG, not {original.ext}")


def upscale_blur(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """A 2x upscale, blurred, at JPEG quality 50: larger than its original but worse (a keeper trap)."""
    h, w = original.pixels.shape[:2]
    pixels = cv2.GaussianBlur(resize_to(original.pixels, 2 * w, 2 * h), (0, 0), sigmaX=1.5)
    return Encoded(encode(pixels, ".jpg", 50), ".jpg", {"factor": 2.0, "sigma": 1.5, "quality": 50})


def real_small_crop(original: StoredImage, rng: np.random.Generator, strength: float) -> Encoded:
    """Remove 2-10% of the area: a trim from one or two sides."""
    removed = lerp(0.02, 0.10, strength)
    h, w = original.pixels.shape[:2]
    keep = np.sqrt(1.0 - removed)
    ch, cw = round(h * keep), round(w * keep)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    pixels = original.pixels[y : y + ch, x : x + cw]
    params = {"area_removed": round(1 - ch * cw / (h * w), 4), "box": [x, y, cw, ch]}
    return Encoded(encode(pixels, original.ext, original.quality), original.ext, params)


ORIENT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "turn_90": lambda p: cv2.rotate(p, cv2.ROTATE_90_CLOCKWISE),
    "turn_180": lambda p: cv2.rotate(p, cv2.ROTATE_180),
    "turn_270": lambda p: cv2.rotate(p, cv2.ROTATE_90_COUNTERCLOCKWISE),
    "mirror": lambda p: cv2.flip(p, 1),
    "mirror_turn_90": lambda p: cv2.rotate(cv2.flip(p, 1), cv2.ROTATE_90_CLOCKWISE),
}


def oriented(original: StoredImage, kind: str) -> Encoded:
    """Pixels turned or mirrored (no EXIF tag): the copy a rotate-and-save tool writes."""
    return Encoded(encode(ORIENT[kind](original.pixels), original.ext, original.quality or 92), original.ext, {"orientation": kind})


def planted(kind: str, original: StoredImage, rng: np.random.Generator) -> Encoded:
    strength = float(rng.uniform(0.0, 1.0))
    if kind == "metadata_edit":
        return metadata_edit(original, rng, strength)
    if kind == "upscale_blur":
        return upscale_blur(original, rng, strength)
    if kind == "small_crop":
        return real_small_crop(original, rng, strength)
    if kind in ORIENT:
        return oriented(original, kind)
    return COPY_TRANSFORMS[kind](original, rng, strength)


def hue_shift(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The same picture in another colour (hue turned 60-180 degrees): a colour variant, not a duplicate."""
    degrees = int(rng.integers(60, 181))
    hsv = cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)
    hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + degrees // 2) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), {"hue_degrees": degrees}


def strip(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A strip of 45% of the long side, full short side: another aspect, another picture."""
    h, w = pixels.shape[:2]
    if w >= h:
        sw = round(0.45 * w)
        x = int(rng.integers(0, w - sw + 1))
        return pixels[:, x : x + sw], {"box": [x, 0, sw, h]}
    sh = round(0.45 * h)
    y = int(rng.integers(0, h - sh + 1))
    return pixels[y : y + sh, :], {"box": [0, y, w, sh]}


def colourful(pixels: np.ndarray) -> bool:
    return float(cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)[:, :, 1].mean()) >= 40


def plant_photo(writer: Writer, item: Picked, group: int, seed: int, family_role: str) -> None:
    """Write one real photo and what is planted around it (drawn from a generator seeded by the photo)."""
    c = item.candidate
    rng = np.random.default_rng([seed, stable_hash("photo", c.package, c.relative) % 2**32])
    pixels = composite(item.pixels, 255)
    ext = ".jpg" if c.path.suffix.lower() in (".jpg", ".jpeg", ".webp") else ".png"
    quality = 92 if ext == ".jpg" else None
    data = encode(pixels, ext, quality)
    stored = StoredImage(data, ext, decode(data), quality)
    folder, stem = c.package, Path(c.relative).stem
    if family_role == "sibling":
        writer.write(writer.name(folder, stem, ext), data, "hard_negative", "same_scene", None, source=c.relative)
        return
    original = writer.write(writer.name(folder, stem, ext), data, "original", "original", group, source=c.relative)
    n_copies = int(rng.choice([0, 1, 2, 3], p=[0.2, 0.35, 0.3, 0.15]))
    kinds = [PLANTED_KINDS[int(k)] for k in rng.choice(len(PLANTED_KINDS), size=n_copies, replace=False)]
    if rng.random() < 0.5:
        kinds.append(ORIENTATION_KINDS[int(rng.integers(len(ORIENTATION_KINDS)))])
    for kind in kinds:
        copy = planted(kind, stored, rng)
        writer.write(writer.name(folder, stem, copy.ext), copy.data, "copy", kind, group, derived_from=original.path, params=copy.params)
    if rng.random() < 0.12 and colourful(stored.pixels):
        shifted, params = hue_shift(stored.pixels, rng)
        writer.write(
            writer.name(folder, stem, ext), encode(shifted, ext, quality), "hard_negative", "hue_shift", None, derived_from=original.path, params=params
        )
    if rng.random() < 0.12:
        cut, params = strip(stored.pixels, rng)
        writer.write(
            writer.name(folder, stem, ".jpg"),
            encode(np.ascontiguousarray(cut), ".jpg", 92),
            "hard_negative",
            "strip_45",
            None,
            derived_from=original.path,
            params=params,
        )


def build_photos(writer: Writer, picked: list[Picked], seed: int) -> None:
    first_of_family: set[str] = set()
    for group, item in enumerate(picked):
        role = "sibling" if item.candidate.family in first_of_family else "original"
        first_of_family.add(item.candidate.family)
        plant_photo(writer, item, group, seed, role)


# --- distinct classes ------------------------------------------------------------------------------


def copy_bytes(writer: Writer, item: Picked, role: Role, kind: str, group: int | None, derived_from: str | None = None) -> ImageEntry:
    c = item.candidate
    ext = c.path.suffix.lower()
    return writer.write(
        writer.name(c.package, Path(c.relative).stem, ext), c.path.read_bytes(), role, kind, group, derived_from=derived_from, source=c.relative
    )


def twin(item: Picked, fetched: Fetched) -> tuple[str, Path] | None:
    """The same icon at another size (a true variant), if the source ships it."""
    c = item.candidate
    if c.package not in TWIN_SIZES:
        return None
    here, there = TWIN_SIZES[c.package]
    other = fetched.roots[c.package] / c.relative.replace(here, there)
    return (c.package, other) if other.is_file() and here in c.relative else None


def colour_twin(item: Picked, fetched: Fetched) -> Path | None:
    c = item.candidate
    if c.package not in COLOUR_TWINS:
        return None
    package, here, there = COLOUR_TWINS[c.package]
    root = fetched.roots.get(package)
    other = root / c.relative.replace(here, there) if root is not None else None
    return other if other is not None and other.is_file() else None


def build_distinct(writer: Writer, picked: list[Picked], fetched: Fetched, seed: int, split: str) -> None:
    """This split's share of a class's pictures as distinct originals; natural variants (small edits of
    an earlier picture) and shipped twins as labelled groups, colour twins as negatives.

    Only some icons get their second size (a seeded share), as a real collection holds a few such pairs.
    """
    has_variants = {item.variant_of for item in picked if item.variant_of is not None}
    written: dict[int, ImageEntry] = {}
    for group, item in enumerate(picked):
        if not in_split(item.candidate.family, seed, split):
            continue
        if item.variant_of is not None:  # same family as its first picture, so on this side of the split too
            first = written[item.variant_of]
            copy_bytes(writer, item, "copy", "natural_variant", first.group, derived_from=first.path)
            continue
        rng = np.random.default_rng([seed, stable_hash("twin", item.candidate.relative) % 2**32])
        sized = twin(item, fetched)
        coloured = colour_twin(item, fetched)
        with_twin = sized is not None and rng.random() < 0.15
        entry = copy_bytes(writer, item, "original", "original", group if with_twin or group in has_variants else None)
        written[group] = entry
        if with_twin and sized is not None:
            pixels = load_pixels(sized[1])
            if pixels is not None:
                writer.write(
                    writer.name(item.candidate.package, sized[1].stem, sized[1].suffix.lower()),
                    sized[1].read_bytes(),
                    "copy",
                    "other_size",
                    group,
                    derived_from=entry.path,
                    source=sized[1].as_posix().split("/extracted/")[-1],
                )
        if coloured is not None:
            writer.write(
                writer.name("gnome-noble-icon-theme", coloured.stem, ".png"),
                coloured.read_bytes(),
                "hard_negative",
                "colour_variant",
                None,
                derived_from=entry.path,
            )


# --- flat class (generated) ------------------------------------------------------------------------

FLAT_KINDS = ("solid", "near_flat", "two_colour", "strip", "silhouette")
FLAT_SIZES = ((500, 500), (640, 480), (480, 640), (1024, 768), (161, 1), (1, 200), (300, 20), (20, 300), (800, 200), (64, 64), (1200, 900))


def distinct_colour(rng: np.random.Generator, used: list[np.ndarray], spacing: int = 12) -> np.ndarray:
    """A colour at least ``spacing`` levels (in some channel) from every colour used so far."""
    for _ in range(1000):
        colour = rng.integers(0, 256, size=3)
        if rng.random() < 0.3:
            colour = np.repeat(rng.integers(0, 256), 3)  # greys are common in real masks and backgrounds
        if all(np.abs(colour - u).max() >= spacing for u in used):
            used.append(colour)
            return colour
    raise RuntimeError("ran out of distinct colours")


def flat_image(kind: str, rng: np.random.Generator, size: tuple[int, int], used: list[np.ndarray]) -> np.ndarray:
    w, h = size
    base = distinct_colour(rng, used)
    pixels = np.empty((h, w, 3), np.uint8)
    pixels[:] = base
    if kind == "near_flat":
        ramp = np.linspace(-1, 1, w if rng.random() < 0.5 else h)
        amplitude = float(rng.uniform(4, 12))
        shade = (ramp[None, :, None] if len(ramp) == w else ramp[:, None, None]) * amplitude
        pixels = np.clip(base[None, None, :] + shade, 0, 255).astype(np.uint8)
    elif kind == "two_colour":
        other = distinct_colour(rng, used)
        if rng.random() < 0.5:
            pixels[:, round(w * rng.uniform(0.3, 0.7)) :] = other
        else:
            pixels[round(h * rng.uniform(0.3, 0.7)) :, :] = other
    elif kind == "silhouette":
        ink = distinct_colour(rng, used)
        points = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h], size=(int(rng.integers(3, 9)), 2))
        hull = cv2.convexHull(points.astype(np.int32)) if rng.random() < 0.5 else points.astype(np.int32)[:, None, :]
        cv2.fillPoly(pixels, [hull], tuple(int(v) for v in ink), lineType=cv2.LINE_AA)
    return pixels


def build_flat(writer: Writer, seed: int, split: str, count: int) -> None:
    """``count`` families of flat images; the split is drawn like the real classes' (hash of the family)."""
    used: list[np.ndarray] = []
    rng_all = np.random.default_rng([seed, 7])
    for index in range(count):
        rng = np.random.default_rng([seed, 11, index])
        kind = FLAT_KINDS[index % len(FLAT_KINDS)]
        size = (
            FLAT_SIZES[int(rng.integers(len(FLAT_SIZES)))]
            if kind != "strip"
            else ((int(rng.integers(100, 400)), int(rng.integers(1, 6))) if rng.random() < 0.5 else (int(rng.integers(1, 6)), int(rng.integers(100, 400))))
        )
        if kind in ("two_colour", "silhouette") and min(size) < 16:
            size = (500, 500)
        pixels = flat_image(kind, rng, size, used)
        rng_all.random()
        if not in_split(f"flat:{index}", seed, split):
            continue
        ext = ".png" if rng.random() < 0.7 else ".jpg"
        data = encode(pixels, ext, 95)
        folder = f"flat/{kind}"
        roll = rng.random()
        group = index if roll < 0.3 else None
        original = writer.write(writer.name(folder, f"{kind}_{index:04d}", ext), data, "original", kind, group, params={"size": list(size)})
        if roll < 0.15:  # identical pixels in a lossless format of their own: an exact duplicate
            decoded = decode(data)
            other = ".bmp" if ext != ".bmp" else ".tif"
            writer.write(
                writer.name(folder, f"{kind}_{index:04d}", other), encode(decoded, other), "copy", f"reencode_{other[1:]}", group, derived_from=original.path
            )
        elif roll < 0.3:
            writer.write(writer.name(folder, f"{kind}_{index:04d}", ".jpg"), encode(pixels, ".jpg", 80), "copy", "jpeg_q80", group, derived_from=original.path)


# --- the dataset -----------------------------------------------------------------------------------

FLAT_FAMILIES = 400


def packages_for(class_name: str) -> list[str]:
    if class_name == "flat":
        return []
    names = [spec.package for spec in CLASSES[class_name]]
    names += [package for package, _, _ in (COLOUR_TWINS[n] for n in names if n in COLOUR_TWINS)]
    return names


def build_real(
    out: Path, class_name: str, split: str, seed: int = 1, cache: Path | None = None, offline: bool = False, limit: int | None = None
) -> BuildReport:
    """Write the ``split`` half of one class to OUT (created; must not exist or be empty) with its truth.

    ``limit`` caps the originals taken before the split (for quick builds); ``offline`` uses only packages
    already unpacked under CACHE/extracted. Sources that cannot be had are reported, not fatal, unless the
    class ends up empty.
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(f"unknown class {class_name!r}: choose from {', '.join(CLASS_NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose tune, holdout or all")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    from dupbench.datasets import default_cache_dir

    cache = Path(cache) if cache is not None else default_cache_dir()
    fetched = fetch(packages_for(class_name), cache, offline)
    skipped: dict[str, int] = {}
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        writer = Writer(staging)
        if class_name == "flat":
            build_flat(writer, seed, split, limit or FLAT_FAMILIES)
        else:
            picked = gather(class_name, fetched, skipped, PHOTO_LONG_SIDE if class_name == "photos" else None, limit)
            if class_name == "photos":
                build_photos(writer, [p for p in picked if in_split(p.candidate.family, seed, split)], seed)
            else:
                build_distinct(writer, picked, fetched, seed, split)
        if not writer.entries:
            raise ValueError(f"no {class_name} images could be built (missing sources: {fetched.missing or 'none'})")
        truth = real_truth(writer, class_name, split, seed, limit, skipped, fetched)
        write_ground_truth(truth, staging / FILENAME)
        if out.exists():
            out.rmdir()
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(truth, skipped, fetched.missing)


def real_truth(writer: Writer, class_name: str, split: str, seed: int, limit: int | None, skipped: dict[str, int], fetched: Fetched) -> GroundTruth:
    """The ground truth of a built class: what was written, from which sources, with which settings."""
    config = DetectorConfig()
    return GroundTruth(
        profile=f"real-{class_name}",
        seed=seed,
        n_images=len(writer.entries),
        threshold=config.threshold,
        thumb_size=config.thumb_size,
        distinct_below=SAME_PICTURE_RMS,
        distinct_check=(
            f"source files with equal pixels, or the same aspect (within {SAME_ASPECT:.0%}) and 16 px "
            f"colour thumbnails under {SAME_PICTURE_RMS} RMS, were collapsed to one"
        ),
        libraries=library_versions(),
        sources=sorted(f"{k} {v}" for k, v in fetched.versions.items()),
        images=tuple(sorted(writer.entries, key=lambda e: e.path)),
        settings={
            "class": class_name,
            "split": split,
            "tune_share": TUNE_SHARE,
            "limit": limit,
            "photo_long_side": PHOTO_LONG_SIDE if class_name == "photos" else None,
            "orientation_kinds": list(ORIENTATION_KINDS),
            "skipped_source_files": skipped,
            "missing_sources": fetched.missing,
        },
    )


def summary(truth: GroundTruth) -> dict[str, Any]:
    """Counts a person checks first: files by role and kind, true groups and pairs."""
    roles: dict[str, int] = defaultdict(int)
    kinds: dict[str, int] = defaultdict(int)
    for e in truth.images:
        roles[e.role] += 1
        kinds[e.kind] += 1
    pairs = truth.true_pairs()
    return {
        "files": truth.n_images,
        "roles": dict(roles),
        "kinds": dict(sorted(kinds.items())),
        "true_groups": len(truth.groups()),
        "true_pairs": len(pairs),
        "exact_pairs": sum(k == "exact" for k in pairs.values()),
    }


def contact_sheet(paths: Iterable[Path], target: Path, cell: int = 96, columns: int = 16, labels: Iterable[str] | None = None) -> None:
    """A PNG of thumbnails (alpha on a checkerboard) for checking a 'distinct' set by eye."""
    paths = list(paths)
    names = list(labels) if labels is not None else [p.name for p in paths]
    rows = max(1, -(-len(paths) // columns))
    sheet = np.full((rows * (cell + 14), columns * cell, 3), 255, np.uint8)
    checker = ((np.indices((cell, cell)).sum(0) // 8) % 2 * 60 + 160).astype(np.uint8)
    for k, path in enumerate(paths):
        pixels = load_pixels(path)
        if pixels is None:
            continue
        h, w = pixels.shape[:2]
        scale = cell / max(h, w)
        small = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        tile = np.dstack([checker] * 3)
        if small.shape[2] == 4:
            alpha = small[:, :, 3:4] / 255.0
            small = np.rint(small[:, :, :3] * alpha + tile[: small.shape[0], : small.shape[1]] * (1 - alpha)).astype(np.uint8)
        tile[: small.shape[0], : small.shape[1]] = small
        y, x = (k // columns) * (cell + 14), (k % columns) * cell
        sheet[y : y + cell, x : x + cell] = tile
        cv2.putText(sheet, names[k][:16], (x + 2, y + cell + 11), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 0, 0), 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), sheet)
