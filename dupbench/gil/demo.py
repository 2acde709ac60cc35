"""Run the same work serially, in a thread pool and in a process pool, and measure it.

The stage logic is written once (``time_map``) and takes an executor: serial, thread and process
differ only in which executor is passed in, and "serial" never starts a pool. Process pools are
started and warmed before the clock starts (their start-up is measured on its own in ``overheads``),
and the configurations are interleaved across repeats so a noisy neighbour on a shared machine
hits every mode alike. Medians of the repeats are reported; the first (warm-up) pass is discarded.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from dupbench.config import available_cpus
from dupbench.gil import kernels as work
from dupbench.gil.interpreter import gil_warning, interpreter_info, interpreter_record, machine_info
from dupbench.gil.overheads import overheads_record

SCHEMA = "dupbench.gil/1"
MODES = ("serial", "thread", "process")


class SerialExecutor(Executor):
    """Runs each call in the caller: the honest baseline, with no pool behind it."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
        raise NotImplementedError("SerialExecutor only maps")

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return iter(list(map(fn, *iterables)))


@dataclass(frozen=True)
class DemoConfig:
    workers: tuple[int, ...] = (1, 2, 4)
    repeats: int = 5
    kernels: tuple[str, ...] = tuple(work.KERNELS)
    start_method: str = "fork"
    backend: str = field(default_factory=work.default_backend)
    task_scale: float = 1.0
    overheads: bool = True
    overhead_repeats: int = 3

    def __post_init__(self) -> None:
        if not self.workers or min(self.workers) < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        unknown = set(self.kernels) - set(work.KERNELS)
        if unknown:
            raise ValueError(f"unknown kernels {sorted(unknown)}; known: {sorted(work.KERNELS)}")
        if self.backend == work.BACKEND_CV2 and not work.HAVE_CV2:
            raise ValueError("backend cv2 requested but OpenCV cannot be imported here")


@dataclass(frozen=True)
class RunRow:
    """One timed pass of one kernel in one mode."""

    kernel: str
    mode: str
    workers: int
    repeat: int
    wall_s: float
    cpu_s: float

    @property
    def cpu_cores(self) -> float:
        """Average number of cores busy during the pass (process tree, children included)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User+system CPU of a process and its live descendants (pool workers, forkserver grandchildren).

    ``cpu_times().children_*`` only counts children that have exited, so a live pool must be walked.
    """
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


def time_map(executor: Executor, workload: work.Workload, process: psutil.Process) -> tuple[float, float, list[Any]]:
    """Wall and CPU seconds for all tasks of a workload on an executor, and their outputs in order."""
    indices = range(workload.tasks)
    cpu_before = tree_cpu_seconds(process)
    begin = time.perf_counter()
    outputs = list(executor.map(work.run_task, [workload] * workload.tasks, indices))
    wall = time.perf_counter() - begin
    return wall, tree_cpu_seconds(process) - cpu_before, outputs


def _warm_process_pool(pool: ProcessPoolExecutor, workers: int) -> None:
    # Sleeping tasks force every worker to start (pools may spawn lazily) before any clock runs.
    list(pool.map(time.sleep, [0.05] * (2 * workers)))


def _configs(workers: Sequence[int]) -> list[tuple[str, int]]:
    return [("serial", 1)] + [(mode, w) for w in workers for mode in ("thread", "process")]


def make_workloads(config: DemoConfig, data_dir: str) -> tuple[work.Workload, ...]:
    return tuple(
        work.Workload(
            kernel=name,
            tasks=max(1, round(work.KERNELS[name].default_tasks * config.task_scale)),
            backend=config.backend,
            data_dir=data_dir if name == "io_wait" else None,
        )
        for name in config.kernels
    )


def summarise(rows: Sequence[RunRow]) -> list[dict[str, Any]]:
    """Median wall time, interquartile range, speed-up over the serial median and CPU use per config."""
    groups: dict[tuple[str, int], list[RunRow]] = {}
    for row in rows:
        groups.setdefault((row.mode, row.workers), []).append(row)
    serial = statistics.median(r.wall_s for r in groups[("serial", 1)])
    summary = []
    for (mode, workers), group in groups.items():
        walls = sorted(r.wall_s for r in group)
        q1, q3 = (walls[0], walls[-1]) if len(walls) < 4 else tuple(statistics.quantiles(walls, n=4)[::2])
        median = statistics.median(walls)
        summary.append(
            {
                "mode": mode,
                "workers": workers,
                "median_wall_s": median,
                "q1_wall_s": q1,
                "q3_wall_s": q3,
                "speedup": serial / median if median > 0 else 0.0,
                "cpu_cores": statistics.median(r.cpu_cores for r in group),
            }
        )
    order = {mode: i for i, mode in enumerate(MODES)}
    return sorted(summary, key=lambda s: (order[s["mode"]], s["workers"]))


def _gil_check(when: str, log: Callable[[str], None]) -> dict[str, Any]:
    info = interpreter_info()
    warning = gil_warning(info, when)
    if warning:
        log("\n" + "!" * 78 + "\n" + warning + "\n" + "!" * 78 + "\n")
    return {"when": when, "gil_enabled": info.gil_enabled, "warning": warning}


def open_executors(config: DemoConfig, workloads: tuple[work.Workload, ...], method: str, stack: ExitStack) -> dict[tuple[str, int], Executor]:
    """Every (mode, workers) executor, started and warm before any clock runs; closed with `stack`.

    Process pools first: forking once threads exist is unsafe (and deprecated from 3.12).
    """
    executors: dict[tuple[str, int], Executor] = {("serial", 1): SerialExecutor()}
    for workers in config.workers:
        pool = stack.enter_context(
            ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method), initializer=work.worker_initializer, initargs=(workloads,))
        )
        _warm_process_pool(pool, workers)
        executors[("process", workers)] = pool
    for workers in config.workers:
        executors[("thread", workers)] = stack.enter_context(ThreadPoolExecutor(max_workers=workers))
    return executors


def timed_repeats(
    config: DemoConfig,
    workloads: Sequence[work.Workload],
    executors: dict[tuple[str, int], Executor],
    reference: dict[str, list[Any]],
    log: Callable[[str], None],
) -> tuple[list[RunRow], set[str]]:
    """Time every workload on every executor, `config.repeats` times; and the kernels whose outputs differed from serial."""
    process = psutil.Process()
    rows: list[RunRow] = []
    mismatched: set[str] = set()
    configs = _configs(config.workers)
    for repeat in range(config.repeats):
        log(f"repeat {repeat + 1}/{config.repeats}")
        for workload in workloads:
            # Rotate the order each repeat so drifting background load is spread over all modes.
            shift = repeat % len(configs)
            for mode, workers in configs[shift:] + configs[:shift]:
                wall, cpu, outputs = time_map(executors[(mode, workers)], workload, process)
                if outputs != reference[workload.kernel]:
                    mismatched.add(workload.kernel)
                rows.append(RunRow(workload.kernel, mode, workers, repeat, wall, cpu))
    return rows, mismatched


def kernel_record(workload: work.Workload, rows: Sequence[RunRow], mismatched: set[str]) -> dict[str, Any]:
    """One kernel's entry in the results: what it is, whether every mode computed the serial outputs, its runs."""
    kernel = work.KERNELS[workload.kernel]
    own = [r for r in rows if r.kernel == workload.kernel]
    return {
        "name": workload.kernel,
        "stage": kernel.stage,
        "label": kernel.label,
        "expected_gil": kernel.gil,
        "tasks": workload.tasks,
        "backend": workload.backend if kernel.uses_backend else None,
        "outputs_match_serial": workload.kernel not in mismatched,
        "summary": summarise(own),
        "runs": [asdict(r) for r in own],
    }


def run_demo(config: DemoConfig, log: Callable[[str], None] = lambda _msg: None, command: Sequence[str] = ()) -> dict[str, Any]:
    """Measure every kernel in every mode; return the results structure (plain data, JSON-ready)."""
    thread_limits = work.limit_library_threads()
    gil_checks = [_gil_check("after imports", log)]
    method = config.start_method if config.start_method in mp.get_all_start_methods() else "spawn"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dupbench-gil-") as data_dir, ExitStack() as stack:
        workloads = make_workloads(config, data_dir)
        work.write_io_files(Path(data_dir), max(w.tasks for w in workloads))
        log("preparing inputs and warming up (not timed)")
        reference: dict[str, list[Any]] = {}
        for workload in workloads:
            work.prepared_inputs(workload)
            reference[workload.kernel] = time_map(SerialExecutor(), workload, psutil.Process())[2]
        gil_checks.append(_gil_check("after warm-up", log))
        executors = open_executors(config, workloads, method, stack)
        rows, mismatched = timed_repeats(config, workloads, executors, reference, log)
    gil_checks.append(_gil_check("after the timed runs", log))
    measured_s = time.perf_counter() - started
    overheads = None
    if config.overheads:
        log("measuring pool start-up and payload costs")
        overheads = overheads_record(min(max(config.workers), max(2, available_cpus())), config.overhead_repeats, 5)
    # The interpreter record is taken after everything ran, so it shows the GIL state once all was imported.
    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(command),
        "interpreter": interpreter_record(),
        "machine": machine_info(),
        "settings": {**asdict(config), "start_method": method, "thread_limits": thread_limits, "pool_startup_timed": False, "kernel_seconds": measured_s},
        "gil_checks": gil_checks,
        "kernels": [kernel_record(w, rows, mismatched) for w in workloads],
        "overheads": overheads,
    }


def merge_rounds(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Join several one-repeat runs of the same interpreter into one results structure.

    ``--python A --python B`` runs A and B in alternating rounds, so a burst of background load on the
    shared machine lands on both interpreters rather than on whichever happened to run second.
    Overheads come from the first part that measured them; explanations are recomputed by the caller.
    """
    if not parts:
        raise ValueError("nothing to merge")
    merged = dict(parts[0])
    merged["gil_checks"] = [check for part in parts for check in part["gil_checks"]]
    merged["overheads"] = next((p["overheads"] for p in parts if p.get("overheads")), None)
    merged["settings"] = {
        **parts[0]["settings"],
        "repeats": sum(p["settings"]["repeats"] for p in parts),
        "rounds": len(parts),
        "kernel_seconds": sum(p["settings"]["kernel_seconds"] for p in parts),
    }
    # The interpreter record of the part with the GIL on, if any: a re-enabled GIL must not be hidden.
    merged["interpreter"] = next((p["interpreter"] for p in parts if p["interpreter"]["gil_enabled"]), parts[0]["interpreter"])
    kernels_out = []
    for kernel in parts[0]["kernels"]:
        rows: list[RunRow] = []
        match = True
        offset = 0
        for part in parts:
            same = next(k for k in part["kernels"] if k["name"] == kernel["name"])
            match = match and same["outputs_match_serial"]
            part_rows = [RunRow(**row) for row in same["runs"]]
            rows += [RunRow(r.kernel, r.mode, r.workers, r.repeat + offset, r.wall_s, r.cpu_s) for r in part_rows]
            offset += part["settings"]["repeats"]
        kernels_out.append({**kernel, "outputs_match_serial": match, "summary": summarise(rows), "runs": [asdict(r) for r in rows]})
    merged["kernels"] = kernels_out
    merged.pop("explanation", None)
    merged.pop("stages", None)
    return merged
