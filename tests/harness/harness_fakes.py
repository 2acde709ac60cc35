"""Stand-ins for the harness tests: a CPU-bound child command instead of `dupbench run`, and tiny datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

STANDIN = Path(__file__).with_name("standin_child.py")


def standin_command(cell, dataset_dir: Path, report_json: Path, loops: int = 300_000, extra: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, str(STANDIN), cell.mode, str(cell.workers), cell.start_method, str(loops), str(report_json), *extra]


def write_images(out: Path, n_images: int, seed: int, profile: str = "study") -> None:
    """A dataset maker with the harness's signature: n small random JPEGs."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        cv2.imwrite(str(out / f"img{i:03d}.jpg"), (rng.random((48, 64, 3)) * 255).astype(np.uint8))
