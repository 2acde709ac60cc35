"""Per-pair cost of the batched SSIM against scikit-image's structural_similarity, same run, same data.

Usage: python benchmarks/ssim_batched.py [--size 32] [--images 256] [--repeats 7]
Prints the median per-pair time of each path and their ratio; thumbnails are real photos (bundled with
scikit-image) cut into many crops, so the numbers describe the detector's real input.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import skimage
from skimage import data
from skimage.metrics import structural_similarity

from dupbench.config import DetectorConfig
from dupbench.detector.ssim import match_one_to_many, ssim_one_to_many, ssim_terms
from dupbench.execution.native import prepare_process
from dupbench.harness.metadata import git_state

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "hubble_deep_field", "moon")


def real_thumbnails(count: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grays = [cv2.cvtColor(getattr(data, n)()[..., :3], cv2.COLOR_RGB2GRAY) if getattr(data, n)().ndim == 3 else getattr(data, n)() for n in PHOTOS]
    thumbs = []
    for i in range(count):
        gray = grays[i % len(grays)]
        h, w = gray.shape
        side = int(min(h, w) * rng.uniform(0.3, 0.9))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        thumbs.append(cv2.resize(gray[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(thumbs)


def per_pair_batched(thumbs: np.ndarray, block: int, dtype: type, score=ssim_one_to_many) -> float:
    """Seconds per pair for one query against blocks of `block` images, terms computed inside the timing."""
    start = time.perf_counter()
    terms = ssim_terms(thumbs, dtype)
    pairs = 0
    for i in range(len(thumbs)):
        for c in range(0, len(thumbs), block):
            pairs += len(score(terms.take(slice(i, i + 1)), terms.take(slice(c, c + block))))
    return (time.perf_counter() - start) / pairs


def per_pair_skimage(thumbs: np.ndarray, pairs: int) -> float:
    start = time.perf_counter()
    for k in range(pairs):
        structural_similarity(thumbs[k % len(thumbs)], thumbs[(7 * k + 1) % len(thumbs)], data_range=255)
    return (time.perf_counter() - start) / pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=DetectorConfig().thumb_size)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    prepare_process()
    thumbs = real_thumbnails(args.images, args.size)
    results: dict[str, list[float]] = {"skimage": [], "batched float64": [], "batched float32": [], "detector score": []}
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits every path alike
        results["skimage"].append(per_pair_skimage(thumbs, 300))
        results["batched float64"].append(per_pair_batched(thumbs, args.block, np.float64))
        results["batched float32"].append(per_pair_batched(thumbs, args.block, np.float32))
        # What the compare stage runs: float32 terms, SSIM and structure-weighted SSIM from one map.
        results["detector score"].append(per_pair_batched(thumbs, args.block, np.float32, match_one_to_many))
    git = git_state(Path(__file__).resolve().parents[1])
    print(f"# command: python benchmarks/ssim_batched.py {' '.join(sys.argv[1:])} (commit {git['short_commit']}{', dirty' if git['dirty'] else ''})")
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, OpenCV {cv2.__version__}, scikit-image {skimage.__version__}"
    )
    print(f"# {args.images} real-photo thumbnails {args.size}x{args.size}, block {args.block}, {args.repeats} repeats, medians")
    reference = statistics.median(results["skimage"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:16s} {median * 1e6:8.1f} us/pair   {reference / median:6.1f}x vs skimage   (min {min(values) * 1e6:.1f}, max {max(values) * 1e6:.1f})")


if __name__ == "__main__":
    main()
