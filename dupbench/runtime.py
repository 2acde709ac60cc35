"""What this interpreter and machine are: the one place that answers "is the GIL on" and "what CPU is this"."""

from __future__ import annotations

import platform
import sys
import sysconfig
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def free_threaded_build() -> bool:
    """Whether this interpreter was built with --disable-gil."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """Run-time GIL state; interpreters before 3.13 have no switch and always hold a GIL."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def gil_state(warn: bool = True) -> dict[str, bool]:
    """Whether this interpreter was built free-threaded and whether the GIL is on now, after every import.

    Some extension modules switch the GIL back on when imported on a free-threaded build; a study run
    that silently had the GIL back would be mislabelled, so it is recorded and (with `warn`) shouted about.
    """
    state = {"free_threaded_build": free_threaded_build(), "gil_enabled": gil_enabled()}
    if warn and state["free_threaded_build"] and state["gil_enabled"]:
        print("dupbench: WARNING: free-threaded interpreter, but the GIL is ENABLED (an imported module switched it on)", file=sys.stderr)
    return state
