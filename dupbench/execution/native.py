"""Native settings for every process that runs detector work: one native thread, a heap that is kept, a quiet OpenCV.

N workers should use N cores, not N x cores: OpenCV's and BLAS's own thread pools are limited to one
thread per process. The heap setting makes per-pair costs the same in every process.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

NATIVE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_BYTES = 32 * 2**20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 2**20


def limit_native_threads() -> dict[str, Any]:
    """Pin OpenCV and BLAS to one thread in this process; return what is now in force."""
    settings: dict[str, Any] = {}
    try:
        import cv2

        cv2.setNumThreads(1)
        settings["opencv_threads"] = cv2.getNumThreads()
        quiet_opencv(cv2)
    except ImportError:
        settings["opencv_threads"] = None
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(1)
    settings["blas_threads"] = sorted({info["num_threads"] for info in threadpool_info()})
    return settings


def quiet_opencv(cv2: Any) -> None:
    """Silence OpenCV's own log: it writes lines such as "[ERROR:0@0.03] ... can't read header" straight to
    stderr, through the progress bar, for files dupbench then reports as skipped with their reason anyway."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def limit_native_threads_of_children() -> None:
    """Set the thread-count variables that workers' own imports read (spawn, forkserver, Dask)."""
    for name in NATIVE_THREAD_ENV:
        os.environ.setdefault(name, "1")


def keep_freed_heap() -> bool:
    """Keep freed heap memory for reuse instead of handing it back to the kernel (glibc only).

    Batched SSIM makes numpy temporaries of a few hundred KB for every row of pairs. With glibc's
    adaptive thresholds such blocks either are mmapped per allocation or sit at the top of the heap and
    are trimmed on free, and either way the next row faults the pages back in, at a cost per pair that
    depends on where earlier allocations happened to leave the heap. Fixed thresholds make the cost the
    same in every process; RSS then tracks a process's peak heap instead of its current one. False where
    the libc has no mallopt, or when DUPBENCH_MALLOC_DEFAULTS=1 asks for glibc's defaults
    (benchmarks/heap_ab.py measures both).
    """
    if os.environ.get("DUPBENCH_MALLOC_DEFAULTS") == "1":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def prepare_process() -> dict[str, Any]:
    """Native settings every process that runs detector work gets: one native thread, a kept heap."""
    settings = limit_native_threads()
    settings["malloc_keeps_freed_heap"] = keep_freed_heap()
    return settings
