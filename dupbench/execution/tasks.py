"""How stages hand work to an executor: tasks of a few items each, and going on when a worker dies.

Written against `interface.Executor` alone: where an executor cannot lose a worker the retry paths are
never taken, so every mode runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, CancelledError
from typing import Any

from dupbench.execution.interface import Executor

TASK_RETRIES = 2  # a task that killed its worker is run alone this many more times before the run gives up


def chunk_size(n_items: int, workers: int, per_worker: int = 8, largest: int = 32) -> int:
    """Items per task: enough tasks per worker to balance load, few enough to amortise dispatch."""
    return max(1, min(largest, n_items // max(1, workers * per_worker)))


def weighted_chunks(items: Sequence, weights: Sequence[float], workers: int, per_worker: int = 8, largest: int = 32) -> list[list]:
    """`items` in order, cut into tasks of about equal total weight (a file's size for a decode), each at
    most `chunk_size` items. Cut by count, the first task of a largest-first folder holds its biggest files
    together (README, 'Performance', has the measured effect), and a folder of a few
    huge pictures among many small ones would decode the huge ones in one worker, one after another."""
    most = chunk_size(len(items), workers, per_worker, largest)
    target = sum(weights) / max(1, workers * per_worker)
    chunks: list[list] = []
    current: list = []
    load = 0.0
    for item, weight in zip(items, weights):
        if current and (len(current) >= most or load + weight > target):
            chunks.append(current)
            current, load = [], 0.0
        current.append(item)
        load += weight
    if current:
        chunks.append(current)
    return chunks


class WorkerCrashes(RuntimeError):
    """One task killed its worker on every attempt: the run cannot complete without its result."""


class WorkersCannotStart(WorkerCrashes):
    """A freshly started pool could not run even an empty task: retrying the work would only repeat that."""


def map_surviving_crashes(executor: Executor, task: Callable, chunks: list[list], sink: Callable[[list], None], on_crash: Callable[[Any], object]) -> None:
    """Run `task` over chunks of items (paths); if a worker dies, recover the pool and go on.

    `map` yields in order, so when the pool breaks every chunk before the failed one is done. The
    failed chunk is retried one item per task, which pins the crash on its item (whose result becomes
    `on_crash(item)`); the rest go back through `map`. Each crash costs one recovery and at most one
    chunk of single-item tasks. For stages where one lost item is acceptable (loading a file).
    """
    queue = list(chunks)
    while queue:
        done = 0
        try:
            for result in executor.map(task, queue):
                sink(result)
                done += 1
            return
        except BrokenExecutor:
            executor.recover()
        suspect, queue = queue[done], queue[done + 1 :]
        for item in suspect:
            try:
                sink(executor.submit(task, [item]).result())
            except BrokenExecutor:
                executor.recover()
                sink([on_crash(item)])


def start_surviving_crashes(executor: Executor, task: Callable, chunks: list[list], on_crash: Callable[[Any], object]) -> Callable[[], list]:
    """`map_surviving_crashes` begun now, finished by calling what it returns (the results in order).

    Every task is submitted at once, so the pool works on them while the caller prepares other work, and
    tasks the caller submits meanwhile queue behind them: the two share the pool with no barrier between
    them. Where a task's result is lost (its worker died, or another stage's recovery cancelled it), that
    task and the rest go through `map_surviving_crashes`, which pins a crash on its item.
    """
    futures = []
    for chunk in chunks:
        try:
            futures.append(executor.submit(task, chunk))
        except BrokenExecutor:  # left to `finish`, which recovers the pool
            break

    def finish() -> list:
        results: list = []
        done = 0
        for future in futures:
            try:
                results.extend(future.result())
            except (BrokenExecutor, CancelledError):
                break
            done += 1
        map_surviving_crashes(executor, task, chunks[done:], results.extend, on_crash)
        return results

    return finish


def map_retrying(executor: Executor, task: Callable, items: Sequence, retries: int = TASK_RETRIES) -> Iterator:
    """`executor.map(task, items)` in order, surviving dead workers: recover the pool and retry.

    When the pool breaks, the first unfinished item is the suspect: it is run alone (so a crash is
    pinned on it) up to `retries` times, then the rest go back through `map`. For stages that need
    every result (compare tiles, prefilter tiles, verification).
    """
    position = 0
    while position < len(items):
        try:
            for result in executor.map(task, items[position:]):
                yield result
                position += 1
            return
        except BrokenExecutor:
            executor.recover()
        for _attempt in range(retries + 1):
            try:
                result = executor.submit(task, items[position]).result()
                break
            except BrokenExecutor:
                executor.recover()
        else:
            raise WorkerCrashes(
                f"a {getattr(task, 'func', task).__name__} task killed its worker process {retries + 2} times "
                f"(out of memory or a native crash); the run cannot complete without it"
            )
        yield result
        position += 1


class RetryingExecutor(Executor):
    """An executor whose `map` is `map_retrying`: what the compare stage is given, so its code stays one path."""

    def __init__(self, executor: Executor, retries: int = TASK_RETRIES) -> None:
        self._executor, self._retries = executor, retries
        self.loses_workers = executor.loses_workers

    def share(self, array: Any) -> Any:
        return self._executor.share(array)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any):
        return self._executor.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1) -> Iterator[Any]:
        if not self._executor.loses_workers or len(iterables) != 1:
            return self._executor.map(fn, *iterables)
        return map_retrying(self._executor, fn, list(iterables[0]), self._retries)
