"""Reproducible image datasets with ground truth: distinct originals, planted copies, hard negatives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dupbench.datasets.generate import make_dataset
from dupbench.datasets.ground_truth import FILENAME, GroundTruth, ImageEntry, read_ground_truth, write_ground_truth
from dupbench.datasets.profiles import PROFILES, Profile, get_profile

DEMO_NAME = "demo-v1"
DEMO_IMAGES = 60
DEMO_SEED = 2026

__all__ = [
    "DEMO_IMAGES",
    "DEMO_NAME",
    "DEMO_SEED",
    "FILENAME",
    "GroundTruth",
    "ImageEntry",
    "PROFILES",
    "Profile",
    "default_cache_dir",
    "demo_folder",
    "demo_ready",
    "ensure_demo",
    "get_profile",
    "make_dataset",
    "read_ground_truth",
    "write_ground_truth",
]


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/dupbench, else ~/.cache/dupbench; resolved at call time."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dupbench"


def demo_folder(cache_dir: Path | None = None) -> Path:
    """Where the demo set is, or will be built."""
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / DEMO_NAME


def demo_ready(cache_dir: Path | None = None) -> bool:
    """True once the demo set is built (its ground truth is written last), so a run can say it is building it."""
    return (demo_folder(cache_dir) / FILENAME).is_file()


def ensure_demo(cache_dir: Path | None = None, progress: bool = True) -> Path:
    """The demo dataset's folder, built on first use (a few seconds) and reused afterwards.

    Same code path as `dupbench dataset make --profile demo --images 60 --seed 2026`. The build goes to a
    temporary folder renamed into place, so a crash or a concurrent first call never leaves half a set.
    """
    target = demo_folder(cache_dir)
    if demo_ready(cache_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{DEMO_NAME}.build-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        make_dataset(staging, DEMO_IMAGES, DEMO_SEED, "demo", progress=progress)
        if target.exists() and not (target / FILENAME).is_file():
            shutil.rmtree(target)  # a leftover without ground truth is not a finished build
        os.rename(staging, target)
    except OSError:
        if not (target / FILENAME).is_file():  # lost a race to another process that finished first: fine
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
