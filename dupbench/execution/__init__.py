"""Execution back-ends behind one interface (`interface.Executor`): serial, thread, process and dask.

`make_executor` is the one place that reads the mode; everything downstream sees only the interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dupbench.config import ExecutionConfig

if TYPE_CHECKING:  # the back-ends import numpy; this package must not, so early_start stays light
    from dupbench.execution.interface import Executor


def new_executor(execution: ExecutionConfig) -> Executor:
    if execution.mode == "serial":
        from dupbench.execution.serial import SerialExecutor

        return SerialExecutor()
    if execution.mode == "thread":
        from dupbench.execution.thread import ThreadExecutor

        return ThreadExecutor(execution.resolved_workers)
    if execution.mode == "dask":
        from dupbench.execution.dask import DaskExecutor  # optional extra: imported only when asked for

        return DaskExecutor(execution)
    from dupbench.execution.process import ProcessExecutor

    return ProcessExecutor(execution)


@contextmanager
def make_executor(execution: ExecutionConfig) -> Iterator[Executor]:
    """The executor for a mode, shut down (its workers joined, its shared arrays freed) when the block ends."""
    executor = new_executor(execution)
    try:
        yield executor
    except BaseException:
        executor.abort()
        raise
    else:
        executor.shutdown(wait=True)
