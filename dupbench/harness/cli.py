"""`dupbench sweep` and `dupbench summary`: parse arguments, call run_sweep / summarize, print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dupbench.harness import metadata as meta

SWEEP_DESCRIPTION = """\
Run a sweep declared in a TOML file (see experiments/*.toml): every combination of dataset size, mode,
worker count, core count, pair strategy and thumbnail size becomes a grid cell, measured `repeats` times
after `warmups` discarded runs.

Each run is a fresh `python -m dupbench run` child process pinned to the first K allowed cores
(sched_setaffinity), so no warm pool or cache carries over. From outside the child, a monitor thread in
this process samples the whole process tree every ~100 ms (per-core CPU, tree CPU, RSS/USS, threads,
processes), so pool workers and forkserver grandchildren are counted. Datasets are generated once,
before any timing, and cached. Run order is interleaved or shuffled so drift on a shared machine does
not favour one mode. Timeouts and crashes are recorded and the sweep goes on.
"""

SWEEP_EPILOG = """\
output, never overwritten (OUT/<machine>/<UTC time>-<commit>.*):
  .csv              one row per run: cell, status, wall and stage seconds, CPU user/system of the tree,
                    CPU utilization = CPU seconds / (wall x cores), peak RSS/USS, context switches,
                    throughput, load average, share of the cores used by other work (disturbed flag)
  .json             machine, Python build and GIL state, library versions and thread settings, git
                    commit and dirty flag, the sweep file, control-loop timings, monitor overhead
  .timeline.csv.gz  the monitor's samples, keyed by run_id

examples:
  dupbench sweep experiments/smoke.toml                  a few seconds: checks the set-up
  dupbench sweep experiments/scaling.toml --resume       continue the newest matching results file
  dupbench summary results/*/2026*.csv                   medians, IQR, speed-up vs serial
"""

SUMMARY_DESCRIPTION = """\
Print, per grid cell, the median wall time with its interquartile range, the speed-up against serial on
the same dataset and core count with a bootstrap 95% interval, parallel efficiency (speed-up / min(workers,
cores)) and CPU utilization. Warm-ups and failed runs are left out; failures are counted below the table.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "sweep",
        help="run a declared grid of measured runs (scaling study)",
        description=SWEEP_DESCRIPTION,
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sweep.add_argument("sweep_file", type=Path, metavar="SWEEP.toml", help="the sweep to run, e.g. experiments/smoke.toml")
    sweep.add_argument("--out", type=Path, default=Path("results"), help="results root (default: results/)")
    sweep.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        default=None,
        metavar="CSV",
        help="skip runs already in CSV (default: the newest results file written by this same sweep file)",
    )
    sweep.add_argument("--datasets", type=Path, default=None, help="dataset cache (default: $DUPBENCH_DATASET_CACHE or ~/.cache/dupbench/datasets)")
    sweep.add_argument("--machine", default=None, help="results sub-directory name (default: the host name)")
    sweep.add_argument("--dry-run", action="store_true", help="print the planned runs and exit")
    sweep.add_argument("--no-summary", action="store_true", help="do not print the summary at the end")
    sweep.set_defaults(func=run_sweep_command)

    summary = subparsers.add_parser(
        "summary",
        help="medians, IQR and speed-up vs serial from results CSVs",
        description=SUMMARY_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    summary.add_argument("results", nargs="+", type=Path, metavar="RESULTS.csv")
    summary.add_argument("--metric", default="wall_s", help="column to summarize (default: wall_s; e.g. compare_s)")
    summary.add_argument("--exclude-disturbed", action="store_true", help="leave out runs during which other work used >10%% of the run's cores")
    summary.set_defaults(func=run_summary_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from dupbench.harness.measure import allowed_cores
    from dupbench.harness.results import format_summary, summarize
    from dupbench.harness.spec import estimate_run_seconds, expand_grid, load_spec, plan_runs
    from dupbench.harness.sweep import find_resumable, run_sweep

    try:
        spec = load_spec(args.sweep_file)
    except (OSError, ValueError) as exc:
        print(f"dupbench sweep: {args.sweep_file}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        cells, notes = expand_grid(spec, len(allowed_cores()))
        for note in notes:
            print(f"note: {note}")
        plan = plan_runs(cells, spec.repeats, spec.warmups, spec.order, spec.order_seed, spec.warmup_scope)
        for index, run in enumerate(plan):
            print(f"{index:5d} {run.run_id}{'  (warm-up)' if run.warmup else ''}")
        minutes = sum(estimate_run_seconds(run.cell) for run in plan) / 60
        print(f"{len(cells)} cells, {len(plan)} runs, roughly {minutes:.0f} min by the cost model in harness/spec.py")
        return 0
    machine = args.machine or meta.machine_name()
    resume = None
    if args.resume == "latest":
        resume = find_resumable(args.out, machine, spec)
        if resume is None:
            print("dupbench sweep: nothing to resume for this sweep file; starting a new results file", file=sys.stderr)
    elif args.resume:
        resume = Path(args.resume)
    try:
        result = run_sweep(spec, args.out, sweep_path=str(args.sweep_file), resume=resume, dataset_cache=args.datasets, machine=machine)
    except ValueError as exc:
        print(f"dupbench sweep: {exc}", file=sys.stderr)
        return 2
    print(f"results: {result.csv_path}")
    if not args.no_summary:
        frame = result.frame
        print(format_summary(summarize(frame), frame[frame["status"] != "ok"]))
    return 0 if (result.frame["status"] == "ok").any() else 1


def run_summary_command(args: argparse.Namespace) -> int:
    from dupbench.harness.results import describe_sessions, format_summary, load_results, summarize

    try:
        frame = load_results(args.results)
    except (OSError, ValueError, KeyError) as exc:
        print(f"dupbench summary: {exc}", file=sys.stderr)
        return 2
    if args.metric not in frame.columns:
        print(f"dupbench summary: no column {args.metric!r}", file=sys.stderr)
        return 2
    kept = frame[~frame["disturbed"]] if args.exclude_disturbed else frame
    dropped = len(frame) - len(kept)
    print(format_summary(summarize(kept, metric=args.metric), frame[frame["status"] != "ok"]))
    for path in args.results:
        for line in describe_sessions(path):
            print(line)
    if dropped:
        print(f"{dropped} runs flagged disturbed were left out")
    return 0
