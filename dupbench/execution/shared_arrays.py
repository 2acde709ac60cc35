"""Arrays that process workers read without a copy per task.

A pool worker receives a `SharedArray` as a file name and shape (a few bytes) and maps the data,
once per process; threads and the serial path use the array directly. A plain file in /dev/shm is
used instead of `multiprocessing.shared_memory`, whose resource tracker in Python < 3.13 registers
every attaching worker and warns about (or unlinks) segments it does not own.

The file is removed on every exit path that runs Python (the context manager, and a signal that
arrives while it is being written); after a kill -9, the next run removes the files of dead runs
(`remove_stale_files`): only names dupbench makes, whose PID is not running, owned by this user.
"""

from __future__ import annotations

import atexit
import os
import re
import tempfile
from functools import lru_cache

import numpy as np

from dupbench.stale import remove_dead_runs_files

PREFIX = "dupbench-"
SUFFIX = ".npy"
# Exactly what tempfile.mkstemp(prefix=f"dupbench-{pid}-", suffix=".npy") makes: 8 characters from its alphabet.
STALE_NAME = re.compile(r"dupbench-(\d+)-[a-z0-9_]{8}\.npy")
_swept: set[str] = set()
_live: dict[str, int] = {}  # path -> PID of the process that made it: a forked child must not remove it


@atexit.register
def _remove_live_files() -> None:
    """Last resort on interpreter exit (e.g. an interrupt between creating an array and entering its `with`)."""
    for path, owner in list(_live.items()):
        if owner == os.getpid():
            _unlink(path)


def _unlink(path: str) -> None:
    _live.pop(path, None)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def shared_directory() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def remove_stale_files(directory: str | None) -> list[str]:
    """Remove this user's dupbench RAM files whose run is dead; return their paths. Nothing else is touched."""
    return remove_dead_runs_files(directory or tempfile.gettempdir(), STALE_NAME)


def _sweep_once(directory: str | None) -> None:
    key = directory or ""
    if key not in _swept:
        _swept.add(key)
        remove_stale_files(directory)


@lru_cache(maxsize=32)
def _attach(path: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return np.memmap(path, dtype=np.dtype(dtype), mode="r", shape=shape)


class SharedArray:
    """A read-only array backed by a RAM file; pickles by reference. Use as a context manager."""

    def __init__(self, array: np.ndarray) -> None:
        directory = shared_directory()
        _sweep_once(directory)
        fd, self.path = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=SUFFIX, dir=directory)
        _live[self.path] = os.getpid()
        try:  # a signal between mkstemp and the caller's `with` would otherwise leave the file behind
            os.close(fd)
            self.shape = tuple(array.shape)
            self.dtype = array.dtype.str
            if array.size:
                mapped = np.memmap(self.path, dtype=array.dtype, mode="w+", shape=self.shape)
                mapped[...] = array
                mapped.flush()
                del mapped
            self.array = array
        except BaseException:
            self.close()
            raise

    def __reduce__(self):
        return (_attach, (self.path, self.shape, self.dtype))

    def close(self) -> None:
        _unlink(self.path)

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
