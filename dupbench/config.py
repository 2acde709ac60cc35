"""Detector settings, resolved at call time (never frozen at import)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Literal

Mode = Literal["serial", "thread", "process", "dask"]
PairStrategy = Literal["all", "pruned"]
CandidateSearch = Literal["auto", "exact", "index"]
CANDIDATE_SEARCHES: tuple[str, ...] = ("auto", "exact", "index")
# `candidates="auto"` scans exactly up to this many images (a few seconds on one core, and complete) and
# uses the index above, where the exact scan's n^2/2 distances come to dominate the compare stage.
EXACT_CANDIDATES_UP_TO = 50_000

# HEIC/HEIF and AVIF need the 'formats' extra, camera RAW the 'raw' extra (detector/formats.py); without
# it such a file is skipped with a reason naming the extra, so it is still looked at.
CAMERA_RAW_EXTENSIONS = frozenset({".cr2", ".nef", ".arw", ".dng"})
IMAGE_EXTENSIONS = (
    frozenset(
        {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".heic", ".heif", ".avif", ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".j2k"}
    )
    | CAMERA_RAW_EXTENSIONS
)
MODES: tuple[str, ...] = ("serial", "thread", "process", "dask")
START_METHODS: tuple[str, ...] = ("fork", "forkserver", "spawn")
CLI_MODE = "process"  # `dupbench run`'s default mode (the API's is serial: see api.find_duplicates)
DEFAULT_START_METHOD = "forkserver"

# SSIM near-duplicate detection works on small thumbnails: detail above a few hundred pixels is noise to
# it (the study uses 32 and 64), while memory grows with n x size^2 (thumbnails of every image are held
# and shared) and SSIM time with size^2 per pair. 256 px already costs 64 KiB per image.
MAX_THUMB_SIZE = 256
# A file above this size is skipped unread: a 2^28-pixel photo compresses far below it, and each worker
# may hold one whole file in memory while decoding it (README, "Memory"). `--max-file-size` changes it.
DEFAULT_MAX_FILE_SIZE = 512 * 2**20
# More workers than this many per usable CPU only add start-up time and per-worker memory (each holds a
# decoder and its buffers); 8 per CPU still lets the study measure oversubscription.
WORKERS_PER_CPU_CAP = 8
MIN_WORKER_CAP = 16


def available_cpus() -> int:
    """CPUs this process may run on (affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def worker_cap() -> int:
    """The most workers a run starts: WORKERS_PER_CPU_CAP per usable CPU, at least MIN_WORKER_CAP."""
    return max(MIN_WORKER_CAP, WORKERS_PER_CPU_CAP * available_cpus())


@dataclass(frozen=True)
class DetectorConfig:
    """What the detector computes; identical across execution modes by construction."""

    threshold: float = 0.75
    thumb_size: int = 32
    pairs: PairStrategy = "pruned"
    prefilter_radius: float = 0.9
    # How `pruned` finds pairs within the radius: "exact" scans all n^2/2 signature distances (complete);
    # "index" probes k-means cells (work linear in n, keeps most pairs near the radius: prefilter.py);
    # "auto" is exact up to EXACT_CANDIDATES_UP_TO images, where it is cheap, and the index above.
    candidates: CandidateSearch = "auto"
    # With the index, only pairs among either image's candidate_cap nearest candidates go on to SSIM (0: all):
    # a fixed radius admits ever more neighbours as n grows, and SSIM on them grew faster than n (prefilter.py,
    # cap_candidates; benchmarks/scale.py --cap measures the choice). The exact scan is never capped.
    candidate_cap: int = 16
    block_size: int = 64
    follow_symlinks: bool = False
    extensions: frozenset[str] = field(default=IMAGE_EXTENSIONS)
    max_pixels: int = 1 << 28
    decoder: str = "auto"
    orientations: int = 1  # 1: as stored (EXIF applied); 4: also turned 90/180/270; 8: also mirrored
    # Verification of matched pairs (see verify.py, which says why each check exists).
    aspect_tolerance: float = 1.25  # aspect ratios within 25%: a crop of up to a fifth of one side
    colour_tolerance: float = 6.0  # mean chroma-grid distance (CIE a*b* units)
    hue_tolerance: float = 35.0  # degrees the grids' hues may turn (every copy evaluated, JPEG quality 20 too: <= 22; made hue shifts: 60-180 in HSV)
    hue_chroma_floor: float = 2.0  # RMS chroma (a*b* units) both grids need for their hue to count (copies turning more than 22: < 1.5)
    information_floor: float = 0.12  # edge share below which an image needs the detail check
    background_ceiling: float = 0.5  # background share above which an image needs the detail check
    flat_floor: float = 0.01  # edge share below which an image is flat: its brightness must agree too
    detail_threshold: float = 0.9  # match score of the detail thumbnails for low-information pairs
    low_information_threshold: float = 0.9  # and of their thumbnails (true low-information copies: >= 0.93)
    toned_threshold: float = 0.98  # or both, once one image has the tone edit that best makes it the other
    level_tolerance: float = 1.5  # grey levels of mean brightness flat pairs may differ by (a re-encode moves it less)
    changed_ceiling: float = 0.06  # share of thumbnail SSIM windows that may show other content (a caption, a trim's edge)
    alpha_threshold: float = 0.75  # match score of the alpha thumbnails of two transparent images
    transparent_threshold: float = 0.95  # and of their thumbnails (copies of tune drawings: >= 0.956)
    region_ceiling: float = 25.0  # grey levels a 5x5 patch of their detail thumbnails may differ by, tone-fitted (copies of tune drawings: <= 15)
    # Alignment of small crops (see align.py): pairs screened at crop_floor or more, or rejected on content,
    # get a search over trims of up to crop_margin of each side (0: no alignment), and are kept at an aligned
    # score of crop_threshold: above the screen's, as the search keeps the best of many alignments.
    crop_margin: float = 0.05
    crop_floor: float = 0.4
    crop_threshold: float = 0.95
    # Only pairs among the crop_partners best-screened of both their images are searched: a crop scores
    # highest against the picture it was cut from and that picture's copies (every pair alignment kept on
    # the tune sets and the generated set ranked 3rd or better), while a picture that half matches dozens
    # of others (galaxies on black) would cost a search per pair.
    crop_partners: int = 3
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    exclude: tuple[str, ...] = ()  # globs left out of the scan (see scan.ScanFilters)
    min_size: int = 0  # files smaller than this (bytes) are left out
    max_size: int | None = None  # files larger than this (bytes) are left out

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 16 <= self.thumb_size <= MAX_THUMB_SIZE:
            raise ValueError(
                f"thumb size must be between 16 and {MAX_THUMB_SIZE} pixels, got {self.thumb_size} (a larger "
                f"thumbnail adds no accuracy to SSIM near-duplicate detection and costs memory: n x size^2 bytes)"
            )
        if self.max_file_size < 1:
            raise ValueError(f"max file size must be at least 1 byte, got {self.max_file_size}")
        if self.max_pixels < 1:
            raise ValueError(f"max pixels must be at least 1, got {self.max_pixels}")
        if self.pairs not in ("all", "pruned"):
            raise ValueError(f"pairs must be 'all' or 'pruned', got {self.pairs!r}")
        if self.candidates not in CANDIDATE_SEARCHES:
            raise ValueError(f"candidates must be one of {', '.join(CANDIDATE_SEARCHES)}, got {self.candidates!r}")
        if self.decoder not in ("auto", "opencv", "pillow"):
            raise ValueError(f"decoder must be auto, opencv or pillow, got {self.decoder!r}")
        if self.orientations not in (1, 4, 8):
            raise ValueError(f"orientations must be 1, 4 or 8, got {self.orientations}")
        if self.candidate_cap < 0:
            raise ValueError(f"candidate_cap must be >= 0 (0: no cap), got {self.candidate_cap}")
        if not 0.0 <= self.crop_margin <= 0.25:
            raise ValueError(f"crop_margin must be in [0, 0.25] (a share of each side), got {self.crop_margin}")
        if self.crop_partners < 1:
            raise ValueError(f"crop_partners must be at least 1, got {self.crop_partners}")
        for name in ("crop_floor", "crop_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {self.block_size}")

    @property
    def detail_size(self) -> int:
        """Side of the detail thumbnail low-information pairs are verified on: twice the screen's."""
        return 2 * self.thumb_size

    @property
    def screen_floor(self) -> float:
        """The lowest screen score a pair is kept at: the threshold, or crop_floor below it where
        alignment is on (those pairs are kept only if they match once aligned)."""
        return min(self.crop_floor, self.threshold) if self.crop_margin > 0 else self.threshold

    def to_json(self) -> dict:
        data = asdict(self)
        data["extensions"] = sorted(self.extensions)
        return data


@dataclass(frozen=True)
class ExecutionConfig:
    """How the detector runs: mode, pool size, process start method, and (dask) the scheduler to use."""

    mode: Mode = "serial"
    workers: int | None = None
    start_method: str = DEFAULT_START_METHOD
    scheduler: str | None = None  # dask only: tcp://HOST:PORT of a running scheduler; None starts a local cluster

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.start_method not in START_METHODS:
            raise ValueError(f"start method must be one of {', '.join(START_METHODS)}, got {self.start_method!r}")
        if self.scheduler and self.mode != "dask":
            raise ValueError("--scheduler is for --mode dask")

    @property
    def resolved_workers(self) -> int:
        """The pool size: 1 for serial, else the asked-for number (default: usable CPUs) capped at `worker_cap()`."""
        if self.mode == "serial":
            return 1
        return min(self.workers if self.workers is not None else available_cpus(), worker_cap())

    def to_json(self) -> dict:
        """The settings in force, as reports record them (a setting a mode does not use is null)."""
        return {
            "mode": self.mode,
            "workers": self.resolved_workers,
            "start_method": self.start_method if self.mode == "process" else None,
            "scheduler": (self.scheduler or "local cluster") if self.mode == "dask" else None,
        }

    @property
    def capped_note(self) -> str | None:
        """A note for the user when `workers` was above the cap, else None."""
        if self.mode == "serial" or self.workers is None or self.workers <= worker_cap():
            return None
        return (
            f"--workers {self.workers} capped at {worker_cap()} ({WORKERS_PER_CPU_CAP} per usable CPU, at least "
            f"{MIN_WORKER_CAP}): more only add start-up time and memory"
        )
