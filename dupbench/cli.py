"""Command line: parses arguments and calls plain functions; every subcommand lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dupbench import __version__
from dupbench.execution.early_start import start_forkserver, wants_forkserver_pool
from dupbench.exit_status import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE  # noqa: F401 (re-exported)

# Each module provides `register(subparsers)`, which adds its commands' parsers, whose defaults set
# `func(args) -> int` (the exit status). Only the named command's module is imported: the report's
# pandas and matplotlib take a noticeable share of a second to import, which every `dupbench run` (and
# every measured run of the study) would otherwise pay before its first file.
SUBCOMMANDS: dict[str, str] = {
    "run": "dupbench.run_command",
    "review": "dupbench.review.cli",
    "apply": "dupbench.apply_command",
    "undo": "dupbench.undo_command",
    "sweep": "dupbench.harness.cli",
    "summary": "dupbench.harness.cli",
    "gil": "dupbench.gil.cli",
    "dataset": "dupbench.datasets.cli",
    "evaluate": "dupbench.evaluate",
    "report": "dupbench.report.cli",
}
SUBCOMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(SUBCOMMANDS.values()))

EXIT_STATUS_HELP = (
    "exit status: 0 done (a run whose scan completed, skipped files included); 1 a run or action could not "
    "complete; 2 usage error (bad option, missing PATH, unreadable report or plan); 130 interrupted (Ctrl-C or SIGTERM)"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each default shown once, and examples kept as lines.

    The stock formatter appends "(default: X)" even where the help already explains the default, and
    for options whose default is just "not given" (None, False); it also rewraps every line break.
    Here a paragraph (blank-line separated) that holds line breaks is printed as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action) or ""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n" in paragraph:
                paragraphs.append("\n".join(indent + line for line in paragraph.splitlines()))
            else:
                paragraphs.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(paragraphs)


def _modules_for(argv: list[str] | None) -> tuple[str, ...]:
    """The module of the command `argv` names, or all of them (no argv, --help, an unknown command)."""
    first = next((w for w in argv if not w.startswith("-")), None) if argv is not None else None
    return (SUBCOMMANDS[first],) if first in SUBCOMMANDS else SUBCOMMAND_MODULES


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for the command `argv` names; every command's when `argv` is None."""
    parser = argparse.ArgumentParser(
        prog="dupbench",
        description=("Find exact and near-duplicate images, and measure how serial, thread-pool and process-pool execution of the same detector compare."),
        epilog=EXIT_STATUS_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dupbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    unavailable = []
    modules = _modules_for(argv)
    for module in modules:
        try:
            importlib.import_module(module).register(subparsers)
        except ImportError as exc:  # e.g. no OpenCV wheel on a free-threaded interpreter
            unavailable.append(f"{module} ({exc})")
    if unavailable:
        parser.epilog = f"{EXIT_STATUS_HELP}\n\nNot available on this interpreter: " + "; ".join(unavailable)
        if len(modules) == 1:
            parser.error(f"this command is not available on this interpreter: {unavailable[0]}")
    return parser


_TAKEN: list[int] = []  # the signals interrupts_unwind has taken over in this process, while it runs


def _defaults_in_forked_child() -> None:
    """In a child forked while a command runs: the signals taken over are back at their default action
    (the OS ends the process), before the child runs any code of its own, so a pool worker ends at once
    on the pool's SIGTERM, even inside a long native call, and never runs the command's handler."""
    for signum in _TAKEN:  # the forking thread is the child's main thread, so this is allowed
        signal.signal(signum, signal.SIG_DFL)
    _TAKEN.clear()


os.register_at_fork(after_in_child=_defaults_in_forked_child)


@contextmanager
def interrupts_unwind() -> Iterator[None]:
    """For as long as the command runs, SIGTERM unwinds like Ctrl-C (KeyboardInterrupt): pools stop their
    workers, no file is left half-written. Then the caller's handlers come back (`main(argv)` from Python).

    Only in this process. A pool started with fork copies the handler into every worker, and one that
    gets the signal between the fork and its own start (the pool ends the others when one worker dies,
    and Ctrl-C reaches the whole process group) would raise in its copy of the caller's stack and carry
    on running the command there: a second run, acting on the same files. A forked child gets the
    default actions back at once (`_defaults_in_forked_child`), and should the signal come before that,
    the handler exits the copy instead of raising. SIGINT is taken over only where Python's own handler
    is set, so a run started with Ctrl-C ignored (nohup, a background job) keeps ignoring it.
    """
    owner = os.getpid()

    def unwind(signum: int, frame: object) -> None:
        if os.getpid() != owner:
            os._exit(128 + signum)
        raise KeyboardInterrupt

    # Handlers can be set from the main thread only; from another, the command keeps the caller's, and
    # its forked children still start with Ctrl-C's default action rather than Python's raising one.
    in_main = threading.current_thread() is threading.main_thread()
    python_ctrl_c = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    taken = ([signal.SIGTERM] if in_main else []) + ([signal.SIGINT] if python_ctrl_c else [])
    outer = list(_TAKEN)
    previous = {signum: signal.signal(signum, unwind) for signum in taken} if in_main else {}
    _TAKEN[:] = sorted(set(outer) | set(taken))
    try:
        yield
    finally:
        _TAKEN[:] = outer
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: a handler set from C


def exit_if_stuck(status: int) -> None:
    """Exit now, after the atexit clean-up, if a non-daemon thread is still running (a process pool's
    manager thread can wait forever on a result pipe a killed worker left half-written); interpreter exit
    would join it and hang. Only for the command line: a caller of `main(argv)` gets the status back."""
    import atexit

    if any(t.is_alive() and not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        os._exit(status)


def main(argv: list[str] | None = None) -> int:
    with interrupts_unwind():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    argv_was_none = argv is None
    try:
        argv = sys.argv[1:] if argv is None else argv
        if argv_was_none and wants_forkserver_pool(argv):  # the command line only: a caller's process is its own
            start_forkserver()
        args = build_parser(argv).parse_args(argv)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("dupbench: interrupted", file=sys.stderr)
        if argv_was_none:
            exit_if_stuck(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `dupbench ... | head`: the reader is gone, which is not an error of ours
        if argv_was_none:  # stdout's buffer cannot be flushed any more: point it at /dev/null for the exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
