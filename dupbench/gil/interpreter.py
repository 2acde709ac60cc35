"""Which interpreter ran a measurement, and whether its GIL was really off.

A free-threaded build can still run with the GIL: ``PYTHON_GIL=1``, or an extension module that
does not declare itself thread-safe (some scikit-image modules) switches it back on at import time
with only a RuntimeWarning. So the build flag and the run-time state are recorded separately, and
the run-time state is checked after every import the demo makes.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dupbench.config import available_cpus
from dupbench.runtime import cpu_model, free_threaded_build, gil_enabled

LIBRARIES = ("numpy", "scipy", "pillow", "opencv-python-headless", "scikit-image", "psutil", "threadpoolctl")


@dataclass(frozen=True)
class InterpreterInfo:
    executable: str
    version: str
    implementation: str
    build_free_threaded: bool
    py_gil_disabled_config: int | None
    gil_enabled: bool
    python_gil_env: str | None
    cv2_available: bool

    @property
    def short_name(self) -> str:
        """E.g. 'CPython 3.13.9t (GIL off)': what a table column is titled."""
        suffix = "t" if self.build_free_threaded else ""
        state = "GIL on" if self.gil_enabled else "GIL off"
        return f"{self.implementation} {self.version}{suffix} ({state})"

    @property
    def gil_unexpectedly_enabled(self) -> bool:
        """A free-threaded build running with the GIL: results would silently not show free threading."""
        return self.build_free_threaded and self.gil_enabled


def interpreter_info() -> InterpreterInfo:
    config = sysconfig.get_config_var("Py_GIL_DISABLED")
    try:
        import cv2  # noqa: F401
    except ImportError:
        cv2_ok = False
    else:
        cv2_ok = True
    return InterpreterInfo(
        executable=sys.executable,
        version=platform.python_version(),
        implementation=platform.python_implementation(),
        build_free_threaded=free_threaded_build(),
        py_gil_disabled_config=None if config is None else int(config),
        gil_enabled=gil_enabled(),
        python_gil_env=os.environ.get("PYTHON_GIL"),
        cv2_available=cv2_ok,
    )


def gil_warning(info: InterpreterInfo, when: str) -> str | None:
    """The loud message to print when a free-threaded build has its GIL back, else None."""
    if not info.gil_unexpectedly_enabled:
        return None
    return (
        f"WARNING: the GIL is ENABLED {when} on this free-threaded build ({info.executable}). "
        "A module imported so far re-enabled it (or PYTHON_GIL=1 is set): thread results below "
        "show GIL behaviour, not free threading. Set PYTHON_GIL=0 to force it off."
    )


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit(start: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=start, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine_slug(info: dict[str, Any]) -> str:
    """A stable directory name for results: CPU model and usable cores, not a random hostname."""
    model = "".join(c if c.isalnum() else "-" for c in str(info["cpu_model"]).lower()).strip("-")
    while "--" in model:
        model = model.replace("--", "-")
    return f"{model}-{info['usable_cpus']}cpu"


def machine_info() -> dict[str, Any]:
    import psutil

    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": available_cpus(),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "git_commit": _git_commit(Path(__file__).resolve().parent),
    }


def interpreter_record() -> dict[str, Any]:
    """Interpreter and library metadata for a results file."""
    info = interpreter_info()
    return {**asdict(info), "short_name": info.short_name, "libraries": library_versions()}
