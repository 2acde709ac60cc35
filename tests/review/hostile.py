"""A folder whose file names try to break out of the review page's markup and script."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
from planted import photo

HOSTILE_NAMES = (
    '<img src=x onerror="window.pwned=1">.png',
    "quote\"d 'single' &amp; tab\t.png",
    "__DUPBENCH_SCRIPT__.png",
)


def build_hostile_folder(root: Path) -> list[str]:
    """One photo and copies of it under hostile names, one inside a folder '<' so its path holds '</script>'.
    Returns every path, the original first."""
    root.mkdir(parents=True)
    original = root / "chelsea.png"
    cv2.imwrite(str(original), photo("chelsea"))
    paths = [str(original)]
    for name in HOSTILE_NAMES:
        shutil.copy(original, root / name)
        paths.append(str(root / name))
    (root / "<").mkdir()
    closing = root / "<" / "script>alert(1)<.png"
    shutil.copy(original, closing)
    paths.append(str(closing))
    return paths
