import os
import threading
import time

import psutil
import pytest

from dupbench.config import ExecutionConfig
from dupbench.execution import make_executor
from dupbench.execution.serial import SerialExecutor


def square(x):
    return x * x


def square_all(items):
    return [x * x for x in items]


def test_serial_starts_no_thread_and_no_process():
    threads = threading.active_count()
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    with make_executor(ExecutionConfig(mode="serial")) as executor:
        assert isinstance(executor, SerialExecutor)
        list(executor.map(square, range(10)))
        assert threading.active_count() == threads
        assert {p.pid for p in psutil.Process().children(recursive=True)} <= children


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_process_pool_workers_are_gone_after_the_block(start_method):
    with make_executor(ExecutionConfig(mode="process", workers=2, start_method=start_method)) as executor:
        list(executor.map(square, range(10)))
        pids = executor.worker_pids()
    assert len(pids) == 2 and not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def exit_at_once(main_pid):
    os._exit(3)


def test_a_pool_whose_workers_cannot_start_fails_fast_with_a_clear_error(monkeypatch):
    """Every start fails (as under forkserver when the main module cannot be re-imported): the load stage
    must not rebuild the pool once per file, printing a traceback each time."""
    from dupbench.execution import process
    from dupbench.execution.tasks import WorkersCannotStart, map_surviving_crashes

    monkeypatch.setattr(process, "_worker_init", exit_at_once)
    with make_executor(ExecutionConfig(mode="process", workers=2, start_method="fork")) as executor:
        with pytest.raises(WorkersCannotStart, match="cannot start"):
            map_surviving_crashes(executor, square_all, [[1, 2], [3, 4], [5, 6]], lambda result: None, on_crash=lambda item: None)


def deaf_to_sigterm(main_pid):
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a worker that lost the SIGTERM sent while it was forked


def square_die_or_hang(items, marker):
    if 3 in items:
        time.sleep(0.2)  # the other worker has taken its task by now
        os._exit(9)
    if 5 in items and not os.path.exists(marker):
        open(marker, "w").close()
        threading.Event().wait()  # busy for good, and deaf to SIGTERM: only SIGKILL ends it
    return [x * x for x in items]


def test_recovery_does_not_wait_forever_for_a_worker_that_outlives_sigterm(monkeypatch, tmp_path):
    """A worker dies while another is busy; the pool ends that one with SIGTERM, and it does not go. It is
    killed after JOIN_TIMEOUT_S instead of holding the pool's manager thread, and the run, for good
    (before, this test hung until pytest-timeout failed it)."""
    import functools

    from dupbench.execution import process
    from dupbench.execution.tasks import map_surviving_crashes

    monkeypatch.setattr(process, "_worker_init", deaf_to_sigterm)
    monkeypatch.setattr(process, "JOIN_TIMEOUT_S", 0.5)
    task = functools.partial(square_die_or_hang, marker=str(tmp_path / "hung-once"))
    results, crashed = [], []
    with make_executor(ExecutionConfig(mode="process", workers=2, start_method="fork")) as executor:
        map_surviving_crashes(executor, task, [[5, 6], [3, 4]], results.extend, on_crash=lambda item: crashed.append(item) or -1)
        pids = executor.worker_pids()
    assert sorted(results) == [-1, 16, 25, 36] and crashed == [3]
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
