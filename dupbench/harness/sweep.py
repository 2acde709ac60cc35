"""Execute a sweep: prepare datasets (untimed), run every planned child, append one row per run.

`run_sweep(spec, out) -> SweepResult` is a plain function; the CLI only parses and calls it. The child's
command comes from one function (`build_run_command`) and datasets from another (`make_dataset_files`),
so tests substitute a stand-in workload and a tiny folder of images.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from dupbench.harness import metadata as meta
from dupbench.harness.measure import Measurement, allowed_cores, cores_for, measure_command
from dupbench.harness.monitor import Sample, TreeUsage
from dupbench.harness.results import (
    DISTURBED_FOREIGN_FRACTION,
    RESULTS_SCHEMA_VERSION,
    RunRow,
    append_row,
    append_timeline,
    load_results,
    metadata_path,
    new_results_path,
    read_run_ids,
    timeline_path,
    write_metadata,
)
from dupbench.harness.spec import CURRENT_PYTHON, Cell, PlannedRun, SweepSpec, estimate_run_seconds, expand_grid, plan_runs
from dupbench.result import STAGES, DuplicateReport, load_report

CommandBuilder = Callable[[Cell, Path, Path], list[str]]
DatasetMaker = Callable[[Path, int, int, str], None]
DatasetKey = tuple[str, int, int]  # (profile, images, seed)
CONTROL_LOOP_N = 1_000_000
CONTROL_REPEATS = 5
DRIFT_WARNING = 0.10  # a control loop this much slower or faster after the sweep than before is warned about


# ---------------------------------------------------------------- the child's command and its dataset


def python_executable(python: str) -> str:
    """The interpreter a cell names: the harness's own for "current", else the path as given."""
    return sys.executable if python == CURRENT_PYTHON else python


PROBE = """
import json, platform, sys
import dupbench, dupbench.detector.pipeline, dupbench.run_command
from dupbench.runtime import free_threaded_build, gil_enabled
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "free_threaded_build": free_threaded_build(),
    "gil_enabled": gil_enabled(),
    "dupbench_path": dupbench.__file__,
}))
"""


def probe_python(python: str, cwd: Path | None = None) -> dict[str, Any]:
    """What an interpreter is, once dupbench's detector is imported (a module may switch the GIL back on).

    Raises ValueError with what to do if it cannot run dupbench; the sweep checks this before any timing.
    """
    executable = python_executable(python)
    try:
        done = subprocess.run([executable, "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=cwd)
    except OSError as exc:
        raise ValueError(f"sweep: grid.pythons: cannot run {python!r}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"sweep: grid.pythons: {python!r} cannot import dupbench ({tail[0]}); install it there first: {executable} -m pip install -e .")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_same_code(probes: dict[str, dict[str, Any]]) -> None:
    """Every interpreter must run this tree's dupbench, or the runs would compare different code."""
    own = str(Path(__file__).resolve().parents[1])
    for name, probe in probes.items():
        theirs = str(Path(probe["dupbench_path"]).resolve().parent)
        if theirs != own:
            raise ValueError(
                f"sweep: grid.pythons: {name!r} imports dupbench from {theirs}, not from this tree ({own}); "
                f"reinstall it: {probe['executable']} -m pip install -e {Path(own).parent}"
            )


def build_run_command(cell: Cell, dataset_dir: Path, report_json: Path) -> list[str]:
    """The measured child: `dupbench run` on one dataset with the cell's settings, report to JSON."""
    command = [
        python_executable(cell.python),
        "-m",
        "dupbench",
        "run",
        str(dataset_dir),
        "--mode",
        cell.mode,
        "--workers",
        str(cell.workers),
        "--pairs",
        cell.pairs,
        "--thumb-size",
        str(cell.thumb_size),
        "--output",
        str(report_json),
        "--quiet",
        "--no-cache",  # studies measure the real work, never the feature cache
    ]
    if cell.mode == "process":
        command += ["--start-method", cell.start_method]
    return command


def make_dataset_files(out: Path, n_images: int, seed: int, profile: str) -> None:
    """Generate a dataset with the datasets package (imported late: it is optional for the harness).

    A profile label "NAME:LOW-HIGH" (from `long_side` in the sweep file) is profile NAME with images whose
    long side lies in [LOW, HIGH] pixels, e.g. "study:3000-4032" for phone-sized photos.
    """
    from dupbench.datasets import make_dataset
    from dupbench.datasets.profiles import get_profile

    name, _, sides = profile.partition(":")
    chosen = get_profile(name)
    if sides:
        low, high = (int(v) for v in sides.split("-"))
        chosen = chosen.with_long_side(low, high)
    make_dataset(out, n_images, seed, profile=chosen, progress=False)


def default_dataset_cache() -> Path:
    """$DUPBENCH_DATASET_CACHE, else $XDG_CACHE_HOME/dupbench/datasets: outside results/, never committed."""
    if os.environ.get("DUPBENCH_DATASET_CACHE"):
        return Path(os.environ["DUPBENCH_DATASET_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "dupbench" / "datasets"


def ensure_dataset(cache: Path, profile: str, n_images: int, seed: int, maker: DatasetMaker) -> Path:
    """The dataset's folder, generated once into a temporary sibling and renamed, so a folder that exists is complete."""
    target = Path(cache) / f"{profile.replace(':', '-L')}-n{n_images}-s{seed}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        maker(partial, n_images, seed, profile)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def dataset_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def read_pass(files: Sequence[Path]) -> float:
    """Read every file once, untimed by the run, so each run starts with a warm page cache; returns seconds."""
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - start


# ---------------------------------------------------------------- per-sweep control and derived values


def control_loop(n: int = CONTROL_LOOP_N) -> float:
    """A fixed pure-Python loop's seconds: the same work before and after a sweep shows machine drift."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i & 7
    return time.perf_counter() - start


def control_measurement(repeats: int = CONTROL_REPEATS) -> dict[str, float]:
    times = [control_loop() for _ in range(repeats)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def stage_cpu_utilization(samples: Sequence[Sample], window: Sequence[float], cores: int, interval_s: float) -> float | None:
    """CPU seconds of the tree inside a stage's [start, end] (epoch seconds) / (stage wall x cores).

    The tree's cumulative CPU is interpolated between samples; a stage shorter than two sampling intervals
    gets no value rather than a noisy one.
    """
    if len(samples) < 2 or len(window) != 2:
        return None
    t0, t1 = float(window[0]), float(window[1])
    if t1 - t0 < 2 * interval_s:
        return None
    epochs = np.array([s.epoch for s in samples])
    cpu = np.array([s.tree_cpu_s for s in samples])
    used = float(np.interp(t1, epochs, cpu) - np.interp(t0, epochs, cpu))
    return used / ((t1 - t0) * cores)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rate(count: float | None, seconds: float | None) -> float | None:
    if count is None or not seconds:
        return None
    return count / seconds


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def read_report(path: Path) -> DuplicateReport | None:
    """The child's `--output` report, or None if it wrote none or not a dupbench report (the row says no_report)."""
    try:
        return load_report(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _utc(epoch: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class DatasetInfo:
    files: int
    bytes: int
    cache_state: str
    read_pass_s: float | None


def dataset_info(files: Sequence[Path], read_pass_first: bool) -> DatasetInfo:
    """The dataset a run is given, after the untimed read pass when the sweep asks for one."""
    pass_s = read_pass(files) if read_pass_first else None
    return DatasetInfo(len(files), sum(p.stat().st_size for p in files), "read_pass" if read_pass_first else "unknown", pass_s)


def reported_columns(report: DuplicateReport | None, usage: TreeUsage, cores: int, interval_s: float, start_epoch: float) -> dict[str, Any]:
    """What the child said about itself: stage times and starts (seconds after `start_epoch`, when the
    parent started it), counts and throughput, settings in force; and the CPU use of each stage, from the
    monitor's samples inside the stage's epoch bounds."""
    stages: dict[str, Any] = report.stages if report else {}
    counts: dict[str, Any] = report.counts if report else {}
    bounds: dict[str, Any] = report.stage_bounds if report else {}
    execution: dict[str, Any] = (report.settings.get("execution") or {}) if report else {}
    images, pairs = _count(counts.get("images")), _count(counts.get("pairs_compared"))
    workers = execution.get("workers")
    return {
        "detector_total_s": _number(stages.get("total")),
        **{f"{stage}_s": _number(stages.get(stage)) for stage in STAGES},
        **{f"{stage}_cpu_utilization": stage_cpu_utilization(usage.samples, bounds.get(stage, ()), cores, interval_s) for stage in STAGES},
        "images_counted": images,
        "pairs_compared": pairs,
        "load_images_per_s": _rate(images, _number(stages.get("load"))),
        "compare_pairs_per_s": _rate(pairs, _number(stages.get("compare"))),
        "reported_workers": int(workers) if isinstance(workers, (int, float)) else None,
        "reported_start_method": execution.get("start_method"),
        "reported_execution": json.dumps(execution, sort_keys=True) if execution else "",
        **{f"{stage}_start_s": _number(bounds[stage][0] - start_epoch) if len(bounds.get(stage, ())) == 2 else None for stage in STAGES},
    }


def measured_columns(measurement: Measurement, cores: int) -> dict[str, Any]:
    """What the parent saw of the run: wall clock, CPU and memory of the tree, its processes, the machine around it."""
    usage = measurement.usage
    cpu = measurement.cpu_user_s + measurement.cpu_system_s
    wall = measurement.wall_s
    # Other processes' CPU on the run's cores: busy core time minus the run's own CPU, taken as the larger of
    # the monitor's samples and the kernel's rusage (the samples miss pool workers that exit between ticks,
    # which made the process pool look like foreign load and flagged its short runs as disturbed).
    foreign = max(0.0, usage.run_cores_busy_s - cpu - usage.monitor_cpu_s)
    foreign_fraction = foreign / (usage.monitored_wall_s * cores) if usage.monitored_wall_s > 0 else 0.0
    return {
        "started_utc": _utc(measurement.start_epoch),
        "returncode": measurement.returncode,
        "affinity": ",".join(map(str, measurement.affinity)),
        "affinity_ok": len(measurement.affinity) == cores,
        "wall_s": wall,
        "cpu_user_s": measurement.cpu_user_s,
        "cpu_system_s": measurement.cpu_system_s,
        "cpu_s": cpu,
        "cpu_utilization": cpu / (wall * cores) if wall > 0 else None,
        "monitor_user_s": usage.user_s,
        "monitor_system_s": usage.system_s,
        "rusage_user_s": measurement.rusage_user_s,
        "rusage_system_s": measurement.rusage_system_s,
        "peak_rss_bytes": measurement.peak_rss_bytes,
        "peak_uss_bytes": usage.peak_uss_bytes,
        "ctx_voluntary": usage.ctx_voluntary,
        "ctx_involuntary": usage.ctx_involuntary,
        "max_threads": usage.max_threads,
        "max_processes": usage.max_processes,
        "processes_seen": usage.processes_seen,
        "leftover_processes": len(usage.leftover_pids),
        "loadavg_before": measurement.loadavg_before,
        "loadavg_after": measurement.loadavg_after,
        "foreign_cpu_fraction": foreign_fraction,
        "steal_s": usage.run_cores_steal_s,
        "disturbed": foreign_fraction > DISTURBED_FOREIGN_FRACTION,
        "monitor_samples": len(usage.samples),
        "monitor_cpu_s": usage.monitor_cpu_s,
        "monitor_overhead": usage.monitor_cpu_s / usage.monitored_wall_s if usage.monitored_wall_s > 0 else None,
        "error": measurement.stderr_tail,
    }


def make_row(
    *,
    sweep: str,
    planned: PlannedRun,
    run_index: int,
    commit: str,
    measurement: Measurement,
    report: DuplicateReport | None,
    dataset: DatasetInfo,
    interval_s: float,
) -> RunRow:
    """Combine what the parent measured with what the child reported into one row (pure)."""
    cell = planned.cell
    status = "no_report" if measurement.status == "ok" and report is None else measurement.status
    return RunRow(
        **planned_columns(sweep, planned, run_index, status, commit),
        dataset_files=dataset.files,
        dataset_bytes=dataset.bytes,
        cache_state=dataset.cache_state,
        read_pass_s=dataset.read_pass_s,
        **measured_columns(measurement, cell.cores),
        **reported_columns(report, measurement.usage, cell.cores, interval_s, measurement.start_epoch),
    )


def skipped_row(*, sweep: str, planned: PlannedRun, run_index: int, commit: str, reason: str) -> RunRow:
    return RunRow(**planned_columns(sweep, planned, run_index, "skipped", commit), started_utc=_utc(), error=reason)


def planned_columns(sweep: str, planned: PlannedRun, run_index: int, status: str, commit: str) -> dict[str, Any]:
    """The columns every row has, measured or not: which sweep, run, cell and code it was."""
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "sweep": sweep,
        "run_id": planned.run_id,
        "run_index": run_index,
        "warmup": planned.warmup,
        "repeat": planned.repeat,
        "status": status,
        "cell": planned.cell,
        "commit": commit,
    }


# ---------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepResult:
    csv_path: Path
    metadata_path: Path
    frame: pd.DataFrame = field(compare=False)


def _read_metadata(csv_path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(metadata_path(csv_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_resumable(out: Path, machine: str, spec: SweepSpec) -> Path | None:
    """The newest results file in out/<machine>/ written by the same sweep file (same text)."""
    for path in sorted((Path(out) / machine).glob("*.csv"), reverse=True):
        data = _read_metadata(path)
        if data is not None and data.get("sweep_text") == spec.text:
            return path
    return None


@dataclass
class ResultsFile:
    """Where a sweep writes: the CSV, the runs it already holds, and the metadata written beside it."""

    csv_path: Path
    done: set[str]
    metadata: dict[str, Any]


def open_results(spec: SweepSpec, out: Path, machine: str, info: dict[str, Any], resume: Path | None) -> ResultsFile:
    """A new results file under out/<machine>/, or `resume` if the same sweep file wrote it (else ValueError)."""
    if resume is None:
        metadata = {"results_schema_version": RESULTS_SCHEMA_VERSION, **info, "sweep": spec.to_json(), "sessions": []}
        return ResultsFile(new_results_path(out, machine, info["git"]["short_commit"]), set(), metadata)
    csv_path = Path(resume)
    previous = _read_metadata(csv_path)
    if previous is None:
        raise ValueError(f"cannot resume {csv_path}: no readable metadata beside it ({metadata_path(csv_path)})")
    if previous.get("sweep_text") != spec.text:
        raise ValueError(f"{csv_path} was written by a different sweep file; cannot resume it")
    if previous.get("results_schema_version") != RESULTS_SCHEMA_VERSION:  # its rows would not line up with new ones
        raise ValueError(
            f"{csv_path} holds results schema {previous.get('results_schema_version')}, this dupbench writes {RESULTS_SCHEMA_VERSION}; "
            "cannot resume it: start a new results file (without --resume)"
        )
    return ResultsFile(csv_path, read_run_ids(csv_path), previous)


def precompile(probe: dict[str, Any]) -> bool:
    """Write dupbench's bytecode for this interpreter before any timing.

    Where bytecode is not written on import (PYTHONDONTWRITEBYTECODE, a read-only tree, a fresh checkout
    whose first run is timed), every measured child would compile the package from source: a fixed cost per
    run and per forkserver that users with an installed package never pay. compileall writes it regardless.
    """
    package = str(Path(probe["dupbench_path"]).resolve().parent)
    done = subprocess.run([probe["executable"], "-m", "compileall", "-q", package], capture_output=True, text=True, timeout=600)
    return done.returncode == 0


def probe_pythons(spec: SweepSpec, repo: Path, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Probe every interpreter of the grid in `repo` (where the children run), refusing one that runs other
    code, and precompile the package for each."""
    probes = {python: probe_python(python, cwd=repo) for python in spec.pythons}
    check_same_code(probes)
    for name, probe in probes.items():
        if probe["free_threaded_build"] and probe["gil_enabled"]:
            log(f"sweep: WARNING: {name} is free-threaded but its GIL is ON after importing dupbench")
        probe["precompiled"] = precompile(probe)
        if not probe["precompiled"]:
            log(f"sweep: WARNING: could not precompile dupbench for {name}: its runs include compiling the package")
    return probes


def prepare_datasets(spec: SweepSpec, cache: Path, make_dataset: DatasetMaker, log: Callable[[str], None]) -> dict[DatasetKey, Path]:
    """Every dataset of the sweep, generated (once, into the cache) before any timing, never inside a measured run."""
    datasets: dict[DatasetKey, Path] = {}
    for size in spec.sizes:
        log(f"sweep: dataset {spec.profile} n={size} seed={spec.dataset_seed} ...")
        datasets[(spec.profile, size, spec.dataset_seed)] = ensure_dataset(cache, spec.profile, size, spec.dataset_seed, make_dataset)
    return datasets


def start_session(info: dict[str, Any], plan: Sequence[PlannedRun], cells: int, notes: list[str]) -> dict[str, Any]:
    """This invocation's entry in the metadata's sessions: commit, plan, and the machine before the runs."""
    return {
        "started_utc": info["collected_utc"],
        "commit": info["git"]["commit"],
        "dirty": info["git"]["dirty"],
        "planned_runs": len(plan),
        "cells": cells,
        "dropped": notes,
        "control_before": control_measurement(),
        "loadavg_before": os.getloadavg(),
    }


def finish_session(session: dict[str, Any], monitor_cpu_s: float, monitored_wall_s: float, log: Callable[[str], None]) -> None:
    """Record the machine after the sweep; warn when the control loop shows its speed drifted."""
    session["control_after"] = control_measurement()
    session["loadavg_after"] = os.getloadavg()
    session["finished_utc"] = _utc()
    session["monitor_overhead"] = monitor_cpu_s / monitored_wall_s if monitored_wall_s > 0 else None
    drift = session["control_after"]["median_s"] / session["control_before"]["median_s"] - 1
    session["control_drift"] = drift
    if abs(drift) > DRIFT_WARNING:
        log(f"sweep: warning: the control loop changed by {drift:+.0%} between start and end: the machine's speed drifted during the sweep")


@dataclass(frozen=True)
class Bench:
    """What every run of one sweep shares: the spec, where rows go, the cores, datasets and child command."""

    spec: SweepSpec
    csv_path: Path
    commit: str
    harness_cores: tuple[int, ...]
    repo: Path
    datasets: dict[DatasetKey, Path]
    files: dict[DatasetKey, list[Path]]
    scratch: Path
    command_for: CommandBuilder


def run_planned(bench: Bench, planned: PlannedRun, run_index: int) -> tuple[RunRow, Measurement]:
    """Measure one planned child and append its row and monitor samples."""
    spec, cell = bench.spec, planned.cell
    key = (cell.profile, cell.images, cell.dataset_seed)
    dataset = dataset_info(bench.files[key], spec.read_pass)
    report_json = bench.scratch / f"{run_index}.json"
    measurement = measure_command(
        bench.command_for(cell, bench.datasets[key], report_json),
        cores_for(cell.cores, bench.harness_cores),
        timeout_s=spec.timeout_s,
        interval_s=spec.sample_interval_s,
        harness_cores=bench.harness_cores,
        stderr_path=bench.scratch / f"{run_index}.stderr",
        cwd=bench.repo,
    )
    report = read_report(report_json) if measurement.status == "ok" else None
    row = make_row(
        sweep=spec.name,
        planned=planned,
        run_index=run_index,
        commit=bench.commit,
        measurement=measurement,
        report=report,
        dataset=dataset,
        interval_s=spec.sample_interval_s,
    )
    append_row(bench.csv_path, row)
    append_timeline(timeline_path(bench.csv_path), planned.run_id, measurement.usage.samples, bench.harness_cores)
    return row, measurement


def progress_bar(estimates: Sequence[float], show: bool) -> tqdm:
    """A bar that advances by each run's estimated seconds, not by 1, so the ETA weighs a 5,000-image run
    more than a 6-image one; tqdm rescales the model by the observed rate."""
    return tqdm(
        total=round(sum(estimates), 1),
        unit="s",
        unit_scale=False,
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| est. work {n:.0f}/{total:.0f}s [{elapsed}<{remaining}]{postfix}",
    )


def run_plan(bench: Bench, plan: Sequence[PlannedRun], done: set[str], show: bool, log: Callable[[str], None]) -> tuple[float, float]:
    """Run every planned child not already recorded; a cell whose run timed out gets its later runs skipped.

    Returns the monitor's CPU seconds and the monitored wall seconds, summed over the runs made.
    """
    timed_out: set[str] = set()
    monitor_cpu = wall_total = 0.0
    estimates = [estimate_run_seconds(run.cell) for run in plan]
    bar = progress_bar(estimates, show)
    for run_index, planned in enumerate(plan):
        bar.set_postfix_str(f"run {run_index + 1}/{len(plan)} {planned.run_id}", refresh=False)
        if planned.run_id in done:
            pass
        elif planned.cell.cell_id in timed_out:
            reason = "an earlier run of this cell timed out"
            append_row(bench.csv_path, skipped_row(sweep=bench.spec.name, planned=planned, run_index=run_index, commit=bench.commit, reason=reason))
        else:
            row, measurement = run_planned(bench, planned, run_index)
            monitor_cpu += measurement.usage.monitor_cpu_s
            wall_total += measurement.usage.monitored_wall_s
            if row.status == "timeout":
                timed_out.add(planned.cell.cell_id)
            if row.status != "ok":
                log(f"sweep: {planned.run_id}: {row.status} {row.error[-200:]}")
        bar.update(estimates[run_index])
    bar.close()
    return monitor_cpu, wall_total


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_sweep(
    spec: SweepSpec,
    out: Path,
    *,
    sweep_path: str = "",
    resume: Path | None = None,
    dataset_cache: Path | None = None,
    make_dataset: DatasetMaker = make_dataset_files,
    command_for: CommandBuilder = build_run_command,
    progress: bool | None = None,
    machine: str | None = None,
    repo: Path | None = None,
    log: Callable[[str], None] = _log,
) -> SweepResult:
    """Run every planned child of `spec`, appending rows to a new results file (or to `resume`)."""
    harness_cores = allowed_cores()
    cells, notes = expand_grid(spec, len(harness_cores))
    for note in notes:
        log(f"sweep: {note}")
    plan = plan_runs(cells, spec.repeats, spec.warmups, spec.order, spec.order_seed, spec.warmup_scope)
    repo = repo if repo is not None else meta.find_repo(Path(sweep_path) if sweep_path else Path.cwd())
    probes = probe_pythons(spec, repo, log)
    info = {**meta.collect_metadata(repo, spec.text, sweep_path), "pythons": probes}
    if info["git"].get("dirty"):
        log("sweep: warning: the git tree has uncommitted changes; the results will say dirty=true")
    results = open_results(spec, out, machine or meta.machine_name(), info, resume)
    if resume is not None:
        log(f"sweep: resuming {results.csv_path}: {len(results.done)} of {len(plan)} runs already recorded")
    session = start_session(info, plan, len(cells), notes)
    results.metadata.setdefault("sessions", []).append(session)
    write_metadata(metadata_path(results.csv_path), results.metadata)
    datasets = prepare_datasets(spec, Path(dataset_cache) if dataset_cache is not None else default_dataset_cache(), make_dataset, log)
    session["datasets"] = {f"{p}-n{n}-s{s}": str(path) for (p, n, s), path in datasets.items()}
    with tempfile.TemporaryDirectory(prefix="dupbench-sweep-") as scratch:
        files = {key: dataset_files(path) for key, path in datasets.items()}
        bench = Bench(spec, results.csv_path, info["git"]["short_commit"], harness_cores, repo, datasets, files, Path(scratch), command_for)
        monitor_cpu, wall_total = run_plan(bench, plan, results.done, sys.stderr.isatty() if progress is None else progress, log)
    finish_session(session, monitor_cpu, wall_total, log)
    write_metadata(metadata_path(results.csv_path), results.metadata)
    return SweepResult(results.csv_path, metadata_path(results.csv_path), load_results([results.csv_path]))
