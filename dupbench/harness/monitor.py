"""Sample a measured process tree from outside it: CPU, memory, threads and processes, every ~100 ms.

The monitor runs as a thread in the harness (the parent), never inside the measured process, so it does
not compete for the measured interpreter's GIL. It reads /proc directly rather than through psutil:
`psutil.Process.children(recursive=True)` rebuilds a ppid map from every /proc/<pid>/stat on each call,
too slow to call ten times a second within the monitor's CPU budget (README, "The study"). Instead the monitor
classifies each pid once, when it first appears: a process that is not our descendant can never become
one (orphans are re-parented to init, never adopted), so only new pids need their parent read. That also
catches forkserver grandchildren and keeps counting processes orphaned when the child exits.

CPU time is kept per process (self time only, never the `cutime` of reaped children, which would count
workers twice), and the last value of a process that exited is kept, so the tree's total is the sum over
every process ever seen. Linux only, like the affinity control the harness relies on.

The timeline's CPU comes from each process's kernel CPU clock (nanoseconds), not /proc/<pid>/stat's
utime + stime, which are whole clock ticks (10 ms): over a 0.1 s interval each busy process's reading is
off by up to one tick, so a tree on 2 cores showed 210-270%, and the harness's last tick, taken a fraction
of a millisecond after the loop's, turned one tick into 4,000%. A process first seen with CPU it used
before the previous sample (discovered late) has that CPU spread over the samples since its start time,
not put into one interval: the total is unchanged, and no interval holds more than was used in it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat the monitor needs."""

    ppid: int
    state: str
    user_s: float
    system_s: float
    threads: int
    start_ticks: int
    rss_bytes: int


def parse_stat(data: bytes) -> ProcStat:
    """Parse /proc/<pid>/stat; the command name may contain spaces and parentheses, so split after the last ')'."""
    rest = data[data.rfind(b")") + 2 :].split()
    return ProcStat(
        ppid=int(rest[1]),
        state=rest[0].decode(),
        user_s=int(rest[11]) / CLOCK_TICKS,
        system_s=int(rest[12]) / CLOCK_TICKS,
        threads=int(rest[17]),
        start_ticks=int(rest[19]),
        rss_bytes=int(rest[21]) * PAGE_SIZE,
    )


def _read(path: str) -> bytes:
    """Read a small /proc file with two syscalls (pathlib and buffered IO cost more than the read)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def read_stat(pid: int) -> ProcStat | None:
    try:
        return parse_stat(_read(f"/proc/{pid}/stat"))
    except (OSError, ValueError, IndexError):
        return None


def cpu_clock_id(pid: int) -> int:
    """The clock id of a process's CPU clock, as glibc's clock_getcpuclockid builds it (CPUCLOCK_SCHED)."""
    return (~pid << 3) | 2


def read_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process's threads, live and exited, to the nanosecond; readable for a
    zombie, None once it is reaped."""
    try:
        return time.clock_gettime(cpu_clock_id(pid))
    except OSError:
        return None


def read_ctx_switches(pid: int) -> tuple[int, int] | None:
    """Voluntary and involuntary context switches (readable for zombies too)."""
    try:
        text = _read(f"/proc/{pid}/status").decode()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        if "ctxt_switches:" in line:
            key, _, value = line.partition(":")
            values[key.strip()] = int(value)
    if "voluntary_ctxt_switches" not in values:
        return None
    return values["voluntary_ctxt_switches"], values.get("nonvoluntary_ctxt_switches", 0)


def read_uss(pid: int) -> int | None:
    """Unique set size (private pages) from smaps_rollup: what killing the process would free."""
    try:
        text = _read(f"/proc/{pid}/smaps_rollup").decode()
    except OSError:
        return None
    total_kb = 0
    found = False
    for line in text.splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total_kb += int(line.split()[1])
            found = True
    return total_kb * 1024 if found else None


def last_pid() -> int | None:
    """The most recently assigned pid (last field of /proc/loadavg): if unchanged, no process was created."""
    try:
        return int(_read("/proc/loadavg").split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def list_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def parse_proc_stat(data: bytes) -> dict[int, tuple[float, float, float]]:
    """Per-core (busy, total, steal) seconds from /proc/stat, as psutil counts them: busy is total minus
    idle and iowait, and guest time is already inside user time so it is not added again."""
    cores = {}
    for line in data.split(b"\n"):
        if not line.startswith(b"cpu") or line.startswith(b"cpu "):
            continue
        fields = line.split()
        values = [int(v) / CLOCK_TICKS for v in fields[1:11]]
        values += [0.0] * (10 - len(values))
        user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice = values
        total = user + nice + system + idle + iowait + irq + softirq + steal
        cores[int(fields[0][3:])] = (total - idle - iowait, total, steal)
    return cores


def per_core_times(cores: tuple[int, ...]) -> list[tuple[float, float, float]]:
    """(busy, total, steal) seconds for each listed core: one read of /proc/stat, parsed here (psutil's parse costs more)."""
    if not cores:
        return []
    times = parse_proc_stat(_read("/proc/stat"))
    return [times.get(core, (0.0, 0.0, 0.0)) for core in cores]


@dataclass(frozen=True)
class Sample:
    """One tick of the timeline. `t` is seconds since the monitored process started."""

    t: float
    epoch: float
    tree_cpu_s: float
    tree_cpu_pct: float
    rss_bytes: int
    uss_bytes: int | None
    threads: int
    processes: int
    core_pct: tuple[float, ...]


@dataclass
class _Tracked:
    start_ticks: int
    user_s: float = 0.0
    system_s: float = 0.0
    cpu_s: float = 0.0  # from the CPU clock: the timeline's source
    seen: bool = False  # read at least once: its first reading may hold CPU used before the previous sample
    ctx_voluntary: int = 0
    ctx_involuntary: int = 0
    alive: bool = True


@dataclass(frozen=True)
class TreeUsage:
    """What the monitor saw over one run, with the per-core counters of the cores the run was allowed."""

    user_s: float
    system_s: float
    peak_rss_bytes: int
    peak_uss_bytes: int | None
    ctx_voluntary: int
    ctx_involuntary: int
    max_threads: int
    max_processes: int
    processes_seen: int
    leftover_pids: tuple[int, ...]
    samples: tuple[Sample, ...]
    monitor_cpu_s: float
    monitored_wall_s: float
    run_cores_busy_s: float
    run_cores_steal_s: float


@dataclass
class TreeMonitor:
    """Sample the tree rooted at `root_pid` every `interval` seconds from a background thread.

    `harness_cores` are the cores shown in the timeline (all the harness may use, so work from other
    processes on cores the run was denied is visible too); `run_cores` are the cores the run was pinned to,
    whose busy time over the run lets the harness estimate CPU used by other work (disturbance).
    USS reads smaps_rollup, which walks every memory mapping (far dearer than a stat read once numpy,
    OpenCV and scikit-image are loaded), so USS is read only when its cumulative cost, including the read
    about to be made, stays under `uss_budget` of the elapsed wall time. Peak USS is therefore coarser than
    peak RSS (read every tick), and the shortest runs get none.
    """

    root_pid: int
    interval: float = 0.1
    harness_cores: tuple[int, ...] = ()
    run_cores: tuple[int, ...] = ()
    uss_budget: float = 0.004
    ctx_every: int = 10
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False)
    boot_clock: Callable[[], float] = field(default=lambda: time.clock_gettime(time.CLOCK_BOOTTIME), repr=False)  # /proc start times count from boot
    _tree: dict[int, _Tracked] = field(default_factory=dict, init=False)
    _foreign: set[int] = field(default_factory=set, init=False)
    _samples: list[Sample] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _monitor_cpu_s: float = field(default=0.0, init=False)
    _peak_rss: int = field(default=0, init=False)
    _peak_uss: int | None = field(default=None, init=False)
    _max_threads: int = field(default=0, init=False)
    _max_processes: int = field(default=0, init=False)
    _ticks: int = field(default=0, init=False)
    _uss_cost: float = field(default=0.0, init=False)
    _uss_cost_per_process: float = field(default=0.0025, init=False)  # measured; updated on every read
    _last_pid: int | None = field(default=None, init=False)
    _t0: float = field(default=0.0, init=False)
    _last_t: float = field(default=0.0, init=False)
    _last_cpu: float = field(default=0.0, init=False)
    _last_cores: list[tuple[float, float, float]] = field(default_factory=list, init=False)
    _run_cores_start: list[tuple[float, float, float]] = field(default_factory=list, init=False)
    _boot_offset: float = field(default=0.0, init=False)

    def start(self, started_at: float | None = None) -> None:
        """Begin sampling; `started_at` is the perf_counter time the child was started."""
        self.prepare(started_at)
        self._thread = threading.Thread(target=self._loop, name="dupbench-monitor", daemon=True)
        self._thread.start()

    def prepare(self, started_at: float | None = None) -> None:
        """Baselines and the pids that are not ours, without starting the thread (tests tick by hand)."""
        self._t0 = self.clock() if started_at is None else started_at
        self._boot_offset = self.boot_clock() - self.clock()
        self._last_t = self._t0
        self._run_cores_start = per_core_times(self.run_cores)
        self._last_cores = per_core_times(self.harness_cores)
        self._last_pid = last_pid()
        root = read_stat(self.root_pid)
        self._tree[self.root_pid] = _Tracked(start_ticks=root.start_ticks if root else 0)
        self._foreign = set(list_pids()) - {self.root_pid}
        # Pids that existed before the child could fork are foreign; anything newer is classified on sight.

    def _loop(self) -> None:
        cpu_start = time.thread_time()
        next_tick = time.perf_counter()
        try:
            while not self._stop.is_set():
                self.tick()
                next_tick += self.interval
                delay = next_tick - time.perf_counter()
                if delay < 0:  # fell behind (machine busy): skip missed ticks rather than burst
                    next_tick = time.perf_counter()
                    delay = 0
                self._stop.wait(delay)
        finally:
            self._monitor_cpu_s += time.thread_time() - cpu_start

    def _discover(self) -> None:
        """Classify pids not seen before; loop because a child may have a lower pid than its parent.

        Listing /proc costs more than the rest of a tick, so it is skipped when no pid was assigned
        anywhere on the machine since the last tick.
        """
        newest = last_pid()
        if newest is not None and newest == self._last_pid:
            return
        self._last_pid = newest
        current = list_pids()
        present = set(current)
        self._foreign &= present  # forget foreign pids that exited, so a reused pid is re-classified
        pending: dict[int, int] = {}
        for pid in current:
            if pid in self._tree or pid in self._foreign:
                continue
            stat = read_stat(pid)
            if stat is not None:
                pending[pid] = stat.ppid
        changed = True
        while pending and changed:
            changed = False
            for pid, ppid in list(pending.items()):
                if ppid in self._tree:
                    stat = read_stat(pid)
                    self._tree[pid] = _Tracked(start_ticks=stat.start_ticks if stat else 0)
                    del pending[pid]
                    changed = True
        self._foreign.update(pending)

    def tick(self) -> None:
        """Take one sample (public so the harness can take a final one after the child has exited)."""
        with self._lock:
            self._discover()
            self._ticks += 1
            elapsed = self.clock() - self._t0
            alive = sum(1 for t in self._tree.values() if t.alive)
            expected = self._uss_cost + alive * self._uss_cost_per_process
            read_uss_now = self.uss_budget > 0 and expected <= self.uss_budget * elapsed
            read_ctx_now = self._ticks % max(1, self.ctx_every) == 1
            rss = threads = processes = 0
            first_seen: list[tuple[float, int]] = []  # (CPU at first reading, start ticks) of processes new to this tick
            live: list[int] = []
            ctx_due: list[tuple[int, _Tracked]] = []
            for pid, tracked in self._tree.items():
                if not tracked.alive:
                    continue
                before = tracked.seen
                stat = self._read_process(pid, tracked)
                if tracked.seen and not before:
                    first_seen.append((tracked.cpu_s, tracked.start_ticks))
                if stat is not None and (read_ctx_now or stat.state == "Z"):
                    ctx_due.append((pid, tracked))
                if stat is None or stat.state == "Z":
                    continue  # exited, or a zombie: its times are final; it holds no memory or threads
                rss += stat.rss_bytes
                threads += stat.threads
                processes += 1
                live.append(pid)
            # The sample's time is taken right after the CPU clocks, before the slow reads (USS, context
            # switches): taken after them, a tick that read USS stamped its CPU late, and the next tick's
            # rate divided a full interval's CPU by a shorter one (the samples above cores x 100%).
            now = self.clock()
            for pid, tracked in ctx_due:
                ctx = read_ctx_switches(pid)
                if ctx is not None:
                    tracked.ctx_voluntary, tracked.ctx_involuntary = ctx
            uss = 0 if read_uss_now else None
            if read_uss_now:
                uss_started = time.thread_time()
                uss = sum(read_uss(pid) or 0 for pid in live)
                spent = time.thread_time() - uss_started
                self._uss_cost += spent
                self._uss_cost_per_process = spent / max(1, processes)
            for cpu, start_ticks in first_seen:
                self._backdate(cpu, start_ticks / CLOCK_TICKS - self._boot_offset - self._t0, now - self._t0)
            tree_cpu = sum(t.cpu_s for t in self._tree.values())
            dt = now - self._last_t
            cpu_pct = 100.0 * (tree_cpu - self._last_cpu) / dt if dt > 0 else 0.0
            cores_now = per_core_times(self.harness_cores)
            core_pct = tuple(100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0 for (b0, t0, _), (b1, t1, _) in zip(self._last_cores, cores_now))
            self._last_cores, self._last_t, self._last_cpu = cores_now, now, tree_cpu
            self._peak_rss = max(self._peak_rss, rss)
            if uss is not None:
                self._peak_uss = max(self._peak_uss or 0, uss)
            self._max_threads = max(self._max_threads, threads)
            self._max_processes = max(self._max_processes, processes)
            self._samples.append(Sample(now - self._t0, time.time(), tree_cpu, cpu_pct, rss, uss, threads, processes, core_pct))

    def _read_process(self, pid: int, tracked: _Tracked) -> ProcStat | None:
        """Update `tracked` from /proc and the process's CPU clock; None (and no longer alive) once it is gone."""
        stat = read_stat(pid)
        if stat is None or (tracked.start_ticks and stat.start_ticks != tracked.start_ticks):
            tracked.alive = False  # exited (and reaped): keep its last CPU time
            return None
        tracked.user_s, tracked.system_s = stat.user_s, stat.system_s
        precise = read_cpu_s(pid)
        # The clock, when readable, is exact; else whole ticks. Never below what was already counted.
        tracked.cpu_s = max(tracked.cpu_s, precise if precise is not None else stat.user_s + stat.system_s)
        tracked.seen = True
        return stat

    def _backdate(self, cpu: float, started: float, now: float) -> None:
        """Spread the CPU a process first read at `now` had used since `started` (seconds since t0) evenly over
        that span: samples taken after its start get their share and their percentages are recomputed, so
        the interval it was discovered in holds only its own share. The total stays `cpu`."""
        span = now - started
        affected = [i for i, sample in enumerate(self._samples) if sample.t > started]
        if span <= 0 or cpu <= 0 or not affected:
            return
        for i in affected:
            sample = self._samples[i]
            self._samples[i] = replace(sample, tree_cpu_s=sample.tree_cpu_s + cpu * min(1.0, (sample.t - started) / span))
        for i in affected:
            previous_t, previous_cpu = (self._samples[i - 1].t, self._samples[i - 1].tree_cpu_s) if i > 0 else (0.0, 0.0)
            sample = self._samples[i]
            dt = sample.t - previous_t
            self._samples[i] = replace(sample, tree_cpu_pct=100.0 * (sample.tree_cpu_s - previous_cpu) / dt if dt > 0 else 0.0)
        self._last_cpu = self._samples[-1].tree_cpu_s

    def pids(self) -> list[int]:
        """Every process of the tree seen so far, alive or not."""
        with self._lock:
            return list(self._tree)

    def live_pids(self) -> list[int]:
        """Tree processes still running (not zombies), e.g. an orphaned forkserver after the child exits."""
        live = []
        with self._lock:
            for pid, tracked in self._tree.items():
                stat = read_stat(pid) if tracked.alive else None
                if stat is not None and stat.state != "Z" and stat.start_ticks == tracked.start_ticks:
                    live.append(pid)
        return live

    def stop(self) -> TreeUsage:
        """Stop the thread, take a last sample and return the totals."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        cpu_start = time.thread_time()
        self.tick()
        self._monitor_cpu_s += time.thread_time() - cpu_start
        run_end = per_core_times(self.run_cores)
        busy = sum(b1 - b0 for (b0, _, _), (b1, _, _) in zip(self._run_cores_start, run_end))
        steal = sum(s1 - s0 for (_, _, s0), (_, _, s1) in zip(self._run_cores_start, run_end))
        tracked = self._tree.values()
        return TreeUsage(
            user_s=sum(t.user_s for t in tracked),
            system_s=sum(t.system_s for t in tracked),
            peak_rss_bytes=self._peak_rss,
            peak_uss_bytes=self._peak_uss,
            ctx_voluntary=sum(t.ctx_voluntary for t in tracked),
            ctx_involuntary=sum(t.ctx_involuntary for t in tracked),
            max_threads=self._max_threads,
            max_processes=self._max_processes,
            processes_seen=len(self._tree),
            leftover_pids=tuple(pid for pid in self.live_pids() if pid != self.root_pid),
            samples=tuple(self._samples),
            monitor_cpu_s=self._monitor_cpu_s,
            monitored_wall_s=self.clock() - self._t0,
            run_cores_busy_s=busy,
            run_cores_steal_s=steal,
        )
