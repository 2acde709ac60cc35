"""Where the real-image classes come from: Debian packages (fetched once, kept in a cache) and scikit-image.

Each class lists its sources; a source is a package and the globs of the files to take from it. Files of
one *picture* (the same wallpaper at several resolutions) share a ``variant`` key and only one of them is
taken; pictures of one *family* (a theme's light and dark versions, a stereo pair) share a ``family`` key,
which keeps them in the same tune/holdout split and labels them natural hard negatives of each other.

Packages are fetched with ``apt-get download`` into CACHE/debs and unpacked with ``dpkg -x`` into
CACHE/extracted/PACKAGE (written to a staging folder, renamed when complete). A folder already present
under CACHE/extracted is used as is: that is how the tests (and offline machines) supply sources.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path

SKIMAGE = "skimage"
COMPLETE = ".dupbench-complete"


@dataclass(frozen=True)
class SourceSpec:
    """Files of one package for one class.

    ``family`` and ``variant`` are regular expressions searched in the path relative to the package root;
    their groups, joined, are the key (no match: the path without its extension). ``cap`` bounds how many
    pictures are taken (a hashed, seed-independent sample), ``per_folder`` bounds them per folder so one
    huge folder (1,378 stars) does not dominate.
    """

    package: str
    patterns: tuple[str, ...]
    family: str | None = None
    variant: str | None = None
    exclude: str | None = None
    cap: int | None = None
    per_folder: int | None = None
    prefer: str = "largest"  # which file of a variant: "largest" area, or "smallest"
    note: str = ""


def key(pattern: str | None, relative: str) -> str:
    if pattern is not None:
        found = re.search(pattern, relative)
        if found:
            return "/".join(g for g in found.groups() if g) or found.group(0)
    return relative.rsplit(".", 1)[0]


OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data/"
ICON_NAME = r"/(?:\d+x\d+|scalable)/([^/]+/[^/.]+)\."

CLASSES: dict[str, tuple[SourceSpec, ...]] = {
    "photos": (
        SourceSpec(
            SKIMAGE, ("*.png",), family=r"^(motorcycle)_|^([a-z_]+)\.png$", note="scikit-image's bundled photos (the stereo motorcycle pair is one family)"
        ),
        SourceSpec(
            "opencv-doc",
            (OPENCV_DATA + "*.jpg", OPENCV_DATA + "*.png"),
            family=r"data/(aloe|aero|basketball|graf|leuven|ela|Blender_Suzanne|left|right|pic|home|box)",
            exclude=r"(GT|chessboard|digits|gradient|mask|logo|notes|ml\.png|Text|detect_blob|pca_test|cards|"
            r"ellipses|left\d|right\d|lena|smarties|stuff|pic\d|box\.png|board|ela_modified)",
            note="OpenCV's sample photos (stereo and sequence shots of one scene are one family; "
            "ela_modified, a spliced edit of ela_original, is left out as neither copy nor distinct)",
        ),
        SourceSpec("forensics-samples-files", ("**/IMG*.jpg", "**/IMG*.JPG"), note="phone JPEGs with EXIF"),
        SourceSpec(
            "libjxl-testdata",
            ("**/*_srgb8.png", "**/flower.png"),
            variant=r"/([^/]+)_srgb8\.png$|/(flower)\.png$",
            note="libjxl's test photos, the sRGB 8-bit original of each (not its other encodings)",
        ),
        SourceSpec(
            "gnome-backgrounds",
            ("usr/share/backgrounds/gnome/*.webp",),
            family=r"gnome/([a-z]+)-[ld]\.webp$",
            note="GNOME wallpapers; a light and a dark version of one design are one family",
        ),
        SourceSpec(
            "mate-backgrounds",
            ("usr/share/backgrounds/mate/**/*.jpg", "usr/share/backgrounds/mate/**/*.png"),
            family=r"/(Ubuntu-Mate|MATE-Stripes)|/([A-Za-z]+)(?:_\d+x\d+)?\.\w+$",
            variant=r"/([A-Za-z-]+?)(?:_\d+x\d+)?\.\w+$",
            note="MATE wallpapers",
        ),
        SourceSpec(
            "plasma-workspace-wallpapers",
            ("usr/share/wallpapers/*/contents/images*/*.*",),
            family=r"wallpapers/([^/]+)/",
            variant=r"wallpapers/([^/]+)/contents/(images[^/]*)/",
            note="KDE Plasma wallpapers: one resolution per picture; a dark version is the same family",
        ),
        SourceSpec(
            "desktop-base",
            ("usr/share/desktop-base/*-theme/grub/grub-16x9.png",),
            note="Debian themes' boot pictures (their login previews are the wallpaper under a login box: "
            "neither clearly a copy nor clearly distinct, so left out)",
        ),
        SourceSpec("ukui-wallpapers", ("usr/share/backgrounds/*.jpg", "usr/share/backgrounds/*.png"), note="UKUI wallpapers"),
        SourceSpec("lomiri-wallpapers-16.04", ("usr/share/backgrounds/*.jpg",), note="Ubuntu Touch 16.04 wallpapers"),
        SourceSpec("lomiri-wallpapers-20.04", ("usr/share/backgrounds/*.jpg",), note="Ubuntu Touch 20.04 wallpapers"),
    ),
    "astro": (
        SourceSpec("stellarium-data", ("usr/share/stellarium/nebulae/default/*.png",), note="Stellarium's deep-sky object photos (small subjects on black)"),
        SourceSpec(
            "kstars-data",
            ("usr/share/kstars/textures/*.png", "usr/share/doc/HTML/en/kstars/*.png"),
            note="KStars textures and English handbook screenshots (dark ones only)",
        ),
        SourceSpec(SKIMAGE, ("hubble_deep_field.png",), note="scikit-image's Hubble deep field"),
    ),
    "clipart": (
        SourceSpec("openclipart-png", ("usr/share/openclipart/png/**/*.png",), cap=900, per_folder=12, note="Open Clip Art Library drawings"),
        SourceSpec(
            "tango-icon-theme",
            ("usr/share/icons/Tango/32x32/*/*.png",),
            family=ICON_NAME,
            cap=220,
            note="Tango icons at 32 px (some also at 22 px: a labelled group)",
        ),
        SourceSpec(
            "gnome-icon-theme",
            ("usr/share/icons/gnome/48x48/*/*.png",),
            family=ICON_NAME,
            cap=220,
            note="GNOME icons at 48 px (some also at 256 px: a labelled group)",
        ),
        SourceSpec(
            "gnome-wise-icon-theme",
            ("usr/share/icons/gnome-wise/32x32/*/*.png",),
            family=ICON_NAME,
            cap=60,
            note="GNOME-Colors green icons; their purple twins (gnome-noble) are colour-variant negatives",
        ),
    ),
    "diagrams": (
        SourceSpec(
            "opencv-doc",
            ("usr/share/doc/opencv-doc/opencv4/html/**/*.png", "usr/share/doc/opencv-doc/opencv4/html/**/*.jpg"),
            exclude=r"(/search/|form_\d|inherit_graph|_(?:coll|inherit|dep|incl)__graph|closed\.png|open\.png|"
            r"bc_s|bdwn|doc\.png|folder|nav_|splitbar|sync_|tab_|arrow|/(?:class|struct)[^/]*\.png$)",
            cap=600,
            note="OpenCV documentation figures",
        ),
        SourceSpec(
            "opencv-doc",
            ("usr/share/doc/opencv-doc/opencv4/html/**/classcv*.png", "usr/share/doc/opencv-doc/opencv4/html/**/structcv*.png"),
            exclude=r"(__graph|_coll_|_inherit_)",
            cap=60,
            note="OpenCV's Doxygen class diagrams (capped: thousands of near-empty boxes would drown the rest)",
        ),
        SourceSpec("gimp-help-en", ("usr/share/gimp/2.0/help/en/images/**/*.png",), cap=600, per_folder=40, note="GIMP manual screenshots and figures"),
        SourceSpec("python3.11-doc", ("usr/share/doc/python3.11/html/_images/*.png",), note="Python documentation figures"),
        SourceSpec("octave-doc", ("**/*.png",), note="GNU Octave manual plots"),
        SourceSpec("gnuplot-doc", ("**/*.png",), note="gnuplot documentation figures"),
        SourceSpec("inkscape-tutorials", ("**/*.png", "**/*.jpg"), note="Inkscape tutorial figures"),
    ),
}
# Natural positives and negatives that come with a class's sources (same icon at another size; the same
# icon in another colour theme). Each maps a chosen file's path to its twin's (package, relative path).
TWIN_SIZES = {"tango-icon-theme": ("/32x32/", "/22x22/"), "gnome-icon-theme": ("/48x48/", "/256x256/")}
COLOUR_TWINS = {"gnome-wise-icon-theme": ("gnome-noble-icon-theme", "/gnome-wise/", "/gnome-noble/")}


@dataclass(frozen=True)
class Fetched:
    """Packages unpacked under the cache, and the ones that could not be had (with the reason)."""

    roots: dict[str, Path]
    versions: dict[str, str]
    missing: dict[str, str] = field(default_factory=dict)


def write_skimage(target: Path) -> None:
    """scikit-image's bundled photos as PNG files, so they are a source folder like any package."""
    import cv2

    from dupbench.datasets.sources import load_bundled

    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for photo in load_bundled():
        cv2.imwrite(str(staging / f"{photo.name}.png"), photo.pixels, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    (staging / COMPLETE).write_text("scikit-image bundled data\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def deb_version(debs: Path, package: str) -> str:
    found = sorted(debs.glob(f"{package}_*.deb"))
    return found[-1].name.split("_")[1].replace("%3a", ":") if found else "local"


def fetch_package(package: str, cache: Path, offline: bool) -> Path:
    """CACHE/extracted/PACKAGE, downloading and unpacking the .deb first if it is not there."""
    extracted = cache / "extracted" / package
    if extracted.is_dir() and (package != SKIMAGE or (extracted / COMPLETE).exists()):
        return extracted
    if package == SKIMAGE:
        write_skimage(extracted)
        return extracted
    if offline:
        raise LookupError(f"not in {cache / 'extracted'} and --offline was given")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not sorted(debs.glob(f"{package}_*.deb")):
        done = subprocess.run(["apt-get", "download", "-q", package], cwd=debs, capture_output=True, text=True)
        if done.returncode != 0 or not sorted(debs.glob(f"{package}_*.deb")):
            raise LookupError(f"apt-get download failed: {(done.stderr or done.stdout).strip()[-300:]}")
    staging = extracted.with_name(package + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    unpacked = subprocess.run(["dpkg", "-x", str(sorted(debs.glob(f"{package}_*.deb"))[-1]), str(staging)], capture_output=True, text=True)
    if unpacked.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LookupError(f"dpkg -x failed: {unpacked.stderr.strip()[-300:]}")
    staging.rename(extracted)
    return extracted


def fetch(packages: list[str], cache: Path, offline: bool) -> Fetched:
    roots: dict[str, Path] = {}
    versions: dict[str, str] = {}
    missing: dict[str, str] = {}
    for package in dict.fromkeys(packages):
        try:
            roots[package] = fetch_package(package, cache, offline)
        except (LookupError, OSError, FileNotFoundError) as error:
            missing[package] = str(error)
            continue
        if package == SKIMAGE:
            versions[package] = f"scikit-image {package_version('scikit-image')}"
        else:
            versions[package] = deb_version(cache / "debs", package)
    return Fetched(roots, versions, missing)
