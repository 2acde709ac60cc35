"""Tables and sentences computed from the results; nothing here is typed in by hand.

Every function is a pure function of the frames and metadata it is given, so a sentence can never
contradict the numbers beside it: change the numbers and the wording follows (tests feed invented frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from dupbench.harness.results import DISTURBED_FOREIGN_FRACTION, FASTER_THRESHOLD
from dupbench.harness.stats import Interval, ratio_interval, speed_verdict
from dupbench.report.data import fastest_serial, fastest_serial_rows, growth_exponent, primary_interpreter
from dupbench.report.figures import all_pairs_on_all_cores

MODES = ("serial", "thread", "process", "dask")
STUDY_MODES = MODES[:3]  # the published study's three; Dask gets its own section
# The published study's design (not a measurement): 6, 184 and 1,472 photos. experiments/seed_study.toml
# uses the same sizes; a test checks the two agree. Sizes missing from the results get "not measured" rows.
PUBLISHED_SIZES = (6, 184, 1472)
MODE_NAMES = {"serial": "serial", "thread": "threads", "process": "processes", "dask": "Dask"}


INTERVAL = "interval (coverage)"


def interval_verdict(interval: Interval, above: str = "faster", below: str = "slower") -> str:
    return speed_verdict(interval.low, interval.high, interval.reaches, above, below)


def compare_modes(thread: float, process: float) -> str:
    """Which of two speed-ups leads, with the harness's FASTER_THRESHOLD as the margin below which it is a tie."""
    if thread > process * (1 + FASTER_THRESHOLD):
        return "threads lead"
    if process > thread * (1 + FASTER_THRESHOLD):
        return "processes lead"
    return f"about even (within {FASTER_THRESHOLD:.0%})"


def speedup_cells(serial: np.ndarray, times: np.ndarray, mode: str) -> dict[str, str]:
    """A table row's speed-up over serial, an interval valid for its number of runs and the verdict (empty without serial runs)."""
    if not len(serial):
        return {}
    cells = {"speed-up": f"{np.median(serial) / np.median(times):.2f}x"}
    if mode == "serial":
        return {**cells, "verdict": "baseline"}
    interval = ratio_interval(serial, times)
    return {**cells, INTERVAL: interval.label(), "verdict": interval_verdict(interval)}


UNFLAGGED = "speed-up without flagged"
UNFLAGGED_RUNS = "unflagged runs"


def without_flagged(pool: pd.DataFrame, cell: pd.DataFrame) -> dict[str, object]:
    """A cell's speed-up recomputed without the runs flagged disturbed, in the cell and in its baseline (the
    fastest unflagged serial configuration of `pool`), and how many of its runs remain; empty without a flag."""
    if "disturbed" not in cell or cell.empty:
        return {}
    clean = ~cell["disturbed"].fillna(False).astype(bool)
    times = cell.loc[clean, "wall_s"].to_numpy(float)
    if not len(times):
        return {UNFLAGGED: "no unflagged runs", UNFLAGGED_RUNS: 0}
    serial, _ = fastest_serial(pool[~pool["disturbed"].fillna(False).astype(bool)], cell.iloc[0])
    return {UNFLAGGED: f"{np.median(serial) / np.median(times):.2f}x" if len(serial) else "no unflagged serial runs", UNFLAGGED_RUNS: len(times)}


def _seed_sweep(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of the seed study (the published study's sizes), or every run when there is no seed sweep."""
    seed = runs[runs["sweep"] == "seed_study"] if "sweep" in runs else runs
    seed = seed if len(seed) else runs
    return seed if "interpreter" in seed else seed.assign(interpreter="")


def _seed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The seed study's all-pairs runs on all cores: the published study's shape."""
    return all_pairs_on_all_cores(_seed_sweep(runs))


def seed_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The published study's shape: images x mode, median wall time [IQR], speed-up over the fastest serial
    configuration with an interval valid for n (`ratio_interval`) and verdict. The published sizes always get rows; unmeasured ones say so."""
    pool = _seed_sweep(runs)
    data = all_pairs_on_all_cores(pool)
    interpreters = sorted(data["interpreter"].unique()) or sorted(runs["interpreter"].unique() if "interpreter" in runs else [""])
    columns = ["interpreter", "images", "mode", "runs", "median s", "IQR s", "speed-up", INTERVAL, "verdict", UNFLAGGED, UNFLAGGED_RUNS, "baseline"]
    rows: list[dict] = []
    for interpreter in interpreters:
        mine = data[data["interpreter"] == interpreter]
        for images in sorted(set(PUBLISHED_SIZES) | {int(n) for n in mine["images"].unique()}):
            part = mine[mine["images"] == images]
            serial, baseline = fastest_serial(pool, part.iloc[0]) if len(part) else (np.array([]), "")
            for mode in STUDY_MODES:
                cell = part[part["mode"] == mode]
                times = cell["wall_s"].to_numpy(float)
                if len(times) == 0:
                    rows.append(dict(interpreter=interpreter, images=images, mode=mode, runs=0, **{"median s": "not measured"}))
                    continue
                row = dict(interpreter=interpreter, images=images, mode=mode, runs=len(times), baseline=baseline)
                row |= {"median s": f"{np.median(times):.2f}", "IQR s": f"{np.quantile(times, 0.25):.2f}-{np.quantile(times, 0.75):.2f}"}
                rows.append({**row, **speedup_cells(serial, times, mode), **without_flagged(pool, cell)})
    return pd.DataFrame(rows, columns=columns, dtype=object).fillna("")


def thread_vs_process(runs: pd.DataFrame) -> pd.DataFrame:
    """Per interpreter and size of the seed table: median process time / median thread time (above 1: threads
    faster), with an interval valid for n and a verdict, so "threads lead" is only said where the data decide it."""
    data = _seed_runs(runs)
    columns = ["interpreter", "images", "thread runs", "process runs", "process / thread time", INTERVAL, "verdict"]
    rows = []
    for (interpreter, images), part in data.groupby(["interpreter", "images"]):
        thread = part[part["mode"] == "thread"]["wall_s"].to_numpy(float)
        process = part[part["mode"] == "process"]["wall_s"].to_numpy(float)
        if not len(thread) or not len(process):
            continue
        interval = ratio_interval(process, thread)
        verdict = interval_verdict(interval, above="threads faster", below="processes faster")
        ratio = f"{np.median(process) / np.median(thread):.2f}"
        rows.append(dict(zip(columns, [interpreter, int(images), len(thread), len(process), ratio, interval.label(""), verdict])))
    return pd.DataFrame(rows, columns=columns)


def interval_note(table: pd.DataFrame) -> str:
    """What the intervals in a table are, and the coverage they really have at the numbers of runs in it."""
    counts = sorted({int(n) for n in table["runs"] if int(n) > 0}) if "runs" in table else []
    if not counts:
        return ""
    ranges = [n for n in counts if n < 7]
    note = (
        "Intervals: the ratio of two medians, bounded by a distribution-free order-statistic interval for each "
        "median at sqrt(95%) (independent runs, so together at least 95%); that needs at least 7 runs a side. "
    )
    if ranges:
        coverage = ", ".join(f"{n} runs: >={(1 - 2 * 0.5**n) ** 2:.0%}" for n in ranges)
        note += (
            f"With {_join(ranges)} runs no 95% interval exists: the interval printed is the min-max range "
            f"(min one / max other, max one / min other), labelled 'min-max' with the coverage it does have "
            f"({coverage}); a verdict read off it says 'min-max range only'. "
        )
    return note + f"'inconclusive': the interval reaches across 1 +- {FASTER_THRESHOLD:.0%}."


def stage_speedups(runs: pd.DataFrame) -> pd.DataFrame:
    """Per stage, thread and process speed-up over serial at the largest all-pairs size on all cores; one
    block of rows per results file that has such runs (files are other sweeps at other commits, so each
    is read on its own and named in a `results` column when there are several)."""
    sources = sorted(runs["source"].unique()) if "source" in runs and runs["source"].nunique() > 1 else [None]
    frames = []
    for source in sources:
        part = stage_speedups_of(runs if source is None else runs[runs["source"] == source])
        if not part.empty and source is not None:
            part.insert(0, "results", Path(source).stem)
        frames.append(part)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def stage_speedups_of(runs: pd.DataFrame) -> pd.DataFrame:
    """`stage_speedups` for runs of one results file."""
    data = all_pairs_on_all_cores(runs)
    if data.empty:
        return pd.DataFrame()
    data = data[data["images"] == data["images"].max()]
    serial = fastest_serial_rows(runs, data.iloc[0])
    data = pd.concat([data[data["mode"] != "serial"], serial])
    medians = data.groupby("mode")[["load_s", "compare_s", "wall_s"]].median()
    rows = []
    for column, label in (("load_s", "load (read, digest, decode, thumbnail)"), ("compare_s", "compare (batched SSIM)"), ("wall_s", "whole run")):
        if "serial" not in medians.index:
            continue
        row: dict = {"stage": label, "images": int(data["images"].max()), "baseline": fastest_serial(runs, data.iloc[0])[1]}
        row["serial s"] = round(medians.loc["serial", column], 2)
        for mode in ("thread", "process"):
            if mode in medians.index and medians.loc[mode, column] > 0:
                row[f"{mode} speed-up"] = round(medians.loc["serial", column] / medians.loc[mode, column], 2)
        if "thread speed-up" in row and "process speed-up" in row:
            row["threads reach of processes"] = f"{100 * (row['thread speed-up'] - 1) / max(row['process speed-up'] - 1, 1e-9):.0f}%"
        rows.append(row)
    return pd.DataFrame(rows)


def cpu_table(runs: pd.DataFrame) -> pd.DataFrame:
    """CPU utilisation (CPU seconds of the process tree / (wall seconds x cores allowed)) per interpreter, size,
    pair strategy and mode, on all cores with one worker per core (serial: one): the published study's headline
    measure. On one core every mode keeps that core busy, so those rows would say nothing."""
    if "cpu_utilization" not in runs or runs.empty:
        return pd.DataFrame()
    data = runs if "interpreter" in runs else runs.assign(interpreter="")
    cores = data["cores"].max()
    data = data[(data["cores"] == cores) & ((data["mode"] == "serial") | (data["workers"] == cores))].dropna(subset=["cpu_utilization"])
    columns = ["interpreter", "images", "pairs", "cores", "mode", "runs", "median CPU utilisation", "IQR"]
    rows = []
    order = {mode: i for i, mode in enumerate(MODES)}
    for (interpreter, pairs, images, mode), cell in sorted(
        data.groupby(["interpreter", "pairs", "images", "mode"]), key=lambda g: (*g[0][:3], order.get(g[0][3], 9))
    ):
        values = cell["cpu_utilization"].to_numpy(float)
        iqr = f"{np.quantile(values, 0.25):.0%}-{np.quantile(values, 0.75):.0%}"
        rows.append(dict(zip(columns, [interpreter, int(images), pairs, int(cores), mode, len(values), f"{np.median(values):.0%}", iqr])))
    return pd.DataFrame(rows, columns=columns)


CELL_KEYS = ("source", "interpreter", "images", "pairs", "thumb_size", "cores", "workers", "mode", "start_method")


def all_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """Every measured cell of every results file, one row each, so no run is left out of the report: runs,
    how many were flagged disturbed, median wall time [IQR], speed-up against the fastest serial configuration
    of the same file, interpreter and dataset, and median CPU utilisation. The thumbnail size and the start
    method are shown only where one file and mode measured several."""
    keys = [k for k in CELL_KEYS if k in runs]
    order = {mode: i for i, mode in enumerate(MODES)}
    rows = []
    for values, cell in runs.groupby(keys, dropna=False):
        row = dict(zip(keys, values))
        times = cell["wall_s"].to_numpy(float)
        serial, _ = fastest_serial(runs, cell.iloc[0])
        row |= {"runs": len(times), "flagged": int(cell["disturbed"].fillna(False).astype(bool).sum()) if "disturbed" in cell else ""}
        row |= {"median s": f"{np.median(times):.2f}", "IQR s": f"{np.quantile(times, 0.25):.2f}-{np.quantile(times, 0.75):.2f}"}
        row["speed-up"] = f"{np.median(serial) / np.median(times):.2f}x" if len(serial) else "no serial runs"
        row["CPU utilisation"] = f"{cell['cpu_utilization'].median():.0%}" if "cpu_utilization" in cell and cell["cpu_utilization"].notna().any() else ""
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(keys, key=lambda c: c.map(lambda m: order.get(m, len(order))) if c.name == "mode" else c, kind="stable")
    table = table.astype(object)
    if "source" in table:
        table["source"] = [Path(str(s)).stem for s in table["source"]]
        table = table.rename(columns={"source": "results"})
    within = [k for k in ("results", "interpreter", "mode") if k in table]
    constant = [k for k in ("thumb_size", "start_method") if k in table and (table.groupby(within)[k].nunique(dropna=False) <= 1).all()]
    return table.drop(columns=constant)


def to_markdown(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_no data_"
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def findings(runs: pd.DataFrame, accuracy: pd.DataFrame | None = None) -> list[str]:
    """Sentences read off the numbers: speed-ups per size, where threads fall behind, distance from the
    ideal, what start-up costs, and the accuracy at the best threshold."""
    out = []
    table = seed_table(runs)
    versus = thread_vs_process(runs).set_index(["interpreter", "images"])
    for (interpreter, images), part in table.groupby(["interpreter", "images"]):
        rows = {r["mode"]: r for _, r in part.iterrows() if r["speed-up"]}
        if "thread" in rows and "process" in rows and (interpreter, images) in versus.index:
            where = f" on {interpreter}" if interpreter else ""
            pair = versus.loc[(interpreter, images)]
            out.append(
                f"{images} images{where}: threads {rows['thread']['speed-up']} ({rows['thread']['verdict']}, {rows['thread'][INTERVAL]}) and "
                f"processes {rows['process']['speed-up']} ({rows['process']['verdict']}, {rows['process'][INTERVAL]}) the speed of "
                f"{rows['thread']['baseline']}; threads vs processes: {pair['verdict']} (process / thread time {pair['process / thread time']}, {pair[INTERVAL]})."
            )
    runs = primary_interpreter(runs)
    for _, row in stage_speedups(runs).iterrows():
        if not pd.isna(row.get("thread speed-up")) and not pd.isna(row.get("process speed-up")):
            t, p = row["thread speed-up"], row["process speed-up"]
            where = f" (`{row['results']}`)" if "results" in row and isinstance(row["results"], str) else ""
            out.append(f"{row['stage']} at {row['images']} images{where}: threads {t:.2f}x, processes {p:.2f}x; {compare_modes(t, p)}.")
    out += ideal_gap(runs) + startup_cost(runs) + memory_cost(runs) + accuracy_findings(accuracy)
    return out


def ideal_gap(runs: pd.DataFrame) -> list[str]:
    """How close each parallel mode gets to the ideal speed-up (= cores allowed) at the largest size."""
    data = all_pairs_on_all_cores(runs)
    if data.empty:
        return []
    data = data[data["images"] == data["images"].max()]
    cores = int(data["cores"].max())
    times, baseline = fastest_serial(runs, data.iloc[0])
    serial = float(np.median(times)) if len(times) else float("nan")
    parts = []
    for mode in ("thread", "process"):
        times = data[data["mode"] == mode]["wall_s"]
        if len(times) and not np.isnan(serial):
            speedup = serial / times.median()
            parts.append(f"{MODE_NAMES[mode]} {speedup:.2f}x ({speedup / cores:.0%} parallel efficiency)")
    if not parts:
        return []
    if cores < 2:
        return [f"Only 1 core was allowed at {int(data['images'].max())} images: no speed-up is possible there."]
    return [
        f"Against the ideal {cores}x on {cores} cores at {int(data['images'].max())} images, over the fastest serial configuration ({baseline}): "
        + ", ".join(parts)
        + "."
    ]


def startup_cost(runs: pd.DataFrame) -> list[str]:
    """The fixed price of each pool, read where there is least work to share (the smallest all-pairs size):
    the extra wall time over serial, and how much of serial's time is outside the timed stages."""
    data = all_pairs_on_all_cores(runs)
    stage_columns = ["scan_s", "load_s", "compare_s", "cluster_s"]
    if data.empty or not set(stage_columns) <= set(data.columns):
        return []
    data = data[data["images"] == data["images"].min()]
    wall = data.groupby("mode")["wall_s"].median()
    if "serial" not in wall or len(wall) < 2:
        return []
    outside = (data["wall_s"] - data[stage_columns].fillna(0).sum(axis=1)).groupby(data["mode"]).median()
    n = int(data["images"].min())
    pools = []
    for mode in ("process", "thread"):
        if mode in wall:
            diff = wall[mode] - wall["serial"]
            pools.append(
                f"the {mode} pool took {diff:.2f} s longer than serial (its start-up, worker imports and task hand-over are not repaid by {n} images of work)"
                if diff > 0
                else f"the {mode} pool still saved {-diff:.2f} s"
            )
    return [
        f"At {n} images, where there is least work to share, the whole run took {wall['serial']:.2f} s serially, "
        + ", ".join(f"{wall[m]:.2f} s with {MODE_NAMES[m]}" for m in ("thread", "process") if m in wall)
        + f": {'; '.join(pools)}. {outside['serial']:.2f} s of the serial run lies outside the timed stages "
        "(interpreter start and imports)."
    ]


def memory_cost(runs: pd.DataFrame) -> list[str]:
    """Peak memory of the whole process tree per mode at the largest size: a process pool pays per worker."""
    data = all_pairs_on_all_cores(runs)
    if data.empty or "peak_rss_bytes" not in data or data["peak_rss_bytes"].isna().all():
        return []
    data = data[data["images"] == data["images"].max()]
    peak = data.groupby("mode")["peak_rss_bytes"].median() / 2**20
    if "serial" not in peak or len(peak) < 2:
        return []
    return [
        f"Peak memory of the process tree at {int(data['images'].max())} images: "
        + ", ".join(f"{MODE_NAMES[m]} {peak[m]:.0f} MiB ({peak[m] / peak['serial']:.1f}x serial)" for m in MODES if m in peak)
        + "."
    ]


def dask_overhead(runs: pd.DataFrame) -> list[str]:
    """What a distributed scheduler costs on one machine: Dask against the process pool with the same
    workers, cores, pair strategy and dataset (medians), per dataset size, within one results file (a
    process cell of another sweep ran at another time and commit, so it is no baseline)."""
    if "dask" not in set(runs["mode"]):
        return ['No Dask runs in these results (a sweep with `modes = [..., "dask"]` and the `.[dask]` extra adds them).']
    keys = ["source", "images", "workers", "cores", "pairs", "thumb_size"]
    runs = runs if "source" in runs else runs.assign(source="")
    medians = runs[runs["mode"].isin(["process", "dask"])].groupby(keys + ["mode"])["wall_s"].median().unstack("mode")
    medians = medians.dropna(subset=[m for m in ("process", "dask") if m in medians])
    if "process" not in medians or medians.empty:
        return ["Dask was measured without a matching process-pool cell, so its overhead is not computed."]
    lines = []
    for (_, images, workers, cores, pairs, _), row in medians.iterrows():
        extra = row["dask"] - row["process"]
        lines.append(
            f"{int(images)} images, {int(workers)} workers on {int(cores)} cores, {pairs} pairs: Dask "
            f"{row['dask']:.2f} s vs process pool {row['process']:.2f} s "
            f"({'+' if extra >= 0 else '-'}{abs(extra):.2f} s, {row['dask'] / row['process']:.2f}x)."
        )
    return lines + [
        "On one machine Dask adds a scheduler, worker processes with their own event loops, and a TCP hop for "
        "every task and result; the process pool has none of these. On a real cluster the trade changes: workers "
        "on other machines add cores the pool cannot reach, but every worker must read the image files by the "
        "same path (shared storage), and thumbnails and results cross the network instead of shared memory."
    ]


def accuracy_findings(accuracy: pd.DataFrame | None) -> list[str]:
    """The threshold with the best F1 in the sweep, and what precision and recall it gives."""
    if accuracy is None or accuracy.empty or "f1" not in accuracy:
        return [
            "No accuracy input was given (`--accuracy CSV` from `dupbench evaluate --threshold-sweep`): "
            "this report says nothing about how accurate the detector is."
        ]
    best = accuracy.loc[accuracy["f1"].idxmax()]
    return [
        f"Accuracy: the best F1 in the threshold sweep is {best['f1']:.3f} at threshold {best['threshold']:.2f} "
        f"(precision {best['precision']:.3f}, recall {best['recall']:.3f}), over thresholds "
        f"{accuracy['threshold'].min():.2f}-{accuracy['threshold'].max():.2f}."
    ]


def growth_claims(runs: pd.DataFrame) -> list[str]:
    """Test the published claim that serial time grows exponentially with n: fit log-log slopes (whole run
    and per stage) and show what an exponential through the two smallest sizes would predict."""
    data = all_pairs_on_all_cores(primary_interpreter(runs))
    serial = data[data["mode"] == "serial"]
    where = ""
    if "source" in serial and serial["source"].nunique() > 1:
        # Sizes from different results files ran at other times and commits: fit within one file, the one
        # with the most sizes over the widest range.
        sizes = serial.groupby("source")["images"].agg(lambda v: (v.nunique(), v.max() / v.min()))
        source = max(sizes.index, key=lambda s: sizes[s])
        serial = serial[serial["source"] == source]
        where = f", `{Path(source).stem}`"
    medians = serial.groupby("images")[["wall_s", "load_s", "compare_s"]].median().sort_index()
    if len(medians) < 2:
        return ["Only one dataset size was measured, so how time grows with the number of images cannot be fitted here."]
    n = medians.index.to_numpy(float)
    out = []
    slopes = []
    for column, label in (("wall_s", "whole run"), ("load_s", "load stage"), ("compare_s", "compare stage")):
        keep = medians[column].to_numpy(float) > 0
        if keep.sum() >= 2:
            slopes.append(f"{label} n^{growth_exponent(n[keep], medians[column].to_numpy(float)[keep]):.2f}")
    out.append(
        f"Serial time vs images on log-log axes ({int(n.min())}-{int(n.max())} images, {len(n)} sizes{where}): "
        + ", ".join(slopes)
        + ". A power law has a constant log-log slope; 1 is linear, 2 quadratic "
        "(comparing all pairs)."
    )
    if len(medians) >= 3:
        (n0, t0), (n1, t1) = [(float(i), float(medians.loc[i, "wall_s"])) for i in medians.index[:2]]
        n_max, measured = float(n[-1]), float(medians["wall_s"].iloc[-1])
        log_predicted = np.log(t1) + np.log(t1 / t0) * (n_max - n1) / (n1 - n0)
        predicted = f"{np.exp(log_predicted):.3g} s" if log_predicted < 700 else f"about 10^{log_predicted / np.log(10):.0f} s"
        out.append(
            f"The published study calls serial growth exponential. An exponential through our {int(n0)}- and "
            f"{int(n1)}-image serial times ({t0:.2f} s, {t1:.2f} s) predicts {predicted} at {int(n_max)} images; "
            f"we measured {measured:.2f} s. The growth is polynomial, not exponential."
        )
    return out


def variance_claims(runs: pd.DataFrame) -> list[str]:
    """What single-run timings (as the published study reports) would have hidden: the run-to-run spread."""
    data = _seed_runs(runs)
    if data.empty:
        return []
    cells = data.groupby(["interpreter", "images", "mode"])["wall_s"]
    spread = pd.DataFrame(
        {
            "runs": cells.count(),
            "iqr": cells.quantile(0.75) - cells.quantile(0.25),
            "median": cells.median(),
            "worst": cells.apply(lambda v: float(np.max(np.abs(v - v.median())))),
        }
    )
    spread = spread[spread["runs"] >= 2]
    if spread.empty:
        return ["Each configuration was measured once: like the published study, these results carry no variance."]
    worst_key = (spread["worst"] / spread["median"]).idxmax()
    worst = spread.loc[worst_key]
    return [
        f"The published study reports one timing per configuration. Here each of {len(spread)} configurations ran "
        f"{_span(spread['runs'])} times: the interquartile range was a median "
        f"{(spread['iqr'] / spread['median']).median():.1%} of the median time (up to {(spread['iqr'] / spread['median']).max():.1%}), "
        f"and a single run lay up to {worst['worst'] / worst['median']:.1%} from its configuration's median "
        f"({worst_key[2]}, {worst_key[1]} images). Differences between modes smaller than that cannot be read from one run."
    ]


def _stage_verdict(row: pd.Series, interpreter: str) -> list[str]:
    if "results" in row and isinstance(row["results"], str):
        interpreter = f"{interpreter}, `{row['results']}`" if interpreter else f"`{row['results']}`"
    if pd.isna(row.get("thread speed-up")) or pd.isna(row.get("process speed-up")) or row["stage"] == "whole run":
        return []
    t, p = row["thread speed-up"], row["process speed-up"]
    if p <= 1 + FASTER_THRESHOLD:
        verdict = "does not get faster with processes either: it is too small or serial by design here, so this run cannot show whether it holds the GIL"
    elif t >= p / (1 + FASTER_THRESHOLD):
        verdict = "runs with the GIL released almost throughout (or has no GIL): threads keep up with processes"
    elif t <= 1 + FASTER_THRESHOLD:
        verdict = "holds the GIL: threads gain nothing while processes do"
    else:
        verdict = "releases the GIL for part of its time: threads gain, but less than processes"
    where = f" ({interpreter})" if interpreter else ""
    return [f"{row['stage']}{where}: threads {t:.2f}x vs processes {p:.2f}x — it {verdict}."]


def interpreter_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Results files that ran several interpreters (`grid.pythons`), side by side: per interpreter and mode,
    the median wall time and the speed-up over that interpreter's own serial runs of the same cell."""
    if "interpreter" not in runs or "source" not in runs:
        return pd.DataFrame()
    columns = ["interpreter", "images", "pairs", "cores", "mode", "runs", "median s", "speed-up", INTERVAL, "verdict", UNFLAGGED, UNFLAGGED_RUNS, "baseline"]
    rows = []
    for _, part in runs.groupby("source"):
        if part["interpreter"].nunique() < 2:
            continue
        for (interpreter, images, pairs, cores), cell in part.groupby(["interpreter", "images", "pairs", "cores"]):
            serial, baseline = fastest_serial(part, cell.iloc[0])
            for mode in STUDY_MODES:
                mine = cell[cell["mode"] == mode]
                times = mine["wall_s"].to_numpy(float)
                if not len(times):
                    continue
                row = dict(interpreter=interpreter, images=int(images), pairs=pairs, cores=int(cores), mode=mode, runs=len(times), baseline=baseline)
                rows.append({**row, "median s": f"{np.median(times):.2f}", **speedup_cells(serial, times, mode), **without_flagged(part, mine)})
    return pd.DataFrame(rows, columns=columns, dtype=object).fillna("")


def interpreter_findings(table: pd.DataFrame) -> list[str]:
    """Per interpreter in the side-by-side table: thread vs process speed-up, and what the difference says."""
    out = []
    for (interpreter, images, pairs, cores), part in table.groupby(["interpreter", "images", "pairs", "cores"]):
        speed = {r["mode"]: float(r["speed-up"].rstrip("x")) for _, r in part.iterrows() if r["speed-up"]}
        if "thread" in speed and "process" in speed:
            out.append(
                f"{interpreter}, {images} images ({pairs} pairs) on {cores} cores: threads {speed['thread']:.2f}x, "
                f"processes {speed['process']:.2f}x over its own serial run; by the medians, {compare_modes(speed['thread'], speed['process'])}."
            )
    return out


def why_gil(runs: pd.DataFrame, gil: dict | None) -> list[str]:
    """The GIL explanation, from per-stage thread vs process speed-ups and the `dupbench gil` kernels."""
    out = []
    for interpreter, part in runs.groupby("interpreter") if "interpreter" in runs else [("", runs)]:
        for _, row in stage_speedups(part).iterrows():
            out.extend(_stage_verdict(row, interpreter))
    if gil and gil.get("runs"):
        from dupbench.gil.explain import explain, explain_comparison

        out.extend(explain(run) for run in gil["runs"])
        if len(gil["runs"]) > 1:
            out.append(explain_comparison(gil["runs"]))
    else:
        out.append(
            "No `dupbench gil` results were given (`--gil results.json`): the per-kernel measurements of "
            "which operations release the GIL are not part of this report."
        )
    return out


def validity(runs: pd.DataFrame, metadata: list[dict]) -> list[str]:
    """Threats to validity, each with the measured number that bounds it."""
    disturbed = int(runs["disturbed"].fillna(False).astype(bool).sum()) if "disturbed" in runs else 0
    foreign = runs["foreign_cpu_fraction"].median() if "foreign_cpu_fraction" in runs else float("nan")
    cores = sorted(
        {len(m["allowed_cores"]) if isinstance(m["allowed_cores"], list) else int(m["allowed_cores"]) for m in metadata if m.get("allowed_cores") is not None}
    )
    drift = [s.get("control_drift") for m in metadata for s in m.get("sessions", []) if isinstance(s, dict) and s.get("control_drift") is not None]
    warm = int((runs["cache_state"] == "read_pass").sum()) if "cache_state" in runs else 0
    lines = [
        f"{disturbed} of {len(runs)} measured runs were flagged as disturbed (other processes used more than "
        f"{DISTURBED_FOREIGN_FRACTION:.0%} of their cores); the median share of the cores used by other work during a run was {foreign:.1%}.",
        f"The machine has {', '.join(map(str, cores)) or '?'} allowed core(s): speed-ups above that cannot show here, and "
        "the workers share those cores with the parent process and the monitor.",
        *monitor_overhead(runs),
        f"Page cache: {warm} of {len(runs)} runs started after the harness had read the whole dataset once (warm cache); "
        "cold-cache numbers would add disk time to the load stage.",
    ]
    if drift:
        lines.append(
            "Thermal or load drift: a fixed control loop timed before and after each sweep session changed by " + ", ".join(f"{d:+.0%}" for d in drift) + "."
        )
    else:
        lines.append("Thermal or load drift: no before/after control timings were found in the metadata.")
    return lines + flagged_runs_effect(runs) + baseline_drift(runs)


def monitor_overhead(runs: pd.DataFrame) -> list[str]:
    """The monitor's own CPU per run (its sampling thread's CPU seconds / the wall seconds it watched, as the
    harness records it): work on the same cores that the run's own CPU accounting does not include."""
    values = runs["monitor_overhead"].dropna().to_numpy(float) if "monitor_overhead" in runs else np.array([])
    if not len(values):
        return ["The monitor's own CPU use was not recorded in these results (no `monitor_overhead` column)."]
    return [
        f"Monitor overhead: the harness's sampling thread used a median {np.median(values):.2%} of one core (max {values.max():.2%}) "
        f"over {len(values)} runs, competing with the run for the machine's cores; it is not counted in the run's CPU time or utilisation."
    ]


def cell_speedups(runs: pd.DataFrame) -> dict[str, float]:
    """Median speed-up of every parallel cell (by cell_id) against its fastest serial configuration."""
    speedups = {}
    for cell_id, cell in runs[runs["mode"] != "serial"].groupby("cell_id"):
        serial, _ = fastest_serial(runs, cell.iloc[0])
        if len(serial):
            speedups[str(cell_id)] = float(np.median(serial) / cell["wall_s"].median())
    return speedups


def flagged_runs_effect(runs: pd.DataFrame) -> list[str]:
    """How much the speed-ups move when the runs flagged disturbed are left out (they stay in the medians)."""
    if "disturbed" not in runs or "cell_id" not in runs:
        return []
    flagged = runs["disturbed"].fillna(False).astype(bool)
    if not flagged.any():
        return []
    everything, clean = cell_speedups(runs), cell_speedups(runs[~flagged])
    changes = {cell: clean[cell] / everything[cell] - 1 for cell in everything if cell in clean}
    lost = len(everything) - len(changes)
    if not changes:
        return ["Every parallel cell has a flagged run in it or its baseline; none can be shown without them."]
    worst = max(changes, key=lambda cell: abs(changes[cell]))
    row = runs[runs["cell_id"] == worst].iloc[0]
    return [
        f"Without the flagged runs, the cells' median speed-ups move by at most {changes[worst]:+.1%} "
        f"({row['mode']}, {int(row['images']):,} images, {int(row['workers'])} workers on {int(row['cores'])} cores)"
        + (f"; {lost} cell(s) have no unflagged runs left" if lost else "")
        + ". The flagged runs stay in every median above."
    ]


def baseline_drift(runs: pd.DataFrame, tolerance: float = FASTER_THRESHOLD) -> list[str]:
    """Where serial ran slower on more cores than on one (same work: it uses one core), within one results
    file and one interpreter (pooling 3.11 and 3.13t serial runs would compare interpreters, not cores)."""
    serial = runs[runs["mode"] == "serial"] if "mode" in runs else runs.iloc[0:0]
    if serial.empty or serial["cores"].nunique() < 2:
        return []
    keys = [k for k in ("source", "interpreter") if k in serial] + ["images", "pairs"]
    medians = serial.groupby(keys + ["cores"])["wall_s"].median().unstack("cores")
    one, most = medians.columns.min(), medians.columns.max()
    ratios = (medians[most] / medians[one]).dropna()
    slower = ratios[ratios > 1 + tolerance]
    if ratios.empty:
        return []
    if slower.empty:
        worst = dict(zip(keys, ratios.index[int(np.argmax(np.abs(ratios.to_numpy() - 1)))]))
        return [
            f"Serial on {most} cores against serial on {one} core, within one results file and interpreter: no cell slower by more "
            f"than {tolerance:.0%} (largest change {ratios.loc[tuple(worst.values())] - 1:+.0%}, {int(worst['images'])} images, {worst['pairs']} pairs"
            f"{', ' + str(worst['interpreter']) if 'interpreter' in worst else ''})."
        ]
    cells = ", ".join(
        f"{int(cell['images'])} images ({cell['pairs']} pairs{', ' + cell['interpreter'] if 'interpreter' in cell else ''}) +{ratio - 1:.0%}"
        for cell, ratio in ((dict(zip(keys, index)), ratio) for index, ratio in slower.items())
    )
    return [
        f"Serial on {most} cores was slower than serial on {one} core, though it uses one either way, in: {cells}. "
        "Speed-ups here are taken against the fastest serial configuration measured, so this slower baseline "
        "does not inflate them; it is run-to-run or placement noise that single runs would hide."
    ]


def method_lines(metadata: list[dict]) -> list[str]:
    """The protocol of each sweep, read from the sweep definition recorded in its metadata."""
    lines = []
    for meta in metadata:
        sweep = meta.get("sweep") or {}
        if not sweep:
            continue
        lines.append(
            f"`{meta.get('sweep_path', sweep.get('name'))}` ({sweep.get('name')}): sizes {_join(sweep.get('sizes', []))}, "
            f"modes {_join(sweep.get('modes', []))}, workers {_join(sweep.get('workers', []))}, cores {_join(sweep.get('cores', []))}, "
            f"pairs {_join(sweep.get('pairs', []))}, start method {_join(sweep.get('start_methods', []))}; "
            f"{sweep.get('repeats')} repeats after {sweep.get('warmups')} discarded warm-up(s) per {sweep.get('warmup_scope', 'cell')}, "
            f"{sweep.get('order')} order (seed {sweep.get('order_seed')}), monitor sampled every {sweep.get('sample_interval_s')} s, "
            f"interpreter {meta.get('python', {}).get('implementation', '')} {meta.get('python', {}).get('version', '?')}"
            f"{'t' if meta.get('python', {}).get('py_gil_disabled_build') else ''}."
        )
    return lines


def reproduce_commands(
    metadata: list[dict], accuracy_meta: dict | None, gil: dict | None, command: str, real_accuracy: pd.DataFrame | None = None
) -> list[str]:
    """The one command that reruns everything at one commit, the commands that made each input (as
    recorded beside it), then this report's own command."""
    commands = ["bash experiments/run_all.sh   # all of the steps below, at one commit; each step's time: results/run_all/", "# or one at a time:"]
    for meta in metadata:
        path = meta.get("sweep_path")
        if not path:
            continue
        python = meta.get("python", {})
        line = f"dupbench sweep {path} --out results/"
        if python.get("py_gil_disabled_build"):
            executable = str(python.get("executable", "python3.13t"))
            executable = executable[executable.index("experiments/") :] if "experiments/" in executable else executable
            line = f"{executable} -m dupbench sweep {path} --out results/   # free-threaded {python.get('version')}t"
        if line not in commands:
            commands.append(line)
    if accuracy_meta and accuracy_meta.get("command"):
        commands.append(str(accuracy_meta["command"]))
    if real_accuracy is not None and not real_accuracy.empty:  # recorded per set as "... (class C, split S)": the script is one command
        commands += list(dict.fromkeys(str(c).split(" (")[0] for c in real_accuracy["command"] if c))
    if gil and gil.get("command"):
        commands.append(" ".join(gil["command"]) if isinstance(gil["command"], list) else str(gil["command"]))
    return commands + [command]


def _span(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}-{high}"


def _join(values: Iterable) -> str:
    return ", ".join(str(v) for v in values)
