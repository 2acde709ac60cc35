"""The monitor's timeline never shows the tree above cores x 100%, and keeps every CPU second it saw.

A fake /proc drives TreeMonitor tick by tick: processes with a known CPU use over time, whose stat files
report whole clock ticks (as the kernel does) and whose CPU clocks are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from dupbench.harness import monitor
from dupbench.harness.monitor import CLOCK_TICKS, ProcStat, TreeMonitor

BOOT = 1000.0  # the fake machine booted this long before the monitor's clock reads 0
TOLERANCE_PCT = 1.0


@dataclass
class FakeProcess:
    ppid: int
    start: float  # monitor-clock seconds
    cores: float = 1.0  # CPU seconds per second while alive
    end: float = math.inf

    def cpu(self, now: float) -> float:
        return max(0.0, min(now, self.end) - self.start) * self.cores


@dataclass
class FakeProc:
    """/proc of a fake machine at `now`: stat in whole clock ticks, exact CPU clocks, the last pid assigned."""

    processes: dict[int, FakeProcess]
    now: float = 0.0
    reported_last_pid_until: float = 0.0  # last_pid() reports no new pid before this time (discovery skipped)

    def stat(self, pid: int) -> ProcStat | None:
        process = self.processes.get(pid)
        if process is None or process.start > self.now:
            return None
        ticks = math.floor(process.cpu(self.now) * CLOCK_TICKS + 1e-9)
        state = "Z" if self.now >= process.end else "R"
        return ProcStat(process.ppid, state, ticks / CLOCK_TICKS, 0.0, 1, round((BOOT + process.start) * CLOCK_TICKS), 10 * 2**20)

    def cpu(self, pid: int) -> float | None:
        process = self.processes.get(pid)
        return process.cpu(self.now) if process and process.start <= self.now else None

    def pids(self) -> list[int]:
        return [pid for pid, p in self.processes.items() if p.start <= self.now]

    def last_pid(self) -> int:
        if self.now < self.reported_last_pid_until:
            return 0
        return max(pid for pid, p in self.processes.items() if p.start <= self.now)


@pytest.fixture
def fake(monkeypatch):
    def install(proc: FakeProc, precise: bool = True) -> TreeMonitor:
        monkeypatch.setattr(monitor, "read_stat", proc.stat)
        monkeypatch.setattr(monitor, "read_cpu_s", proc.cpu if precise else lambda pid: None)
        monkeypatch.setattr(monitor, "list_pids", proc.pids)
        monkeypatch.setattr(monitor, "last_pid", proc.last_pid)
        monkeypatch.setattr(monitor, "read_ctx_switches", lambda pid: None)
        monkeypatch.setattr(monitor, "read_uss", lambda pid: None)
        tree = TreeMonitor(root_pid=1, uss_budget=0, clock=lambda: proc.now, boot_clock=lambda: BOOT + proc.now)
        tree.prepare(0.0)
        return tree

    return install


def run_ticks(proc: FakeProc, tree: TreeMonitor, times: list[float]) -> list[monitor.Sample]:
    for t in times:
        proc.now = t
        tree.tick()
    return list(tree._samples)


def assert_bounded_and_conserved(samples: list[monitor.Sample], cores: int, total_cpu: float) -> None:
    assert max(s.tree_cpu_pct for s in samples) <= 100 * cores + TOLERANCE_PCT
    assert samples[-1].tree_cpu_s == pytest.approx(total_cpu, abs=1e-6)
    previous_t = previous_cpu = 0.0
    integrated = 0.0
    for s in samples:
        integrated += s.tree_cpu_pct / 100 * (s.t - previous_t)
        assert s.tree_cpu_s >= previous_cpu - 1e-12  # cumulative CPU never runs backwards
        previous_t, previous_cpu = s.t, s.tree_cpu_s
    assert integrated == pytest.approx(total_cpu, abs=1e-6)


def test_a_tick_just_after_the_last_does_not_turn_one_clock_tick_into_thousands_of_percent(fake):
    """The 4,292% samples: the harness's final tick came 0.2 ms after the loop's, and stat's whole 10 ms
    ticks rolled over in between."""
    proc = FakeProc({1: FakeProcess(0, 0.0), 2: FakeProcess(1, 0.01)})
    tree = fake(proc)
    times = [round(0.1 * i, 4) for i in range(1, 11)] + [1.0095, 1.0105]
    samples = run_ticks(proc, tree, times)
    assert samples[-1].processes == 2
    assert_bounded_and_conserved(samples, cores=2, total_cpu=1.0105 + 1.0005)


def test_whole_tick_stat_times_alone_do_exceed_the_cores(fake):
    """Why the CPU clock is read: without it (stat only) the same tree shows far above 200%."""
    proc = FakeProc({1: FakeProcess(0, 0.0), 2: FakeProcess(1, 0.01)})
    tree = fake(proc, precise=False)
    samples = run_ticks(proc, tree, [round(0.1 * i, 4) for i in range(1, 11)] + [1.0095, 1.0105])
    assert max(s.tree_cpu_pct for s in samples) > 1000


def test_a_process_discovered_late_has_its_earlier_cpu_spread_back_over_its_lifetime(fake):
    """A worker started at 0.05 s and first seen at 0.3 s used 0.25 s of CPU: not all in (0.2, 0.3]."""
    proc = FakeProc({1: FakeProcess(0, 0.0), 7: FakeProcess(1, 0.05)}, reported_last_pid_until=0.25)
    tree = fake(proc)
    samples = run_ticks(proc, tree, [0.1, 0.2, 0.3, 0.4, 0.5])
    assert [s.processes for s in samples] == [1, 1, 2, 2, 2]
    assert_bounded_and_conserved(samples, cores=2, total_cpu=0.5 + 0.45)
    assert samples[1].tree_cpu_pct == pytest.approx(200.0)  # (0.1, 0.2]: both were running


def test_a_worker_that_exits_keeps_its_cpu_and_its_parent_reaping_it_adds_none(fake):
    """A reaped worker's time moves into its parent's cutime, which the monitor never reads: its own last
    reading stays, so the total neither doubles nor drops."""
    proc = FakeProc({1: FakeProcess(0, 0.0), 3: FakeProcess(1, 0.01, end=0.25)})
    tree = fake(proc)
    run_ticks(proc, tree, [0.1, 0.2, 0.3])
    del proc.processes[3]  # reaped
    samples = run_ticks(proc, tree, [0.4, 0.5])
    assert_bounded_and_conserved(samples, cores=2, total_cpu=0.5 + 0.24)


def test_slow_reads_on_some_ticks_do_not_stamp_the_cpu_late(fake, monkeypatch):
    """The residue above cores x 100% after the clocks were fixed: on ticks that also read slow files (USS,
    context switches) the sample was stamped after them, so the next tick's rate divided a whole interval's
    CPU by a shorter one (two busy cores showed ~400%)."""
    proc = FakeProc({1: FakeProcess(0, 0.0), 2: FakeProcess(1, 0.01)})
    tree = fake(proc)
    tree.ctx_every = 3

    def slow_read(pid: int) -> None:
        proc.now += 0.03  # a slow /proc read on the ticks that take them
        return None

    monkeypatch.setattr(monitor, "read_ctx_switches", slow_read)
    samples = run_ticks(proc, tree, [round(0.1 * i, 4) for i in range(1, 13)])
    assert max(s.tree_cpu_pct for s in samples) <= 200 + TOLERANCE_PCT
    assert min(s.tree_cpu_pct for s in samples[1:]) >= 200 - TOLERANCE_PCT
