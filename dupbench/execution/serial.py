"""The serial back-end: each call runs at once in the caller and no pool is started (the honest baseline)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from dupbench.execution.interface import Executor
from dupbench.execution.native import prepare_process


class SerialExecutor(Executor):
    """Runs each call in the calling thread; `map` is lazy so progress is reported as it goes."""

    def __init__(self) -> None:
        prepare_process()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # a Future carries any exception back to the caller
            future.set_exception(exc)
        return future

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        return map(fn, *iterables)
