"""What an interrupted action may leave, kept from happening where it can be and removed where not.

- A same-filesystem move renames with `renameat2(RENAME_NOREPLACE)` where the kernel and filesystem
  have it: one atomic step, so a kill -9 cannot leave the file under both names (link() then unlink(),
  the portable fallback, can: a stray hard link in the destination).
- Temporary files (`.NAME.PID.XXXXXXXX.dupbench-tmp` copies, `.NAME.PID.XXXXXXXXXXXX.dupbench-link`
  links) carry the PID of the run that made them. They are removed on every exit path that runs Python;
  after a kill -9 (or a signal inside `mkstemp`), the next run that acts in the same folder removes those
  whose PID is no longer running. Only names of exactly that form, regular files owned by this user.
  Removing one never loses data: a copy's source, or a link's target, is still in place under its name.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
from collections.abc import Iterable

from dupbench.stale import remove_dead_runs_files

AT_FDCWD = -100
RENAME_NOREPLACE = 1
TEMPORARY_NAME = re.compile(r"\..+\.(\d+)\.(?:[a-z0-9_]{8}\.dupbench-tmp|[0-9a-f]{12}\.dupbench-link)")
UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


def temporary_prefix(path: str) -> str:
    """The start of a temporary name beside `path`: `.NAME.PID.` (mkstemp adds 8 characters and the suffix)."""
    return f".{os.path.basename(path)}.{os.getpid()}."


def _renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28, or not Linux
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_RENAMEAT2 = _renameat2()


def rename_atomic_no_replace(src: str, dst: str) -> bool:
    """Rename in one step, failing with FileExistsError if `dst` exists; False where that is not
    supported (the caller falls back). Other errors (EXDEV, ENOENT...) raise as os.rename's would."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno()
    if code in UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), src, None, dst) if code != errno.EEXIST else FileExistsError(code, os.strerror(code), dst)


def remove_stale_temporaries(folders: Iterable[str]) -> list[str]:
    """Remove dupbench temporaries of dead runs in `folders` (not recursive); return what was removed."""
    return [path for folder in sorted(set(folders)) for path in remove_dead_runs_files(folder, TEMPORARY_NAME)]


def action_folders(steps: Iterable) -> set[str]:
    """The folders a plan's steps write temporaries into: each file's, and each move's destination's."""
    folders = set()
    for step in steps:
        folders.add(os.path.dirname(os.path.abspath(step.file.path)))
        if step.op == "move" and step.destination:
            folders.add(os.path.dirname(os.path.abspath(step.destination)))
    return folders
