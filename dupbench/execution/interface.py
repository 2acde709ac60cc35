"""The one interface every back-end implements: `concurrent.futures.Executor` plus what the pipeline needs.

The pipeline is written against this class only and never asks which mode it runs in. Beyond `submit`,
`map` and `shutdown` it needs two things that differ per back-end: how an array every task reads reaches
the workers (`share`), and how to go on after a task killed its worker (`loses_workers`, `recover`).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import numpy as np

# What a task receives in place of a shared array and uses as that array: the array itself, a RAM file that
# unpickles to a read-only view of it (process), or a reference the cluster resolves (dask).
Shared = Any


class Executor(concurrent.futures.Executor):
    """A back-end's executor. The defaults fit executors whose tasks run in this process."""

    #: True where a task can kill the process it runs in (then `map` raises BrokenExecutor and
    #: `recover` makes the executor usable again). Threads and the serial path lose no worker.
    loses_workers: bool = False

    def share(self, array: np.ndarray) -> Shared:
        """What tasks receive instead of `array`, which every task of a stage reads. Valid until shutdown;
        in a task it is used as the array. Here: the array itself (tasks run in this process)."""
        return array

    def start(self) -> None:
        """Begin starting the workers now, without waiting for them, so their start overlaps the caller's
        own work (the scan). Here: nothing to start."""

    def recover(self) -> None:
        """Make the executor usable after `BrokenExecutor` (a worker died); tasks not finished are lost."""

    def abort(self) -> None:
        """Stop now (Ctrl-C, SIGTERM, an error): cancel what has not started and wait for the rest."""
        self.shutdown(wait=True, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes this executor started (none where tasks run in this process)."""
        return []
