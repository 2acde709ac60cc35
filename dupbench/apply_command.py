"""`dupbench apply PLAN`: carry out a plan exported from the `dupbench review` page, with every safety of `run --action`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dupbench.actions import perform_actions
from dupbench.actions.apply import PLAN_ACTIONS, PlanError, checked_groups, load_plan, load_plan_report
from dupbench.actions.command import check_action_arguments
from dupbench.actions.plan import show
from dupbench.cli import HelpFormatter
from dupbench.exit_status import EXIT_USAGE
from dupbench.result import DuplicateReport


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="carry out a plan exported from the review page (move, delete to the trash, or hardlink)",
        description=(
            "Carry out PLAN, exported from the page `dupbench review` writes. The plan is first checked against "
            "the report it was made from (named in it, by path and SHA-256): every file must be in its group and "
            "have the digest the scan saw. Then, as with `dupbench run --action`, each file and its keeper are "
            "re-hashed just before anything is done, a keeper is never touched, and every change is recorded in a "
            "manifest for `dupbench undo`. Near-duplicate groups are acted on only as far as you ticked them."
        ),
        epilog=(
            "examples:\n"
            "  dupbench apply dupbench-plan.json --dry-run --to ~/dupes   # what it would do\n"
            "  dupbench apply dupbench-plan.json --to ~/dupes             # move the ticked copies\n"
            "  dupbench apply dupbench-plan.json --action delete --yes    # to the system trash instead\n"
            "  dupbench undo ~/dupes/dupbench-move-DATE.json              # put them back"
            "\n\n"
            "exit status: 0 done (files left alone are listed with the reason); 1 the manifest could not be "
            "written; 2 bad plan, report or options (nothing was changed)"
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("plan", type=Path, metavar="PLAN", help="the plan the review page exported (dupbench-plan.json)")
    parser.add_argument("--action", choices=PLAN_ACTIONS, default=None, help="override the action chosen on the page")
    parser.add_argument("--to", type=Path, metavar="DIR", help="where move puts files, keeping their paths relative to their root")
    parser.add_argument("--yes", action="store_true", help="confirm delete")
    parser.add_argument("--dry-run", action="store_true", help="print the exact plan and change nothing")
    parser.add_argument(
        "--manifest", type=Path, metavar="FILE", help="where to write the undo manifest (default: in --to DIR for move, else the current directory)"
    )
    parser.add_argument("--report", type=Path, metavar="FILE", help="the run's report, if it is no longer where the plan says (it must be the same file)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(func=run_apply)


def run_apply(args: argparse.Namespace) -> int:
    try:
        plan = load_plan(args.plan)
    except (OSError, PlanError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"dupbench apply: cannot use plan {show(str(args.plan))}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    action = args.action or plan.action
    # A reviewed plan names each file a person ticked, near duplicates included.
    acting = argparse.Namespace(action=action, to=args.to, yes=args.yes, dry_run=args.dry_run, manifest=args.manifest, quiet=args.quiet, include_near=True)
    error = check_action_arguments(acting)
    if error:
        print(f"dupbench apply: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = load_plan_report(plan, args.report)
        groups, expected = checked_groups(plan, report)
    except PlanError as exc:
        print(f"dupbench apply: {exc}; nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    if action != plan.action:
        print(f"action: {action} (the plan said {plan.action})")
    reviewed = DuplicateReport(roots=report.roots, settings=report.settings, groups=groups, skipped=[], stages={}, mode=report.mode, workers=report.workers)
    return perform_actions(reviewed, acting, expected_digests=expected)
