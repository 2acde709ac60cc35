"""Results on disk: one immutable row per run, a tidy CSV that is only ever appended to, metadata beside it.

Layout (never overwritten; a name clash gets a numeric suffix):
    results/<machine>/<UTC timestamp>-<short commit>.csv            one row per run (RunRow)
    results/<machine>/<UTC timestamp>-<short commit>.json           machine + software metadata, sweep file
    results/<machine>/<UTC timestamp>-<short commit>.timeline.csv.gz   monitor samples, keyed by run_id
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dupbench.harness.monitor import Sample
from dupbench.harness.spec import ADDED_IN_SCHEMA, Cell
from dupbench.harness.stats import FASTER_THRESHOLD, median_interval, ratio_interval, speed_verdict
from dupbench.result import STAGES

# 2 added `python` (the interpreter a run used); version 1 files read as "current".
# 3: `rusage_*` include the orphans the harness reaped as subreaper (a forkserver and the workers it
# reaped); before, they were the child's own wait4 only, which missed forkserver workers.
# 4 added `<stage>_start_s` (each stage's start, seconds after the run was started), at the end of the row.
RESULTS_SCHEMA_VERSION = 4
READABLE_SCHEMA_VERSIONS = (1, 2, 3, 4)
# A run is flagged disturbed when other processes used more than this share of its cores during it.
DISTURBED_FOREIGN_FRACTION = 0.10
# The grid's axes: the summary groups runs by them. Defined by Cell's fields.
CELL_COLUMNS = tuple(f.name for f in dataclasses.fields(Cell))
# Cell columns a results row places where its `cell` field stands (with `oversubscribed`, derived), and
# those added later, which come last.
_CELL_COLUMNS_FIRST = tuple(f.name for f in dataclasses.fields(Cell) if f.metadata.get(ADDED_IN_SCHEMA, 1) == 1)
_CELL_COLUMNS_LATER = tuple(name for name in CELL_COLUMNS if name not in _CELL_COLUMNS_FIRST)
STAGE_START_COLUMNS = tuple(f"{stage}_start_s" for stage in STAGES)


@dataclass(frozen=True)
class RunRow:
    """One measured run. Times in seconds, memory in bytes; empty (NaN) where the run produced no value.

    status: ok | timeout | crash | no_report (exit 0 but no report JSON) | skipped (an earlier run of the
    same cell timed out, so this one was not started).
    """

    schema_version: int
    sweep: str
    run_id: str
    cell_id: str = dataclasses.field(init=False)  # the cell's, set from it
    run_index: int
    warmup: bool
    repeat: int
    status: str
    cell: Cell  # its columns (Cell.columns) stand here, those added after schema 1 at the end of the row
    commit: str
    started_utc: str
    returncode: int | None = None
    # what the child was given
    affinity: str = ""
    affinity_ok: bool = False
    dataset_files: int | None = None
    dataset_bytes: int | None = None
    cache_state: str = ""
    read_pass_s: float | None = None
    # time: the parent's wall clock, and the stages the child reported
    wall_s: float | None = None
    detector_total_s: float | None = None
    scan_s: float | None = None
    load_s: float | None = None
    compare_s: float | None = None
    cluster_s: float | None = None
    # CPU of the whole tree (see Measurement.cpu_user_s for why the max of two lower bounds)
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    cpu_s: float | None = None
    cpu_utilization: float | None = None
    monitor_user_s: float | None = None
    monitor_system_s: float | None = None
    rusage_user_s: float | None = None
    rusage_system_s: float | None = None
    scan_cpu_utilization: float | None = None
    load_cpu_utilization: float | None = None
    compare_cpu_utilization: float | None = None
    cluster_cpu_utilization: float | None = None
    # memory, scheduling, processes
    peak_rss_bytes: int | None = None
    peak_uss_bytes: int | None = None
    ctx_voluntary: int | None = None
    ctx_involuntary: int | None = None
    max_threads: int | None = None
    max_processes: int | None = None
    processes_seen: int | None = None
    leftover_processes: int | None = None
    # throughput and what the child reported about itself
    images_counted: int | None = None
    pairs_compared: int | None = None
    load_images_per_s: float | None = None
    compare_pairs_per_s: float | None = None
    reported_workers: int | None = None
    reported_start_method: str | None = None
    reported_execution: str = ""
    # the machine around the run
    loadavg_before: float | None = None
    loadavg_after: float | None = None
    foreign_cpu_fraction: float | None = None
    steal_s: float | None = None
    disturbed: bool = False
    monitor_samples: int | None = None
    monitor_cpu_s: float | None = None
    monitor_overhead: float | None = None
    error: str = ""
    # added in schema 4, after every earlier column (see `columns`): where each stage began in the run
    scan_start_s: float | None = None
    load_start_s: float | None = None
    compare_start_s: float | None = None
    cluster_start_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell_id", self.cell.cell_id)

    @classmethod
    def columns(cls) -> list[str]:
        """The CSV header: the fields in order, the cell's columns expanded in place of `cell`; columns added
        in later schemas come last, so an older file's header is a prefix of a newer one's."""
        names: list[str] = []
        for f in dataclasses.fields(cls):
            if f.name not in STAGE_START_COLUMNS:
                names += [*_CELL_COLUMNS_FIRST, "oversubscribed"] if f.name == "cell" else [f.name]
        return names + list(_CELL_COLUMNS_LATER) + list(STAGE_START_COLUMNS)

    def record(self) -> dict[str, Any]:
        """Column name -> value, in CSV order."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "cell"} | self.cell.columns()
        return {name: values[name] for name in self.columns()}


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(2, 1000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)


def new_results_path(out: Path, machine: str, short_commit: str, now: float | None = None) -> Path:
    """results/<machine>/<UTC timestamp>-<short commit>.csv, never an existing file."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    directory = Path(out) / machine
    directory.mkdir(parents=True, exist_ok=True)
    return _unique(directory / f"{stamp}-{short_commit}.csv")


def metadata_path(csv_path: Path) -> Path:
    return csv_path.with_suffix(".json")


def timeline_path(csv_path: Path) -> Path:
    return csv_path.with_suffix(".timeline.csv.gz")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return value


def append_row(csv_path: Path, row: RunRow) -> None:
    """Append one row (writing the header first if the file is new) and flush: a crash loses at most the run in flight."""
    new = not csv_path.exists()
    with open(csv_path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(RunRow.columns())
        writer.writerow([_csv_value(value) for value in row.record().values()])


TIMELINE_COLUMNS = ("run_id", "t", "epoch", "tree_cpu_s", "tree_cpu_pct", "rss_bytes", "uss_bytes", "threads", "processes")


def append_timeline(path: Path, run_id: str, samples: Sequence[Sample], harness_cores: Sequence[int]) -> None:
    """Append one run's samples as a gzip member (a gzip file may hold several; readers see one stream)."""
    new = not path.exists()
    with gzip.open(path, "at", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow([*TIMELINE_COLUMNS, *(f"core{c}_pct" for c in harness_cores)])
        for s in samples:
            writer.writerow(
                [
                    run_id,
                    round(s.t, 4),
                    round(s.epoch, 4),
                    round(s.tree_cpu_s, 3),
                    round(s.tree_cpu_pct, 1),
                    s.rss_bytes,
                    "" if s.uss_bytes is None else s.uss_bytes,
                    s.threads,
                    s.processes,
                    *(round(p, 1) for p in s.core_pct),
                ]
            )


def read_run_ids(csv_path: Path) -> set[str]:
    if not Path(csv_path).exists():
        return set()
    with open(csv_path, newline="", encoding="utf-8") as fh:
        return {row["run_id"] for row in csv.DictReader(fh)}


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    from dupbench.result import write_json_atomic

    write_json_atomic(metadata, path)


def load_results(paths: Iterable[Path]) -> pd.DataFrame:
    """Read results CSVs into one frame, checking the schema version; adds `source` (the file)."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, keep_default_na=True)
        versions = set(frame["schema_version"].unique()) if "schema_version" in frame else {None}
        if not versions <= set(READABLE_SCHEMA_VERSIONS) and len(frame):
            raise ValueError(f"{path}: results schema {sorted(map(str, versions))}, expected one of {READABLE_SCHEMA_VERSIONS}")
        if "python" not in frame:
            frame["python"] = "current"
        frame["source"] = str(path)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*RunRow.columns(), "source"])
    frame = pd.concat(frames, ignore_index=True)
    for column in ("warmup", "disturbed", "oversubscribed", "affinity_ok"):
        frame[column] = frame[column].astype(str).str.lower().isin(["true", "1"])
    return frame


def load_timeline(csv_path: Path) -> pd.DataFrame:
    return pd.read_csv(timeline_path(Path(csv_path)))


def summarize(frame: pd.DataFrame, metric: str = "wall_s") -> pd.DataFrame:
    """Per grid cell: runs, median and IQR of `metric`, the median's order-statistic interval, CPU
    utilization, peak RSS, and speed-up and parallel efficiency against the fastest serial cell.

    Only successful, non-warm-up runs count. The serial baseline is the fastest serial cell (by median,
    over core counts) with the same dataset, pair strategy, thumbnail size and interpreter: a slower serial
    cell would flatter every speed-up taken against it. Intervals are `stats.ratio_interval` (valid for
    the number of runs; a min-max range, labelled, where there are too few for 95%). Parallel efficiency =
    speed-up / min(workers, cores): the share of the cores actually usable that was turned into speed.
    """
    ok = frame[(frame["status"] == "ok") & (~frame["warmup"].astype(bool))]
    rows = []
    for key, group in ok.groupby(list(CELL_COLUMNS), sort=True, dropna=False):
        values = group[metric].astype(float).to_numpy()
        interval = median_interval(values)
        rows.append(
            {
                **dict(zip(CELL_COLUMNS, key)),
                "runs": len(values),
                "median": float(np.median(values)),
                "q25": float(np.percentile(values, 25)),
                "q75": float(np.percentile(values, 75)),
                "ci_low": interval.low,
                "ci_high": interval.high,
                "cpu_utilization": float(group["cpu_utilization"].median()),
                "peak_rss_mb": float(group["peak_rss_bytes"].median()) / 2**20,
                "disturbed": int(group["disturbed"].sum()),
                "_values": values,
            }
        )
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    dataset_keys = ["profile", "images", "dataset_seed", "pairs", "thumb_size", "python"]  # serial under the same interpreter
    speedups, lows, highs, verdicts, efficiencies = [], [], [], [], []
    for _, row in summary.iterrows():
        base = summary[(summary[dataset_keys] == row[dataset_keys]).all(axis=1) & (summary["mode"] == "serial")].nsmallest(1, "median")
        if base.empty:
            speedups.append(np.nan)
            lows.append(np.nan)
            highs.append(np.nan)
            verdicts.append("n/a")
            efficiencies.append(np.nan)
            continue
        baseline = base.iloc[0]
        speedup = baseline["median"] / row["median"]
        interval = ratio_interval(baseline["_values"], row["_values"])
        speedups.append(speedup)
        lows.append(interval.low)
        highs.append(interval.high)
        is_baseline = row["mode"] == "serial" and baseline.name == row.name
        verdicts.append("baseline" if is_baseline else speed_verdict(interval.low, interval.high, interval.reaches))
        efficiencies.append(speedup / min(int(row["workers"]), int(row["cores"])))
    summary["speedup"] = speedups
    summary["speedup_ci_low"] = lows
    summary["speedup_ci_high"] = highs
    summary["vs_serial"] = verdicts
    summary["efficiency"] = efficiencies
    return summary.drop(columns="_values")


def format_summary(summary: pd.DataFrame, failures: pd.DataFrame | None = None) -> str:
    """A fixed-width table for the terminal."""
    if summary.empty:
        return "no successful measured runs"
    table = summary.copy()
    table["wall median [IQR]"] = [f"{m:.3f} [{a:.3f}-{b:.3f}]" for m, a, b in zip(table["median"], table["q25"], table["q75"])]
    table["speedup (interval)"] = [
        "-" if np.isnan(s) else (f"{s:.2f}" if np.isnan(lo) else f"{s:.2f} ({lo:.2f}-{hi:.2f})")
        for s, lo, hi in zip(table["speedup"], table["speedup_ci_low"], table["speedup_ci_high"])
    ]
    table["eff"] = [f"{e:.2f}" if not np.isnan(e) else "-" for e in table["efficiency"]]
    table["cpu util"] = [f"{u:.2f}" for u in table["cpu_utilization"]]
    table["rss MB"] = [f"{r:.0f}" for r in table["peak_rss_mb"]]
    columns = [
        "images",
        "pairs",
        "thumb_size",
        "mode",
        "workers",
        "cores",
        "start_method",
        "runs",
        "wall median [IQR]",
        "speedup (interval)",
        "vs_serial",
        "eff",
        "cpu util",
        "rss MB",
        "disturbed",
    ]
    if "python" in table and table["python"].nunique(dropna=False) > 1:  # interpreters side by side: say which is which
        columns.insert(0, "python")
    text = table[columns].to_string(index=False)
    note = (
        "\nspeed-up = fastest serial median / cell median (same dataset and interpreter); its interval is an "
        "order-statistic one, 95% from 7 runs a side, below that the min-max range (labelled so in the verdict); "
        f"'faster'/'slower' only when it clears 1 +/- {FASTER_THRESHOLD:.2f}, 'inconclusive' when it crosses that band; "
        "efficiency = speed-up / min(workers, cores)."
    )
    if failures is not None and len(failures):
        counts = failures.groupby("status").size().to_dict()
        note += f"\nruns not in the table: {counts}"
    return text + note


def describe_sessions(csv_path: Path) -> list[str]:
    """One line per sweep session recorded beside a results file: commit, control-loop drift, monitor overhead."""
    try:
        metadata = json.loads(Path(csv_path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{csv_path}: no metadata beside it"]
    lines = []
    for session in metadata.get("sessions", []):
        drift = session.get("control_drift")
        overhead = session.get("monitor_overhead")
        lines.append(
            f"{Path(csv_path).name}: commit {str(session.get('commit'))[:10]}{' (dirty)' if session.get('dirty') else ''}, "
            f"started {session.get('started_utc')}, "
            f"control loop drift {'n/a' if drift is None else f'{drift:+.0%}'}, "
            f"monitor overhead {'n/a' if overhead is None else f'{overhead:.2%}'} of wall"
        )
    return lines
