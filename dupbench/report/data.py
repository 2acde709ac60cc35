"""Loading what the report is made of: sweep rows, their metadata and timelines, accuracy, the GIL demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dupbench.harness.results import load_results


@dataclass
class StudyInputs:
    runs: pd.DataFrame
    metadata: list[dict]
    timelines: pd.DataFrame
    accuracy: pd.DataFrame | None = None
    gil: dict | None = None
    sources: list[str] = field(default_factory=list)
    accuracy_metadata: dict | None = None  # metadata.json beside the threshold-sweep CSV (command, commit)
    scale: pd.DataFrame | None = None  # benchmarks/scale.py CSV: n, pairs, wall_s, peak_rss_bytes, ...
    tables: list[tuple[str, str]] = field(default_factory=list)  # (path, markdown) written by benchmark scripts
    real_accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)  # `load_real_accuracy`: one row per real-image evaluation


def load_inputs(
    results: list[Path],
    accuracy: Path | None = None,
    gil: Path | None = None,
    scale: Path | None = None,
    tables: Sequence[Path] = (),
    real_accuracy: Sequence[Path] = (),
) -> StudyInputs:
    """Sweep CSVs (with the metadata JSON and timeline beside each), plus optional accuracy and GIL files."""
    metadata, timelines, frames = [], [], []
    for path in results:
        path = Path(path)
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta:
            metadata.append(meta)
        frames.append(with_interpreter_labels(load_results([path]), meta))
        timeline = path.with_name(path.stem + ".timeline.csv.gz")
        if timeline.exists():
            timelines.append(pd.read_csv(timeline))
    runs = pd.concat(frames, ignore_index=True)
    runs = runs[(runs["status"] == "ok") & (~runs["warmup"].astype(bool))].copy()
    return StudyInputs(
        runs=runs,
        metadata=metadata,
        timelines=pd.concat(timelines, ignore_index=True) if timelines else pd.DataFrame(),
        accuracy=pd.read_csv(accuracy) if accuracy and Path(accuracy).exists() else None,
        gil=json.loads(Path(gil).read_text()) if gil and Path(gil).exists() else None,
        sources=[str(p) for p in results],
        accuracy_metadata=_json_beside(accuracy, "metadata.json"),
        scale=pd.read_csv(scale) if scale else None,
        tables=[(str(t), Path(t).read_text(encoding="utf-8")) for t in tables],
        real_accuracy=load_real_accuracy(list(real_accuracy)),
    )


REAL_SPLIT_ORDER = {"holdout": 0, "tune": 1}  # the split kept out of tuning first


def read_evaluation(path: Path) -> dict | None:
    """One row from an evaluation.json (`dupbench evaluate --output`) and the metadata.json beside it."""
    try:
        evaluation = json.loads(path.read_text(encoding="utf-8"))["evaluation"]
        meta = json.loads(path.with_name("metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    cls, _, split = path.parent.name.removeprefix("real-").rpartition("-")
    orientations = "8" if path.stem.endswith("-o8") else "1"
    # With --orientations 1 a turned or mirrored copy cannot be found, so recall counts the upright pairs.
    counted = evaluation["upright"] if orientations == "1" and "upright" in evaluation else evaluation["any"]
    harm = evaluation.get("harm", {})
    return {
        "class": cls,
        "split": split,
        "orientations": orientations,
        "images": int(meta.get("dataset", {}).get("n_images", 0)),
        "true_pairs": int(counted["true_pairs"]),
        "precision": float(evaluation["any"]["precision"]),
        "recall": float(counted["recall"]),
        "false_pairs": int(harm.get("false_pairs", 0)),
        "largest_group": int(harm.get("largest_group", 0)),
        "worst_group_originals": int(harm.get("worst_group_originals", 0)),
        "files_grouped_share": float(harm.get("files_grouped_share", 0.0)),
        "commit": str(meta.get("git", {}).get("short_commit", "?")),
        "command": str(meta.get("command", "")),
        "source": str(path),
    }


def load_real_accuracy(paths: list[Path]) -> pd.DataFrame:
    rows = [row for row in (read_evaluation(Path(p)) for p in paths) if row is not None]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["_split"] = frame["split"].map(REAL_SPLIT_ORDER).fillna(2)
    return frame.sort_values(["class", "_split", "orientations"]).drop(columns="_split").reset_index(drop=True)


def _json_beside(path: Path | None, name: str) -> dict | None:
    beside = Path(path).with_name(name) if path else None
    return json.loads(beside.read_text()) if beside and beside.exists() else None


def with_interpreter_labels(frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """Label each run with its interpreter: the harness's own (metadata "python") or one of the sweep's
    `grid.pythons` (metadata "pythons", probed by the harness before timing)."""
    probes = meta.get("pythons", {})
    labels = {name: interpreter_label(probe) for name, probe in probes.items()}
    labels["current"] = interpreter_label(meta.get("python", {}))
    return frame.assign(interpreter=frame["python"].map(lambda name: labels.get(name, f"unknown interpreter {name}")))


def interpreter_label(python: dict) -> str:
    """E.g. 'CPython 3.11.7' or 'CPython 3.13.15t (GIL off)', from a results file's metadata or a harness probe."""
    if not python:
        return "unknown interpreter"
    free = python.get("py_gil_disabled_build", python.get("free_threaded_build"))
    label = f"{python.get('implementation', 'Python')} {python.get('version', '?')}{'t' if free else ''}"
    if free:
        label += " (GIL off)" if not python.get("gil_enabled", True) else " (GIL back ON)"
    return label


def primary_interpreter(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of the interpreter with a GIL that has the most rows: what the figures show."""
    if "interpreter" not in runs or runs["interpreter"].nunique() <= 1:
        return runs
    with_gil = runs[~runs["interpreter"].str.contains("GIL off")]
    pool = with_gil if len(with_gil) else runs
    return runs[runs["interpreter"] == pool["interpreter"].value_counts().idxmax()]


COMPARISON_KEYS = ["profile", "images", "dataset_seed", "pairs", "thumb_size", "cores", "interpreter"]


def one_source_per_comparison(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of one results file per comparison (same dataset, pair strategy, thumbnail, cores, interpreter).

    Sweeps overlap (the Dask and interpreter sweeps repeat cells of the scaling grid), but they ran at other
    times and commits: pooling their runs into one median, or dividing one file's serial time by another's
    process time, would mix machines-in-time. Each comparison keeps the file with the most runs of it.
    """
    if "source" not in runs or runs["source"].nunique() <= 1:
        return runs
    keys = [k for k in COMPARISON_KEYS if k in runs]
    sizes = runs.groupby(keys + ["source"], dropna=False).size().reset_index(name="runs_in_source")
    chosen = sizes.sort_values(["runs_in_source", "source"]).drop_duplicates(keys, keep="last")
    return runs.merge(chosen[keys + ["source"]], on=keys + ["source"], how="inner")


def cell_stats(runs: pd.DataFrame, value: str, keys: list[str]) -> pd.DataFrame:
    """Median and interquartile range of `value` per group of `keys`."""
    grouped = runs.groupby(keys)[value]
    out = grouped.agg(median="median", q1=lambda v: v.quantile(0.25), q3=lambda v: v.quantile(0.75), runs="count")
    return out.reset_index()


def growth_exponent(sizes: np.ndarray, times: np.ndarray) -> float:
    """Slope of log(time) on log(size): 1 is linear, 2 quadratic; exponential growth has no constant slope."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def karp_flatt(speedup: float, p: int) -> float:
    """Karp-Flatt experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p), for p >= 2 workers
    on p cores: unlike a fit it shows, per p, whether the serial share grows (overhead) or stays put."""
    if p < 2 or not speedup > 0:
        return float("nan")
    return float((1 / speedup - 1 / p) / (1 - 1 / p))


BASELINE_KEYS = ["source", "interpreter", "profile", "images", "dataset_seed", "pairs", "thumb_size"]


def fastest_serial_rows(runs: pd.DataFrame, like: pd.Series | dict) -> pd.DataFrame:
    """Serial runs of the fastest serial configuration (by median wall time, over core counts) measured for
    the same dataset, pair strategy, interpreter and results file as `like`.

    Serial uses one core whatever it is allowed; a slower serial cell on more cores would flatter every
    speed-up taken against it, so speed-ups are taken against the best serial time measured."""
    mask = runs["mode"] == "serial"
    for key in BASELINE_KEYS:
        if key in runs and key in like:
            value = like[key]
            mask &= runs[key].isna() if pd.isna(value) else runs[key] == value
    serial = runs[mask]
    if serial.empty:
        return serial
    return serial[serial["cores"] == serial.groupby("cores")["wall_s"].median().idxmin()]


def fastest_serial(runs: pd.DataFrame, like: pd.Series | dict) -> tuple[np.ndarray, str]:
    """`fastest_serial_rows`' wall times and the configuration's name, e.g. 'serial on 1 core'."""
    rows = fastest_serial_rows(runs, like)
    if rows.empty:
        return np.array([]), ""
    cores = int(rows["cores"].iloc[0])
    return rows["wall_s"].to_numpy(float), f"serial on {cores} core{'s' if cores > 1 else ''}"


def amdahl_serial_fraction(workers: np.ndarray, speedups: np.ndarray) -> float:
    """Least-squares serial fraction f of S(p) = 1 / (f + (1 - f) / p), clipped to [0, 1]."""
    p = np.asarray(workers, float)
    s = np.asarray(speedups, float)
    # 1/S = f + (1-f)/p  ->  1/S - 1/p = f (1 - 1/p): linear in f through the origin.
    x, y = 1 - 1 / p, 1 / s - 1 / p
    if not np.any(x > 0):
        return float("nan")
    return float(np.clip(np.dot(x, y) / np.dot(x, x), 0.0, 1.0))
