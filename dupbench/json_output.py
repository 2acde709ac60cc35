"""One meaning of `--json` and `--output` for every command that has a machine-readable result.

`--json` prints that result as JSON on stdout *instead of* the human text, which goes to stderr, so
stdout can be piped to `jq` or a file; `--output FILE` writes it to FILE (`-` is stdout, as `--json`).
Both may be given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

STDOUT = "-"


def json_help(what: str) -> str:
    return f"print {what} as JSON on stdout instead of the human text, which goes to stderr (the same as --output -)"


def output_help(what: str) -> str:
    return f"write {what} as JSON to FILE; '-' writes it to stdout, as --json does"


def add_json_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=json_help(what))
    parser.add_argument("--output", type=Path, metavar="FILE", help=output_help(what))


def json_to_stdout(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False)) or (args.output is not None and str(args.output) == STDOUT)


def json_file(args: argparse.Namespace) -> Path | None:
    """The --output file, None when there is none or it is stdout."""
    return args.output if args.output is not None and str(args.output) != STDOUT else None
