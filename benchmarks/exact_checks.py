"""What confirming exact copies costs: the pixel checks' share of a run, and exact recall.

Usage: python benchmarks/exact_checks.py FOLDER [--mode process] [--repeats 5] [--baseline SRC]
Runs `dupbench run FOLDER --no-cache` `--repeats` times as fresh child processes and prints, from the
runs' own stage clocks, the median total, load, compare and pixel-check seconds, the pixel checks' share
of the total (goal: <= 15% on a real-photo folder), the files decoded a second time, and, where FOLDER
has a ground_truth.json, exact-pair recall (goal: 1.0). With --baseline SRC (a source tree of another
commit, e.g. `git archive main | tar -x -C SRC`), that tree's runs are interleaved with this tree's, so
a busy machine slows both alike, and the two trees' groups are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from dupbench.harness.metadata import collect_metadata, package_version

HERE = Path(__file__).resolve().parent
STAGES = ("total", "load", "compare", "pixel_checks")


def one_run(tree: Path, folder: str, mode: str, out: Path) -> dict:
    """One `dupbench run` with `tree` first on the import path; its report."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    command = [sys.executable, "-m", "dupbench", "run", folder, "--mode", mode, "--no-cache", "--quiet", "--output", str(out)]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, cwd=out.parent)  # not this folder: `-m` puts the cwd first
    return json.loads(out.read_text())


def exact_recall(folder: str, report_path: Path) -> float | None:
    """Exact-pair recall of a report against the folder's ground truth, or None without one."""
    from dupbench.datasets.ground_truth import FILENAME, read_ground_truth
    from dupbench.evaluate import evaluate
    from dupbench.result import load_report

    root = Path(folder)
    if not (root / FILENAME).exists():
        return None
    return evaluate(read_ground_truth(root), load_report(report_path), root).exact.recall


def canonical_groups(report: dict, scores: bool = True) -> str:
    """The groups as text; without scores, only what a user acts on (kinds, keepers, members, matches)."""
    groups = report["groups"] if scores else [{**g, "members": [{k: v for k, v in m.items() if k != "ssim"} for m in g["members"]]} for g in report["groups"]]
    return json.dumps(groups, sort_keys=True)


def largest_score_change(a: dict, b: dict) -> float:
    """The largest SSIM change of a member found in both reports' groups."""
    scores = [{m["path"]: m["ssim"] for g in r["groups"] for m in g["members"]} for r in (a, b)]
    return max((abs(scores[0][p] - scores[1][p]) for p in scores[0].keys() & scores[1].keys()), default=0.0)


def summary(label: str, reports: list[dict], recall: float | None) -> str:
    median = {s: statistics.median(r["stages"].get(s, 0.0) for r in reports) for s in STAGES}
    counts = reports[0]["counts"]
    recall_text = "n/a" if recall is None else f"{recall:.3f}"
    return (
        f"| {label} | {median['total']:.2f} | {median['load']:.2f} | {median['compare']:.2f} | {median['pixel_checks']:.2f} | "
        f"{median['pixel_checks'] / median['total']:.1%} | {counts.get('pixel_checks', 0)} | {counts['groups']} | {recall_text} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--mode", default="process")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a source tree of another commit, run interleaved with this one")
    args = parser.parse_args()
    trees = {"this tree": HERE.parent, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[dict]] = {label: [] for label in trees}
    recall: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for label, tree in trees.items():
                out = Path(tmp) / f"{label}.json"
                runs[label].append(one_run(tree, args.folder, args.mode, out))
                recall[label] = exact_recall(args.folder, out)
    meta = collect_metadata(HERE)
    libraries = ", ".join(f"{k} {meta['libraries'][k]}" for k in ("numpy", "opencv") if k in meta["libraries"]) + f", Pillow {package_version('pillow')}"
    print(
        f"# machine {meta['machine']} ({meta['cpu_model']}, {len(meta['allowed_cores'])} cores allowed), commit "
        f"{meta['git']['short_commit']}{' (dirty)' if meta['git']['dirty'] else ''}, Python {meta['python']['version']}, {libraries}"
    )
    baseline = f" --baseline {args.baseline}" if args.baseline else ""
    print(f"# python benchmarks/exact_checks.py {args.folder} --mode {args.mode} --repeats {args.repeats}{baseline}")
    print(f"# {runs['this tree'][0]['counts']['images']} images; medians of {args.repeats} runs{', interleaved' if args.baseline else ''}")
    print("| code | total s | load s | compare s | pixel checks s | pixel checks share | files decoded twice | groups | exact recall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in trees:
        print(summary(label, runs[label], recall[label]))
    if args.baseline:
        ours, theirs = runs["this tree"][0], runs["baseline"][0]
        same = canonical_groups(ours, scores=False) == canonical_groups(theirs, scores=False)
        print(f"\nsame groups (kinds, keepers, members, matches) as the baseline: {'yes' if same else 'NO'}")
        print(
            f"same scores too: {'yes' if canonical_groups(ours) == canonical_groups(theirs) else 'no'} (largest SSIM change {largest_score_change(ours, theirs):.4f})"
        )


if __name__ == "__main__":
    main()
