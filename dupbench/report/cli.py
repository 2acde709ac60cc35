"""`dupbench report results/` (or RESULTS.csv... and the other inputs named) `--out report/`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from dupbench.report.data import load_inputs
from dupbench.report.discover import discover
from dupbench.report.render import build_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render the study's figures and report from results files",
        description=(
            "Render figures (PNG and SVG), report/README.md and a self-contained report/index.html from "
            "sweep results (the CSVs written by `dupbench sweep`; their metadata JSON and timelines are "
            "read from beside them). Every number in the report is computed from these files. Given a "
            "folder (`dupbench report results/`), it finds the newest results of each experiment in it: "
            "per sweep the newest file and its siblings from the same commit, and the newest accuracy sweep, "
            "GIL demo, scale run, limits and peers tables, and real-image evaluations; a file named with a flag below replaces what was found."
        ),
    )
    parser.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help="sweep CSVs, or a results folder to search")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder (default: report/)")
    parser.add_argument(
        "--accuracy",
        type=Path,
        metavar="CSV",
        help="threshold-sweep CSV from `dupbench evaluate --threshold-sweep` (without it the report says accuracy is absent)",
    )
    parser.add_argument(
        "--gil", type=Path, metavar="results.json", help="results.json of a `dupbench gil` run, for the per-kernel GIL measurements in the 'why' section"
    )
    parser.add_argument(
        "--scale", type=Path, metavar="CSV", help="CSV from benchmarks/scale.py: the compare stage's time and memory up to 100,000 images, both pair strategies"
    )
    parser.add_argument(
        "--table",
        type=Path,
        action="append",
        default=[],
        metavar="MD",
        help="a Markdown table written by a benchmark script (benchmarks/limits.py, benchmarks/peers.py), included as it is; repeatable",
    )
    parser.add_argument(
        "--real",
        type=Path,
        action="append",
        default=[],
        metavar="JSON",
        help="evaluation.json of a real-image set (experiments/accuracy_real.sh writes results/accuracy/<machine>/real-*/), for the report's real-image accuracy; repeatable",
    )
    parser.set_defaults(func=run)


def with_discovered(args: argparse.Namespace) -> argparse.Namespace:
    """Folders among the results replaced by the files found in them; flags given by hand win."""
    files = [p for p in args.results if not p.is_dir()]  # a missing path stays, to be reported
    for folder in (p for p in args.results if p.is_dir()):
        found = discover(folder)
        files += found.results
        args.accuracy = args.accuracy or found.accuracy
        args.gil = args.gil or found.gil
        args.scale = args.scale or found.scale
        args.table = args.table or found.tables
        args.real = args.real or found.real_accuracy
    return argparse.Namespace(**{**vars(args), "results": files})


def typed_command(args: argparse.Namespace) -> str:
    """The command as the reader would type it again: the folders or files and flags they gave."""
    command = "dupbench report " + " ".join(shlex.quote(str(p)) for p in args.results) + f" --out {shlex.quote(str(args.out))}"
    command += f" --accuracy {shlex.quote(str(args.accuracy))}" if args.accuracy else ""
    command += f" --gil {shlex.quote(str(args.gil))}" if args.gil else ""
    command += f" --scale {shlex.quote(str(args.scale))}" if args.scale else ""
    command += "".join(f" --table {shlex.quote(str(t))}" for t in args.table)
    return command + "".join(f" --real {shlex.quote(str(r))}" for r in args.real)


def run(args: argparse.Namespace) -> int:
    command = typed_command(args)
    args = with_discovered(args)
    given = [*args.results, *(p for p in (args.accuracy, args.gil, args.scale) if p is not None), *args.table, *args.real]
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        print(f"dupbench report: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not args.results:
        print("dupbench report: no sweep results (a CSV with the metadata JSON `dupbench sweep` writes beside it) in the given folder(s)", file=sys.stderr)
        return 2
    readme = build_report(load_inputs(args.results, args.accuracy, args.gil, args.scale, args.table, args.real), args.out, command)
    print(f"wrote {readme} and {args.out / 'index.html'}")
    return 0
