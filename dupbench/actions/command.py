"""The `dupbench run` options that act on the duplicates found, as three calls for the run command.

add_action_arguments(parser)                     # when building the parser
error = check_action_arguments(args)             # before scanning: refuse early, exit 2
status = perform_actions(report, args, ...)      # after the report is printed
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from dupbench.actions.execute import apply_plan
from dupbench.actions.keep import KEEP_RULES, PREFIX, check_keep_rule, protect_references
from dupbench.actions.leftovers import action_folders, remove_stale_temporaries
from dupbench.actions.manifest import name_taken
from dupbench.actions.plan import ACTIONS, format_plan, make_plan, show, summary
from dupbench.actions.trash import system_trash_available
from dupbench.exit_status import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from dupbench.result import DuplicateReport, Group


def add_action_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("acting on the duplicates (default: report only, nothing on disk changes)")
    group.add_argument(
        "--action",
        choices=ACTIONS,
        default="report",
        help="move: non-keepers into --to DIR; delete: to the system trash (needs --yes); "
        "hardlink: byte-identical copies become hard links to their keeper. Each writes a manifest for `dupbench undo`",
    )
    group.add_argument(
        "--include-near",
        action="store_true",
        help="also act on near duplicates (by default an action touches only copies identical to another "
        "file: equal bytes or pixels; near groups are for review first: dupbench review REPORT.json)",
    )
    group.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose files are never moved, trashed or linked (repeatable); a group with a file in one keeps that file",
    )
    group.add_argument("--to", type=Path, metavar="DIR", help="where --action move puts files, keeping their paths relative to their root")
    group.add_argument("--yes", action="store_true", help="confirm --action delete")
    group.add_argument("--dry-run", action="store_true", help="print the exact plan and change nothing")
    group.add_argument(
        "--keep",
        type=_keep_rule,
        metavar="RULE",
        help=f"which copy to keep instead of the highest-resolution one: {', '.join(KEEP_RULES)} "
        "(path-prefix=DIR keeps the files under DIR: when acting, DIR is a --reference folder)",
    )
    group.add_argument(
        "--manifest", type=Path, metavar="FILE", help="where to write the undo manifest (default: in --to DIR for move, else the current directory)"
    )


def _keep_rule(text: str) -> str:
    try:
        return check_keep_rule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def reference_folders(args: argparse.Namespace) -> list[str]:
    """The --reference folders, and the folder of --keep path-prefix=DIR: a rule that keeps the files under
    DIR must not move, trash or link any of them, not only the one it picks as keeper."""
    folders = list(getattr(args, "reference", None) or [])
    keep = getattr(args, "keep", None)
    if keep and keep.startswith(PREFIX):
        folders.append(keep[len(PREFIX) :])
    return folders


def check_action_arguments(args: argparse.Namespace) -> str | None:
    """A usage error to print before any scanning (exit 2), or None."""
    if args.action == "move" and args.to is None:
        return "--action move needs --to DIR"
    if args.to is not None and args.action != "move":
        return "--to is only used with --action move"
    if args.to is not None and args.to.exists() and not args.to.is_dir():
        return f"--to {args.to} exists and is not a directory"
    if args.action == "delete" and not args.yes and not args.dry_run:
        return "--action delete removes files: add --yes to confirm it (or --dry-run to see the plan first)"
    missing = [folder for folder in getattr(args, "reference", None) or [] if not os.path.isdir(folder)]
    if missing:
        return f"--reference {show(missing[0])} is not a folder"
    if args.manifest is not None and name_taken(args.manifest):
        return f"manifest {show(str(args.manifest))} or its journal already exists (a file or a link); choose another --manifest"
    return None


def perform_actions(
    report: DuplicateReport,
    args: argparse.Namespace,
    *,
    expected_digests: Mapping[str, bytes] | None = None,
    out: TextIO | None = None,
) -> int:
    """Plan `args.action` on `report.groups` (already rekeyed for --keep), print it, and carry it out
    unless --dry-run. `expected_digests`: path -> file digest seen at scan time, to leave alone files
    changed since. Skips are reported and counted, and do not make the exit status non-zero."""
    out = out or sys.stdout
    error = check_action_arguments(args)
    if error:
        print(f"dupbench run: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "report":
        return EXIT_OK
    quiet = getattr(args, "quiet", False)
    chosen = protect_references(report.groups, reference_folders(args), linking=args.action == "hardlink")
    groups = chosen if getattr(args, "include_near", True) else identical_part(chosen)
    left_alone = sum(len(g.members) for g in chosen) - sum(len(g.members) for g in groups)
    if left_alone:
        print(f"{left_alone} near-duplicate file(s) left alone: review them (dupbench review), or add --include-near", file=out)
    plan = make_plan(groups, report.roots, args.action, to=args.to, expected_digests=expected_digests, use_trash=system_trash_available())
    if args.dry_run:
        print(format_plan(plan), file=out)
        print("dry run: nothing was changed", file=out)
        return EXIT_OK
    if not plan.steps:
        print(format_plan(plan) if not quiet else summary(plan), file=out)
        print("nothing to do: no manifest written", file=out)
        return EXIT_OK
    manifest = Path(os.path.abspath(args.manifest or default_manifest_path(args.action, args.to)))  # undo works from any folder
    if not quiet:
        for skip in plan.skipped:
            print(f"skip     {show(skip.path)}: {show(skip.reason)}", file=out)
    remove_stale_temporaries(action_folders(plan.steps))  # of earlier runs killed mid-action
    try:
        result = apply_plan(plan, manifest, log=None if quiet else (lambda line: print(line, file=out)))
    except OSError as exc:
        state = f"see {show(str(manifest))} for what was done" if Path(manifest).exists() else "nothing was changed"
        print(f"dupbench run: cannot record the {args.action} in {show(str(manifest))} ({exc}); {state}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{args.action}: {len(result.done)} done, {len(result.skipped)} left alone; manifest {show(str(result.manifest))}", file=out)
    print(f"to undo: dupbench undo {show(str(result.manifest))}", file=out)
    return EXIT_OK


def identical_part(groups: Sequence[Group]) -> list[Group]:
    """Each group with only the members identical to another file of it (equal bytes or pixels); groups
    left with none are dropped. Acting on those always leaves one copy of each picture."""
    kept = [replace(g, members=tuple(m for m in g.members if m.match != "ssim")) for g in groups]
    return [g for g in kept if g.members]


def default_manifest_path(action: str, to: Path | None, directory: Path | None = None) -> Path:
    """A new file name, its journal's free too: in DIR for move (beside the moved files), else in the
    current directory. (Taken anyway by the time it is created: the run stops, nothing changed.)"""
    base = Path(to) if action == "move" and to is not None else (directory or Path(os.getcwd()))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / f"dupbench-{action}-{stamp}.json"
    count = 1
    while name_taken(candidate):
        count += 1
        candidate = base / f"dupbench-{action}-{stamp}-{count}.json"
    return candidate
