"""Make docs/review-page.png, the README's picture of the review page, from a real run.

    python docs/review_screenshot.py [--out docs/review-page.png]

Builds the demo set (60 images from scikit-image's photos, seed 2026, as `dupbench run` with no PATH
does) in a temporary folder, runs `dupbench run` and `dupbench review` on it, and has headless Chromium
take the screenshot; writes the commands, commit and versions to a .txt file beside the PNG.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from dupbench import __version__
from dupbench.datasets import DEMO_IMAGES, DEMO_SEED, make_dataset

REPO = Path(__file__).resolve().parents[1]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
)
COLOURS = 128  # a palette PNG: a few hundred KB instead of a few MB, still legible


def run(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def screenshot(page: Path, png: Path, work: Path, size: tuple[int, int]) -> str:
    """Chromium's screenshot of `page` at `size`; returns the browser's version line."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (Debian package 'chromium')")
    subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={work / 'profile'}", f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return run([browser, "--version"]).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "review-page.png")
    parser.add_argument("--size", default="1280x1000", help="browser window, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    commit = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip()
    code = ["dupbench", "docs/review_screenshot.py", "pyproject.toml"]  # not the picture and record it rewrites
    dirty = " (with uncommitted changes)" if run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "--", *code]).strip() else ""
    with tempfile.TemporaryDirectory(prefix="dupbench-review-") as tmp:
        work = Path(tmp)
        photos = work / "photos"
        make_dataset(photos, DEMO_IMAGES, DEMO_SEED, "demo", progress=False)
        report = work / "report.json"
        commands = [
            ["dupbench", "run", str(photos), "--mode", "serial", "--no-cache", "--quiet", "--output", str(report)],
            ["dupbench", "review", str(report), "--out", str(work / "page")],
        ]
        for command in commands:
            run([sys.executable, "-m", "dupbench", *command[1:]])
        raw = work / "raw.png"
        chromium = screenshot(work / "page" / "index.html", raw, work, (width, height))
        Image.open(raw).convert("RGB").quantize(COLOURS).save(args.out, optimize=True)
    args.out.with_suffix(".txt").write_text(
        f"{args.out.name}: made {time.strftime('%Y-%m-%d %H:%M %Z')} by `python docs/review_screenshot.py` at commit {commit}{dirty}\n"
        f"dupbench {__version__}, Python {platform.python_version()}, {chromium}, window {width}x{height}, {COLOURS}-colour palette\n"
        f"on the demo set (dupbench.datasets.make_dataset, {DEMO_IMAGES} images, seed {DEMO_SEED}, profile demo) in a temporary folder:\n"
        + "".join("  " + " ".join(c) + "\n" for c in commands),
        encoding="utf-8",
    )
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
