import threading

import psutil
import pytest

from dupbench.config import ExecutionConfig
from dupbench.executors import SerialExecutor, chunk_size, make_executor


def square(x):
    return x * x


def fail(x):
    raise ValueError(x)


@pytest.mark.parametrize("mode", ["serial", "thread", "process"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_map_matches_builtin_map(mode, workers):
    with make_executor(ExecutionConfig(mode=mode, workers=workers, start_method="fork")) as executor:
        assert list(executor.map(square, range(20), chunksize=3)) == list(map(square, range(20)))
        assert executor.submit(square, 7).result() == 49
        with pytest.raises(ValueError):
            executor.submit(fail, 1).result()


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


@pytest.mark.parametrize("bad", [0, -1])
def test_workers_must_be_positive(bad):
    with pytest.raises(ValueError):
        ExecutionConfig(mode="thread", workers=bad)


def test_chunk_size_gives_several_tasks_per_worker():
    assert chunk_size(10, 4) == 1
    assert chunk_size(10_000, 2) == 32
    assert 1 <= chunk_size(200, 2) <= 200 // 16
