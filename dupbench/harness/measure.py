"""Run one command as a fresh, core-pinned child process and measure it from the outside.

Why a fresh child: no warm pool, import cache or leaked memory carries over between runs. Why outside:
a monitor inside the measured interpreter would compete with it for the GIL. The parent waits for the
child's exit without reaping it (`waitid(..., WNOWAIT)`), so the monitor's last sample reads the child's
final CPU times from its zombie, then reaps it with `wait4` to get the kernel's rusage as a cross-check.

The kernel's rusage of the child covers only descendants reaped along the chain up to it. A forkserver
outlives the child and is re-parented, taking every worker it reaped with it. So while a run is measured
the harness is a child subreaper (`PR_SET_CHILD_SUBREAPER`): orphans are re-parented to the harness,
which reaps them with `wait4` too. The summed rusage is then the whole tree's CPU to the clock tick,
with none of the monitor's loss of up to one sampling interval per process that exits between ticks.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dupbench.harness.monitor import TreeMonitor, TreeUsage, read_stat

# How long orphaned descendants (e.g. a forkserver, which exits when its parent's pipe closes) may keep
# running after the child exits before they are killed and reported as leftovers.
DRAIN_SECONDS = 2.0
POLL_SECONDS = 0.01
PR_SET_CHILD_SUBREAPER = 36


def allowed_cores() -> tuple[int, ...]:
    """The CPUs this process may run on, sorted."""
    return tuple(sorted(os.sched_getaffinity(0)))


def cores_for(count: int, available: Sequence[int] | None = None) -> tuple[int, ...]:
    """The first `count` allowed cores: the run's CPU set."""
    cores = tuple(available) if available is not None else allowed_cores()
    if not 1 <= count <= len(cores):
        raise ValueError(f"cannot pin to {count} cores: {len(cores)} allowed ({cores})")
    return cores[:count]


@dataclass(frozen=True)
class Measurement:
    """What happened to one child: how it ended and what the monitor and the kernel saw."""

    status: str  # "ok", "timeout" or "crash"
    returncode: int | None
    wall_s: float
    start_epoch: float
    usage: TreeUsage
    rusage_user_s: float
    rusage_system_s: float
    rusage_maxrss_bytes: int
    child_rusage_user_s: float  # the child's own wait4 only: what a harness that is not a subreaper would see
    affinity: tuple[int, ...]
    loadavg_before: float
    loadavg_after: float
    stderr_tail: str

    @property
    def cpu_user_s(self) -> float:
        """Best lower bound of the tree's user CPU.

        The kernel's rusage (child and every orphan the harness reaped as subreaper) is exact when the
        subreaper could be set; the monitor loses up to one sampling interval of each process that exits
        between ticks. Each is a lower bound, so the larger is the closer one.
        """
        return max(self.usage.user_s, self.rusage_user_s)

    @property
    def cpu_system_s(self) -> float:
        return max(self.usage.system_s, self.rusage_system_s)

    @property
    def peak_rss_bytes(self) -> int:
        """Lower bound of the tree's peak RSS: the monitor's summed samples can miss a run shorter than one
        tick; the kernel's maxrss is the largest single waited-for process."""
        return max(self.usage.peak_rss_bytes or 0, self.rusage_maxrss_bytes)


def _pin(cores: tuple[int, ...]):
    def preexec() -> None:  # runs in the child between fork and exec: only a syscall, no locks taken
        os.sched_setaffinity(0, cores)

    return preexec


def _exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (its /proc entry stays readable)."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None and info.si_pid == pid


def _set_subreaper(on: bool) -> bool:
    """Make orphaned descendants ours to reap (Linux >= 3.4); False where the call is unavailable."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@contextmanager
def _as_subreaper() -> Iterator[None]:
    on = _set_subreaper(True)
    try:
        yield
    finally:
        if on:
            _set_subreaper(False)


def _reap_orphans(pids: Sequence[int], deadline_s: float = DRAIN_SECONDS) -> tuple[float, float, int]:
    """Reap the tree's processes that were re-parented to the harness; their summed (user, system, maxrss)."""
    me = os.getpid()
    user = system = 0.0
    maxrss = 0
    pending = [pid for pid in pids if (stat := read_stat(pid)) is not None and stat.ppid == me]
    deadline = time.perf_counter() + deadline_s
    while pending:
        for pid in list(pending):
            try:
                done, _, rusage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                pending.remove(pid)
                continue
            if done:
                user, system = user + rusage.ru_utime, system + rusage.ru_stime
                maxrss = max(maxrss, rusage.ru_maxrss * 1024)
                pending.remove(pid)
        if pending and time.perf_counter() > deadline:
            break
        time.sleep(POLL_SECONDS)
    return user, system, maxrss


def _kill_tree(pids: Sequence[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_everything(monitor: TreeMonitor, root_pid: int) -> None:
    _kill_tree(monitor.live_pids())
    try:
        os.killpg(root_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


def _start(command: Sequence[str], cores: tuple[int, ...], stderr_path: Path, env: dict[str, str] | None, cwd: Path | None) -> subprocess.Popen:
    """Start the child pinned to `cores`, its stderr to a file, in its own process group (a timeout kills the whole tree)."""
    with open(stderr_path, "wb") as stderr:
        return subprocess.Popen(
            list(command),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_pin(cores),
            env=env,
            cwd=cwd,
            process_group=0,
        )


def _wait_or_kill(proc: subprocess.Popen, monitor: TreeMonitor, deadline: float) -> str:
    """Wait for the child to exit (left unreaped, for wait4); "timeout" once past `deadline`, the tree killed."""
    try:
        while not _exited(proc.pid):
            if time.perf_counter() > deadline:
                _kill_everything(monitor, proc.pid)
                os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
                return "timeout"
            time.sleep(POLL_SECONDS)
    except BaseException:
        # Ctrl-C reaches only the harness (the child has its own process group): do not leave the tree running.
        _kill_everything(monitor, proc.pid)
        monitor.stop()
        proc.wait()
        raise
    return "ok"


def _stop_monitor(monitor: TreeMonitor, root_pid: int) -> TreeUsage:
    """Take the exited child's final CPU times, give its workers a moment to exit, stop sampling, kill what is left."""
    monitor.tick()  # the zombie's final CPU times
    drain_deadline = time.perf_counter() + DRAIN_SECONDS
    while [p for p in monitor.live_pids() if p != root_pid] and time.perf_counter() < drain_deadline:
        time.sleep(POLL_SECONDS * 5)
    usage = monitor.stop()
    _kill_tree(usage.leftover_pids)
    return usage


def measure_command(
    command: Sequence[str],
    cores: tuple[int, ...],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
    harness_cores: tuple[int, ...] | None = None,
    stderr_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Measurement:
    """Start `command` pinned to `cores`, sample its tree until it exits or times out, and reap it."""
    harness_cores = harness_cores if harness_cores is not None else allowed_cores()
    loadavg_before = os.getloadavg()[0]
    with _as_subreaper():
        start_epoch = time.time()
        started = time.perf_counter()
        proc = _start(command, cores, stderr_path, env, cwd)
        monitor = TreeMonitor(proc.pid, interval=interval_s, harness_cores=harness_cores, run_cores=cores)
        monitor.start(started_at=started)
        try:
            affinity = tuple(sorted(os.sched_getaffinity(proc.pid)))
        except OSError:
            affinity = ()
        status = _wait_or_kill(proc, monitor, started + timeout_s)
        wall_s = time.perf_counter() - started
        usage = _stop_monitor(monitor, proc.pid)
        _, wait_status, rusage = os.wait4(proc.pid, 0)
        orphan_user, orphan_system, orphan_maxrss = _reap_orphans(monitor.pids())
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        if status == "ok" and proc.returncode != 0:
            status = "crash"
        return Measurement(
            status=status,
            returncode=proc.returncode,
            wall_s=wall_s,
            start_epoch=start_epoch,
            usage=usage,
            rusage_user_s=rusage.ru_utime + orphan_user,
            rusage_system_s=rusage.ru_stime + orphan_system,
            rusage_maxrss_bytes=max(rusage.ru_maxrss * 1024, orphan_maxrss),  # kilobytes on Linux
            child_rusage_user_s=rusage.ru_utime,
            affinity=affinity,
            loadavg_before=loadavg_before,
            loadavg_after=os.getloadavg()[0],
            stderr_tail=_tail(stderr_path) if status != "ok" else "",
        )
