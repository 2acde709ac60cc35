"""The thread back-end: the standard thread pool. Tasks share the process, so arrays are shared as they are
and no worker can be lost; what scales is only the work that releases the GIL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dupbench.execution.interface import Executor
from dupbench.execution.native import prepare_process


class ThreadExecutor(ThreadPoolExecutor, Executor):
    def __init__(self, workers: int) -> None:
        prepare_process()  # one native thread per worker thread, as in every other mode
        super().__init__(max_workers=workers, thread_name_prefix="dupbench")
