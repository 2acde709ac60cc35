"""What a process pool costs before any work is done: starting it, and sending it data.

Threads share memory; processes pay for isolation twice. Once when the pool starts (fork copies a
page table; forkserver and spawn start a fresh interpreter that re-imports numpy & co.) and again for
every payload (pickled, written through a pipe and unpickled), unless the data goes through
``multiprocessing.shared_memory``, where only a name crosses the pipe.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing import shared_memory
from typing import Any

import numpy as np

START_METHODS = ("fork", "forkserver", "spawn")
DEFAULT_PAYLOAD_BYTES = (10_000, 1_000_000, 10_000_000)


@dataclass(frozen=True)
class StartupRow:
    start_method: str
    workers: int
    median_s: float
    runs_s: tuple[float, ...]


@dataclass(frozen=True)
class PayloadRow:
    """Median seconds for one task to receive ``payload_bytes`` and answer, three ways."""

    payload_bytes: int
    pickle_s: float  # the array is an argument: pickled, piped, unpickled
    shared_memory_s: float  # the data already lives in a segment: only its name is sent
    shared_memory_copy_s: float  # a fresh segment per task: create, copy in, send the name, unlink
    runs: int


def _ready(_: object = None) -> int:
    """A task whose only job is to prove a worker is up (imports of this module included)."""
    return 1


def _checksum_array(array: np.ndarray) -> int:
    return int(array[::4096].sum(dtype=np.int64))


def _checksum_shared(name: str, shape: tuple[int, ...], dtype: str) -> int:
    """Attach to the segment by name, read it in place, detach; nothing but the name was pickled.

    Pool workers share their parent's resource tracker, so attaching must not unregister the segment
    (the parent unlinks it); 3.13+ lets us say so with ``track=False``.
    """
    if sys.version_info >= (3, 13):
        segment = shared_memory.SharedMemory(name=name, track=False)
    else:
        segment = shared_memory.SharedMemory(name=name)
    try:
        view = np.ndarray(shape, dtype=dtype, buffer=segment.buf)
        result = _checksum_array(view)
        del view
        return result
    finally:
        segment.close()


def available_start_methods() -> tuple[str, ...]:
    return tuple(m for m in START_METHODS if m in mp.get_all_start_methods())


def time_pool_startup(start_method: str, workers: int) -> float:
    """Seconds to start a pool, get one answer from each worker, and shut it down."""
    context = mp.get_context(start_method)
    begin = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # More tasks than workers so every worker is started, whatever the pool's spawning policy.
        list(pool.map(_ready, range(workers * 2)))
    return time.perf_counter() - begin


def measure_startup(workers: int, repeats: int, methods: tuple[str, ...] | None = None) -> list[StartupRow]:
    rows = []
    for method in methods or available_start_methods():
        runs = tuple(time_pool_startup(method, workers) for _ in range(repeats))
        rows.append(StartupRow(method, workers, statistics.median(runs), runs))
    return rows


def _send_by_pickle(pool: ProcessPoolExecutor, array: np.ndarray) -> int:
    return pool.submit(_checksum_array, array).result()


def _send_name(pool: ProcessPoolExecutor, segment: shared_memory.SharedMemory, array: np.ndarray) -> int:
    return pool.submit(_checksum_shared, segment.name, array.shape, array.dtype.str).result()


def _to_segment(array: np.ndarray) -> shared_memory.SharedMemory:
    segment = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
    np.ndarray(array.shape, dtype=array.dtype, buffer=segment.buf)[...] = array
    return segment


def _free(segment: shared_memory.SharedMemory) -> None:
    segment.close()
    segment.unlink()


def _send_by_fresh_segment(pool: ProcessPoolExecutor, array: np.ndarray) -> int:
    segment = _to_segment(array)
    try:
        return _send_name(pool, segment, array)
    finally:
        _free(segment)


def _timed(call: Callable[[], int], expected: int, what: str) -> float:
    begin = time.perf_counter()
    if call() != expected:
        raise RuntimeError(f"payload arrived corrupted via {what}")
    return time.perf_counter() - begin


def measure_payloads(sizes: tuple[int, ...] = DEFAULT_PAYLOAD_BYTES, runs: int = 5, start_method: str = "fork") -> list[PayloadRow]:
    """Median round trip of one task receiving a payload of each size: pickled vs shared memory."""
    context = mp.get_context(start_method if start_method in mp.get_all_start_methods() else None)
    rows = []
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(_ready).result()
        for size in sizes:
            array = np.arange(size, dtype=np.uint8)
            expected = _checksum_array(array)
            resident = _to_segment(array)
            try:
                timings: dict[str, list[float]] = {"pickle": [], "shm": [], "shm_copy": []}
                for _ in range(runs):  # interleaved, so background load hits all three alike
                    timings["pickle"].append(_timed(partial(_send_by_pickle, pool, array), expected, "pickle"))
                    timings["shm"].append(_timed(partial(_send_name, pool, resident, array), expected, "shm"))
                    timings["shm_copy"].append(_timed(partial(_send_by_fresh_segment, pool, array), expected, "fresh shm"))
            finally:
                _free(resident)
            medians = {k: statistics.median(v) for k, v in timings.items()}
            rows.append(PayloadRow(size, medians["pickle"], medians["shm"], medians["shm_copy"], runs))
    return rows


def overheads_record(workers: int, repeats: int, payload_runs: int) -> dict[str, Any]:
    """Both measurements as plain data for the results file."""
    return {
        "startup": [asdict(row) for row in measure_startup(workers, repeats)],
        "payload": [asdict(row) for row in measure_payloads(runs=payload_runs)],
    }
