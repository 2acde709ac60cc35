"""One execution interface: every stage takes a `concurrent.futures.Executor`.

"serial" runs each call in the caller and never starts a pool (the honest baseline); "thread" and
"process" are the standard library pools. Native thread pools (OpenCV's, BLAS's) are limited to one
thread per worker so N workers use N cores, not N x cores.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from dupbench.config import ExecutionConfig

NATIVE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
FORKSERVER_PRELOAD = ["dupbench.load", "dupbench.compare"]


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


def _worker_init() -> None:
    limit_native_threads()


@contextmanager
def make_executor(execution: ExecutionConfig) -> Iterator[Executor]:
    """The executor for a mode, shut down (and its workers joined) when the block ends."""
    workers = execution.resolved_workers
    if execution.mode == "serial":
        limit_native_threads()
        executor: Executor = SerialExecutor()
    elif execution.mode == "thread":
        limit_native_threads()
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dupbench")
    else:
        for name in NATIVE_THREAD_ENV:  # seen by workers' imports under forkserver/spawn
            os.environ.setdefault(name, "1")
        context = multiprocessing.get_context(execution.start_method)
        if execution.start_method == "forkserver":
            context.set_forkserver_preload(FORKSERVER_PRELOAD)
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
    try:
        yield executor
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)


def chunk_size(n_items: int, workers: int, per_worker: int = 8, largest: int = 32) -> int:
    """Items per task: enough tasks per worker to balance load, few enough to amortise dispatch."""
    return max(1, min(largest, n_items // max(1, workers * per_worker)))
