"""The freedesktop.org trash (Trash specification 1.0), written here rather than taken from a library.

Why not `send2trash`: it does not say where a file went, so `dupbench undo` could not put it back.
The spec is short: reserve a name by creating `info/NAME.trashinfo` exclusively, then rename the file
to `files/NAME`. A file is only ever renamed within its own filesystem: the home trash
($XDG_DATA_HOME/Trash) when it is on the same device, else the top directory's `.Trash/$uid` (if an
administrator made a sticky `.Trash`) or `.Trash-$uid`. No trash on its filesystem means the file is
left alone, never copied across devices and never deleted outright.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from dupbench.actions.files import rename_no_replace

MAX_NAME_TRIES = 10_000


@dataclass(frozen=True)
class TrashCan:
    """One trash directory; `topdir` is None for the home trash (whose info files hold absolute paths)."""

    root: str
    topdir: str | None

    @property
    def files(self) -> str:
        return os.path.join(self.root, "files")

    @property
    def info(self) -> str:
        return os.path.join(self.root, "info")


@dataclass(frozen=True)
class Trashed:
    path: str  # where the file now is, inside the can's files/
    info: str  # its .trashinfo file


def system_trash_available() -> bool:
    """True where the freedesktop trash is the system trash (Linux and the BSDs, not macOS or Windows)."""
    return os.name == "posix" and sys.platform != "darwin"


def home_trash() -> str:
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):  # unset, empty or relative: the spec says use the default
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "Trash")


def trash_can_for(path: str) -> TrashCan:
    """The trash a file on `path`'s filesystem goes to (not created yet)."""
    device = os.lstat(path).st_dev
    home = home_trash()
    if _device_of_nearest(home) == device:
        return TrashCan(home, None)
    top = mount_point(path)
    admin = os.path.join(top, ".Trash")
    try:
        info = os.lstat(admin)
        if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
            return TrashCan(os.path.join(admin, str(os.getuid())), top)
    except OSError:
        pass
    return TrashCan(os.path.join(top, f".Trash-{os.getuid()}"), top)


def mount_point(path: str) -> str:
    current = os.path.dirname(os.path.abspath(path))
    while not os.path.ismount(current):
        current = os.path.dirname(current)
    return current


def send_to_trash(path: str, can: TrashCan) -> Trashed:
    """Move `path` into `can`; raises OSError (nothing changed) if it cannot."""
    for directory in (can.root, can.files, can.info):
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.islink(directory):
            raise OSError(f"trash directory {directory} is a symbolic link; not used")
    absolute = os.path.abspath(path)
    recorded = absolute if can.topdir is None else os.path.relpath(absolute, can.topdir)
    stem, suffix = os.path.splitext(os.path.basename(absolute))
    for attempt in range(1, MAX_NAME_TRIES + 1):
        name = f"{stem}{suffix}" if attempt == 1 else f"{stem}.{attempt}{suffix}"
        info_path = os.path.join(can.info, name + ".trashinfo")
        try:
            fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # reserves the name
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(trash_info_text(recorded, time.localtime()))
        target = os.path.join(can.files, name)
        try:
            rename_no_replace(path, target)
        except FileExistsError:
            os.unlink(info_path)  # a stale file without its info: try the next name
            continue
        except BaseException:
            os.unlink(info_path)
            raise
        return Trashed(target, info_path)
    raise OSError(f"no free name in {can.files} for {os.path.basename(absolute)}")


def trash_info_text(recorded_path: str, when: time.struct_time) -> str:
    encoded = urllib.parse.quote(os.fsencode(recorded_path), safe="/")
    return f"[Trash Info]\nPath={encoded}\nDeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S', when)}\n"


def trash_info_path(info_path: str) -> str:
    """The original path a .trashinfo file records (absolute, or relative to its top directory).

    Read without following a symlink; raises OSError or ValueError for anything but a spec file.
    """
    fd = os.open(info_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ValueError("not a regular file")
        lines = fh.read(1 << 16).decode("utf-8", "replace").splitlines()
    if not lines or lines[0].strip() != "[Trash Info]":
        raise ValueError("not a trash info file")
    for line in lines[1:]:
        if line.startswith("Path="):
            return os.fsdecode(urllib.parse.unquote_to_bytes(line[len("Path=") :]))
    raise ValueError("no Path= line")


def restore_from_trash(trashed: Trashed, original: str) -> None:
    """Put a trashed file back; FileExistsError if something now occupies `original`."""
    rename_no_replace(trashed.path, original)
    try:
        os.unlink(trashed.info)
    except FileNotFoundError:
        pass


def _device_of_nearest(path: str) -> int | None:
    """Device of `path`, or of its nearest existing ancestor (the trash may not exist yet)."""
    current = Path(path)
    for candidate in (current, *current.parents):
        try:
            return candidate.stat().st_dev
        except OSError:
            continue
    return None
