import subprocess
import sys
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


HEAP_PROBE = """
import resource, sys
import numpy as np
from dupbench.executors import keep_freed_heap
kept = keep_freed_heap() if sys.argv[1] == "kept" else None
keep = np.ones(1000)  # a live block above the temporaries, as in a real run
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # one row of pairs: several ~170 KB SSIM temporaries alive, then all freed
    temporaries = [np.ones((64, 26, 26), np.float32) for _ in range(4)]
    del temporaries
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_heap_stops_temporaries_from_faulting_in_again():
    """Page faults are counted by the kernel, not timed: without the setting every ~170 KB temporary
    is mmapped afresh and faults its ~43 pages in; with it, freed blocks are reused."""
    def faults(arg: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", HEAP_PROBE, arg], capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    kept, with_setting = faults("kept")
    _, without = faults("default")
    assert kept == "True"
    assert with_setting < 1_000 < 10_000 < without  # measured: ~150 vs ~27,000
