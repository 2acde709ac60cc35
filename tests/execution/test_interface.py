"""Every back-end behind `make_executor` keeps the one interface the pipeline is written against."""

import numpy as np
import pytest

from dupbench.config import ExecutionConfig
from dupbench.execution import make_executor
from dupbench.execution.interface import Executor


def square(x):
    return x * x


def fail(x):
    raise ValueError(x)


def total(array, scale):
    return float(np.asarray(array).sum()) * scale


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_map_and_submit_behave_as_the_builtins(mode, workers):
    with make_executor(ExecutionConfig(mode=mode, workers=workers, start_method="fork")) as executor:
        assert isinstance(executor, Executor)
        assert list(executor.map(square, range(20), chunksize=3)) == list(map(square, range(20)))
        assert executor.submit(square, 7).result() == 49
        with pytest.raises(ValueError):
            executor.submit(fail, 1).result()


def test_a_shared_array_reads_the_same_in_every_task(mode):
    from functools import partial

    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    with make_executor(ExecutionConfig(mode=mode, workers=2, start_method="fork")) as executor:
        shared = executor.share(array)
        assert list(executor.map(partial(total, shared), [1, 2, 3])) == [276.0, 552.0, 828.0]


def test_recover_leaves_a_working_executor(mode):
    with make_executor(ExecutionConfig(mode=mode, workers=2, start_method="fork")) as executor:
        executor.recover()
        assert executor.submit(square, 3).result() == 9
