"""Tables and sentences computed from the results; nothing here is typed in by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dupbench.report.data import growth_exponent, primary_interpreter
from dupbench.report.figures import STAGES, all_pairs_on_all_cores

MODES = ("serial", "thread", "process")


def seed_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The published study's shape: images x mode, median wall time [IQR], speed-up over serial."""
    seed = runs[runs["sweep"] == "seed_study"] if "sweep" in runs else runs
    data = all_pairs_on_all_cores(seed if len(seed) else runs)
    if "interpreter" not in data:
        data = data.assign(interpreter="")
    rows = []
    for (interpreter, images), part in data.groupby(["interpreter", "images"]):
        serial = part[part["mode"] == "serial"]["wall_s"].median()
        for mode in MODES:
            times = part[part["mode"] == mode]["wall_s"]
            if times.empty:
                rows.append({"interpreter": interpreter, "images": images, "mode": mode, "runs": 0, "median s": "not measured", "IQR s": "", "speed-up": ""})
                continue
            rows.append({
                "interpreter": interpreter,
                "images": images,
                "mode": mode,
                "runs": len(times),
                "median s": f"{times.median():.2f}",
                "IQR s": f"{times.quantile(0.25):.2f}-{times.quantile(0.75):.2f}",
                "speed-up": f"{serial / times.median():.2f}x" if not np.isnan(serial) else "",
            })
    return pd.DataFrame(rows, columns=["interpreter", "images", "mode", "runs", "median s", "IQR s", "speed-up"])


def stage_speedups(runs: pd.DataFrame) -> pd.DataFrame:
    """Per stage, thread and process speed-up over serial at the largest all-pairs size on all cores."""
    data = all_pairs_on_all_cores(runs)
    if data.empty:
        return pd.DataFrame()
    data = data[data["images"] == data["images"].max()]
    medians = data.groupby("mode")[[f"{s}_s" for s in ("load", "compare")] + ["wall_s"]].median()
    rows = []
    for column, label in (("load_s", "load (read, digest, decode, thumbnail)"), ("compare_s", "compare (batched SSIM)"), ("wall_s", "whole run")):
        if "serial" not in medians.index:
            continue
        row = {"stage": label, "serial s": round(medians.loc["serial", column], 2)}
        for mode in ("thread", "process"):
            if mode in medians.index:
                row[f"{mode} speed-up"] = round(medians.loc["serial", column] / medians.loc[mode, column], 2)
        if "thread speed-up" in row and "process speed-up" in row:
            row["threads reach of processes"] = f"{100 * (row['thread speed-up'] - 1) / max(row['process speed-up'] - 1, 1e-9):.0f}%"
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no data_"
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def findings(runs: pd.DataFrame) -> list[str]:
    """Sentences read off the numbers: speed-ups per size, growth exponent, where threads fall behind."""
    out = []
    table = seed_table(runs)
    for (interpreter, images), part in table.groupby(["interpreter", "images"]):
        speeds = {r["mode"]: r["speed-up"] for _, r in part.iterrows() if r["speed-up"]}
        if "thread" in speeds and "process" in speeds:
            where = f" on {interpreter}" if interpreter else ""
            out.append(f"{images} images{where}: threads {speeds['thread']} and processes {speeds['process']} the speed of serial.")
    runs = primary_interpreter(runs)
    data = all_pairs_on_all_cores(runs)
    serial = data[data["mode"] == "serial"].groupby("images")["wall_s"].median()
    if len(serial) >= 3:
        exponent = growth_exponent(serial.index.to_numpy(float), serial.to_numpy())
        large = serial[serial.index >= serial.index.max() / 8]
        tail = growth_exponent(large.index.to_numpy(float), large.to_numpy()) if len(large) >= 2 else float("nan")
        out.append(
            f"Serial time grows as n^{exponent:.2f} over {int(serial.index.min())}-{int(serial.index.max())} images "
            f"(n^{tail:.2f} over the largest sizes). Exponential growth would make this log-log slope climb "
            "without bound; what is measured is a power law, bounded by the n^2 of comparing every pair."
        )
    stages = stage_speedups(runs)
    for _, row in stages.iterrows():
        if "thread speed-up" in row and "process speed-up" in row and not pd.isna(row.get("thread speed-up")):
            better = "threads" if row["thread speed-up"] > row["process speed-up"] else "processes"
            out.append(f"{row['stage']}: threads {row['thread speed-up']:.2f}x, processes {row['process speed-up']:.2f}x; {better} lead.")
    return out


def _stage_verdict(row: pd.Series, interpreter: str) -> list[str]:
    if "thread speed-up" not in row or pd.isna(row.get("thread speed-up")) or row["stage"] == "whole run":
        return []
    t, p = row["thread speed-up"], row["process speed-up"]
    if t >= 0.9 * p:
        verdict = "runs with the GIL released almost throughout (or has no GIL): threads keep up with processes"
    elif t <= 1.1:
        verdict = "holds the GIL: threads gain nothing while processes do"
    else:
        verdict = "releases the GIL for part of its time: threads gain, but less than processes"
    where = f" ({interpreter})" if interpreter else ""
    return [f"{row['stage']}{where}: threads {t:.2f}x vs processes {p:.2f}x — it {verdict}."]


def why_gil(runs: pd.DataFrame, gil: dict | None) -> list[str]:
    """The GIL explanation, from per-stage thread vs process speed-ups and the `dupbench gil` kernels."""
    out = []
    for interpreter, part in (runs.groupby("interpreter") if "interpreter" in runs else [("", runs)]):
        for _, row in stage_speedups(part).iterrows():
            out.extend(_stage_verdict(row, interpreter))
    if gil and gil.get("runs"):
        from dupbench.gil.explain import explain, explain_comparison

        out.extend(explain(run) for run in gil["runs"])
        if len(gil["runs"]) > 1:
            out.append(explain_comparison(gil["runs"]))
    return out


def validity(runs: pd.DataFrame, metadata: list[dict]) -> list[str]:
    disturbed = int(runs["disturbed"].fillna(False).astype(bool).sum()) if "disturbed" in runs else 0
    foreign = runs["foreign_cpu_fraction"].median() if "foreign_cpu_fraction" in runs else float("nan")
    cores = sorted({len(m["allowed_cores"]) if isinstance(m.get("allowed_cores"), list) else m.get("allowed_cores") for m in metadata}) or ["?"]
    drift = [s.get("control_drift") for m in metadata for s in m.get("sessions", []) if isinstance(s, dict) and s.get("control_drift") is not None]
    lines = [
        f"{disturbed} of {len(runs)} measured runs were flagged as disturbed (other processes used more than "
        f"10% of their cores); the median share of the cores used by other work during a run was {foreign:.1%}.",
        f"The machine has {', '.join(map(str, cores))} allowed core(s): speed-ups above that cannot show here, and "
        "two workers on two cores share them with the parent process and the monitor.",
        "Datasets were read once before timing (page cache warm); cold-cache numbers would add disk time to load.",
    ]
    if drift:
        lines.append("A fixed control loop timed before and after each sweep drifted by " + ", ".join(f"{d:+.0%}" for d in drift) + " (thermal or load changes between start and end).")
    return lines
