"""The process back-end: a process pool that survives dead workers and leaves nothing behind.

Arrays reach the workers as RAM files (`shared_arrays.SharedArray`), mapped once per process. A worker
that dies (decoder segfault, out of memory) breaks a `ProcessPoolExecutor` for good; this pool replaces
itself (`recover`), so one bad file costs that file, not the run. Workers end with the run however it
ends (kill -9 included), and the pool's helper processes are reaped.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import select
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, cast

import numpy as np

from dupbench.config import ExecutionConfig
from dupbench.execution.early_start import FORKSERVER_PRELOAD
from dupbench.execution.interface import Executor, Shared
from dupbench.execution.native import limit_native_threads_of_children, prepare_process
from dupbench.execution.shared_arrays import SharedArray
from dupbench.execution.tasks import WorkersCannotStart
from dupbench.stale import pid_running

START_TIMEOUT_S = 60.0  # how long a rebuilt pool may take to run its first, empty task
JOIN_TIMEOUT_S = 5.0  # how long a terminated worker may take to exit before it is killed
PARENT_POLL_S = 1.0  # where pidfd_open is missing: how often a worker checks that the run is alive


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
        pidfd: int | None = os.pidfd_open(pid)
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


def _worker_init(main_pid: int) -> None:
    # Ctrl-C goes to the whole process group; the parent alone decides to stop and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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

    util._exit_function()  # type: ignore[attr-defined]  # multiprocessing's own exit clean-up first (it still talks to the tracker); runs once
    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except (OSError, ChildProcessError):
                pass


_helpers_stopped_at_exit: list[bool] = []


class TrackingContext:
    """A multiprocessing context that remembers every process it makes: the pool's workers, known
    without reading the pool's private state."""

    def __init__(self, base: BaseContext) -> None:
        self._base: Any = base  # a concrete context (fork, forkserver, spawn): each has a Process class
        self.processes: list[BaseProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> BaseProcess:  # noqa: N802 (multiprocessing's name)
        process = self._base.Process(*args, **kwargs)
        self.processes.append(process)
        return process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


class ProcessExecutor(Executor):
    """A process pool that replaces itself after a worker died, and shares arrays as RAM files."""

    loses_workers = True

    def __init__(self, execution: ExecutionConfig) -> None:
        limit_native_threads_of_children()
        # Also in the parent: a forked child inherits OpenCV's thread-pool state without its threads,
        # and its own cv2.setNumThreads then waits forever for them.
        prepare_process()
        self._execution = execution
        self._shared: list[SharedArray] = []
        if not _helpers_stopped_at_exit:
            _helpers_stopped_at_exit.append(True)
            atexit.register(stop_helper_processes)
        self._context, self._pool = self._new_pool()

    def _new_pool(self) -> tuple[TrackingContext, ProcessPoolExecutor]:
        base = multiprocessing.get_context(self._execution.start_method)
        if self._execution.start_method == "forkserver":
            base.set_forkserver_preload(FORKSERVER_PRELOAD)
        context = TrackingContext(base)
        pool = ProcessPoolExecutor(
            self._execution.resolved_workers,
            mp_context=cast(BaseContext, context),  # duck-typed: every attribute but Process is the base's
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        return context, pool

    def start(self) -> None:
        """One empty task per worker: the pool forks (or asks its forkserver for) every worker now, and the
        forkserver imports numpy and OpenCV, while the caller scans."""
        for _ in range(self._execution.resolved_workers):
            self._pool.submit(os.getpid)

    def share(self, array: np.ndarray) -> Shared:
        shared = SharedArray(array)
        self._shared.append(shared)
        return shared

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return self._pool.map(fn, *iterables, timeout=timeout, chunksize=chunksize)

    def recover(self) -> None:
        """A new pool, checked with one empty task: where workers cannot start at all (a main module that
        multiprocessing cannot re-import, a broken environment), every retry would fail the same way.
        The old workers are joined with a bound first: one that did not end on SIGTERM (a signal that came
        as it was being forked is lost) would keep the pool's manager thread, and `shutdown`, waiting."""
        workers = list(self._context.processes)
        self._terminate()
        join_workers(workers)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._context, self._pool = self._new_pool()
        try:
            self._pool.submit(os.getpid).result(timeout=START_TIMEOUT_S)
        except (BrokenExecutor, TimeoutError) as exc:
            raise WorkersCannotStart(
                f"worker processes cannot start ({type(exc).__name__}: {exc}). Called from Python? Run dupbench under "
                "`if __name__ == '__main__':` in a script file: the process pool starts its workers by re-importing "
                "the main module (start method forkserver or spawn)"
            ) from None

    def _terminate(self) -> None:
        """Stop every worker now; `shutdown` then joins them (its manager thread reaps the processes)."""
        # Python 3.11's pool manager, seeing workers die, sets BrokenProcessPool on every pending future,
        # and raises in its thread (a traceback on stderr) for those `map` already cancelled. Give those
        # items a fresh future instead (one attribute each, guarded: the pool's dict itself is left alone).
        pending = getattr(self._pool, "_pending_work_items", None)
        if isinstance(pending, dict):
            for item in list(pending.values()):
                if item.future.cancelled():
                    item.future = Future()
        for process in self._context.processes:
            if process.is_alive():
                process.terminate()

    def abort(self) -> None:
        """Stop now: terminate and join every worker, and give the pool's manager thread a bounded time to
        finish. A worker killed while writing a result can leave a partial message in the result pipe, on
        which the manager thread then waits forever: never wait for it unbounded."""
        workers = list(self._context.processes)
        manager = getattr(self._pool, "_executor_manager_thread", None)
        self._terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        join_workers(workers)
        if manager is not None:
            manager.join(JOIN_TIMEOUT_S)
        self._free_shared()

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._context.processes if p.pid is not None and p.exitcode is None]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        self._free_shared()

    def _free_shared(self) -> None:
        for shared in self._shared:
            shared.close()
        self._shared.clear()


def join_workers(processes: list[BaseProcess]) -> None:
    """Wait until each of `processes` is reaped, killing any still there after JOIN_TIMEOUT_S. Under
    forkserver the server reaps them only while it runs, and it ends with the run."""
    for process in processes:
        if process.pid is None:  # made but never started (its start failed): nothing to wait for
            continue
        process.join(JOIN_TIMEOUT_S)
        if process.exitcode is None:
            process.kill()
            process.join(JOIN_TIMEOUT_S)
