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

from dupbench.features import DIGEST_BYTES

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
    fall back to check-then-rename.
    """
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
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dst)}.", suffix=".dupbench-tmp", dir=os.path.dirname(dst) or ".")
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


def link_replace(target: str, path: str, identity: tuple[int, int]) -> None:
    """Atomically replace `path` with a hard link to `target`: link to a temporary name, then rename.

    At every instant `path` is either the old file or the link, never missing. The link is checked
    to be the inode `identity` (the verified keeper) before it replaces anything, so a keeper swapped
    for another file at the last moment cannot take the place of `path`'s bytes.
    """
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.dupbench-link")
    os.link(target, tmp)  # fails cleanly (EXDEV, EPERM, EMLINK, or EEXIST) before anything changed
    try:
        linked = os.lstat(tmp)
        if (linked.st_dev, linked.st_ino) != identity:
            raise OSError(errno.ESTALE, "the keeper was replaced by another file", target)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def unlink_replace_copy(path: str, mode: int, mtime_ns: int) -> None:
    """Replace `path` (one name of a hard-linked file) by a separate copy of its bytes, atomically."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".dupbench-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as source:
            shutil.copyfileobj(source, out, CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
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
