"""Machine and software metadata written beside every results file (pyperf's collect_metadata, asv's machine.json).

Everything a reader needs to judge whether two results files are comparable: the CPU and how many cores
the harness could use, the interpreter build and GIL state, library versions and thread settings, the
multiprocessing start method, and the exact code (git commit, dirty flag) and sweep file that ran.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import socket
import subprocess
import sys
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import psutil

from dupbench.runtime import cpu_model, free_threaded_build, gil_enabled


def machine_name() -> str:
    """A filesystem-safe host name, used as the results sub-directory."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()).strip("-") or "machine"


def gil_state() -> dict[str, Any]:
    """Whether this interpreter was built free-threaded, and whether the GIL is on right now."""
    return {"gil_enabled": gil_enabled(), "py_gil_disabled_build": free_threaded_build()}


def package_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def library_settings() -> dict[str, Any]:
    """Versions and default thread pools of the numerical libraries, as the harness process sees them.

    The detector sets its own limits in each worker; the per-run report records those. These are the
    defaults a child starts from, so oversubscription can be diagnosed.
    """
    info: dict[str, Any] = {
        "numpy": package_version("numpy"),
        "opencv": package_version("opencv-python-headless") or package_version("opencv-python"),
        "scikit_image": package_version("scikit-image"),
        "scipy": package_version("scipy"),
        "psutil": psutil.__version__,
        "pandas": package_version("pandas"),
        "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }
    try:
        import cv2

        info["opencv_runtime"] = cv2.__version__
        info["opencv_threads"] = cv2.getNumThreads()
    except ImportError:  # pragma: no cover - a dependency
        info["opencv_threads"] = None
    try:
        import numpy  # noqa: F401  (loads its BLAS so threadpoolctl can see it)
        from threadpoolctl import threadpool_info

        info["blas_threads"] = [{k: pool.get(k) for k in ("internal_api", "num_threads", "version", "filepath")} for pool in threadpool_info()]
    except ImportError:  # pragma: no cover
        info["blas_threads"] = None
    return info


def find_repo(start: Path) -> Path:
    """The git work tree holding `start` (a sweep file, say), else the current directory.

    Asking git rather than counting parent folders keeps this true whatever the package layout."""
    start = start if start.is_dir() else start.parent
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return Path.cwd()
    return Path(out.stdout.strip()) if out.returncode == 0 else Path.cwd()


def git_state(repo: Path) -> dict[str, Any]:
    """Commit and dirty flag; results are only reproducible from a clean tree. What the study writes
    (results/, report/) does not make the tree dirty: a rerun overwrites committed results as it goes."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!report")
    return {
        "commit": commit,
        "short_commit": commit[:10] if commit else "nocommit",
        "dirty": bool(status) if status is not None else None,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
    }


def collect_metadata(repo: Path, sweep_text: str = "", sweep_path: str = "") -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0))
    memory = psutil.virtual_memory()
    return {
        "collected_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_name(),
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "allowed_cores": affinity,
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "build": " ".join(platform.python_build()),
            "compiler": platform.python_compiler(),
            "executable": sys.executable,
            **gil_state(),
        },
        "libraries": library_settings(),
        "multiprocessing_default_start_method": multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_context().get_start_method(),
        "git": git_state(repo),
        "sweep_path": sweep_path,
        "sweep_text": sweep_text,
    }
