"""One markdown table from the runs of experiments/accuracy_real.sh: every class and split, every tool.

Usage: python experiments/accuracy_real_table.py [results/accuracy/MACHINE]   (default: this machine's folder)
       python experiments/accuracy_real_table.py --datasets DATA_ROOT   (counts of the built <class>-<split> sets)
Reads each real-<class>-<split>/ folder's newest peers table JSON (the tools' scores and wall times) and its
metadata.json (the dataset's counts and sources), and prints the table with the commit of each run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(p for p in folder.glob(pattern) if not p.name.endswith("-reports.json"))
    return found[-1] if found else None


def rows_for(folder: Path) -> list[str]:
    table = newest(folder, "[0-9]*T*Z-*.json")  # the peers tables (TIMESTAMP-COMMIT.json), not evaluation-*.json
    metadata_path = folder / "metadata.json"
    if table is None or not metadata_path.exists():
        return []
    run = json.loads(table.read_text())
    metadata = json.loads(metadata_path.read_text())
    files = metadata.get("dataset", {}).get("n_images", "?")
    lines = []
    for r in run["rows"]:
        turned = f"{r['orientation_r']:.3f}" if r.get("orientation_pairs") else "n/a"
        lines.append(
            f"| {folder.name[5:]} | {files} | {r['tool']} | {r['any_p']:.3f} | {r['any_r']:.3f} | {r['any_f1']:.3f} | "
            f"{r['upright_p']:.3f} | {r['upright_r']:.3f} | {turned} | {r['false_pairs']} | {r['largest_group']} | "
            f"{r['worst_group_originals']} | {r['files_grouped_share']:.1%} | {r['wall_s']:.1f} | "
            f"{run['git']['short_commit']} |"
        )
    return lines


CLASS_ORDER = ("photos", "astro", "clipart", "diagrams", "flat")


def dataset_table(data_root: Path) -> str:
    """Files, roles, true groups and pairs, and kinds of every built set under DATA_ROOT."""
    from dupbench.datasets import read_ground_truth
    from dupbench.datasets.real import summary

    lines = [
        "| set | files | originals | copies (planted or natural) | hard negatives | true groups (>1 file) | true pairs (exact) | kinds |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in CLASS_ORDER:
        for split in ("tune", "holdout"):
            root = data_root / f"{name}-{split}"
            if not (root / "ground_truth.json").exists():
                continue
            truth = read_ground_truth(root)
            counts = summary(truth)
            roles = counts["roles"]
            multi = sum(len(g) > 1 for g in truth.groups().values())
            kinds = ", ".join(f"{k} {n}" for k, n in counts["kinds"].items() if k != "original")
            lines.append(
                f"| {name}-{split} | {counts['files']} | {roles.get('original', 0)} | {roles.get('copy', 0)} | "
                f"{roles.get('hard_negative', 0)} | {multi} | {counts['true_pairs']} ({counts['exact_pairs']}) | "
                f"{kinds} |"
            )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--datasets":
        print(dataset_table(Path(sys.argv[2])))
        return
    if len(sys.argv) > 1:
        base = Path(sys.argv[1])
    else:
        from dupbench.harness.metadata import machine_name

        base = Path("results/accuracy") / machine_name()
    header = [
        "| set | files | tool | any P | any R | any F1 | upright P | upright R | turned R | false pairs | "
        "largest group | worst group joins | files grouped | wall s | commit |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    order = {name: k for k, name in enumerate(CLASS_ORDER)}
    splits = {name: k for k, name in enumerate(("tune", "holdout", "all"))}
    folders = sorted(base.glob("real-*-*"), key=lambda p: (order.get(p.name.split("-")[1], 9), splits.get(p.name.rsplit("-", 1)[1], 9)))
    print("\n".join(header + [line for folder in folders for line in rows_for(folder)]))


if __name__ == "__main__":
    main()
