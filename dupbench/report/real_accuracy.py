"""Accuracy on real images in the report: what `experiments/accuracy_real.sh` scored, class by class.

The generated study set is made by dupbench's own generator, so a score on it shows that the detector
finds the edits the generator makes, not that its groups hold on collections nobody here made. The
real-image sets (`dupbench dataset real`: photos with planted copies, and distinct look-alikes of four
kinds) are the evidence; their holdout split took no part in tuning any setting, so the report leads
with it and gives the tune split beside it.
"""

from __future__ import annotations

import pandas as pd

from dupbench.report.text import to_markdown

REAL_SECTION = "Accuracy on real images"


def real_accuracy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per class, split and orientation setting, in the units a user asks about."""
    if frame.empty:
        return frame
    return pd.DataFrame(
        {
            "class": frame["class"],
            "split": frame["split"],
            "--orientations": frame["orientations"],
            "images": frame["images"],
            "true pairs counted": frame["true_pairs"],
            # Over a set of distinct images only the false pairs count: precision there is 0 or vacuous.
            "precision": [f"{v:.3f}" if n else "-" for v, n in zip(frame["precision"], frame["true_pairs"])],
            "recall": [f"{r:.3f}" if n else "-" for r, n in zip(frame["recall"], frame["true_pairs"])],
            "false pairs": frame["false_pairs"],
            "largest group": frame["largest_group"],
            "most originals in one group": frame["worst_group_originals"],
            "files grouped": frame["files_grouped_share"].map(lambda v: f"{v:.1%}"),
            "commit": frame["commit"],
        }
    )


def real_accuracy_lines(frame: pd.DataFrame) -> list[str]:
    """The headline's sentence on the holdout split: per class, the number a user of that kind of folder needs."""
    holdout = frame[(frame["split"] == "holdout") & (frame["orientations"] == "1")] if not frame.empty else frame
    if holdout.empty:
        return []
    said = []
    for row in holdout.to_dict("records"):
        if row["true_pairs"]:
            said.append(
                f"{row['class']} precision {row['precision']:.3f}, recall {row['recall']:.3f} "
                f"({row['images']:,} images, {row['false_pairs']} false pairs, largest group {row['largest_group']})"
            )
        else:
            said.append(
                f"{row['class']} (distinct images only) {row['false_pairs']} false pairs in {row['images']:,} images, "
                f"largest group {row['largest_group']}, {row['files_grouped_share']:.1%} of files grouped"
            )
    return said


def real_accuracy_section(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["_No real-image evaluation in these results (`bash experiments/accuracy_real.sh 1` makes them)._"]
    commits = ", ".join(sorted(set(frame["commit"])))
    return [
        "Scored by `dupbench evaluate` at the default settings (`--mode process`), on folders `dupbench dataset real` builds from "
        "Debian packages and scikit-image: real photos with planted copies (for `--orientations 1` the recall counts upright "
        "copies only; turned and mirrored copies need `--orientations 8`), and distinct images of four kinds that look alike "
        "(astronomy photos, clip art with transparency, diagrams, flat and near-flat images), where every pair found is false. "
        "The holdout split was kept out of every tuning decision. Precision is over all predicted pairs; a false pair is one "
        f"between different pictures. Commit{'s' if ',' in commits else ''} {commits}; the peers' scores on the same folders are "
        "in the tables beside each evaluation (`results/accuracy/<machine>/real-*/`).",
        to_markdown(real_accuracy_table(frame)),
    ]
