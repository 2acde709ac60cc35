"""Explanations written from the measured numbers, never canned.

Everything here is a pure function of a results structure (the JSON that ``demo.run_demo`` returns),
so a test can feed it invented measurements and check that the wording flips with them: if threads
did not scale on this run, the text says so, whatever the textbook expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALES = 1.25  # a speed-up below this is "no real gain" on a noisy shared machine
CLOSE = 0.8  # threads within 80% of processes count as "as good as processes"
WAITING_CORES = 0.5  # a serial run keeping less than half a core busy is mostly waiting, not computing
PARALLEL_CORES = 1.3  # a pool keeping fewer cores busy than this ran, in effect, on one core
STARVED_CORES = 0.7  # a serial pass of computing work keeping less than this busy shared its core with another program


@dataclass(frozen=True)
class KernelVerdict:
    """Thread vs process speed-up of one kernel at the reference worker count, and what it means."""

    kernel: str
    label: str
    workers: int
    thread_speedup: float
    process_speedup: float
    best_speedup: float
    best_workers: int
    verdict: str  # "parallel", "gil", "partial", "none", "busy" (no spare core: no evidence either way)
    released_fraction: float | None
    thread_cores: float = 0.0  # CPU cores busy on average: the GIL shows as ~1 core whatever the pool size
    process_cores: float = 0.0
    serial_cores: float = 1.0

    @property
    def waits(self) -> bool:
        return self.serial_cores < WAITING_CORES


def released_fraction(thread_speedup: float, process_speedup: float) -> float | None:
    """Amdahl estimate of the share of the work threads could run in parallel (with the GIL released).

    If a fraction f runs in parallel as well as processes manage (speed-up P) and the rest is
    serialised, threads get 1 / ((1 - f) + f / P); solved for f. None when processes did not scale,
    since then there is nothing to compare against.
    """
    if process_speedup < SCALES or thread_speedup <= 0:
        return None
    fraction = (1 - 1 / thread_speedup) / (1 - 1 / process_speedup)
    return min(1.0, max(0.0, fraction))


def reference_workers(workers: Sequence[int], cores: int) -> int:
    """The worker count to judge by: the largest that does not exceed the usable cores."""
    fitting = [w for w in workers if w <= cores]
    return max(fitting) if fitting else min(workers)


def _row(summary: Sequence[Mapping[str, Any]], mode: str, workers: int) -> Mapping[str, Any]:
    for row in summary:
        if row["mode"] == mode and row["workers"] == workers:
            return row
    raise KeyError(f"no {mode} row with {workers} workers")


def kernel_verdict(kernel: Mapping[str, Any], cores: int) -> KernelVerdict:
    summary = kernel["summary"]
    workers = sorted({row["workers"] for row in summary if row["mode"] != "serial"})
    ref = reference_workers(workers, cores)
    thread_row, process_row, serial_row = _row(summary, "thread", ref), _row(summary, "process", ref), _row(summary, "serial", 1)
    thread, proc = float(thread_row["speedup"]), float(process_row["speedup"])
    best = max((row for row in summary if row["mode"] == "thread"), key=lambda row: row["speedup"])
    computes = float(serial_row["cpu_cores"]) >= WAITING_CORES
    one_core = {mode: computes and float(row["cpu_cores"]) < PARALLEL_CORES for mode, row in (("thread", thread_row), ("process", process_row))}
    starved = kernel.get("expected_gil", "waits") != "waits" and float(serial_row["cpu_cores"]) < STARVED_CORES
    if starved or (ref >= 2 and one_core["process"]):
        # Processes cannot be held back by the GIL: if they used one core, another program had the rest.
        verdict = "busy"
    elif thread < SCALES and proc < SCALES:
        verdict = "none"
    elif ref >= 2 and one_core["thread"]:
        # A thread "speed-up" with one core busy came from a slowed serial baseline, not from parallelism.
        verdict = "gil"
    elif thread >= SCALES and thread >= CLOSE * proc:
        verdict = "parallel"
    elif thread < SCALES:
        verdict = "gil"
    else:
        verdict = "partial"
    return KernelVerdict(
        kernel["name"],
        kernel["label"],
        ref,
        thread,
        proc,
        float(best["speedup"]),
        int(best["workers"]),
        verdict,
        None if verdict == "busy" else released_fraction(thread, proc),
        float(thread_row["cpu_cores"]),
        float(process_row["cpu_cores"]),
        float(serial_row["cpu_cores"]),
    )


def stage_table(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per detector stage: thread vs process speed-up at the core count, and the estimated share of
    its time that runs with the GIL released (what the report's "why" section quotes)."""
    cores = int(results["machine"]["usable_cpus"])
    table = []
    for kernel in results["kernels"]:
        v = kernel_verdict(kernel, cores)
        table.append(
            {
                "kernel": v.kernel,
                "stage": kernel["stage"],
                "workers": v.workers,
                "thread_speedup": v.thread_speedup,
                "process_speedup": v.process_speedup,
                "thread_cores": v.thread_cores,
                "process_cores": v.process_cores,
                "released_fraction": v.released_fraction,
                "verdict": v.verdict,
            }
        )
    return table


def _cores(value: float, cores: int) -> str:
    """Cores busy, never more than the machine's: an excess is measurement noise and is called so."""
    if value > cores + 0.05:
        return f"{cores} (measured {value:.2f}: measurement noise)"
    return f"{value:.1f}"


def _x(value: float) -> str:
    return f"{value:.1f}x"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _bytes(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def interpreter_sentence(interpreter: Mapping[str, Any]) -> str:
    name = f"{interpreter['implementation']} {interpreter['version']}"
    if interpreter["build_free_threaded"] and interpreter["gil_enabled"]:
        return (
            f"WARNING: {name} is a free-threaded build but its GIL was ENABLED during this run "
            "(a module re-enabled it, or PYTHON_GIL=1), so threads below show GIL behaviour."
        )
    if interpreter["build_free_threaded"]:
        return f"{name} is a free-threaded build and its GIL stayed off for the whole run."
    return f"{name} runs with a GIL: only one thread executes Python bytecode at a time."


def kernel_sentence(v: KernelVerdict, gil_enabled: bool, cores: int) -> str:
    head = (
        f"{v.label}: with {v.workers} workers threads gave {_x(v.thread_speedup)} and processes "
        f"{_x(v.process_speedup)} (keeping {_cores(v.thread_cores, cores)} and {_cores(v.process_cores, cores)} cores busy)"
    )
    if v.verdict == "busy":
        starved = (
            f"even the serial run got only {_cores(v.serial_cores, cores)} of a core"
            if v.serial_cores < STARVED_CORES
            else "processes never kept two cores busy"
        )
        return (
            f"{head}; {starved}, so another program had the rest of the machine "
            "during this run and these numbers cannot tell how the work scales: run it again when quiet."
        )
    if v.verdict == "none":
        return f"{head}; neither scaled, so the cores they kept busy went on overhead (dispatching tasks, moving data) or were shared with another program."
    if v.verdict == "gil":
        if v.thread_speedup >= SCALES:
            head += f"; the threads' apparent gain came from a slowed serial run, since they kept only {v.thread_cores:.1f} cores busy"
        if gil_enabled:
            return f"{head}: the GIL serialises this work, so only processes run it in parallel."
        return f"{head}: threads did not scale even without a GIL, so something else serialises them (a lock, or contention on shared objects)."
    if v.verdict == "partial":
        share = f"about {v.released_fraction:.0%}" if v.released_fraction is not None else "part"
        cause = "runs with the GIL released; the rest holds it" if gil_enabled else "runs in parallel in threads; the rest is still serialised"
        return f"{head}: threads fall short, as if {share} of the time {cause}."
    if v.waits:
        why = (
            "it waits (sleeping or blocked in I/O) with the GIL released" if gil_enabled else "it mostly waits, and there is no GIL on this interpreter anyway"
        )
    elif gil_enabled:
        why = "this work spends its time in C with the GIL released"
    else:
        why = "there is no GIL on this interpreter"
    text = f"{head}: threads scale as well as processes because {why}."
    if v.thread_speedup > v.process_speedup / CLOSE:
        text += " Threads even beat processes here (processes also pay to move tasks and results between interpreters)."
    if v.waits:
        text += (
            f" Serially it kept only {v.serial_cores:.2f} cores busy: the time is spent waiting, not computing, "
            f"so {v.best_workers} threads on {cores} cores reached {_x(v.best_speedup)}."
        )
    return text


def startup_sentence(rows: Sequence[Mapping[str, Any]]) -> str | None:
    if not rows:
        return None
    ranked = sorted(rows, key=lambda r: r["median_s"])
    parts = ", ".join(f"{_ms(r['median_s'])} with {r['start_method']}" for r in ranked)
    text = f"Starting a pool of {ranked[0]['workers']} processes and shutting it down took {parts}"
    if len(ranked) > 1 and ranked[0]["median_s"] > 0:
        text += (
            f": {ranked[-1]['start_method']} cost {ranked[-1]['median_s'] / ranked[0]['median_s']:.0f}x "
            f"{ranked[0]['start_method']}, a price paid before any work"
        )
    return text + "."


def payload_sentence(rows: Sequence[Mapping[str, Any]]) -> str | None:
    if not rows:
        return None
    clauses = []
    for row in (rows[0], rows[-1]) if len(rows) > 1 else (rows[0],):
        pickled, resident, fresh = row["pickle_s"], row["shared_memory_s"], row["shared_memory_copy_s"]
        if resident < pickled:
            verdict = f"data kept in shared memory was {pickled / resident:.1f}x cheaper to hand over than pickled data"
        else:
            verdict = f"pickling was {resident / pickled:.1f}x cheaper than even data already in shared memory"
        clauses.append(
            f"{_bytes(row['payload_bytes'])} took {_ms(pickled)} pickled, {_ms(resident)} already in "
            f"shared memory and {_ms(fresh)} copied into a fresh segment ({verdict})"
        )
    return "Sending one task its data: " + "; ".join(clauses) + "."


def explain(results: Mapping[str, Any]) -> str:
    """One paragraph on one interpreter's run, every claim taken from its numbers."""
    interpreter = results["interpreter"]
    cores = int(results["machine"]["usable_cpus"])
    sentences = [interpreter_sentence(interpreter)]
    for kernel in results["kernels"]:
        sentences.append(kernel_sentence(kernel_verdict(kernel, cores), bool(interpreter["gil_enabled"]), cores))
        if not kernel.get("outputs_match_serial", True):
            sentences.append(f"WARNING: {kernel['label']} returned different outputs in some mode than serially.")
    overheads = results.get("overheads") or {}
    for sentence in (startup_sentence(overheads.get("startup", ())), payload_sentence(overheads.get("payload", ()))):
        if sentence:
            sentences.append(sentence)
    return " ".join(sentences)


def explain_comparison(runs: Sequence[Mapping[str, Any]]) -> str:
    """Side-by-side interpreters: how thread scaling and single-thread speed changed per kernel."""
    if len(runs) < 2:
        return explain(runs[0]) if runs else ""
    names = [r["interpreter"]["short_name"] for r in runs]
    sentences = [f"Compared: {'; '.join(names)}."]
    base = runs[0]
    for kernel in base["kernels"]:
        parts, verdicts = [], []
        for run in runs:
            match = next((k for k in run["kernels"] if k["name"] == kernel["name"]), None)
            if match is None:
                continue
            v = kernel_verdict(match, int(run["machine"]["usable_cpus"]))
            verdicts.append((v.verdict, bool(run["interpreter"]["gil_enabled"])))
            parts.append(f"threads {_x(v.thread_speedup)} vs processes {_x(v.process_speedup)} on {run['interpreter']['short_name']}")
        serial = [s for s in (_serial_seconds(run, kernel["name"]) for run in runs) if s is not None and s > 0]
        text = f"{kernel['label']}: " + ", ".join(parts)
        if len(serial) == len(runs) > 1:
            ratio = serial[-1] / serial[0]
            if 1 / 1.1 < ratio < 1.1:
                pace = "about as fast"
            else:
                pace = f"{max(ratio, 1 / ratio):.1f}x {'slower' if ratio > 1 else 'faster'}"
            text += f"; serially {names[-1]} took {_ms(serial[-1])} vs {_ms(serial[0])} ({pace}"
            backends = [_backend(run, kernel["name"]) for run in (runs[0], runs[-1])]
            if backends[0] and backends[-1] and backends[0] != backends[-1]:
                names_ = {"cv2": "OpenCV", "pillow": "Pillow/numpy"}
                text += f", with {names_.get(backends[-1], backends[-1])} instead of {names_.get(backends[0], backends[0])}"
            text += ")"
        gil_bound = any(verdict == "gil" and gil for verdict, gil in verdicts)
        freed = any(verdict == "parallel" and not gil for verdict, gil in verdicts)
        if gil_bound and freed:
            text += "; without the GIL threads caught up with processes, so the GIL was what held them back"
        sentences.append(text + ".")
    return " ".join(sentences)


def _backend(run: Mapping[str, Any], kernel: str) -> str | None:
    return next((k.get("backend") for k in run["kernels"] if k["name"] == kernel), None)


def _serial_seconds(run: Mapping[str, Any], kernel: str) -> float | None:
    for k in run["kernels"]:
        if k["name"] == kernel:
            for row in k["summary"]:
                if row["mode"] == "serial":
                    return float(row["median_wall_s"])
    return None
