"""Leftovers of runs that died (kill -9, the OOM killer): found by the PID in their name, removed next time.

Only names dupbench makes, whose PID is not running, that are this user's own regular files are removed:
a name that merely looks like ours, a link, or another user's file is never touched.
"""

from __future__ import annotations

import os
import re


def pid_running(pid: int) -> bool:
    """True if `pid` is a live process (or one we may not signal: someone else's, so not ours to judge)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_runs_files(folder: str, name: re.Pattern[str]) -> list[str]:
    """Remove the files in `folder` (not recursive) whose whole name matches `name`, whose first group is
    a PID that is not running, and that are this user's regular files; return their paths."""
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        match = name.fullmatch(entry)
        if match is None or pid_running(int(match.group(1))):
            continue
        path = os.path.join(folder, entry)
        try:
            info = os.lstat(path)
            if info.st_uid == os.getuid() and os.path.isfile(path) and not os.path.islink(path):
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
    return removed
