"""Generate a dataset: distinct originals cut from real photos, planted copies and hard negatives.

Determinism: every random choice comes from a numpy Generator seeded from (seed, task kind, task index),
planning happens in one process in a fixed order, and files carry no time-dependent metadata, so the
same seed gives the same bytes whether the rendering runs serially or in a process pool.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from dupbench.config import DetectorConfig, available_cpus
from dupbench.datasets.ground_truth import FILENAME, GroundTruth, ImageEntry, Role, write_ground_truth
from dupbench.datasets.profiles import Profile, Weights, get_profile
from dupbench.datasets.sources import (
    ASPECTS,
    Region,
    SourcePhoto,
    crop,
    draw_region,
    load_bundled,
    load_folder,
    shifted_region,
)
from dupbench.datasets.transforms import (
    COPY_TRANSFORMS,
    EDIT_NEGATIVES,
    LOOKALIKE_NEGATIVES,
    Encoded,
    StoredImage,
    add_noise,
    encode,
    resize_to,
)
from dupbench.detector.decode import decode_image
from dupbench.detector.features import file_digest, pixel_digest, thumbnail
from dupbench.detector.ssim import SsimTerms, ssim_matrix, ssim_terms

# Folders a phone/desktop photo collection typically has; copies land in them like real ones do.
FOLDERS: tuple[str, ...] = ("DCIM/Camera", "Pictures/Edited", "Downloads", "WhatsApp Images", "Backup/2023", "Pictures/Shared albums")
# Above this many originals the all-pairs distinctness check (one full SSIM a pair) would dominate generation, so
# only originals cut from the same scene (where near-duplicates actually arise) are compared.
FULL_DISTINCT_CHECK_MAX = 2000
MAX_DRAWS_PER_ORIGINAL = 60
_TASK_ORIGINAL, _TASK_LOOKALIKE, _TASK_SELECT = 1, 2, 3


@dataclass(frozen=True)
class Placement:
    path: str
    kind: str


@dataclass(frozen=True)
class OriginalTask:
    """An original and everything derived from it, rendered together so its pixels are made once."""

    index: int
    region: Region
    path: str
    quality: int | None
    long_side: int
    group: int | None
    copies: tuple[Placement, ...]
    edits: tuple[Placement, ...]
    overlaps: tuple[tuple[Region, str], ...]


@dataclass(frozen=True)
class LookalikeTask:
    index: int
    kind: str
    path: str
    quality: int | None
    long_side: int
    aspect: float


@dataclass(frozen=True)
class WorkerState:
    photos: list[SourcePhoto]
    profile: Profile
    seed: int
    root: Path


_STATE: WorkerState | None = None


def allocate(total: int, weights: Weights) -> list[str]:
    """Split ``total`` over the weighted names in exact proportion (largest remainder, ties by order)."""
    if total <= 0 or not weights:
        return []
    names = [name for name, _ in weights]
    w = np.array([weight for _, weight in weights], dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[k] += 1
    return [name for name, count in zip(names, counts) for _ in range(count)]


def plan_counts(n_images: int, profile: Profile) -> tuple[int, int, int]:
    """Numbers of originals, planted copies and hard negatives; at least one original."""
    if n_images < 1:
        raise ValueError(f"n_images must be >= 1, got {n_images}")
    copies = round(n_images * profile.copy_share)
    hard = round(n_images * profile.hard_negative_share)
    originals = max(1, n_images - copies - hard)
    copies = n_images - originals - hard if originals + copies + hard > n_images else copies
    return originals, max(0, copies), hard


class TermsBank:
    """Growing stack of SSIM terms, so each candidate is compared with all accepted images in one call."""

    def __init__(self, capacity: int, thumb_size: int) -> None:
        inner = thumb_size - 6
        self.count = 0
        self.pixels = np.empty((capacity, thumb_size, thumb_size), np.float32)
        self.mu = np.empty((capacity, inner, inner), np.float32)
        self.mu2 = np.empty_like(self.mu)
        self.var = np.empty_like(self.mu)

    def add(self, terms: SsimTerms) -> None:
        k = self.count
        self.pixels[k], self.mu[k], self.mu2[k], self.var[k] = terms.pixels[0], terms.mu[0], terms.mu2[0], terms.var[0]
        self.count += 1

    def max_ssim(self, terms: SsimTerms) -> float:
        if self.count == 0:
            return -1.0
        bank = SsimTerms(self.pixels[: self.count], self.mu[: self.count], self.mu2[: self.count], self.var[: self.count])
        return float(ssim_matrix(terms, bank).max())


def select_originals(
    photos: list[SourcePhoto],
    count: int,
    profile: Profile,
    seed: int,
    limit: float,
    thumb_size: int,
    full_check: bool,
    bar: tqdm | None = None,
) -> list[Region]:
    """Draw crops until ``count`` are pairwise below ``limit`` SSIM on thumbnails (drop and redraw).

    Crops whose thumbnail is nearly flat are refused too: those are the look-alike hard negatives' job.
    """
    rng = np.random.default_rng([seed, _TASK_SELECT])
    scenes = sorted({p.scene for p in photos})
    per_scene = {scene: TermsBank(count, thumb_size) for scene in scenes}
    everything = TermsBank(count, thumb_size) if full_check else None
    regions: list[Region] = []
    for _ in range(count * MAX_DRAWS_PER_ORIGINAL):
        if len(regions) == count:
            return regions
        region = draw_region(rng, photos, profile.crop_scale)
        thumb = thumbnail(crop(photos, region), thumb_size)
        if float(thumb.std()) < profile.min_original_std:
            continue
        terms = ssim_terms(thumb[None], np.float32)
        bank = everything if everything is not None else per_scene[photos[region.source].scene]
        if bank.max_ssim(terms) >= limit:
            continue
        bank.add(terms)
        regions.append(region)
        if bar is not None:
            bar.update(1)
    if len(regions) < count:
        raise RuntimeError(
            f"could find only {len(regions)} of {count} originals below SSIM {limit:.2f} in "
            f"{count * MAX_DRAWS_PER_ORIGINAL} draws; use more or larger source photos or fewer images"
        )
    return regions


def output_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    if width >= height:
        return long_side, max(16, round(long_side * height / width))
    return max(16, round(long_side * width / height)), long_side


def store(pixels: np.ndarray, ext: str, quality: int | None, rng: np.random.Generator, grain: float) -> StoredImage:
    """Add sensor-like grain and encode: what a camera would have written."""
    if grain > 0:
        pixels = add_noise(pixels, rng, grain)
    data = encode(pixels, ext, quality)
    return StoredImage(data, ext, decode_image(data), quality)


def write_entry(
    root: Path,
    path: str,
    data: bytes,
    role: Role,
    kind: str,
    group: int | None,
    derived_from: str | None = None,
    source: str | None = None,
    region: Region | None = None,
    params: dict | None = None,
) -> ImageEntry:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    pixels = decode_image(data)
    return ImageEntry(
        path=path,
        role=role,
        kind=kind,
        group=group,
        derived_from=derived_from,
        source=source,
        region=(region.x, region.y, region.w, region.h) if region is not None else None,
        flip=bool(region.flip) if region is not None else False,
        params=params or {},
        width=int(pixels.shape[1]),
        height=int(pixels.shape[0]),
        size_bytes=len(data),
        file_digest=file_digest(data).hex(),
        pixel_digest=pixel_digest(pixels).hex(),
    )


def ext_of(path: str) -> str:
    return os.path.splitext(path)[1]


def render_original(task: OriginalTask, state: WorkerState) -> list[ImageEntry]:
    profile, photos = state.profile, state.photos
    rng = np.random.default_rng([state.seed, _TASK_ORIGINAL, task.index])
    strength = lambda: float(rng.uniform(*profile.strength))  # noqa: E731 - drawn in a fixed order
    width, height = output_size(task.region.w, task.region.h, task.long_side)
    pixels = resize_to(crop(photos, task.region), width, height)
    original = store(pixels, ext_of(task.path), task.quality, rng, profile.grain_sigma)
    source = photos[task.region.source].name
    entries = [write_entry(state.root, task.path, original.data, "original", "original", task.group, source=source, region=task.region)]
    for placement in task.copies:
        encoded: Encoded = COPY_TRANSFORMS[placement.kind](original, rng, strength())
        entries.append(write_entry(state.root, placement.path, encoded.data, "copy", placement.kind, task.group, derived_from=task.path, params=encoded.params))
    for placement in task.edits:
        edited = EDIT_NEGATIVES[placement.kind](original, rng, strength())
        data = encode(edited, original.ext, original.quality)
        entries.append(write_entry(state.root, placement.path, data, "hard_negative", placement.kind, None, derived_from=task.path))
    for region, path in task.overlaps:
        shifted = store(resize_to(crop(photos, region), width, height), ext_of(path), task.quality, rng, profile.grain_sigma)
        entries.append(
            write_entry(
                state.root,
                path,
                shifted.data,
                "hard_negative",
                "overlap_crop",
                None,
                derived_from=task.path,
                source=source,
                region=region,
                params={"iou": round(region.overlap(task.region), 4)},
            )
        )
    return entries


def render_lookalike(task: LookalikeTask, state: WorkerState) -> list[ImageEntry]:
    rng = np.random.default_rng([state.seed, _TASK_LOOKALIKE, task.index])
    width, height = output_size(round(1000 * np.sqrt(task.aspect)), round(1000 / np.sqrt(task.aspect)), task.long_side)
    pixels = LOOKALIKE_NEGATIVES[task.kind](rng, width, height, float(rng.uniform(*state.profile.strength)))
    stored = store(pixels, ext_of(task.path), task.quality, rng, state.profile.grain_sigma)
    return [write_entry(state.root, task.path, stored.data, "hard_negative", task.kind, None)]


def _init_worker(state: WorkerState) -> None:
    global _STATE
    _STATE = state
    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV's own threads would oversubscribe 2 cores


def _render(task: OriginalTask | LookalikeTask) -> list[ImageEntry]:
    assert _STATE is not None
    if isinstance(task, OriginalTask):
        return render_original(task, _STATE)
    return render_lookalike(task, _STATE)


class Namer:
    """Unique camera-style file names (IMG_1234.jpg) in the given folders, drawn from the seed."""

    def __init__(self, rng: np.random.Generator, n_images: int) -> None:
        self.rng = rng
        self.numbers = iter((rng.permutation(n_images * 2) + 1).tolist())
        self.taken: set[str] = set()

    def new(self, ext: str, folder: str | None = None) -> str:
        folder = folder if folder is not None else FOLDERS[int(self.rng.integers(len(FOLDERS)))]
        path = f"{folder}/IMG_{next(self.numbers):05d}{ext}"
        self.taken.add(path)
        return path

    def beside(self, path: str) -> str:
        """'IMG_0001 (1).jpg', as a file manager names a copy in the same folder."""
        stem, ext = os.path.splitext(path)
        k = 1
        while f"{stem} ({k}){ext}" in self.taken:
            k += 1
        self.taken.add(f"{stem} ({k}){ext}")
        return f"{stem} ({k}){ext}"


def copy_ext(kind: str, original_ext: str) -> str:
    return {
        "reencode_png": ".png",
        "reencode_bmp": ".bmp",
        "reencode_tiff": ".tif",
        "jpeg_q85": ".jpg",
        "jpeg_q60": ".jpg",
        "jpeg_q40": ".jpg",
        "exif_orientation": ".jpg",
        "format_jpeg": ".jpg",
        "format_webp": ".webp",
    }.get(kind, original_ext)


def _place_copies(rng: np.random.Generator, namer: Namer, paths: list[str], copy_kinds: list[str], profile: Profile) -> dict[int, list[Placement]]:
    """Original index -> its copies. Copies go to randomly chosen originals, a few per original, as repeated
    downloads and edits do."""
    n_originals = len(paths)
    order = rng.permutation(n_originals)
    copies: dict[int, list[Placement]] = {}
    cursor = 0
    while cursor < len(copy_kinds):
        for slot in order:
            if cursor >= len(copy_kinds):
                break
            if int(slot) in copies and len(copies) < n_originals:
                continue
            take = int(rng.integers(profile.copies_per_original[0], profile.copies_per_original[1] + 1))
            for kind in copy_kinds[cursor : cursor + take]:
                original = paths[int(slot)]
                ext = copy_ext(kind, ext_of(original))
                if kind == "byte_copy":
                    path = namer.beside(original)
                elif kind == "renamed_copy":
                    folder = original.rsplit("/", 1)[0]
                    path = namer.new(ext, next(f for f in rng.permutation(FOLDERS).tolist() if f != folder))
                else:
                    path = namer.new(ext)
                copies.setdefault(int(slot), []).append(Placement(path, kind))
            cursor += take
    return copies


def _place_hard_negatives(
    rng: np.random.Generator,
    namer: Namer,
    paths: list[str],
    hard_kinds: list[str],
    profile: Profile,
    photos: list[SourcePhoto],
    regions: list[Region],
    original_ext: Callable[[], str],
) -> tuple[dict[int, list[Placement]], dict[int, list[tuple[Region, str]]], list[LookalikeTask]]:
    """Edits and overlapping crops of originals (by original index), and look-alike pictures of their own."""
    n_originals = len(paths)
    edits: dict[int, list[Placement]] = {}
    overlaps: dict[int, list[tuple[Region, str]]] = {}
    lookalikes: list[LookalikeTask] = []
    for kind in hard_kinds:
        if kind in LOOKALIKE_NEGATIVES:
            lookalikes.append(
                LookalikeTask(
                    index=len(lookalikes),
                    kind=kind,
                    path=namer.new(original_ext()),
                    quality=_quality(rng, profile),
                    long_side=_long_side(rng, profile),
                    aspect=ASPECTS[int(rng.integers(len(ASPECTS)))],
                )
            )
            continue
        slot = int(rng.integers(n_originals))
        if kind in EDIT_NEGATIVES:
            edits.setdefault(slot, []).append(Placement(namer.new(ext_of(paths[slot])), kind))
            continue
        for _ in range(8 * n_originals):  # an overlapping crop needs room beside the original's window
            shifted = shifted_region(rng, regions[slot], photos[regions[slot].source].pixels.shape, float(rng.uniform(*profile.strength)))
            if shifted is not None:
                overlaps.setdefault(slot, []).append((shifted, namer.new(ext_of(paths[slot]))))
                break
            slot = int(rng.integers(n_originals))
        else:
            raise RuntimeError("no original leaves room for an overlapping crop; lower crop_scale")
    return edits, overlaps, lookalikes


def plan_tasks(photos: list[SourcePhoto], n_images: int, seed: int, profile: Profile, regions: list[Region]) -> list[OriginalTask | LookalikeTask]:
    """Decide every file's name, role and kind, in one fixed order (the rendering may run anywhere)."""
    rng = np.random.default_rng([seed, 0])
    n_originals, n_copies, n_hard = plan_counts(n_images, profile)
    copy_kinds = [str(k) for k in rng.permutation(allocate(n_copies, profile.copy_weights))]
    hard_kinds = [str(k) for k in rng.permutation(allocate(n_hard, profile.hard_negative_weights))]
    namer = Namer(rng, n_images)

    def original_ext() -> str:
        return ".png" if rng.random() < profile.png_share else ".jpg"

    paths = [namer.new(original_ext()) for _ in range(n_originals)]
    copies = _place_copies(rng, namer, paths, copy_kinds, profile)
    edits, overlaps, lookalikes = _place_hard_negatives(rng, namer, paths, hard_kinds, profile, photos, regions, original_ext)
    tasks: list[OriginalTask | LookalikeTask] = []
    for k in range(n_originals):
        tasks.append(
            OriginalTask(
                index=k,
                region=regions[k],
                path=paths[k],
                quality=_quality(rng, profile) if paths[k].endswith(".jpg") else None,
                long_side=_long_side(rng, profile),
                group=k + 1 if k in copies else None,
                copies=tuple(copies.get(k, ())),
                edits=tuple(edits.get(k, ())),
                overlaps=tuple(overlaps.get(k, ())),
            )
        )
    return tasks + lookalikes


def _quality(rng: np.random.Generator, profile: Profile) -> int:
    return int(rng.integers(profile.jpeg_quality[0], profile.jpeg_quality[1] + 1))


def _long_side(rng: np.random.Generator, profile: Profile) -> int:
    return int(rng.integers(profile.long_side[0], profile.long_side[1] + 1))


def task_size(task: OriginalTask | LookalikeTask) -> int:
    if isinstance(task, LookalikeTask):
        return 1
    return 1 + len(task.copies) + len(task.edits) + len(task.overlaps)


@contextmanager
def single_threaded_opencv() -> Iterator[None]:
    """Run OpenCV single-threaded, then restore the caller's setting.

    A process forked while OpenCV's thread pool is alive can deadlock in the child on its first parallel
    call (seen here with a fork pool after the SSIM checks), so the pool is never started before forking.
    """
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def render_all(tasks: list[OriginalTask | LookalikeTask], state: WorkerState, jobs: int) -> Iterator[list[ImageEntry]]:
    """Render tasks in order; a 'serial' run never starts a pool (the honest baseline).

    Call inside `single_threaded_opencv()`: the fork pool is only safe without OpenCV threads running.
    """
    if jobs <= 1:
        _init_worker(state)
        yield from map(_render, tasks)
        return
    # fork: the worker state (source photos, a few MB) is inherited, not pickled per task.
    with ProcessPoolExecutor(jobs, mp_context=get_context("fork"), initializer=_init_worker, initargs=(state,)) as pool:
        yield from pool.map(_render, tasks, chunksize=4)


def library_versions() -> dict[str, str]:
    import PIL

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "scikit-image": package_version("scikit-image"),
    }


def make_dataset(
    out: Path,
    n_images: int,
    seed: int,
    profile: str | Profile = "study",
    source: Path | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> GroundTruth:
    """Write ``n_images`` files and OUT/ground_truth.json; the same arguments give the same bytes.

    The set is built in a temporary sibling folder and renamed into place, so OUT is either complete or
    absent. OUT must not exist or be empty.
    """
    out = Path(out)
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    photos = load_folder(source) if source is not None else load_bundled()
    show = progress and sys.stderr.isatty()
    with single_threaded_opencv():
        return _build(out, n_images, seed, chosen, photos, source, jobs, show)


def _build(out: Path, n_images: int, seed: int, chosen: Profile, photos: list[SourcePhoto], source: Path | None, jobs: int | None, show: bool) -> GroundTruth:
    config = DetectorConfig()
    limit = config.threshold - chosen.distinct_margin
    n_originals, _, _ = plan_counts(n_images, chosen)
    full_check = n_originals <= FULL_DISTINCT_CHECK_MAX
    with tqdm(total=n_originals, desc="choosing originals", unit="img", disable=not show, file=sys.stderr, leave=False) as bar:
        regions = select_originals(photos, n_originals, chosen, seed, limit, config.thumb_size, full_check, bar)
    tasks = plan_tasks(photos, n_images, seed, chosen, regions)
    staging = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        state = WorkerState(photos, chosen, seed, staging)
        workers = max(1, min(jobs if jobs is not None else available_cpus(), len(tasks) // 8 or 1))
        entries: list[ImageEntry] = []
        with tqdm(total=n_images, desc="writing images", unit="img", disable=not show, file=sys.stderr) as bar:
            for rendered in render_all(tasks, state, workers):
                entries.extend(rendered)
                bar.update(len(rendered))
        truth = GroundTruth(
            profile=chosen.name,
            seed=seed,
            n_images=len(entries),
            threshold=config.threshold,
            thumb_size=config.thumb_size,
            distinct_below=round(limit, 6),
            distinct_check="all pairs" if full_check else "pairs from the same scene",
            libraries=library_versions(),
            sources=[p.name for p in photos],
            images=tuple(sorted(entries, key=lambda e: e.path)),
            settings={
                "long_side": list(chosen.long_side),
                "jpeg_quality": list(chosen.jpeg_quality),
                "strength": list(chosen.strength),
                "grain_sigma": chosen.grain_sigma,
                "source": "scikit-image bundled photos" if source is None else "user folder",
            },
        )
        write_ground_truth(truth, staging / FILENAME)
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return truth
