"""What keeping the freed heap (executors.keep_freed_heap) changes, per mode and stage, in one run.

Usage: python benchmarks/heap_ab.py DATASET [--repeats 3] [--workers N]

Runs `dupbench run DATASET --pairs all` in serial, thread and process mode, each with the kept heap and
with glibc's defaults (DUPBENCH_MALLOC_DEFAULTS=1), interleaved, and prints the median load and compare
stage times (compare without the pixel checks) and each pool's speed-up over serial with the same heap
setting. Page faults of freed-and-refetched temporaries take the kernel's per-process memory lock, so
they may cost threads more than processes: this shows whether they do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from dupbench.config import available_cpus
from dupbench.harness.child import run_report
from dupbench.harness.metadata import collect_metadata

MODES = ("serial", "thread", "process")
HEAPS = {"kept": "0", "glibc default": "1"}


def run_once(dataset: Path, mode: str, workers: int, defaults: str) -> dict[str, float]:
    env = {**os.environ, "DUPBENCH_MALLOC_DEFAULTS": defaults}
    stages = run_report(dataset, ["--mode", mode, "--workers", str(workers), "--pairs", "all"], env=env)["stages"]
    return {"load": stages["load"], "compare": stages["compare"] - stages.get("pixel_checks", 0.0), "total": stages["total"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=available_cpus())
    args = parser.parse_args()
    times: dict[tuple[str, str], list[dict[str, float]]] = {(h, m): [] for h in HEAPS for m in MODES}
    for _ in range(args.repeats):  # interleaved: a slow spell of the shared machine hits every cell alike
        for heap, flag in HEAPS.items():
            for mode in MODES:
                times[(heap, mode)].append(run_once(args.dataset, mode, 1 if mode == "serial" else args.workers, flag))
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    print(f"# command: python benchmarks/heap_ab.py {' '.join(sys.argv[1:])} (commit {meta['git']['short_commit']}{', dirty' if meta['git']['dirty'] else ''})")
    print(
        f"# {meta['machine']} ({meta['cpu_model']}), {len(meta['allowed_cores'])} cores, Python {meta['python']['version']}, "
        f"{args.workers} workers, --pairs all, medians of {args.repeats} interleaved runs"
    )
    print(f"{'heap':14s} {'mode':8s} {'load s':>8s} {'compare s':>10s} {'total s':>8s} {'load x':>7s} {'compare x':>10s} {'total x':>8s}")
    for heap in HEAPS:
        median = {m: {k: statistics.median(r[k] for r in times[(heap, m)]) for k in ("load", "compare", "total")} for m in MODES}
        for mode in MODES:
            row = median[mode]
            ratios = [median["serial"][k] / row[k] for k in ("load", "compare", "total")]
            print(f"{heap:14s} {mode:8s} {row['load']:8.2f} {row['compare']:10.2f} {row['total']:8.2f} {ratios[0]:6.2f}x {ratios[1]:9.2f}x {ratios[2]:7.2f}x")


if __name__ == "__main__":
    main()
