"""`dupbench dataset ...`: make a dataset, build the cached demo set, list the profiles."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from dupbench.datasets import DEMO_IMAGES, DEMO_SEED, PROFILES, ensure_demo, get_profile, make_dataset
from dupbench.datasets.profiles import FULL_SIZE_LONG_SIDE


def parse_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        pair = (int(low), int(high if sep else low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX pixels, got {text!r}") from None
    if pair[0] > pair[1]:
        raise argparse.ArgumentTypeError(f"MIN must not exceed MAX in {text!r}")
    return pair


def run_make(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    if args.full_size:
        profile = replace(profile, long_side=FULL_SIZE_LONG_SIDE, png_share=0.0)  # phones write JPEG
    if args.long_side is not None:
        profile = replace(profile, long_side=args.long_side)
    truth = make_dataset(Path(args.out), args.images, args.seed, profile, source=args.source, progress=not args.quiet, jobs=args.jobs)
    total = sum(e.size_bytes for e in truth.images)
    roles = {role: sum(e.role == role for e in truth.images) for role in ("original", "copy", "hard_negative")}
    print(
        f"wrote {truth.n_images} images ({total / 1e6:.1f} MB) to {args.out}: {roles['original']} originals, "
        f"{roles['copy']} planted copies, {roles['hard_negative']} hard negatives; ground truth in "
        f"{Path(args.out) / 'ground_truth.json'}"
    )
    return 0


def run_real(args: argparse.Namespace) -> int:
    from dupbench.datasets.real import build_real, summary

    try:
        built = build_real(args.out, args.class_name, args.split, args.seed, cache=args.cache_dir, offline=args.offline, limit=args.limit)
    except (ValueError, FileExistsError) as error:
        print(f"dupbench dataset real: {error}", file=sys.stderr)
        return 2
    counts = summary(built.truth)
    roles = ", ".join(f"{n} {role}" for role, n in sorted(counts["roles"].items()))
    print(
        f"wrote {counts['files']} {args.class_name} images ({args.split}) to {args.out}: {roles}; "
        f"{counts['true_groups']} true groups, {counts['true_pairs']} true pairs ({counts['exact_pairs']} exact); "
        f"ground truth in {Path(args.out) / 'ground_truth.json'}"
    )
    for reason, n in sorted(built.skipped.items()):
        print(f"  source files left out: {n} ({reason})")
    for package, reason in sorted(built.missing_sources.items()):
        print(f"  source not available: {package}: {reason}", file=sys.stderr)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    print(ensure_demo(args.cache_dir, progress=not args.quiet))
    return 0


def run_profiles(args: argparse.Namespace) -> int:
    for profile in PROFILES.values():
        print(
            f"{profile.name:6s} copies {profile.copy_share:.0%}, hard negatives {profile.hard_negative_share:.0%}, "
            f"long side {profile.long_side[0]}-{profile.long_side[1]} px, strength "
            f"{profile.strength[0]:.1f}-{profile.strength[1]:.1f}: {profile.description}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset",
        help="generate reproducible image sets with ground truth",
        description="Generate image sets with planted duplicates, hard negatives and a ground truth file.",
    )
    commands = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    register_make(commands)
    register_real(commands)
    demo = commands.add_parser(
        "demo",
        help="build (once) and print the cached demo set's folder",
        description=(
            f"Build the demo set ({DEMO_IMAGES} images, profile demo, seed {DEMO_SEED}) in "
            "$XDG_CACHE_HOME/dupbench (default ~/.cache/dupbench) unless it is there, and print its path."
        ),
    )
    demo.add_argument("--cache-dir", type=Path, default=None, help="cache folder instead of $XDG_CACHE_HOME/dupbench")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=run_demo)

    profiles = commands.add_parser("profiles", help="list the dataset profiles", description="List the profiles.")
    profiles.set_defaults(func=run_profiles)


def register_make(commands: argparse._SubParsersAction) -> None:
    make = commands.add_parser(
        "make",
        help="write N images and OUT/ground_truth.json",
        description=(
            "Cut distinct originals from real photos (scikit-image's bundled photos, or --source), plant "
            "labelled copies (byte copies, re-encodes, JPEG re-compression, resizing, small crops, tone "
            "changes, noise, blur, small rotations, overlays, EXIF-rotated copies, format changes) and hard "
            "negatives (overlapping crops, heavy edits, flat look-alikes). The same seed gives the same bytes."
        ),
    )
    make.add_argument("out", metavar="OUT", type=Path, help="folder to create (must not exist or be empty)")
    make.add_argument("--images", type=int, default=1000, help="number of image files (default: 1000)")
    make.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    make.add_argument("--profile", choices=sorted(PROFILES), default="study", help="composition (default: study)")
    make.add_argument("--source", type=Path, default=None, help="folder of your own photos to cut originals from")
    make.add_argument(
        "--long-side", type=parse_range, default=None, metavar="MIN-MAX", help="long side of originals in pixels, e.g. 800-1200 (default: the profile's)"
    )
    make.add_argument("--full-size", action="store_true", help=f"phone-camera originals: JPEG, {FULL_SIZE_LONG_SIDE[0]}-{FULL_SIZE_LONG_SIDE[1]} px long side")
    make.add_argument("--jobs", type=int, default=None, help="rendering processes (default: usable CPUs)")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=run_make)


def register_real(commands: argparse._SubParsersAction) -> None:
    from dupbench.datasets.real import CLASS_NAMES, SPLITS, TUNE_SHARE

    real = commands.add_parser(
        "real",
        help="write one class of real images (from Debian packages and scikit-image) with ground truth",
        description=(
            "Build a dataset of real images: photos (with planted copies, turned and mirrored copies, and "
            "natural hard negatives), astro (small subjects on black), clipart (drawings with transparency), "
            "diagrams (documentation figures and screenshots), or flat (generated solid and near-flat images). "
            "Packages are fetched once with `apt-get download` into CACHE/debs and unpacked into "
            "CACHE/extracted; a package folder already there is used as is. The split is a hash of each "
            f"picture's family with the seed ({TUNE_SHARE:.0%} tune), so tune only on tune and report holdout; "
            "'all' writes both halves into one folder, where look-alikes from opposite halves meet, to count "
            "every false merge a folder of the whole class would show (it holds the holdout: never tune on it)."
        ),
    )
    real.add_argument("out", metavar="OUT", type=Path, help="folder to create (must not exist or be empty)")
    real.add_argument("--class", dest="class_name", choices=CLASS_NAMES, required=True, help="image class")
    real.add_argument("--split", choices=SPLITS, default="tune", help="which side of the split, or all of it (default: tune)")
    real.add_argument("--seed", type=int, default=1, help="split and planting seed (default: 1)")
    real.add_argument("--cache-dir", type=Path, default=None, help="where packages are kept (default: $XDG_CACHE_HOME/dupbench, else ~/.cache/dupbench)")
    real.add_argument("--offline", action="store_true", help="download nothing; use CACHE/extracted only")
    real.add_argument("--limit", type=int, default=None, help="at most this many source pictures (before the split)")
    real.set_defaults(func=run_real)
