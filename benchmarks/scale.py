"""The compare stage at up to 100,000 images: time and peak memory for `--pairs pruned` and `--pairs all`.

Usage: python benchmarks/scale.py [--sizes 1000,3000,10000,30000,100000] [--all-up-to 10000] [--out results/benchmarks]

Thumbnails are synthetic (smooth random 32x32 fields, 5% of them noisy near-copies of another, so the
prefilter has real candidates to pass on), because only the compare stage is measured. Each (n, pairs)
runs in a fresh child process, serially (`SerialExecutor`: one core, the plainest growth curve), which
reports the stage's wall time and its own peak RSS (`ru_maxrss`, so the whole process: interpreter,
thumbnails and the stage's working memory). Log-log slopes are fitted per pair strategy.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

THUMB = 32
COPY_FRACTION = 0.05


def synthetic_thumbnails(n: int, seed: int = 0, chunk: int = 10_000) -> np.ndarray:
    """Smooth random fields (6x6 noise upsampled), plus near-copies (a little Gaussian noise) of some of them.

    Made chunk by chunk straight into uint8, so making them never needs more memory than the thumbnails
    themselves: the child's peak RSS is then the compare stage's, not the generator's.
    """
    rng = np.random.default_rng(seed)
    thumbs = np.empty((n, THUMB, THUMB), np.uint8)
    for start in range(0, n, chunk):
        coarse = rng.random((min(chunk, n - start), 6, 6), dtype=np.float32) * 255
        fields = np.stack([cv2.resize(c, (THUMB, THUMB), interpolation=cv2.INTER_CUBIC) for c in coarse])
        thumbs[start : start + len(fields)] = np.clip(np.rint(fields), 0, 255)
    copies = rng.choice(n, size=int(n * COPY_FRACTION), replace=False)
    sources = rng.integers(0, n, size=len(copies))
    for start in range(0, len(copies), chunk):
        to, of = copies[start : start + chunk], sources[start : start + chunk]
        noisy = thumbs[of].astype(np.float32) + rng.normal(0, 4, (len(to), THUMB, THUMB)).astype(np.float32)
        thumbs[to] = np.clip(np.rint(noisy), 0, 255)
    return thumbs


def measure_one(n: int, pairs: str) -> dict:
    """Run in a child: the detector's compare stage on n synthetic thumbnails."""
    from dupbench.config import DetectorConfig
    from dupbench.detector.compare import near_pairs
    from dupbench.execution.native import prepare_process
    from dupbench.execution.serial import SerialExecutor

    prepare_process()
    config = DetectorConfig()
    thumbs = synthetic_thumbnails(n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    near = near_pairs(thumbs, lambda a: a, pairs, config.threshold, SerialExecutor(), block=config.block_size, workers=1, radius=config.prefilter_radius)
    wall = time.perf_counter() - start
    return {
        "n": n,
        "pairs": pairs,
        "wall_s": wall,
        "candidates": near.candidates,
        "pairs_compared": near.compared,
        "near_pairs": len(near.scores),
        "rss_before_bytes": before,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def growth_exponent(frame: pd.DataFrame) -> float:
    return float(np.polyfit(np.log(frame["n"]), np.log(frame["wall_s"]), 1)[0]) if len(frame) > 1 else float("nan")


def top_slope(frame: pd.DataFrame) -> float:
    """The log-log slope between the two largest sizes: the growth where it matters, free of fixed costs."""
    return growth_exponent(frame.nlargest(2, "n"))


def to_markdown(frame: pd.DataFrame, slopes: dict[str, float], tops: dict[str, float], meta: dict) -> str:
    libraries = meta["libraries"]
    lines = [
        f"Compare stage, serial, synthetic 32 px thumbnails, on {meta['machine']} ({meta['cpu_model']}), commit "
        f"{meta['git']['short_commit']}{' (dirty)' if meta['git']['dirty'] else ''}, Python {meta['python']['version']}, "
        f"numpy {libraries['numpy']}, OpenCV {libraries.get('opencv_runtime')} "
        f"(`python benchmarks/scale.py {' '.join(sys.argv[1:])}`):",
        "",
        "| images | pairs | wall s | candidates | pairs compared | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in frame.itertuples():
        lines.append(f"| {row.n:,} | {row.pairs} | {row.wall_s:.2f} | {row.candidates:,} | {row.pairs_compared:,} | {row.peak_rss_bytes / 2**20:.0f} |")
    lines += [
        "",
        "Growth of wall time, log-log: "
        + ", ".join(f"`--pairs {p}` n^{s:.2f} fitted over all sizes, n^{tops[p]:.2f} between the two largest" for p, s in slopes.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    parser.add_argument("--all-up-to", type=int, default=10000, help="largest n also run with --pairs all (quadratic)")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    parser.add_argument("--one", nargs=2, metavar=("N", "PAIRS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1])))
        return

    from dupbench.harness.metadata import collect_metadata, machine_name

    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [(n, "pruned") for n in sizes] + [(n, "all") for n in sizes if n <= args.all_up_to]
    rows = []
    for n, pairs in runs:
        child = subprocess.run([sys.executable, __file__, "--one", str(n), pairs], capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"n={n:>7,} pairs={pairs:<6} {rows[-1]['wall_s']:8.2f} s  peak {rows[-1]['peak_rss_bytes'] / 2**20:7.0f} MiB", flush=True)
    frame = pd.DataFrame(rows).sort_values(["pairs", "n"])
    slopes = {p: growth_exponent(part) for p, part in frame.groupby("pairs", sort=False)}
    tops = {p: top_slope(part) for p, part in frame.groupby("pairs", sort=False)}
    machine = machine_name()
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"scale-{machine}-{stamp}"
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    markdown = to_markdown(frame, slopes, tops, meta)
    stem.with_suffix(".md").write_text(markdown)
    meta.update(command="python benchmarks/scale.py " + " ".join(sys.argv[1:]), slopes=slopes, top_slopes=tops)
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(markdown)
    print(f"wrote {stem}.csv/.md/.json")


if __name__ == "__main__":
    main()
