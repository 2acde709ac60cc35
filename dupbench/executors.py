"""One execution interface: every stage takes a `concurrent.futures.Executor`.

"serial" runs each call in the caller and never starts a pool (the honest baseline); "thread" and
"process" are the standard library pools; "dask" is a `distributed` cluster (dask_executor.py). Native thread pools (OpenCV's, BLAS's) are limited to one
thread per worker so N workers use N cores, not N x cores.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import select
import signal
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from dupbench.config import ExecutionConfig
from dupbench.stale import pid_running

NATIVE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 2**20
FORKSERVER_PRELOAD = ["dupbench.load", "dupbench.compare"]
JOIN_TIMEOUT_S = 5.0  # how long a terminated worker may take to exit before it is killed
PARENT_POLL_S = 1.0  # where pidfd_open is missing: how often a worker checks that the run is alive


class SerialExecutor(Executor):
    """Runs each call at once in the calling thread; `map` is lazy so progress is reported as it goes."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # a Future carries any exception back to the caller
            future.set_exception(exc)
        return future

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return map(fn, *iterables)


def limit_native_threads() -> dict[str, Any]:
    """Pin OpenCV and BLAS to one thread in this process; return what is now in force."""
    settings: dict[str, Any] = {}
    try:
        import cv2

        cv2.setNumThreads(1)
        settings["opencv_threads"] = cv2.getNumThreads()
    except ImportError:
        settings["opencv_threads"] = None
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(1)
    settings["blas_threads"] = sorted({info["num_threads"] for info in threadpool_info()})
    return settings


def keep_freed_heap() -> bool:
    """Keep freed heap memory for reuse instead of handing it back to the kernel (glibc only).

    Batched SSIM makes ~170 KB numpy temporaries for every row of pairs. With glibc's adaptive
    thresholds such blocks either are mmapped per allocation or sit at the top of the heap and are
    trimmed on free, and either way the next row faults the pages back in: 9.6 instead of 3.9 us per
    pair (measured, 140,000 minor faults per 40,000 pairs), depending on where earlier allocations
    happened to leave the heap. Fixed thresholds make the cost the same in every process; RSS then
    tracks a process's peak heap instead of its current one. False where the libc has no mallopt, or
    when DUPBENCH_MALLOC_DEFAULTS=1 asks for glibc's defaults (benchmarks/heap_ab.py measures both).
    """
    if os.environ.get("DUPBENCH_MALLOC_DEFAULTS") == "1":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def prepare_process() -> dict[str, Any]:
    """Native settings every process that runs detector work gets: one native thread, a kept heap."""
    settings = limit_native_threads()
    settings["malloc_keeps_freed_heap"] = keep_freed_heap()
    return settings


def exit_when_gone(pid: int) -> None:
    """Exit this process as soon as process `pid` (the run's main process) has ended, however it ended.

    A pool worker blocks forever reading its task queue, whose write end it holds itself, so after a
    kill -9 of the run (the OOM killer's way) nothing would ever wake it; under forkserver each worker
    also holds the pipe that tells the server the run is gone, so the server, the workers and the
    resource tracker would all stay. PR_SET_PDEATHSIG does not cover this: a forkserver worker's parent is
    the server, and the signal follows the thread that forked, not the process. A pidfd names the
    process itself (no PID-reuse race): a daemon thread waits for it to become readable, then exits.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll instead
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while pid_running(pid):
                threading.Event().wait(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="dupbench-parent-watch", daemon=True).start()


def _worker_init(main_pid: int | None = None) -> None:
    # Ctrl-C goes to the whole process group; the parent alone decides to stop and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if main_pid is not None:
        exit_when_gone(main_pid)
    prepare_process()


def stop_helper_processes() -> None:
    """Stop multiprocessing's forkserver and resource tracker and wait for them (run at exit).

    Both outlive the pool on purpose (the next pool reuses them) and end by themselves once this
    process is gone; but then nobody waits for them, and in a container whose PID 1 does not reap they
    stay as zombies. Called after every pool's workers are joined, so neither waits for long. Uses the
    private `_stop` both have had since Python 3.8; where it is missing they are left to end by themselves.
    """
    from multiprocessing import forkserver, resource_tracker, util

    util._exit_function()  # multiprocessing's own exit clean-up first (it still talks to the tracker); runs once
    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except (OSError, ChildProcessError):
                pass


_helpers_stopped_at_exit: list[bool] = []


class RebuildableProcessPool(Executor):
    """A process pool that replaces itself after a worker died (segfault, out of memory).

    `ProcessPoolExecutor` marks itself broken for good when one worker dies; the detector rebuilds it
    and goes on, so one bad file costs that file, not the run.
    """

    def __init__(self, execution: ExecutionConfig) -> None:
        self._execution = execution
        self.rebuilds = 0
        if not _helpers_stopped_at_exit:
            _helpers_stopped_at_exit.append(True)
            atexit.register(stop_helper_processes)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context(self._execution.start_method)
        if self._execution.start_method == "forkserver":
            context.set_forkserver_preload(FORKSERVER_PRELOAD)
        return ProcessPoolExecutor(self._execution.resolved_workers, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return self._pool.map(fn, *iterables, timeout=timeout, chunksize=chunksize)

    def rebuild(self) -> None:
        self.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._new_pool()
        self.rebuilds += 1

    def terminate(self) -> None:
        """Stop every worker now (used on Ctrl-C/SIGTERM, where waiting for tasks is wrong); `shutdown`
        then joins them (its manager thread reaps the pool's processes)."""
        # Python 3.11's pool manager, seeing workers die, sets BrokenProcessPool on every pending future,
        # and raises in its thread (a traceback on stderr) for those `map` already cancelled. Give those
        # items a fresh future instead (one attribute each: the pool's dict itself is left alone).
        pending = getattr(self._pool, "_pending_work_items", None)
        if isinstance(pending, dict):
            for item in list(pending.values()):
                if item.future.cancelled():
                    item.future = Future()
        for process in self.processes():
            if process.is_alive():
                process.terminate()

    def abort(self) -> None:
        """Stop now (Ctrl-C/SIGTERM): terminate and join every worker, and give the pool's manager thread a
        bounded time to finish. A worker killed while writing a result can leave a partial message in the
        result pipe, on which the manager thread then waits forever: never wait for it unbounded."""
        workers = self.processes()
        manager = getattr(self._pool, "_executor_manager_thread", None)
        self.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.join_workers(workers)
        if manager is not None:
            manager.join(JOIN_TIMEOUT_S)

    def processes(self) -> list:
        return list((getattr(self._pool, "_processes", None) or {}).values())  # no public API before Python 3.14

    def join_workers(self, processes: list) -> None:
        """Wait until each of `processes` is reaped, killing any still there after JOIN_TIMEOUT_S. Under
        forkserver the server reaps them only while it runs, and it ends with the run."""
        for process in processes:
            process.join(JOIN_TIMEOUT_S)
            if process.exitcode is None:
                process.kill()
                process.join(JOIN_TIMEOUT_S)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in (getattr(self._pool, "_processes", None) or {}).values()]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@contextmanager
def make_executor(execution: ExecutionConfig) -> Iterator[Executor]:
    """The executor for a mode, shut down (and its workers joined) when the block ends."""
    workers = execution.resolved_workers
    if execution.mode == "serial":
        prepare_process()
        executor: Executor = SerialExecutor()
    elif execution.mode == "thread":
        prepare_process()
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dupbench")
    elif execution.mode == "dask":
        from dupbench.dask_executor import DaskExecutor  # optional extra: imported only when asked for

        prepare_process()
        executor = DaskExecutor(execution)
    else:
        for name in NATIVE_THREAD_ENV:  # seen by workers' imports under forkserver/spawn
            os.environ.setdefault(name, "1")
        # Also in the parent: a forked child inherits OpenCV's thread-pool state without its threads,
        # and its own cv2.setNumThreads then waits forever for them.
        prepare_process()
        executor = RebuildableProcessPool(execution)
    try:
        yield executor
    except BaseException:
        if isinstance(executor, RebuildableProcessPool):
            executor.abort()
        else:
            executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)


def chunk_size(n_items: int, workers: int, per_worker: int = 8, largest: int = 32) -> int:
    """Items per task: enough tasks per worker to balance load, few enough to amortise dispatch."""
    return max(1, min(largest, n_items // max(1, workers * per_worker)))
