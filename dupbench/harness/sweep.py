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
from dupbench.harness.monitor import Sample
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
from dupbench.result import STAGES

CommandBuilder = Callable[[Cell, Path, Path], list[str]]
DatasetMaker = Callable[[Path, int, int, str], None]
CONTROL_LOOP_N = 1_000_000
CONTROL_REPEATS = 5


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


def read_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class DatasetInfo:
    files: int
    bytes: int
    cache_state: str
    read_pass_s: float | None


def make_row(
    *,
    sweep: str,
    planned: PlannedRun,
    run_index: int,
    commit: str,
    measurement: Measurement,
    report: dict[str, Any] | None,
    dataset: DatasetInfo,
    interval_s: float,
) -> RunRow:
    """Combine what the parent measured with what the child reported into one row (pure)."""
    cell = planned.cell
    usage = measurement.usage
    stages = (report or {}).get("stages") or {}
    counts = (report or {}).get("counts") or {}
    execution = (report or {}).get("execution") or ((report or {}).get("settings") or {}).get("execution") or {}
    # Absolute (epoch) start/end of each stage, if the child reports them: lets samples be attributed to stages.
    stages_wall = (report or {}).get("stage_bounds") or (report or {}).get("stages_wall") or {}
    cpu_user, cpu_system = measurement.cpu_user_s, measurement.cpu_system_s
    wall = measurement.wall_s
    status = measurement.status
    if status == "ok" and report is None:
        status = "no_report"
    images = _number(counts.get("images", counts.get("files")))
    pairs = _number(counts.get("pairs_compared", counts.get("pairs")))
    foreign = max(0.0, usage.run_cores_busy_s - (usage.user_s + usage.system_s) - usage.monitor_cpu_s)
    foreign_fraction = foreign / (usage.monitored_wall_s * cell.cores) if usage.monitored_wall_s > 0 else 0.0
    stage_util = {stage: stage_cpu_utilization(usage.samples, stages_wall.get(stage, ()), cell.cores, interval_s) for stage in STAGES}
    workers = execution.get("workers", (report or {}).get("workers"))
    return RunRow(
        schema_version=RESULTS_SCHEMA_VERSION,
        sweep=sweep,
        run_id=planned.run_id,
        cell_id=cell.cell_id,
        run_index=run_index,
        warmup=planned.warmup,
        repeat=planned.repeat,
        status=status,
        **cell_columns(cell),
        commit=commit,
        started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(measurement.start_epoch)),
        returncode=measurement.returncode,
        affinity=",".join(map(str, measurement.affinity)),
        affinity_ok=len(measurement.affinity) == cell.cores,
        dataset_files=dataset.files,
        dataset_bytes=dataset.bytes,
        cache_state=dataset.cache_state,
        read_pass_s=dataset.read_pass_s,
        wall_s=wall,
        detector_total_s=_number(stages.get("total")),
        scan_s=_number(stages.get("scan")),
        load_s=_number(stages.get("load")),
        compare_s=_number(stages.get("compare")),
        cluster_s=_number(stages.get("cluster")),
        cpu_user_s=cpu_user,
        cpu_system_s=cpu_system,
        cpu_s=cpu_user + cpu_system,
        cpu_utilization=(cpu_user + cpu_system) / (wall * cell.cores) if wall > 0 else None,
        monitor_user_s=usage.user_s,
        monitor_system_s=usage.system_s,
        rusage_user_s=measurement.rusage_user_s,
        rusage_system_s=measurement.rusage_system_s,
        scan_cpu_utilization=stage_util["scan"],
        load_cpu_utilization=stage_util["load"],
        compare_cpu_utilization=stage_util["compare"],
        cluster_cpu_utilization=stage_util["cluster"],
        peak_rss_bytes=measurement.peak_rss_bytes,
        peak_uss_bytes=usage.peak_uss_bytes,
        ctx_voluntary=usage.ctx_voluntary,
        ctx_involuntary=usage.ctx_involuntary,
        max_threads=usage.max_threads,
        max_processes=usage.max_processes,
        processes_seen=usage.processes_seen,
        leftover_processes=len(usage.leftover_pids),
        images_counted=None if images is None else int(images),
        pairs_compared=None if pairs is None else int(pairs),
        load_images_per_s=_rate(images, _number(stages.get("load"))),
        compare_pairs_per_s=_rate(pairs, _number(stages.get("compare"))),
        reported_workers=int(workers) if isinstance(workers, (int, float)) else None,
        reported_start_method=execution.get("start_method"),
        reported_execution=json.dumps(execution, sort_keys=True) if execution else "",
        loadavg_before=measurement.loadavg_before,
        loadavg_after=measurement.loadavg_after,
        foreign_cpu_fraction=foreign_fraction,
        steal_s=usage.run_cores_steal_s,
        disturbed=foreign_fraction > DISTURBED_FOREIGN_FRACTION,
        monitor_samples=len(usage.samples),
        monitor_cpu_s=usage.monitor_cpu_s,
        monitor_overhead=usage.monitor_cpu_s / usage.monitored_wall_s if usage.monitored_wall_s > 0 else None,
        error=measurement.stderr_tail,
    )


def cell_columns(cell: Cell) -> dict[str, Any]:
    """The grid-cell columns every row carries, measured or not."""
    return dict(
        profile=cell.profile,
        images=cell.images,
        dataset_seed=cell.dataset_seed,
        mode=cell.mode,
        workers=cell.workers,
        cores=cell.cores,
        pairs=cell.pairs,
        thumb_size=cell.thumb_size,
        start_method=cell.start_method,
        oversubscribed=cell.oversubscribed,
        python=cell.python,
    )


def skipped_row(*, sweep: str, planned: PlannedRun, run_index: int, commit: str, reason: str) -> RunRow:
    cell = planned.cell
    return RunRow(
        schema_version=RESULTS_SCHEMA_VERSION,
        sweep=sweep,
        run_id=planned.run_id,
        cell_id=cell.cell_id,
        run_index=run_index,
        warmup=planned.warmup,
        repeat=planned.repeat,
        status="skipped",
        **cell_columns(cell),
        commit=commit,
        started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        error=reason,
    )


# ---------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepResult:
    csv_path: Path
    metadata_path: Path
    frame: pd.DataFrame = field(compare=False)


def find_resumable(out: Path, machine: str, spec: SweepSpec) -> Path | None:
    """The newest results file in out/<machine>/ written by the same sweep file (same text)."""
    candidates = sorted((Path(out) / machine).glob("*.csv"), reverse=True)
    for path in candidates:
        try:
            data = json.loads(metadata_path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("sweep_text") == spec.text:
            return path
    return None


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
    machine = machine or meta.machine_name()
    probes = {python: probe_python(python, cwd=repo) for python in spec.pythons}  # children run in repo too
    check_same_code(probes)
    for name, probe in probes.items():
        if probe["free_threaded_build"] and probe["gil_enabled"]:
            log(f"sweep: WARNING: {name} is free-threaded but its GIL is ON after importing dupbench")
    info = meta.collect_metadata(repo, spec.text, sweep_path)
    info["pythons"] = probes
    commit = info["git"]["short_commit"]
    if info["git"].get("dirty"):
        log("sweep: warning: the git tree has uncommitted changes; the results will say dirty=true")

    if resume is not None:
        csv_path = Path(resume)
        previous = json.loads(metadata_path(csv_path).read_text(encoding="utf-8"))
        if previous.get("sweep_text") != spec.text:
            raise ValueError(f"{csv_path} was written by a different sweep file; cannot resume it")
        done = read_run_ids(csv_path)
        metadata = previous
        log(f"sweep: resuming {csv_path}: {len(done)} of {len(plan)} runs already recorded")
    else:
        csv_path = new_results_path(out, machine, commit)
        done = set()
        metadata = {"results_schema_version": RESULTS_SCHEMA_VERSION, **info, "sweep": spec.to_json(), "sessions": []}
    session: dict[str, Any] = {
        "started_utc": info["collected_utc"],
        "commit": info["git"]["commit"],
        "dirty": info["git"]["dirty"],
        "planned_runs": len(plan),
        "cells": len(cells),
        "dropped": notes,
        "control_before": control_measurement(),
        "loadavg_before": os.getloadavg(),
    }
    metadata.setdefault("sessions", []).append(session)
    write_metadata(metadata_path(csv_path), metadata)

    cache = Path(dataset_cache) if dataset_cache is not None else default_dataset_cache()
    datasets: dict[tuple[str, int, int], Path] = {}
    for size in spec.sizes:  # generated before any timing, never inside a measured run
        key = (spec.profile, size, spec.dataset_seed)
        log(f"sweep: dataset {spec.profile} n={size} seed={spec.dataset_seed} ...")
        datasets[key] = ensure_dataset(cache, spec.profile, size, spec.dataset_seed, make_dataset)
    session["datasets"] = {f"{p}-n{n}-s{s}": str(path) for (p, n, s), path in datasets.items()}
    file_lists = {key: dataset_files(path) for key, path in datasets.items()}

    timed_out: set[str] = set()
    monitor_cpu = wall_total = 0.0
    show = sys.stderr.isatty() if progress is None else progress
    # The bar advances by each run's estimated seconds, not by 1, so the ETA weighs a 5,000-image run
    # more than a 6-image one; tqdm rescales the model by the observed rate.
    estimates = [estimate_run_seconds(run.cell) for run in plan]
    bar = tqdm(
        total=round(sum(estimates), 1),
        unit="s",
        unit_scale=False,
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| est. work {n:.0f}/{total:.0f}s [{elapsed}<{remaining}]{postfix}",
    )
    with tempfile.TemporaryDirectory(prefix="dupbench-sweep-") as scratch:
        for run_index, planned in enumerate(plan):
            bar.set_postfix_str(f"run {run_index + 1}/{len(plan)} {planned.run_id}", refresh=False)
            if planned.run_id in done:
                bar.update(estimates[run_index])
                continue
            cell = planned.cell
            if cell.cell_id in timed_out:
                append_row(
                    csv_path, skipped_row(sweep=spec.name, planned=planned, run_index=run_index, commit=commit, reason="an earlier run of this cell timed out")
                )
                bar.update(estimates[run_index])
                continue
            key = (cell.profile, cell.images, cell.dataset_seed)
            files = file_lists[key]
            pass_s = read_pass(files) if spec.read_pass else None
            dataset = DatasetInfo(
                files=len(files),
                bytes=sum(p.stat().st_size for p in files),
                cache_state="read_pass" if spec.read_pass else "unknown",
                read_pass_s=pass_s,
            )
            report_json = Path(scratch) / f"{run_index}.json"
            measurement = measure_command(
                command_for(cell, datasets[key], report_json),
                cores_for(cell.cores, harness_cores),
                timeout_s=spec.timeout_s,
                interval_s=spec.sample_interval_s,
                harness_cores=harness_cores,
                stderr_path=Path(scratch) / f"{run_index}.stderr",
                cwd=repo,
            )
            report = read_report(report_json) if measurement.status == "ok" else None
            row = make_row(
                sweep=spec.name,
                planned=planned,
                run_index=run_index,
                commit=commit,
                measurement=measurement,
                report=report,
                dataset=dataset,
                interval_s=spec.sample_interval_s,
            )
            append_row(csv_path, row)
            append_timeline(timeline_path(csv_path), planned.run_id, measurement.usage.samples, harness_cores)
            monitor_cpu += measurement.usage.monitor_cpu_s
            wall_total += measurement.usage.monitored_wall_s
            if row.status == "timeout":
                timed_out.add(cell.cell_id)
            if row.status not in ("ok",):
                log(f"sweep: {planned.run_id}: {row.status} {row.error[-200:]}")
            bar.update(estimates[run_index])
    bar.close()

    session["control_after"] = control_measurement()
    session["loadavg_after"] = os.getloadavg()
    session["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    session["monitor_overhead"] = monitor_cpu / wall_total if wall_total > 0 else None
    drift = session["control_after"]["median_s"] / session["control_before"]["median_s"] - 1
    session["control_drift"] = drift
    write_metadata(metadata_path(csv_path), metadata)
    if abs(drift) > 0.10:
        log(f"sweep: warning: the control loop changed by {drift:+.0%} between start and end: the machine's speed drifted during the sweep")
    return SweepResult(csv_path, metadata_path(csv_path), load_results([csv_path]))
