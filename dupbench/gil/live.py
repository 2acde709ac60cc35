"""`dupbench gil --live`: per-core CPU use drawn as text bars while each kernel runs.

Meant for a class: under the GIL, threads running pure Python keep one core busy at a time, a process
pool keeps every core busy. A thread samples ``psutil.cpu_percent(percpu=True)`` a few times a second;
on a terminal the bars are redrawn in place, elsewhere (a pipe, a log, a test) one line per sample is
printed. The sampling costs the parent a little CPU, which is why the live view is for watching and a
run without it is the one to record.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

import psutil

from dupbench.gil.demo import tree_cpu_seconds

SAMPLES_PER_SECOND = 8
BAR_WIDTH = 40
UP_AND_CLEAR = "\x1b[{lines}F\x1b[J"  # cursor up to the first bar's line start, then clear to the end of the screen


def render_bars(percents: Sequence[float], width: int = BAR_WIDTH) -> list[str]:
    """One line per core: ``cpu0 [#####-----]  50%``; values are clamped to 0-100 as psutil can overshoot."""
    lines = []
    for core, percent in enumerate(percents):
        share = min(100.0, max(0.0, float(percent)))
        filled = round(share / 100 * width)
        lines.append(f"cpu{core:<3}[{'#' * filled}{'-' * (width - filled)}] {share:3.0f}%")
    return lines


def render_line(percents: Sequence[float], label: str, own_cores: float | None = None) -> str:
    """One sample on one line, for output that is not a terminal."""
    cores = " ".join(f"cpu{core} {min(100.0, max(0.0, float(p))):3.0f}%" for core, p in enumerate(percents))
    own = "" if own_cores is None else f" ours {own_cores:.1f}"
    return f"{cores}{own}  | {label}"


def render_frame(percents: Sequence[float], label: str, own_cores: float | None = None, width: int = BAR_WIDTH) -> list[str]:
    """The label, the bars, the machine's total and, when known, the cores this run itself keeps busy
    (what the results table reports; on a shared machine the bars include other programs)."""
    busy = sum(min(100.0, max(0.0, float(p))) for p in percents) / 100
    total = f"machine: {busy:.1f} of {len(percents)} cores busy (all programs)"
    if own_cores is not None:
        total += f"; this run: {own_cores:.1f} cores"
    return [f"now: {label}", *render_bars(percents, width), total]


class LiveView:
    """Samples per-core CPU on a thread and draws it; `show(label)` names what runs now and starts the
    thread on first use (after the caller's process pools forked), `log` prints above the bars."""

    def __init__(self, stream: TextIO | None = None, rate: float = SAMPLES_PER_SECOND) -> None:
        self.stream = stream or sys.stdout
        self.interval = 1.0 / rate
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = "starting"
        self.samples = 0
        self._drawn = 0
        self._last: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._since = (0.0, 0.0)  # (CPU seconds of this process tree, perf_counter) at the last sample

    def show(self, label: str) -> None:
        """Name what runs now; without a terminal the name is printed at once, so a kernel shorter than one
        sampling interval still appears in the log."""
        if not self.tty and label != self.label:
            with self._lock:
                self.stream.write(f"now: {label}\n")
                self.stream.flush()
        self.label = label
        if self._thread is None:
            psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
            self._thread = threading.Thread(target=self._loop, name="dupbench-live", daemon=True)
            self._thread.start()

    def log(self, message: str) -> None:
        with self._lock:
            self._erase()
            self.stream.write(message + "\n")
            if self.tty and self._last:
                self._write(self._last)
            self.stream.flush()

    def _erase(self) -> None:
        if self.tty and self._drawn:
            self.stream.write(UP_AND_CLEAR.format(lines=self._drawn))
            self._drawn = 0

    def _write(self, lines: list[str]) -> None:
        self.stream.write("\n".join(lines) + "\n")
        self._drawn = len(lines)

    def _loop(self) -> None:
        process = psutil.Process()
        self._since = (tree_cpu_seconds(process), time.perf_counter())
        while not self._stop.wait(self.interval):
            self._sample(process)
        self._sample(process)  # the state at the end is always drawn, however short the run was

    def _sample(self, process: psutil.Process) -> None:
        percents = psutil.cpu_percent(percpu=True)
        (cpu, clock), now_cpu, now = self._since, tree_cpu_seconds(process), time.perf_counter()
        own = (now_cpu - cpu) / (now - clock) if now > clock else None
        self._since = (now_cpu, now)
        with self._lock:
            self.samples += 1
            if self.tty:
                self._erase()
                self._last = render_frame(percents, self.label, own)
                self._write(self._last)
            else:
                self.stream.write(render_line(percents, self.label, own) + "\n")
            self.stream.flush()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
