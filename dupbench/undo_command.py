"""`dupbench undo MANIFEST`: put back what a `dupbench run --action move|delete|hardlink` did."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dupbench.actions import ManifestRejected, undo_manifest
from dupbench.actions.plan import show
from dupbench.exit_status import EXIT_FAILED, EXIT_OK, EXIT_USAGE

EXIT_INCOMPLETE = EXIT_FAILED  # refused (nothing changed), or some entries could not be restored: each listed with its reason


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "undo",
        help="restore the files a move, delete or hardlink action changed, from its manifest",
        description=(
            "Restore what an action recorded in MANIFEST, newest first: moved and trashed files go back "
            "to their original paths, hard links become separate files again with the same bytes. A "
            "manifest must carry this user's seal (edited ones are refused), and every entry is checked first against the run that wrote it (paths inside its roots and DIR, the "
            "file's digest and inode, a free original path); if any fails, nothing is changed and every "
            "reason is listed. Files already back in place are counted; files deleted permanently (no "
            "system trash) cannot be restored. Works from any folder: the manifest holds resolved paths."
        ),
    )
    parser.add_argument("manifest", type=Path, metavar="MANIFEST", help="the manifest a `dupbench run --action ...` wrote")
    parser.add_argument("--dry-run", action="store_true", help="list what would be restored and change nothing")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(func=run_undo)


def run_undo(args: argparse.Namespace) -> int:
    """Exit 0 when everything is back, 1 when refused or some entries were left (listed), 2 for a bad manifest."""
    log = None if args.quiet else print
    try:
        result = undo_manifest(args.manifest, dry_run=args.dry_run, log=log)
    except ManifestRejected as exc:
        print(f"dupbench undo: refused {show(str(args.manifest))}: {show(str(exc))}; nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"dupbench undo: cannot use manifest {show(str(args.manifest))}: {show(str(exc))}; nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    if result.refused:
        print(f"undo: refused, nothing was changed: {len(result.skipped)} entries fail their checks (listed above)")
        return EXIT_INCOMPLETE
    verb = "would restore" if args.dry_run else "restored"
    already = f", {len(result.already)} already back in place" if result.already else ""
    print(f"undo: {verb} {len(result.restored)}{already}, {len(result.skipped)} left as they are")
    return EXIT_OK if not result.skipped else EXIT_INCOMPLETE
