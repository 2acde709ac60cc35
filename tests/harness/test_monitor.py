"""The monitor counts the whole process tree from outside it, and core limits are really applied."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from dupbench.harness.measure import cores_for, measure_command
from dupbench.harness.monitor import parse_stat

STANDIN = Path(__file__).with_name("standin_child.py")
TWO_CORES = len(os.sched_getaffinity(0)) >= 2
# 2 workers x 2 tasks x 4M iterations: about 1 CPU-second of pure Python, ~0.5 s of wall on 2 free cores.
# Each task reports its own CPU seconds (thread_time), the ground truth the measured totals are held to,
# so the checks do not depend on how fast this machine is.
LOOPS = 4_000_000


def _run(tmp_path: Path, method: str, cores: int, workers: int = 2):
    report = tmp_path / f"{method}-{cores}.json"
    affinity_file = tmp_path / f"{method}-{cores}.affinity"
    command = [sys.executable, str(STANDIN), "process", str(workers), method, str(LOOPS), str(report), "--affinity-file", str(affinity_file)]
    measurement = measure_command(command, cores_for(cores), timeout_s=60, stderr_path=tmp_path / "stderr")
    assert measurement.status == "ok", measurement.stderr_tail
    reported = json.loads(affinity_file.read_text())
    return measurement, reported["affinities"], sum(reported["task_cpu_s"])


def _tree_cpu(m) -> float:
    return m.cpu_user_s + m.cpu_system_s


def test_parse_stat_survives_spaces_and_parentheses_in_the_command_name():
    line = b"123 (my (odd) name) S 7 123 123 0 -1 0 0 0 0 0 250 40 0 0 20 0 3 0 999 100 50 0 0"
    stat = parse_stat(line)
    assert (stat.ppid, stat.state, stat.threads, stat.start_ticks) == (7, "S", 3, 999)
    assert stat.user_s == pytest.approx(250 / os.sysconf("SC_CLK_TCK"))
    assert stat.rss_bytes == 50 * os.sysconf("SC_PAGE_SIZE")


def _foreign_fraction(m) -> float:
    """Share of the run's cores used by other processes (the machine is shared with other jobs)."""
    u = m.usage
    return max(0.0, u.run_cores_busy_s - u.user_s - u.system_s - u.monitor_cpu_s) / (u.monitored_wall_s * len(m.affinity))


@pytest.mark.skipif(not TWO_CORES, reason="needs 2 allowed cores")
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_process_pool_on_two_cores_reports_well_above_one_core(tmp_path, method):
    """Workers' CPU is counted (forkserver workers are grandchildren, and the child's own rusage misses them).

    Another job may hold a core of this shared machine: then no run can show 2 cores of use. Up to
    three attempts; skip (not fail) only if every attempt had other work on over a quarter of the cores.
    """
    best, least_disturbed = 0.0, 1.0
    for _ in range(3):
        m, affinities, task_cpu = _run(tmp_path, method, cores=2)
        assert _tree_cpu(m) >= 0.95 * task_cpu - 0.02, "the workers' CPU seconds must be in the tree total"
        assert m.usage.user_s + m.usage.system_s >= 0.7 * task_cpu, "the monitor alone must see the workers"
        assert m.usage.max_processes >= 3  # the child and its 2 workers (forkserver adds the server)
        assert all(len(a) == 2 for a in affinities)
        if method == "forkserver":
            assert m.child_rusage_user_s < task_cpu / 2  # the trap the monitor and the subreaper exist to avoid
        best = max(best, _tree_cpu(m) / m.wall_s)
        least_disturbed = min(least_disturbed, _foreign_fraction(m))
        if best > 1.3:
            return
    if least_disturbed > 0.25:
        pytest.skip(f"other work used >= {least_disturbed:.0%} of the 2 cores in every attempt (best {best:.2f} cores)")
    assert best > 1.3, f"2 busy workers on 2 free cores used only {best:.2f} cores"


def test_kernel_accounting_reaps_the_orphaned_forkserver(tmp_path):
    """The harness is a subreaper while it measures: the forkserver, re-parented when the child exits, is
    reaped by the harness, so the kernel's count includes every worker it reaped (no leftover zombie)."""
    m, _, task_cpu = _run(tmp_path, "forkserver", cores=1)
    assert m.child_rusage_user_s < task_cpu / 2
    assert m.rusage_user_s + m.rusage_system_s >= 0.95 * task_cpu - 0.02
    assert not [p for p in m.usage.leftover_pids]


def test_one_core_limit_is_applied_to_the_child_and_its_workers(tmp_path):
    m, affinities, task_cpu = _run(tmp_path, "forkserver", cores=1)
    assert m.affinity == cores_for(1)
    assert all(a == list(cores_for(1)) for a in affinities)  # inherited by every worker
    utilization = _tree_cpu(m) / m.wall_s
    assert utilization < 1.05, f"pinned to one core but used {utilization:.2f} cores"
    assert _tree_cpu(m) >= 0.95 * task_cpu - 0.02


def test_timeout_kills_the_tree_and_is_recorded(tmp_path):
    command = [sys.executable, str(STANDIN), "process", "2", "fork", str(10**10), str(tmp_path / "r.json")]
    m = measure_command(command, cores_for(1), timeout_s=0.8, stderr_path=tmp_path / "stderr")
    assert m.status == "timeout"
    assert m.wall_s < 5
    assert m.usage.leftover_pids == ()


def test_crash_is_recorded_with_its_stderr(tmp_path):
    command = [sys.executable, str(STANDIN), "serial", "1", "none", "10", str(tmp_path / "r.json"), "--exit", "3"]
    m = measure_command(command, cores_for(1), timeout_s=30, stderr_path=tmp_path / "stderr")
    assert (m.status, m.returncode) == ("crash", 3)
    assert "failing on purpose" in m.stderr_tail


def test_monitor_overhead_is_small(tmp_path):
    """The sampling thread's own CPU time stays well under 1% of a core... of the run's wall time."""
    command = [sys.executable, "-c", "import time; time.sleep(1.0)"]
    m = measure_command(command, cores_for(1), timeout_s=30, stderr_path=tmp_path / "stderr")
    assert len(m.usage.samples) >= 8
    assert m.usage.monitor_cpu_s / m.usage.monitored_wall_s < 0.02
