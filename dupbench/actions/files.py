"""File identity, and the few atomic file operations every action is built from.

An action may only touch a file that is still exactly what was planned: same inode, size, mtime and
BLAKE2b-128 digest (the detector's `file_digest`). Renames never replace an existing file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass

from dupbench.actions.leftovers import rename_atomic_no_replace, temporary_prefix
from dupbench.detector.features import DIGEST_BYTES

CHUNK_BYTES = 1 << 20  # hash in 1 MiB reads: photos can be large, memory stays flat

# errno values from link() that mean "this filesystem cannot hard-link here", not "something is wrong"
NO_LINK_ERRNOS = frozenset({errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class Unusable(Exception):
    """A file an action must leave alone; the message is the reason shown to the user."""


@dataclass(frozen=True)
class FileState:
    """What a file was when it was planned; acting on it requires it to be all of this still."""

    path: str
    size: int
    mtime_ns: int
    mode: int
    dev: int
    ino: int
    digest: bytes

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)


def read_state(path: str, *, follow_symlinks: bool) -> FileState:
    """Stat and hash `path` through one descriptor, so identity and digest describe the same file.

    Opened non-blocking and checked to be a regular file before any read (a FIFO named *.jpg must not
    hang us). With `follow_symlinks=False` a symlink is refused: removing a link removes no copy.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        if os.path.islink(path):  # platforms without O_NOFOLLOW
            raise Unusable("is a symbolic link (removing a link removes no copy)")
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise Unusable("is a symbolic link (removing a link removes no copy)") from None
        raise Unusable(f"cannot open: {exc.strerror}") from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise Unusable("not a regular file")
        digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
        try:
            while chunk := os.read(fd, CHUNK_BYTES):
                digest.update(chunk)
        except OSError as exc:
            raise Unusable(f"cannot read: {exc.strerror}") from None
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise Unusable("changed while being read")
    return FileState(path, after.st_size, after.st_mtime_ns, stat.S_IMODE(after.st_mode), after.st_dev, after.st_ino, digest.digest())


def difference(planned: FileState, now: FileState) -> str | None:
    """Why `now` is not the file that was planned, or None if it still is."""
    if now.identity != planned.identity:
        return "replaced by another file since it was planned"
    if now.digest != planned.digest or now.size != planned.size:
        return "content changed since the scan"
    if now.mtime_ns != planned.mtime_ns:
        return "modified since it was planned"
    return None


def same_file(a: str, b: str) -> bool:
    """True when two paths name one file (hard links, or one path through a symlinked directory)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def rename_no_replace(src: str, dst: str) -> None:
    """Rename `src` to `dst` on one filesystem, failing with FileExistsError rather than replace `dst`.

    link() then unlink() is the portable no-replace rename: link() fails if `dst` exists. A crash
    between the two leaves both names for one file, never none. Filesystems that cannot hard-link
    fall back to check-then-rename. Where renameat2(RENAME_NOREPLACE) works, it is used instead: one step.
    """
    if rename_atomic_no_replace(src, dst):
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in NO_LINK_ERRNOS:
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def move_file(src: str, dst: str, digest: bytes) -> None:
    """Move a file without replacing anything; across filesystems copy, verify `digest`, then unlink."""
    try:
        rename_no_replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        copy_verified(src, dst, digest)
        os.unlink(src)


def copy_verified(src: str, dst: str, digest: bytes) -> None:
    """Copy `src` to a temporary name beside `dst`, check its digest, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(dst), suffix=".dupbench-tmp", dir=os.path.dirname(dst) or ".")
    try:
        copied = hashlib.blake2b(digest_size=DIGEST_BYTES)
        with os.fdopen(fd, "wb") as out, open(src, "rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                copied.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if copied.digest() != digest:
            raise OSError(errno.EIO, "content changed while it was being copied", src)
        shutil.copystat(src, tmp)
        rename_no_replace(tmp, dst)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def race_point(stage: str, path: str) -> None:
    """Called between the steps of `link_replace`; does nothing. Tests replace it to edit files there."""


def link_replace(target: str, path: str, identity: tuple[int, int], planned: FileState) -> None:
    """Replace `path` with a hard link to `target` without losing an edit made meanwhile.

    1. link `target` to a temporary name in `path`'s folder and check it is the inode `identity`
       (the verified keeper), so a keeper swapped at the last moment cannot take `path`'s place;
    2. rename `path` aside to a second temporary name: from now on no one can open it by name;
    3. verify what was set aside is still `planned` (inode, size, mtime, digest), else put it back;
    4. move the link to `path` (no-replace: a file created there meanwhile is never overwritten);
    5. check the set-aside file once more (a writer that had it open may have written to it) and put
       it back over the link if it changed; only then remove it.
    Raises OSError with everything as it was (or the original kept under a named temporary file
    when a new file appeared at `path` during step 4; the message names it).
    """
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    link = os.path.join(directory, f"{temporary_prefix(path)}{secrets.token_hex(6)}.dupbench-link")
    aside = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.dupbench-aside")
    os.link(target, link)  # fails cleanly (EXDEV, EPERM, EMLINK, or EEXIST) before anything changed
    set_aside = False
    try:
        linked = os.lstat(link)
        if (linked.st_dev, linked.st_ino) != identity:
            raise OSError(errno.ESTALE, "the keeper was replaced by another file", target)
        race_point("linked-to-temporary", path)
        os.rename(path, aside)  # atomic: whatever is at `path` now is what gets verified
        set_aside = True
        race_point("set-aside", path)
        _verify_aside(aside, path, planned)
        race_point("verified", path)
        try:
            rename_no_replace(link, path)
        except FileExistsError:
            set_aside = False
            raise OSError(errno.EEXIST, f"a new file appeared at its path while linking; the original is kept as {aside}", path) from None
        race_point("replaced", path)
        if _problem(aside, planned) is not None:  # hashed again: an open descriptor may have written to it
            os.replace(aside, path)  # the original, with the edit, goes back where it was
            set_aside = False
            raise OSError(errno.EAGAIN, "changed while it was being linked; left as it is", path)
        os.unlink(aside)
        set_aside = False
    except BaseException:
        if set_aside and os.path.lexists(aside) and not os.path.lexists(path):
            rename_no_replace(aside, path)  # interrupted (Ctrl-C) with the original set aside: put it back
        raise
    finally:
        _unlink_quietly(link)


def _verify_aside(aside: str, path: str, planned: FileState) -> None:
    """Check the file set aside is still the planned one; if not, put it back and raise OSError."""
    problem = _problem(aside, planned)
    if problem is None:
        return
    try:
        rename_no_replace(aside, path)
    except FileExistsError:
        raise OSError(errno.EEXIST, f"{problem}; a new file appeared at its path, the original is kept as {aside}", path) from None
    raise OSError(errno.EAGAIN, f"{problem}; left as it is", path)


def _problem(path: str, planned: FileState) -> str | None:
    try:
        return difference(planned, read_state(path, follow_symlinks=False))
    except Unusable as exc:
        return str(exc)


def _changed_since(path: str, planned: FileState) -> bool:
    info = os.lstat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) != (planned.dev, planned.ino, planned.size, planned.mtime_ns)


def unlink_replace_copy(path: str, expected: FileState, mode: int, mtime_ns: int) -> None:
    """Replace `path` (one name of a hard-linked file) by a separate copy of its bytes, atomically.

    The copy must have the digest of `expected` (the link as undo verified it), and `path` must still
    be that inode, size and mtime just before the copy replaces it; else OSError and nothing changed.
    `mode` is applied as given: the caller makes sure it grants nothing the link did not.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".dupbench-tmp", dir=directory)
    try:
        copied = hashlib.blake2b(digest_size=DIGEST_BYTES)
        with os.fdopen(fd, "wb") as out:
            source = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                while chunk := os.read(source, CHUNK_BYTES):
                    copied.update(chunk)
                    out.write(chunk)
            finally:
                os.close(source)
            out.flush()
            os.fsync(out.fileno())
        if copied.digest() != expected.digest or _changed_since(path, expected):
            raise OSError(errno.EAGAIN, "changed while it was being copied; left as it is", path)
        os.chmod(tmp, mode)
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def make_parents(path: str) -> tuple[str, ...]:
    """Create the missing parent directories of `path`; return those created, outermost first."""
    missing = []
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory)
    return tuple(reversed(missing))


def remove_empty_dirs(directories: tuple[str, ...]) -> None:
    """Remove directories an action created, innermost first, where they are empty again."""
    for directory in sorted(directories, key=len, reverse=True):
        try:
            os.rmdir(directory)
        except OSError:
            pass  # not empty (the user put something there) or already gone: leave it


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
