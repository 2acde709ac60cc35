"""Arrays that process workers read without a copy per task.

A pool worker receives a `SharedArray` as a file name and shape (a few bytes) and maps the data,
once per process; threads and the serial path use the array directly. A plain file in /dev/shm is
used instead of `multiprocessing.shared_memory`, whose resource tracker in Python < 3.13 registers
every attaching worker and warns about (or unlinks) segments it does not own.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def _attach(path: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return np.memmap(path, dtype=np.dtype(dtype), mode="r", shape=shape)


class SharedArray:
    """A read-only array backed by a RAM file; pickles by reference. Use as a context manager."""

    def __init__(self, array: np.ndarray) -> None:
        directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, self.path = tempfile.mkstemp(prefix=f"dupbench-{os.getpid()}-", suffix=".npy", dir=directory)
        os.close(fd)
        self.shape = tuple(array.shape)
        self.dtype = array.dtype.str
        if array.size:
            mapped = np.memmap(self.path, dtype=array.dtype, mode="w+", shape=self.shape)
            mapped[...] = array
            mapped.flush()
            del mapped
        self.array = array

    def __reduce__(self):
        return (_attach, (self.path, self.shape, self.dtype))

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "SharedArray":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
