"""The report's opening: a few findings, each with its number, the interval valid for its runs, and
where it is shown (a figure, else the table that holds it). Pure functions of the frames they are given."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dupbench.config import DetectorConfig
from dupbench.harness.stats import Interval, median_interval, ratio_interval, speed_verdict
from dupbench.report.data import fastest_serial, fastest_serial_rows, primary_interpreter
from dupbench.report.published import matched_pairs
from dupbench.report.real_accuracy import REAL_SECTION, real_accuracy_lines
from dupbench.report.text import MODE_NAMES, _seed_runs, _seed_sweep

# Headings the findings point to when no figure shows them; render.py writes these headings.
SEED_SECTION = "The published study's shape (all pairs, all cores)"
STAGE_SECTION = "Per stage, at the largest all-pairs dataset"
CPU_SECTION = "CPU utilisation per mode and size"
INTERPRETER_SECTION = "The interpreter as a dimension (several interpreters in one sweep)"
DASK_SECTION = "Beyond one machine: Dask"
DETAILS_SECTION = "Details"
ALL_CELLS_SECTION = "All cells measured"


@dataclass(frozen=True)
class Finding:
    """One opening line: `figures` names the drawing functions whose figure shows it, best first (the
    first one drawn is cited); `section` is the heading of the table that holds its numbers."""

    text: str
    figures: tuple[str, ...]
    section: str


def speedup_phrase(serial: np.ndarray, times: np.ndarray, above: str = "faster", below: str = "slower", unit: str = "x") -> str:
    """'1.85x (1.70-1.95x, min-max, coverage >=56%: faster)': the ratio of medians, its interval with the
    coverage it guarantees, and the verdict read off it (min-max is said once, in the interval)."""
    interval = ratio_interval(serial, times)
    ratio = f"{np.median(serial) / np.median(times):.2f}{unit}"
    if np.isnan(interval.low):
        return f"{ratio} (no interval)"
    kind = f"{interval.coverage:.0%}" if interval.reaches else f"min-max, coverage >={interval.coverage:.0%}"
    return f"{ratio} ({interval.low:.2f}-{interval.high:.2f}{unit}, {kind}: {speed_verdict(interval.low, interval.high, True, above, below)})"


def percent_label(interval: Interval) -> str:
    kind = f"{interval.coverage:.0%}" if interval.reaches else f"min-max, coverage >={interval.coverage:.0%}"
    return f"{interval.low:.0%}-{interval.high:.0%}, {kind}"


def headline_findings(
    runs: pd.DataFrame, raw: pd.DataFrame | None = None, accuracy: pd.DataFrame | None = None, real_accuracy: pd.DataFrame | None = None
) -> list[Finding]:
    """5-9 findings from `runs` (one results file per comparison, `one_source_per_comparison`); the interpreter
    and Dask findings compare within their own files, so they read `raw` (every run; default `runs`).
    Accuracy on real images comes before the generated set's, which is no evidence on its own."""
    raw = runs if raw is None else raw
    primary = primary_interpreter(runs)
    data = _seed_runs(primary)
    found: list[Finding | None] = []
    if not data.empty:
        sizes = sorted(int(n) for n in data["images"].unique())
        found += [size_finding(primary, sizes[-1], "the largest")]
        found += [size_finding(primary, sizes[0], "the smallest")] if len(sizes) > 1 else []
        found += [threads_against_processes(primary), stage_finding(primary), cpu_finding(primary)]
    found += [interpreter_finding(raw), dask_finding(raw), real_accuracy_finding(real_accuracy), accuracy_finding(accuracy)]
    return [f for f in found if f is not None]


def size_finding(runs: pd.DataFrame, images: int, which: str) -> Finding | None:
    """Thread and process speed-up at one seed size, against the fastest serial configuration."""
    part = _seed_runs(runs)
    part = part[part["images"] == images]
    serial, baseline = fastest_serial(_seed_sweep(runs), part.iloc[0])
    modes = [m for m in ("thread", "process") if (part["mode"] == m).any()]
    if not len(serial) or not modes:
        return None
    times = {m: part[part["mode"] == m]["wall_s"].to_numpy(float) for m in modes}
    said = ", ".join(f"{MODE_NAMES[m]} {speedup_phrase(serial, times[m])}" for m in modes)
    cores = int(part["cores"].max())
    text = f"At {images:,} images ({which} seed size, all pairs, {cores} cores, {part['interpreter'].iloc[0] or 'one interpreter'}), speed-up over {baseline}: {said}"
    slower = [m for m in modes if np.median(times[m]) > np.median(serial)]
    if slower and which == "the smallest":
        text += f"; with this little work the {' and the '.join(slower)} pool's start-up is not repaid"
    return Finding(text + ".", ("speedup_vs_size", "time_vs_size"), SEED_SECTION)


def threads_against_processes(runs: pd.DataFrame) -> Finding | None:
    """Median process time / median thread time per seed size, with its interval: where threads lead."""
    data = _seed_runs(runs)
    cells = []
    for images, part in data.groupby("images"):
        thread, process = (part[part["mode"] == m]["wall_s"].to_numpy(float) for m in ("thread", "process"))
        if len(thread) and len(process):
            cells.append(f"{int(images):,} images {speedup_phrase(process, thread, 'threads faster', 'processes faster', unit='')}")
    if not cells:
        return None
    return Finding(
        f"Threads against processes, {data['interpreter'].iloc[0] or 'one interpreter'} (median process time / thread time, above 1: threads faster): "
        f"{'; '.join(cells)}.",
        ("speedup_vs_size", "time_vs_size"),
        SEED_SECTION,
    )


def stage_finding(runs: pd.DataFrame) -> Finding | None:
    """Per-stage speed-ups with intervals at the largest seed size: which stage threads keep up in."""
    data = _seed_runs(runs)
    data = data[data["images"] == data["images"].max()]
    serial = fastest_serial_rows(_seed_sweep(runs), data.iloc[0])
    if serial.empty:
        return None
    stages = []
    for column, stage in (("load_s", "load"), ("compare_s", "compare")):
        phrases = [
            f"{MODE_NAMES[m]} {speedup_phrase(serial[column].to_numpy(float), data[data['mode'] == m][column].to_numpy(float))}"
            for m in ("thread", "process")
            if (data["mode"] == m).any()
        ]
        stages += [f"{stage} stage {', '.join(phrases)}"] if phrases else []
    if not stages:
        return None
    return Finding(f"Per stage at {int(data['images'].max()):,} images: {'; '.join(stages)}.", ("stage_breakdown",), STAGE_SECTION)


def cpu_finding(runs: pd.DataFrame) -> Finding | None:
    """CPU utilisation per mode at the largest seed size (the published study's headline measure)."""
    data = _seed_runs(runs)
    if "cpu_utilization" not in data:
        return None
    data = data[data["images"] == data["images"].max()]
    phrases = []
    for mode in ("serial", "thread", "process"):
        values = data[data["mode"] == mode]["cpu_utilization"].dropna().to_numpy(float)
        if len(values):
            phrases.append(f"{MODE_NAMES[mode]} {np.median(values):.0%} ({percent_label(median_interval(values))})")
    if not phrases:
        return None
    cores = int(data["cores"].max())
    return Finding(
        f"CPU utilisation (CPU seconds of the process tree / (wall seconds x {cores} cores)) at {int(data['images'].max()):,} images: {', '.join(phrases)}.",
        ("cpu_utilization_vs_size", "cpu_timeline"),
        CPU_SECTION,
    )


def interpreter_finding(runs: pd.DataFrame) -> Finding | None:
    """Within the one results file that ran several interpreters: the single-thread cost and the speed-ups.

    Where the file holds a matched pair (one version built with and without the GIL), that pair leads: it
    changes one thing, the GIL, where any other interpreter also differs in version and build."""
    if "interpreter" not in runs or "source" not in runs:
        return None
    files = [part for _, part in runs.groupby("source") if part["interpreter"].nunique() >= 2 and (part["mode"] == "serial").any()]
    if not files:
        return None
    part = max(files, key=len)
    part = part[part["images"] == part["images"].max()]
    interpreters = sorted(part["interpreter"].unique(), key=lambda name: ("GIL off" in name, name))
    pair = matched_pairs(interpreters)
    if pair:
        gil, free = pair[0][0].label, pair[0][1].label
        interpreters = [gil, free, *(i for i in interpreters if i not in (gil, free))]
    serial = {i: fastest_serial(part, part[part["interpreter"] == i].iloc[0])[0] for i in interpreters}
    reference, others = interpreters[0], [i for i in interpreters[1:] if len(serial[i])]
    if not len(serial[reference]) or not others:
        return None

    def cost(other: str) -> str:
        said = f"serially {other} took {speedup_phrase(serial[other], serial[reference], 'slower', 'faster')} the time of {reference}"
        if not pair:
            return said
        if other == pair[0][1].label:
            return f"free-threading's single-thread cost, matched pair (same source and build flags): {said}"
        return f"apart from the pair (another version or build): {said}"

    speedups = []
    for interpreter in interpreters:
        mine = part[part["interpreter"] == interpreter]
        modes = [m for m in ("thread", "process") if (mine["mode"] == m).any()]
        said = ", ".join(f"{MODE_NAMES[m]} {speedup_phrase(serial[interpreter], mine[mine['mode'] == m]['wall_s'].to_numpy(float))}" for m in modes)
        speedups += [f"{interpreter}: {said}"] if said and len(serial[interpreter]) else []
    cell = part.iloc[0]
    return Finding(
        f"Interpreters in one sweep ({int(cell['images']):,} images, {cell['pairs']} pairs, {int(part['cores'].max())} cores): "
        f"{'; '.join(cost(i) for i in others)}. Speed-ups over each one's own serial runs: {'; '.join(speedups)}.",
        ("gil_vs_free_threaded",),
        INTERPRETER_SECTION,
    )


def dask_finding(runs: pd.DataFrame) -> Finding | None:
    """Dask against the process pool of the same file, at the largest size both ran (same workers and cores)."""
    if "dask" not in set(runs["mode"]) or "source" not in runs:
        return None
    dask = runs[runs["mode"] == "dask"]
    source = dask["source"].value_counts().idxmax()
    part = runs[(runs["source"] == source) & runs["mode"].isin(["dask", "process"])]
    keys = ["images", "workers", "cores", "pairs"]
    both = part.groupby(keys)["mode"].nunique()
    both = both[both == 2]
    if both.empty:
        return None
    images, workers, cores, pairs = max(both.index)
    cell = part[(part["images"] == images) & (part["workers"] == workers) & (part["cores"] == cores) & (part["pairs"] == pairs)]
    times = {m: cell[cell["mode"] == m]["wall_s"].to_numpy(float) for m in ("dask", "process")}
    return Finding(
        f"Dask on one machine at {int(images):,} images ({pairs} pairs, {int(workers)} workers on {int(cores)} cores) took "
        f"{speedup_phrase(times['dask'], times['process'], 'Dask slower', 'Dask faster')} the process pool's time.",
        ("dask_vs_pools",),
        DASK_SECTION,
    )


def real_accuracy_finding(frame: pd.DataFrame | None) -> Finding | None:
    said = real_accuracy_lines(frame) if frame is not None else []
    if not said:
        return None
    return Finding(
        f"Accuracy on real images, holdout split (kept out of all tuning; default settings): {'; '.join(said)}. One evaluation each, so no interval.",
        (),
        REAL_SECTION,
    )


def accuracy_finding(accuracy: pd.DataFrame | None) -> Finding | None:
    if accuracy is None or accuracy.empty or "f1" not in accuracy:
        return None
    default = DetectorConfig().threshold
    at_default = accuracy.loc[(accuracy["threshold"] - default).abs().idxmin()]
    best = accuracy.loc[accuracy["f1"].idxmax()]
    return Finding(
        f"Accuracy on the generated study set (made by dupbench's own generator: it shows the planted edits are found, not that "
        f"groups hold on real collections): F1 {at_default['f1']:.3f} at the default threshold {at_default['threshold']:.2f} "
        f"(precision {at_default['precision']:.3f}, recall {at_default['recall']:.3f}); best F1 {best['f1']:.3f} at "
        f"{best['threshold']:.2f}. One evaluation of a labelled dataset, so no interval.",
        ("accuracy",),
        DETAILS_SECTION,
    )
