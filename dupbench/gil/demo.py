"""Run the same work serially, in a thread pool and in a process pool, and measure it.

The stage logic is written once (``time_map``) and takes an executor: serial, thread and process
differ only in which executor is passed in, and "serial" never starts a pool. Process pools are
started and warmed before the clock starts (their start-up is measured on its own in ``overheads``),
and the configurations are interleaved across repeats so a noisy neighbour on a shared machine
hits every mode alike. Each kernel's task count is calibrated (untimed) so a serial pass takes about a
second here: passes of ~0.1 s were too short to show the lesson on a busy machine. Medians of the
repeats are reported.
"""

from __future__ import annotations

import math
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
from dupbench.harness.monitor import read_cpu_s

SCHEMA = "dupbench.gil/1"
MODES = ("serial", "thread", "process")


class SerialExecutor(Executor):
    """Runs each call in the caller: the honest baseline, with no pool behind it."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
        raise NotImplementedError("SerialExecutor only maps")

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return iter(list(map(fn, *iterables)))


DEFAULT_KERNEL_SECONDS = 1.0  # serial seconds of work per kernel and pass: long enough that a busy neighbour averages out
DEFAULT_REPEATS = 3
MAX_TASKS = 5000


def default_workers() -> tuple[int, ...]:
    """One pool the size of the usable cores (at least 2, or there is nothing to show), resolved at call time."""
    return (max(2, available_cpus()),)


@dataclass(frozen=True)
class DemoConfig:
    """What to measure. Each kernel's task count is calibrated so its serial pass takes about
    ``kernel_seconds * task_scale`` here, unless ``fixed_tasks`` names it (as ``--python`` does, so every
    interpreter runs the same work)."""

    workers: tuple[int, ...] = field(default_factory=default_workers)
    repeats: int = DEFAULT_REPEATS
    kernels: tuple[str, ...] = tuple(work.KERNELS)
    start_method: str = "fork"
    backend: str = field(default_factory=work.default_backend)
    task_scale: float = 1.0
    overheads: bool = True
    overhead_repeats: int = 3
    kernel_seconds: float = DEFAULT_KERNEL_SECONDS
    fixed_tasks: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not self.workers or min(self.workers) < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")
        if self.task_scale <= 0 or self.kernel_seconds <= 0:
            raise ValueError("task_scale and kernel_seconds must be > 0")
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


def _process_cpu_seconds(process: psutil.Process) -> float:
    """Nanosecond CPU of every thread of a process (the monitor's clock): psutil's cpu_times count 10 ms
    ticks, so three processes over a 0.1 s pass could be off by 0.3 cores ("2.09 cores busy" on 2)."""
    precise = read_cpu_s(process.pid)
    return precise if precise is not None else sum(process.cpu_times()[:2])


def children_cpu_seconds(process: psutil.Process) -> float:
    """CPU of the live descendants (pool workers, forkserver grandchildren); a live pool must be walked,
    since ``cpu_times().children_*`` only counts children that have exited."""
    total = 0.0
    for child in process.children(recursive=True):
        try:
            total += _process_cpu_seconds(child)
        except psutil.Error:
            continue
    return total


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User+system CPU of a process (all its threads, nanosecond clock) and its live descendants."""
    return time.process_time() + children_cpu_seconds(process)


def time_map(executor: Executor, workload: work.Workload, process: psutil.Process) -> tuple[float, float, list[Any]]:
    """Wall and CPU seconds for all tasks of a workload on an executor, and their outputs in order.

    The CPU counters bracket the wall interval tightly: children are read first and our own clock last
    before the pass, our own clock first after it, so the parent's cost of walking the process tree
    falls outside the interval (the children are idle then), and CPU / wall cannot exceed the cores.
    """
    indices = range(workload.tasks)
    children_before = children_cpu_seconds(process)
    own_before = time.process_time()
    begin = time.perf_counter()
    outputs = list(executor.map(work.run_task, [workload] * workload.tasks, indices))
    wall = time.perf_counter() - begin
    own_after = time.process_time()
    cpu = own_after - own_before + children_cpu_seconds(process) - children_before
    return wall, cpu, outputs


def _warm_process_pool(pool: ProcessPoolExecutor, workers: int) -> None:
    # Sleeping tasks force every worker to start (pools may spawn lazily) before any clock runs.
    list(pool.map(time.sleep, [0.05] * (2 * workers)))


def _configs(workers: Sequence[int]) -> list[tuple[str, int]]:
    return [("serial", 1)] + [(mode, w) for w in workers for mode in ("thread", "process")]


def task_multiple(workers: Sequence[int]) -> int:
    """Task counts are multiples of every pool size (their lcm, if small), so no worker idles at the end."""
    multiple = math.lcm(*workers)
    return multiple if multiple <= 64 else max(workers)


def seconds_per_task(name: str, backend: str, data_dir: str, budget_s: float) -> float:
    """Serial seconds one task of a kernel takes here, timed over about `budget_s` (one untimed task first).

    Computing kernels are sized by CPU time, so a busy neighbour during calibration does not shrink the
    work (the wall time of the timed passes then shows the load); the waiting kernel by wall time.
    """
    probe = work.Workload(kernel=name, tasks=work.KERNELS[name].default_tasks, backend=backend, data_dir=data_dir if name == "io_wait" else None)
    clock = time.perf_counter if work.KERNELS[name].gil == "waits" else time.process_time
    work.run_task(probe, 0)
    count, wall_begin, begin = 0, time.perf_counter(), clock()
    while True:
        work.run_task(probe, count % probe.tasks)
        count += 1
        if time.perf_counter() - wall_begin >= budget_s or count >= 200:
            return max(clock() - begin, 1e-6) / count


def calibrated_tasks(per_task_s: float, target_s: float, multiple: int) -> int:
    """The task count, a multiple of `multiple`, whose serial run takes closest to `target_s` (at least one round)."""
    rounds = max(1, round(target_s / (per_task_s * multiple)))
    return min(MAX_TASKS, rounds * multiple)


def make_workloads(config: DemoConfig, data_dir: str) -> tuple[work.Workload, ...]:
    """One workload per kernel, sized by calibration on this machine (or by `fixed_tasks`)."""
    target = config.kernel_seconds * config.task_scale
    multiple = task_multiple(config.workers)
    fixed = dict(config.fixed_tasks)
    work.write_io_files(Path(data_dir), work.KERNELS["io_wait"].default_tasks)
    workloads = []
    for name in config.kernels:
        tasks = fixed.get(name) or calibrated_tasks(seconds_per_task(name, config.backend, data_dir, min(0.2, target / 4)), target, multiple)
        workloads.append(work.Workload(kernel=name, tasks=tasks, backend=config.backend, data_dir=data_dir if name == "io_wait" else None))
    return tuple(workloads)


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


def pass_label(workload: work.Workload, mode: str, workers: int, repeat: int, repeats: int) -> str:
    """What is running, as the live view labels it."""
    pool = "serial" if mode == "serial" else f"{workers} {mode}{'s' if workers > 1 else ''}"
    return f"{workload.kernel} ({work.KERNELS[workload.kernel].gil} the GIL): {pool}, repeat {repeat + 1}/{repeats}"


def timed_repeats(
    config: DemoConfig,
    workloads: Sequence[work.Workload],
    executors: dict[tuple[str, int], Executor],
    log: Callable[[str], None],
    on_pass: Callable[[str], None] | None = None,
) -> tuple[list[RunRow], set[str]]:
    """Time every workload on every executor, `config.repeats` times; and the kernels whose outputs
    differed from the serial pass of the same repeat. `on_pass` hears what is about to run."""
    process = psutil.Process()
    rows: list[RunRow] = []
    mismatched: set[str] = set()
    configs = _configs(config.workers)
    for repeat in range(config.repeats):
        log(f"repeat {repeat + 1}/{config.repeats}")
        for workload in workloads:
            # Rotate the order each repeat so drifting background load is spread over all modes.
            shift = repeat % len(configs)
            outputs: dict[tuple[str, int], list[Any]] = {}
            for mode, workers in configs[shift:] + configs[:shift]:
                if on_pass is not None:
                    on_pass(pass_label(workload, mode, workers, repeat, config.repeats))
                wall, cpu, outputs[(mode, workers)] = time_map(executors[(mode, workers)], workload, process)
                rows.append(RunRow(workload.kernel, mode, workers, repeat, wall, cpu))
            if any(out != outputs[("serial", 1)] for out in outputs.values()):
                mismatched.add(workload.kernel)
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


def run_demo(
    config: DemoConfig,
    log: Callable[[str], None] = lambda _msg: None,
    command: Sequence[str] = (),
    on_pass: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure every kernel in every mode; return the results structure (plain data, JSON-ready).

    `on_pass` (the live view) is first called once every pool is started, so no thread it starts is
    running when the process pools fork.
    """
    thread_limits = work.limit_library_threads()
    gil_checks = [_gil_check("after imports", log)]
    method = config.start_method if config.start_method in mp.get_all_start_methods() else "spawn"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dupbench-gil-") as data_dir, ExitStack() as stack:
        log(f"calibrating about {config.kernel_seconds * config.task_scale:.2f} s of serial work per kernel and preparing inputs (not timed)")
        workloads = make_workloads(config, data_dir)
        work.write_io_files(Path(data_dir), max(w.tasks for w in workloads))
        for workload in workloads:
            work.prepared_inputs(workload)
        gil_checks.append(_gil_check("after warm-up", log))
        executors = open_executors(config, workloads, method, stack)
        rows, mismatched = timed_repeats(config, workloads, executors, log, on_pass)
    gil_checks.append(_gil_check("after the timed runs", log))
    measured_s = time.perf_counter() - started
    overheads = None
    if config.overheads:
        log("measuring pool start-up and payload costs")
        overheads = overheads_record(min(max(config.workers), max(2, available_cpus())), config.overhead_repeats, 5)
    # The interpreter record is taken after everything ran, so it shows the GIL state once all was imported.
    settings = {**asdict(config), "start_method": method, "thread_limits": thread_limits, "pool_startup_timed": False, "kernel_seconds_measured": measured_s}
    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(command),
        "interpreter": interpreter_record(),
        "machine": machine_info(),
        "settings": settings,
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
        "kernel_seconds_measured": sum(p["settings"].get("kernel_seconds_measured", p["settings"].get("kernel_seconds", 0.0)) for p in parts),
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
