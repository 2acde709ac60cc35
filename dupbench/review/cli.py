"""`dupbench review REPORT.json [--out DIR]`: write the review page for a run's groups."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dupbench.actions.plan import show
from dupbench.cli import HelpFormatter
from dupbench.exit_status import EXIT_OK, EXIT_USAGE
from dupbench.review.page import ReviewError, write_review

SHOWN_PROBLEMS = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="write a static page to look at a run's groups side by side and export a plan",
        description=(
            "Write DIR/index.html, a page that needs no server, and small thumbnails in DIR/thumbs/ (never "
            "copies of your images) for the groups in REPORT (written by `dupbench run --output REPORT`). Open "
            "it in a browser, filter and sort the groups, tick the copies to remove, choose the action, and "
            "export a plan; `dupbench apply PLAN --dry-run` shows what it would do. Nothing else is changed."
        ),
        epilog="exit status: 0 page written; 2 bad report or output folder",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("report", type=Path, metavar="REPORT", help="a report written by `dupbench run --output REPORT`")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the page (default: REPORT's name with -review, beside it); refused if it holds anything else",
    )
    parser.add_argument("--thumb-size", type=int, default=160, help="long side of the thumbnails, in pixels")
    parser.set_defaults(func=run_review)


def default_out(report: Path) -> Path:
    return report.with_name(report.stem + "-review")


def run_review(args: argparse.Namespace) -> int:
    if args.thumb_size < 16:
        print("dupbench review: --thumb-size must be at least 16", file=sys.stderr)
        return EXIT_USAGE
    out = args.out or default_out(args.report)
    try:
        result = write_review(args.report, out, thumb_side=args.thumb_size)
    except ReviewError as exc:
        print(f"dupbench review: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"dupbench review: cannot read report {show(str(args.report))}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"review page: {show(str(result.index))} ({result.groups} groups, {result.files} files, {result.thumbnails} thumbnails)")
    if result.problems:
        print(f"{len(result.problems)} file(s) shown without a thumbnail or marked:")
        for path, problem in result.problems[:SHOWN_PROBLEMS]:
            print(f"    {show(path)}: {problem}")
        if len(result.problems) > SHOWN_PROBLEMS:
            print(f"    ... {len(result.problems) - SHOWN_PROBLEMS} more, each marked on the page")
    if result.inside_root is not None:
        print(
            f"note: the page is inside the scanned folder {show(result.inside_root)}: a later run there will find its "
            "thumbnails too (choose --out elsewhere, or delete the page when done)"
        )
    print(f"open it in a browser: {result.index.resolve().as_uri()}")
    print("then: export a plan on the page and check it with: dupbench apply dupbench-plan.json --dry-run")
    return EXIT_OK
