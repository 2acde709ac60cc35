"""`dupbench run`: find duplicates under PATHs (or in the bundled demo set) and print them."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from dupbench.actions import add_action_arguments, check_action_arguments, perform_actions, rekey_groups
from dupbench.actions.plan import is_within, show
from dupbench.cli import EXIT_STATUS_HELP, HelpFormatter
from dupbench.config import (
    CANDIDATE_SEARCHES,
    CLI_MODE,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_START_METHOD,
    EXACT_CANDIDATES_UP_TO,
    IMAGE_EXTENSIONS,
    MAX_THUMB_SIZE,
    MODES,
    START_METHODS,
    DetectorConfig,
    ExecutionConfig,
    available_cpus,
    worker_cap,
)
from dupbench.detector.cache import FeatureCache, default_cache_path
from dupbench.detector.pipeline import cache_settings_key, find_duplicates
from dupbench.execution.dask import DaskUnavailable
from dupbench.execution.tasks import WorkerCrashes
from dupbench.json_output import json_file, json_help, json_to_stdout
from dupbench.result import DuplicateReport, json_text, write_json_atomic
from dupbench.table import human_bytes, write_csv

SHOWN_GROUPS = 50
SHOWN_SKIPS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = DetectorConfig()
    parser = subparsers.add_parser(
        "run",
        help="find exact and near-duplicate images",
        description=(
            "Find exact duplicates (same bytes, or same decoded pixels in another format) and near "
            "duplicates under PATHs, recursively. A near duplicate is the same picture re-encoded, resized, "
            "slightly cropped, edited in brightness, contrast or gamma, or given a plain border (a letterbox or mat around a picture "
            "is cut off before any comparison): its grayscale thumbnail matches "
            "(SSIM at or above --threshold, or at 0.95 once a crop of up to 5% a side is undone, see --crop-margin) and a second look agrees: the same aspect ratio (within 25%), "
            "the same colours (a hue change makes another picture, even on a pale one), the same transparency, and for pictures "
            "with little structure (flat colours, gradients, diagrams, small subjects on black) a sharper "
            "thumbnail, as stored or once a brightness/contrast/gamma edit is undone, and the same brightness; for "
            "two transparent drawings (icons, clip art) a nearly intact thumbnail (another badge on one icon is another icon) in which no small patch is brighter or darker "
            "than a tone edit explains (another phase of a rendered Moon); and the two do not differ completely in one region (another emblem on the same icon); where both sit in the same plain frame or border, all of that holds inside it too (the frame is no evidence). Each near group is a keeper and the files that match it "
            "directly (no chains); matched pairs left out of a group are listed in the JSON (left_out_pairs). With no PATH, runs on a demo set built once from photos that ship with "
            "scikit-image, with known duplicates planted in it. Nothing on disk is changed unless you ask "
            "with --action (and even then never a group's keeper; every change is recorded for `dupbench undo`)."
        ),
        epilog=(
            "modes: 'serial' runs everything in this process (the baseline); 'thread' uses a thread "
            "pool, which helps where the work runs in C with the GIL released (decoding, SSIM); "
            "'process' uses a process pool, which sidesteps the GIL at the cost of starting workers "
            "and sending them data; 'dask' runs the same tasks on a Dask cluster (optional extra: "
            "pip install -e '.[dask]'): a local one sized to your cores, or the scheduler named by "
            "--scheduler, whose workers must see the files under the same paths. All modes give the same groups."
            "\n\n"
            "examples:\n"
            "  dupbench run                                      # the demo set\n"
            "  dupbench run ~/Pictures --output dupes.json       # then: dupbench review dupes.json\n"
            "  dupbench run ~/Pictures --output - | jq '.groups | length'\n"
            "  dupbench run ~/Pictures --action move --to ~/dupes --dry-run\n"
            "  dupbench run ~/Pictures --action move --to ~/dupes   # then, to put them back: dupbench undo MANIFEST"
            "\n\n" + EXIT_STATUS_HELP
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="folders or files to search (default: the demo set)")
    add_execution_arguments(parser)
    add_detector_arguments(parser, defaults)
    add_filter_arguments(parser)
    add_reading_arguments(parser)
    add_output_arguments(parser)
    add_action_arguments(parser)
    parser.set_defaults(func=run)


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """How the stages run: the mode and the pool."""
    parser.add_argument("--mode", choices=MODES, default=CLI_MODE, help="how to run the detector's stages")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"pool size (default: the CPUs this process may use, here {available_cpus()}; capped at {worker_cap()}, 8 per CPU: more only add start-up time and memory)",
    )
    parser.add_argument("--start-method", choices=START_METHODS, default=DEFAULT_START_METHOD, help="how process workers are started")
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", default=None, help="with --mode dask: use this running Dask scheduler instead of starting a local cluster"
    )


def add_detector_arguments(parser: argparse.ArgumentParser, defaults: DetectorConfig) -> None:
    """What is called a near duplicate."""
    parser.add_argument("--threshold", type=float, default=defaults.threshold, help="SSIM at or above which two images are near duplicates")
    parser.add_argument(
        "--pairs",
        choices=("pruned", "all"),
        default=defaults.pairs,
        help="'all' compares every pair (O(n^2)); 'pruned' compares only pairs a cheap DCT signature index finds close",
    )
    parser.add_argument(
        "--candidates",
        choices=CANDIDATE_SEARCHES,
        default=defaults.candidates,
        help="with --pairs pruned, how pairs within the signature radius are found: 'exact' scans every "
        "signature pair (complete, O(n^2) but about a nanosecond each); 'index' probes the nearest k-means "
        "cells (linear in n, may miss a few pairs near the radius); 'auto' (default) is exact up to "
        f"{EXACT_CANDIDATES_UP_TO:,} images and the index above",
    )
    parser.add_argument(
        "--candidate-cap",
        type=int,
        default=defaults.candidate_cap,
        metavar="K",
        help="with the index, only pairs among either image's K nearest candidates are compared (0: all); "
        f"the exact scan is never capped (default {defaults.candidate_cap})",
    )
    parser.add_argument(
        "--orientations",
        type=int,
        choices=(1, 4, 8),
        default=defaults.orientations,
        help="1: compare pictures as stored (EXIF orientation applied); 4: also find copies turned by "
        "90/180/270 degrees; 8: also mirrored ones. The compare stage does up to 4x or 8x the work: measured "
        "whole runs took 1.1-1.5x (4) and 1.3-2.2x (8) as long as with 1 (README, 'Finding duplicates')",
    )
    parser.add_argument(
        "--crop-margin",
        type=float,
        default=defaults.crop_margin,
        metavar="SHARE",
        help="a thumbnail squashes the whole picture, so a copy cropped by a few percent a side is a shifted "
        f"thumbnail that SSIM scores low; pairs that come close ({defaults.crop_floor}) are aligned by a search over trims of up "
        f"to SHARE of each side (only among each picture's {defaults.crop_partners} closest, so look-alikes cost no search each) "
        f"and kept at an aligned SSIM of {defaults.crop_threshold}, as well as a re-encode matches "
        f"(default {defaults.crop_margin}: 5%% a side; 0 turns alignment off)",
    )
    parser.add_argument(
        "--thumb-size",
        type=int,
        default=defaults.thumb_size,
        help=f"side of the grayscale thumbnail SSIM compares, in pixels (16 to {MAX_THUMB_SIZE}: larger adds no accuracy to SSIM near-duplicate detection and costs n x size^2 bytes of memory)",
    )


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Which files the scan looks at."""
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out files and folders whose path below its root, or whose name, matches GLOB "
        "(repeatable; e.g. --exclude '.thumbnails' --exclude '*_small.jpg'); counted, not skipped",
    )
    parser.add_argument("--min-size", type=parse_size, default=0, metavar="BYTES", help="leave out files smaller than this (K, M, G suffixes)")
    parser.add_argument("--max-size", type=parse_size, default=None, metavar="BYTES", help="leave out files larger than this (K, M, G suffixes)")
    parser.add_argument(
        "--extensions",
        type=parse_extensions,
        default=None,
        metavar="LIST",
        help=f"comma-separated file extensions to look at (default: {','.join(sorted(e[1:] for e in IMAGE_EXTENSIONS))})",
    )
    parser.add_argument(
        "--max-file-size",
        type=parse_size,
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="BYTES",
        help="skip (with a reason) files larger than this, unread; suffixes K, M, G (powers of 1024). Each worker may hold one whole file in memory while decoding it; see README, 'Memory'",
    )


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """How files are read and decoded, and the feature cache."""
    parser.add_argument(
        "--decoder",
        choices=("auto", "opencv", "pillow"),
        default="auto",
        help="image decoder; 'auto' is OpenCV where it can be imported (it has no free-threaded build), else Pillow",
    )
    parser.add_argument("--follow-symlinks", action="store_true", help="descend into symlinked directories (each directory is visited once)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="feature cache file (default: dupbench/features.sqlite in your cache directory); a second run over unchanged files skips decoding."
        " Bounded at 1 GiB (~130,000 files of 32 px thumbnails): the files least recently used go first",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the feature cache (what the benchmark harness uses, to measure the real work)"
    )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the report goes."""
    parser.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="write the full report as JSON to FILE (see README, 'JSON output'); its folder must exist and be writable (checked before scanning); '-' writes it to stdout, as --json does",
    )
    parser.add_argument("--json", action="store_true", help=json_help("the full report"))
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="write the groups as a flat table to FILE, one row per file (group, kind, role, path, match, ssim, size, resolution, digest); checked like --output",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars and no printed report")


SIZE_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """Bytes from '123', '512M', '2G' or '1.5GiB' (powers of 1024); argparse turns the ValueError into a usage error."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, suffix = (value[:-1], value[-1]) if value[-1:] in SIZE_SUFFIXES else (value, "")
    try:
        size = int(float(number) * SIZE_SUFFIXES[suffix])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"size must be at least 1 byte, got {text!r}")
    return size


def parse_extensions(text: str) -> frozenset[str]:
    """'jpg,PNG,.webp' -> {'.jpg', '.png', '.webp'}."""
    found = frozenset("." + e.strip().lower().lstrip(".") for e in text.split(",") if e.strip().lstrip("."))
    if not found:
        raise argparse.ArgumentTypeError(f"no extensions in {text!r} (e.g. jpg,png,webp)")
    return found


def run(args: argparse.Namespace) -> int:
    configs = configs_from(args)
    if isinstance(configs, str):
        print(f"dupbench run: {configs}", file=sys.stderr)
        return 2
    config, execution = configs
    if execution.capped_note:
        print(f"dupbench run: note: {execution.capped_note}", file=sys.stderr)
    roots = checked_roots(args)
    if isinstance(roots, str):
        print(f"dupbench run: {roots}", file=sys.stderr)
        return 2
    report = detect(roots, config, execution, args)
    if isinstance(report, int):
        return report
    if args.keep:
        report.groups = rekey_groups(report.groups, args.keep)
    human = sys.stderr if json_to_stdout(args) else sys.stdout  # with --json or --output -, stdout holds the JSON and nothing else
    failed = write_outputs(report, args)
    if failed:
        return failed
    if not args.quiet:
        print(format_report(report, output=json_file(args), acting=args.action != "report"), file=human)
    return perform_actions(report, args, expected_digests=report.file_digests, out=human)


def configs_from(args: argparse.Namespace) -> tuple[DetectorConfig, ExecutionConfig] | str:
    """The detector and execution settings the options ask for, or why they are invalid."""
    try:
        filters = {
            "exclude": tuple(args.exclude),
            "min_size": args.min_size,
            "max_size": args.max_size,
            **({"extensions": args.extensions} if args.extensions else {}),
        }
        config = DetectorConfig(
            threshold=args.threshold,
            thumb_size=args.thumb_size,
            pairs=args.pairs,
            candidates=args.candidates,
            candidate_cap=args.candidate_cap,
            follow_symlinks=args.follow_symlinks,
            decoder=args.decoder,
            orientations=args.orientations,
            crop_margin=args.crop_margin,
            max_file_size=args.max_file_size,
            **filters,
        )
        return config, ExecutionConfig(mode=args.mode, workers=args.workers, start_method=args.start_method, scheduler=args.scheduler)
    except ValueError as exc:
        return str(exc)


def checked_roots(args: argparse.Namespace) -> list[str] | str:
    """The roots to search, or the usage error found before any scanning: the action's options, the PATHs,
    then the files the run will write."""
    error = check_action_arguments(args)
    if error:
        return error
    roots = roots_from(args)
    if isinstance(roots, str):
        return roots
    destination = args.to if args.action == "move" else None
    return check_output(args.output) or check_output(args.csv, "--csv") or check_roots_outside_destination(roots, destination) or roots


def roots_from(args: argparse.Namespace) -> list[str] | str:
    """The PATHs (the demo set, built on first use, when none is given), or why one cannot be searched."""
    roots = args.paths
    if not roots:
        from dupbench.datasets import DEMO_IMAGES, demo_folder, demo_ready, ensure_demo

        if not demo_ready() and not args.quiet:
            print(f"No PATH given: building the demo set ({DEMO_IMAGES} images, first run only) in {demo_folder()} ...", file=sys.stderr)
        demo = ensure_demo(progress=not args.quiet)
        if not args.quiet:
            print(f"No PATH given: using the demo set in {demo}", file=sys.stderr)
        roots = [str(demo)]
    missing = [r for r in roots if not Path(r).exists()]
    if missing:
        return f"no such file or directory: {', '.join(show(m) for m in missing)}"
    return roots


def detect(roots: list[str], config: DetectorConfig, execution: ExecutionConfig, args: argparse.Namespace) -> DuplicateReport | int:
    """The report, or the exit status of a run that could not complete (2: Dask unavailable; 1: crashes)."""
    with ExitStack() as stack:
        cache = None if args.no_cache else stack.enter_context(FeatureCache(args.cache or default_cache_path(), cache_settings_key(config)))
        try:
            return find_duplicates(roots, config, execution, show_progress=not args.quiet, cache=cache, exclude=own_outputs(args))
        except DaskUnavailable as exc:
            print(f"dupbench run: {exc}", file=sys.stderr)
            return 2
        except WorkerCrashes as exc:
            print(f"dupbench run: {exc}", file=sys.stderr)
            return 1


def write_outputs(report: DuplicateReport, args: argparse.Namespace) -> int:
    """Write the JSON (stdout and/or --output) and --csv; 1 if one cannot be written, else 0."""
    to_file = json_file(args)
    try:
        if json_to_stdout(args):
            sys.stdout.write(json_text(report.to_json()))
            sys.stdout.flush()
        if to_file:
            write_json_atomic(report.to_json(), to_file)
    except OSError as exc:
        print(f"dupbench run: cannot write --output {show(str(args.output))}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.csv:
        try:
            write_csv(report, args.csv)
        except OSError as exc:
            print(f"dupbench run: cannot write --csv {show(str(args.csv))}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    return 0


def check_output(output: Path | None, option: str = "--output") -> str | None:
    """Why `option`'s file cannot be written, found before any scanning (a missing folder is refused, not
    created: a mistyped path should not grow folders), or None. '-' (stdout) is always fine."""
    if output is None or str(output) == "-":
        return None
    folder = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        return f"{option} {show(str(output))} is a directory; give a file name"
    if not folder.exists():
        return f"{option}: the folder {show(str(folder))} does not exist (create it first)"
    if not folder.is_dir():
        return f"{option}: {show(str(folder))} is not a folder"
    try:  # a real probe: permission bits say nothing for root, a read-only mount or an immutable folder
        fd, probe = tempfile.mkstemp(prefix=".dupbench-probe-", dir=folder)
    except OSError as exc:
        return f"{option}: cannot write in {show(str(folder))} ({exc.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None


def check_roots_outside_destination(roots: list[str], to: Path | None) -> str | None:
    """A move into a folder that holds a scanned root would scan what it moved: refused."""
    if to is None:
        return None
    destination = os.path.realpath(to)
    inside = [r for r in roots if is_within(os.path.realpath(r), destination)]
    if inside:
        return f"the scanned {show(inside[0])} is inside --to {show(str(to))}: choose a destination outside it"
    return None


def own_outputs(args: argparse.Namespace) -> dict[str, str]:
    """Folders and files this run writes, never scanned (a --to inside a root would otherwise make the
    moved copies keepers on the next run, and move originals in after them)."""
    outputs = {}
    if args.action == "move" and args.to is not None:
        outputs[str(args.to)] = "the --to folder of this move: never scanned"
    if args.manifest is not None:
        outputs[str(args.manifest)] = "the --manifest of this run: never scanned"
    if args.output is not None and str(args.output) != "-":
        outputs[str(args.output)] = "the --output of this run: never scanned"
    if args.csv is not None:
        outputs[str(args.csv)] = "the --csv of this run: never scanned"
    return outputs


def describe_file(report: DuplicateReport, path: str) -> str:
    """'1024x768, 1.2 MB' from what the scan saw, or '' for a report that does not carry it."""
    info = report.files.get(path)
    return f"{info.width}x{info.height}, {human_bytes(info.size)}" if info else ""


def format_report(report: DuplicateReport, output: Path | None = None, acting: bool = False) -> str:
    """The printed report; every name and reason goes through `show`, so a name cannot forge a line.

    `output` is where the JSON went (None: nowhere, or stdout); `acting` whether an action follows."""
    lines = []
    for group in report.groups[:SHOWN_GROUPS]:
        keeper = describe_file(report, group.keeper)
        lines.append(f"[{group.kind}] keep {show(group.keeper)}" + (f"  ({keeper})" if keeper else ""))
        for member in group.members:
            detail = member.match if member.match != "ssim" else f"ssim {member.ssim:.3f}"
            about = describe_file(report, member.path)
            lines.append(f"    {show(member.path)}  ({detail}{'; ' + about if about else ''})")
    if len(report.groups) > SHOWN_GROUPS:
        where = f"all of them are in {show(str(output))}" if output else "write them all with --output FILE.json"
        lines.append(f"... and {len(report.groups) - SHOWN_GROUPS} more groups ({where})")
    c = report.counts
    exact = sum(g.kind == "exact" for g in report.groups)
    lines.append(
        f"\n{c.get('images', 0)} images, {len(report.groups)} duplicate groups ({exact} exact, "
        f"{len(report.groups) - exact} near), {c.get('skipped', 0)} skipped; "
        f"{c.get('pairs_compared', 0)} SSIM pairs compared"
    )
    ignored = [
        (c.get("ignored_other_extensions", 0), "for their extension (--extensions)"),
        (c.get("ignored_excluded", 0), "by --exclude"),
        (c.get("ignored_size", 0), "by --min-size/--max-size"),
    ]
    if any(n for n, _ in ignored):
        lines.append("files left out: " + "; ".join(f"{n} {why}" for n, why in ignored if n))
    if report.skipped:
        reasons = Counter(s.reason for s in report.skipped)
        lines.append("skipped: " + "; ".join(f"{n} x {show(reason)}" for reason, n in reasons.most_common()))
        for item in report.skipped[:SHOWN_SKIPS]:
            lines.append(f"    {show(item.path)}: {show(item.reason)}")
        if len(report.skipped) > SHOWN_SKIPS:
            lines.append(f"    ... {len(report.skipped) - SHOWN_SKIPS} more in --output")
    stages = ", ".join(f"{name} {report.stages[name]:.2f}s" for name in ("scan", "load", "compare", "cluster", "total") if name in report.stages)
    lines.append(f"mode {report.mode}, {report.workers} worker(s): {stages}")
    if report.groups and not acting:
        lines.extend(next_steps(output))
    return "\n".join(lines)


def next_steps(output: Path | None) -> list[str]:
    """What a person can do with the groups found: look at them, act on them, undo an action."""
    review = f"dupbench review {show(str(output))}" if output else "add --output report.json, then dupbench review report.json"
    return [
        "next:",
        f"  review them side by side in a browser: {review}",
        "  act on them: add --action move --to DIR (or --action delete --yes, --action hardlink); --dry-run shows the plan first",
        "  undo an action: dupbench undo MANIFEST (the file every action writes)",
    ]
