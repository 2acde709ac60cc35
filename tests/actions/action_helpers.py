"""Builders shared by the action tests: files with arbitrary bytes (actions never decode images,
they compare digests), groups, reports, and snapshots of a folder to compare before and after."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

from dupbench.actions import add_action_arguments
from dupbench.result import DuplicateReport, Group, Member

CHANGING_ACTIONS = ("move", "delete", "hardlink")


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def exact(keeper: str, *members: str, match: str = "bytes") -> Group:
    return Group("exact", keeper, tuple(Member(m, 1.0, match, keeper) for m in members))


def near(keeper: str, *members: str) -> Group:
    return Group("near", keeper, tuple(Member(m, 0.95, "ssim", None) for m in members))


def make_report(roots: list[Path | str], groups: list[Group]) -> DuplicateReport:
    return DuplicateReport(roots=[str(r) for r in roots], settings={}, groups=groups, skipped=[], stages={}, mode="serial", workers=1)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: kind, and for files bytes, mode, mtime and inode."""
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                state[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[str(path.relative_to(root))] = ("dir",)
            else:
                state[str(path.relative_to(root))] = ("file", path.read_bytes(), info.st_mode, info.st_mtime_ns, info.st_ino)
    return state


def contents(root: Path) -> dict[str, bytes]:
    """Paths and bytes only: what undo must restore (inodes may change with a copy across devices)."""
    return {k: v[1] for k, v in snapshot(root).items() if v[0] == "file"}


def action_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_action_arguments(parser)
    return parser.parse_args(list(argv))
