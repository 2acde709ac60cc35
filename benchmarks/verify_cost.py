"""What the second look costs: the verify stage's share of a run (alignment of small crops included),
the compare stage at --orientations 1/4/8, and a run without alignment.

Usage: python benchmarks/verify_cost.py FOLDER [--mode process] [--pairs pruned] [--repeats 5]
Runs `dupbench run FOLDER --no-cache` at each orientation setting and once more at --orientations 1 with
--crop-margin 0, interleaved, `--repeats` times, and prints from the runs' own stage clocks the median
total, compare and verify seconds, verify's share of the total, and each setting's compare and total time
relative to --orientations 1 (ratios of medians taken in the same run), with the machine, versions and commit.
The pixel checks' decodes are timed apart (the pixel_checks stage) in every mode: in a pool they run
while verification's inputs are gathered and are waited for before its tasks go out
(pipeline.compare_stage), so the verify stage holds verification and alignment alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from dupbench.harness.child import run_report
from dupbench.harness.metadata import collect_metadata

# (orientations, extra options): the last one measures what aligning small crops costs
SETTINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1", ("--orientations", "1")),
    ("4", ("--orientations", "4")),
    ("8", ("--orientations", "8")),
    ("1, --crop-margin 0", ("--orientations", "1", "--crop-margin", "0")),
)


def one_run(folder: str, mode: str, pairs: str, options: tuple[str, ...], out: Path) -> dict:
    report = run_report(folder, ["--mode", mode, "--pairs", pairs, *options], output=out)
    return {**report["stages"], "groups": report["counts"]["groups"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--mode", default="process")
    parser.add_argument("--pairs", default="pruned", choices=("pruned", "all"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name, _ in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name, options in SETTINGS:
                runs[name].append(one_run(args.folder, args.mode, args.pairs, options, Path(tmp) / "report.json"))
    meta = collect_metadata(Path(__file__).resolve().parent)
    libraries = ", ".join(f"{k} {meta['libraries'][k]}" for k in ("numpy", "opencv", "scikit_image") if k in meta["libraries"])
    print(
        f"# machine {meta['machine']} ({meta['cpu_model']}, {len(meta['allowed_cores'])} cores allowed), commit "
        f"{meta['git']['short_commit']}{' (dirty)' if meta['git']['dirty'] else ''}, Python {meta['python']['version']}, {libraries}"
    )
    print(f"# python benchmarks/verify_cost.py {args.folder} --mode {args.mode} --pairs {args.pairs} --repeats {args.repeats}")
    median = {k: {s: statistics.median(r[s] for r in runs[k]) for s in ("total", "compare", "verify")} for k in runs}
    print("| orientations | groups | total s | compare s | verify s | verify share of total | compare vs 1 | total vs 1 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k in runs:
        m = median[k]
        print(
            f"| {k} | {runs[k][0]['groups']} | {m['total']:.2f} | {m['compare']:.2f} | {m['verify']:.3f} | "
            f"{m['verify'] / m['total']:.1%} | {m['compare'] / median['1']['compare']:.2f}x | {m['total'] / median['1']['total']:.2f}x |"
        )


if __name__ == "__main__":
    main()
