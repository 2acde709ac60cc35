import os
import threading

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
