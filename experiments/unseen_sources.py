"""A blind check on sources no threshold was set on: Debian packages none of `dupbench dataset real`'s
classes draws from.

Usage: python experiments/unseen_sources.py OUT [--cache-dir DIR] [--offline] [--images 600] [--seed 7]
Fetches the packages below (apt-get download, once, into the dataset cache), then builds two folders in
OUT and runs dupbench (process mode, defaults) on each:
- OUT/photos-source: their wallpapers, planet textures and boot pictures at least 256 px on the short
  side, the originals of OUT/study, a `dupbench dataset make --source` set (planted copies and hard
  negatives with ground truth), scored by `dupbench evaluate` and, with --peers, by benchmarks/peers.py;
- OUT/photos-real: the same packages' pictures as a `dupbench dataset real --class photos --split all`
  set, built by that builder with its photo sources replaced by UNSEEN_PHOTO_SPECS (planted copies,
  turned and mirrored ones among them, hue-shifted versions, 45% strips, and other pictures of one
  family as hard negatives), scored at --orientations 1 and 8 and, with --peers, against the peers;
- OUT/icons: an icon theme's 48 px icons and an office suite's 256 px application icons, as shipped, with
  no ground truth: every group is printed for a person to judge (one icon under two names is a true
  duplicate; two icons are a false merge).
The families of UNSEEN_PHOTO_SPECS (one design in light and dark, at two aspects, in two colours) were
set from the file names alone, before any run on these files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2

from dupbench.datasets import real_sources
from dupbench.datasets.real import build_real
from dupbench.datasets.real_sources import SourceSpec, fetch
from dupbench.detector.cache import default_cache_path

PHOTO_PACKAGES = (
    "lxqt-themes",
    "sway-backgrounds",
    "debian-edu-artwork-emerald",
    "debian-edu-artwork-homeworld",
    "fluxbox",
    "xfdesktop4-data",
    "openuniverse-common",
    "xplanet-images",
)
ICON_PACKAGES = {"fvwm-crystal": "usr/share/fvwm-crystal/fvwm/icons/Default/48x48", "libreoffice-common": "usr/share/icons/hicolor/256x256"}
UNSEEN_PHOTO_SPECS = (
    SourceSpec(
        "lxqt-themes",
        ("usr/share/lxqt/**/*.png", "usr/share/lxqt/**/*.jpg"),
        family=r"wallpapers/(origami|plasma|triangles|waves)|wallpapers/[Bb](utterfly)|/(beam)\.png$",
    ),
    SourceSpec(
        "sway-backgrounds", ("usr/share/backgrounds/sway/*.png",), family=r"(Sway_Wallpaper_Blue)", variant=r"(Sway_Wallpaper_Blue)_\d+x\d+(_Portrait)?"
    ),
    SourceSpec("debian-edu-artwork-emerald", ("usr/share/**/*.png",), family=r"grub/(grub)-"),
    SourceSpec("debian-edu-artwork-homeworld", ("usr/share/**/*.png",), family=r"grub/(grub)-"),
    SourceSpec("fluxbox", ("usr/share/images/fluxbox/*",)),
    SourceSpec("xfdesktop4-data", ("usr/share/backgrounds/xfce/*",), family=r"xfce/xfce-(?:blue|teal)(\.jpg)"),
    SourceSpec("openuniverse-common", ("usr/share/openuniverse/textures/*.jpg",), family=r"textures/(splash)\d|textures/(?:earth|earthcld)(\.jpg)"),
    SourceSpec("xplanet-images", ("usr/share/xplanet/images/*.jpg",), family=r"images/(?:earth|night)(\.jpg)"),
)
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
MIN_PHOTO_SIDE = 256  # below this, the packages' pictures are UI pieces (button textures, strips)


def flat_name(root: Path, path: Path) -> str:
    return f"{root.name}_{'_'.join(path.relative_to(root).parts)}"


def collect(roots: dict[str, Path], wanted: dict[str, str] | None, out: Path, min_side: int) -> int:
    """Copy each package's pictures (under `wanted[package]` if given) at least `min_side` on the short
    side into `out`, names flattened; returns how many."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for package, root in roots.items():
        base = root / wanted[package] if wanted else root
        for path in sorted(p for p in base.rglob("*") if p.suffix.lower() in PICTURE_SUFFIXES and p.is_file()):
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None or min(image.shape[:2]) < min_side:
                continue
            shutil.copyfile(path, out / flat_name(root, path))
            count += 1
    return count


def dupbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dupbench", *args], capture_output=True, text=True, check=True)


def real_photos(args: argparse.Namespace) -> None:
    """OUT/photos-real built and scored (see the module's docstring)."""
    folder = args.out / "photos-real"
    if not (folder / "ground_truth.json").exists():
        real_sources.CLASSES["photos"] = UNSEEN_PHOTO_SPECS  # the builder's photo class, on these packages
        build_real(folder, "photos", "all", seed=args.seed, cache=args.cache_dir, offline=True)
    for orientations in ("1", "8"):
        report = args.out / f"photos-real-o{orientations}.json"
        dupbench("run", str(folder), "--mode", "process", "--no-cache", "--quiet", "--orientations", orientations, "--output", str(report))
        print(f"photos-real, --orientations {orientations}:")
        print(dupbench("evaluate", str(folder), str(report), "--quiet").stdout)
    if args.peers:
        peers = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
        tools = "dupbench-process,imagededup-phash,difpy-similar"
        command = [sys.executable, str(peers), str(folder), "--repeats", "1", "--tools", tools, "--out", str(args.out / "peers")]
        print(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_path().parent)
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--peers", action="store_true", help="also score the peers on the study set")
    args = parser.parse_args()
    photos = fetch(list(PHOTO_PACKAGES), args.cache_dir, args.offline)
    icons = fetch(list(ICON_PACKAGES), args.cache_dir, args.offline)
    missing = {**photos.missing, **icons.missing}
    if missing:
        sys.exit(f"unseen_sources: cannot fetch {', '.join(missing)}: {next(iter(missing.values()))}")
    print("packages:", json.dumps({**photos.versions, **icons.versions}))
    sources = collect(photos.roots, None, args.out / "photos-source", MIN_PHOTO_SIDE)
    icon_count = collect(icons.roots, ICON_PACKAGES, args.out / "icons", 1)
    print(f"{sources} source pictures, {icon_count} icons")
    study = args.out / "study"
    if not (study / "ground_truth.json").exists():
        dupbench("dataset", "make", str(study), "--images", str(args.images), "--seed", str(args.seed), "--source", str(args.out / "photos-source"), "--quiet")
    dupbench("run", str(study), "--mode", "process", "--no-cache", "--quiet", "--output", str(args.out / "study-report.json"))
    print(dupbench("evaluate", str(study), str(args.out / "study-report.json"), "--quiet").stdout)
    if args.peers:
        peers = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"
        tools = "dupbench-process,imagededup-phash,difpy-duplicates,difpy-similar"
        print(
            subprocess.run(
                [sys.executable, str(peers), str(study), "--repeats", "1", "--tools", tools, "--out", str(args.out / "peers")],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    real_photos(args)
    dupbench("run", str(args.out / "icons"), "--mode", "process", "--no-cache", "--quiet", "--output", str(args.out / "icons-report.json"))
    report = json.loads((args.out / "icons-report.json").read_text())
    grouped = sum(1 + len(g["members"]) for g in report["groups"])
    print(f"icons: {len(report['groups'])} groups, {grouped} of {icon_count} files grouped ({grouped / max(1, icon_count):.1%})")
    for group in report["groups"]:
        members = ", ".join(f"{Path(m['path']).name} ({m['ssim']:.3f}, {m['match']})" for m in group["members"])
        print(f"  {group['kind']}: {Path(group['keeper']).name} <- {members}")


if __name__ == "__main__":
    main()
