"""Command line: parses arguments and calls plain functions; every subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

# Each module provides `register(subparsers)`, which adds a parser whose defaults set
# `func(args) -> int` (the exit status).
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "dupbench.run_command",
    "dupbench.undo_command",
    "dupbench.harness.cli",
    "dupbench.gil.cli",
    "dupbench.datasets.cli",
    "dupbench.evaluate",
    "dupbench.report.cli",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dupbench",
        description=(
            "Find exact and near-duplicate images, and measure how serial, thread-pool and "
            "process-pool execution of the same detector compare."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    unavailable = []
    for module in SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module).register(subparsers)
        except ImportError as exc:  # e.g. no OpenCV wheel on a free-threaded interpreter
            unavailable.append(f"{module} ({exc})")
    if unavailable:
        parser.epilog = "Not available on this interpreter: " + "; ".join(unavailable)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C: pools stop their workers, no file is half-written


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("dupbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
