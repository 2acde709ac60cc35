"""The Dask back-end: a `distributed` cluster behind the same `concurrent.futures.Executor` shape.

By default a `LocalCluster` sized to the allowed cores is started (one single-threaded worker process
per core, so it runs with no set-up); `--scheduler tcp://HOST:PORT` connects to an existing one instead.
Arrays every task needs (the thumbnails) are scattered to the workers once, by `share`, and tasks get a
reference to them, not a copy. A worker that dies (decoder crash) surfaces as `BrokenExecutor`, so the
detector's crash handling works unchanged; Dask's nannies restart workers by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future
from functools import partial
from typing import Any

from dupbench.config import ExecutionConfig
from dupbench.execution.interface import Executor
from dupbench.execution.native import limit_native_threads_of_children, prepare_process

INSTALL_HINT = "the dask mode needs the optional extra: pip install -e '.[dask]' (or pip install 'dupbench[dask]')"
CONNECT_TIMEOUT_S = 30


class DaskUnavailable(RuntimeError):
    """`dask.distributed` cannot be imported, or the scheduler cannot be reached; the message says what to do."""


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DaskUnavailable(INSTALL_HINT) from None
    return distributed


def _apply(func: Callable, args: tuple, kwargs: dict, *items: Any) -> Any:
    """Run `partial(func, *args, **kwargs)(*items)` on a worker; scattered data inside `args` arrives resolved."""
    return func(*args, *items, **kwargs)


class DaskExecutor(Executor):
    loses_workers = True  # a KilledWorker; `recover` has nothing to do: Dask's nannies restart workers

    def __init__(self, execution: ExecutionConfig) -> None:
        distributed = _import_distributed()
        self._cluster = None
        prepare_process()
        limit_native_threads_of_children()  # inherited by local worker processes before their imports
        try:
            if execution.scheduler:
                self._client = distributed.Client(execution.scheduler, timeout=CONNECT_TIMEOUT_S)
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=execution.resolved_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
                self._client = distributed.Client(self._cluster)
        except (OSError, TimeoutError) as exc:
            self.shutdown()
            raise DaskUnavailable(f"cannot reach the Dask scheduler {execution.scheduler}: {exc}") from None
        self._client.run(prepare_process)
        self._killed = distributed.KilledWorker

    def share(self, value: Any) -> Any:
        """Send `value` to every worker once; pass the returned reference to tasks instead of the value."""
        return self._client.scatter(value, broadcast=True, hash=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return _Result(self._client.submit(*self._task(fn, args), pure=False, **kwargs), self._killed)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        futures = [self._client.submit(*self._task(fn, items), pure=False) for items in zip(*iterables)]
        return self._results(futures)

    def _results(self, futures: list) -> Iterator[Any]:
        try:
            for future in futures:
                yield _unwrap(future, self._killed)
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    @staticmethod
    def _task(fn: Callable, items: tuple) -> tuple:
        """Unfold a partial so scattered references in its arguments are resolved on the worker."""
        if isinstance(fn, partial):
            return (_apply, fn.func, tuple(fn.args), dict(fn.keywords), *items)
        return (fn, *items)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        client, cluster = getattr(self, "_client", None), self._cluster
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _unwrap(future: Any, killed: type[BaseException]) -> Any:
    try:
        return future.result()
    except killed as exc:  # the worker running it died (more than Dask's allowed failures)
        raise BrokenExecutor(str(exc)) from None


class _Result(Future):
    """A `concurrent.futures.Future` face on a distributed future, turning KilledWorker into BrokenExecutor."""

    def __init__(self, future: Any, killed: type[BaseException]) -> None:
        super().__init__()
        self._future, self._killed = future, killed

    def result(self, timeout: float | None = None) -> Any:
        return _unwrap(self._future, self._killed)

    def done(self) -> bool:
        return self._future.done()
