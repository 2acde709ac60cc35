"""The process pool's forkserver, started before the command line imports the detector.

With the forkserver start method (the default) every worker is forked from a server process that first
imports numpy and OpenCV itself: about a tenth of a second of one core, which the first task of a run
would otherwise wait for. Started as `dupbench run` begins, the server imports them on another core
while this process imports the same libraries and scans. This module imports nothing heavy, so the
start comes first.
"""

from __future__ import annotations

from collections.abc import Sequence

from dupbench.config import CLI_MODE, DEFAULT_START_METHOD
from dupbench.execution.native import limit_native_threads_of_children

FORKSERVER_PRELOAD = ["dupbench.detector.load", "dupbench.detector.compare"]


def option_value(argv: Sequence[str], option: str, default: str) -> str:
    """The last value given for `option` in argv (`--option VALUE` or `--option=VALUE`), else `default`."""
    value = default
    for k, arg in enumerate(argv):
        if arg == option and k + 1 < len(argv):
            value = argv[k + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    return value


def wants_forkserver_pool(argv: Sequence[str]) -> bool:
    """Whether these `dupbench` arguments are a run whose process pool uses the forkserver (the defaults)."""
    return (
        bool(argv)
        and argv[0] == "run"
        and option_value(argv, "--mode", CLI_MODE) == "process"
        and option_value(argv, "--start-method", DEFAULT_START_METHOD) == "forkserver"
    )


def start_forkserver() -> None:
    """Start the forkserver now, with the worker environment the pool would set (one native thread per
    worker) and its preloaded modules; it exits with this process."""
    from multiprocessing import forkserver

    limit_native_threads_of_children()
    forkserver.set_forkserver_preload(FORKSERVER_PRELOAD)
    forkserver.ensure_running()
