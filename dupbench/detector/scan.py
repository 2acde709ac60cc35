"""Stage 1, scan: walk the roots and list candidate image files, counting what was passed over and why."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dupbench.result import Skipped


@dataclass
class ScanResult:
    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored_other_extensions: int = 0
    ignored_excluded: int = 0  # files passed over by --exclude (folders it matches are not entered)
    ignored_size: int = 0  # files outside --min-size / --max-size
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of each file found, as the scan's stat saw it


@dataclass(frozen=True)
class ScanFilters:
    """What a person asked to leave out: globs (matched against the path below its root, with "/", and
    against the bare name) and a file-size range in bytes. Left-out files are counted, not skipped."""

    exclude: tuple[str, ...] = ()
    min_size: int = 0
    max_size: int | None = None

    def excludes(self, relative: str) -> bool:
        name = relative.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(relative, g) or fnmatch.fnmatchcase(name, g) for g in self.exclude)

    def size_ok(self, path: str) -> bool:
        if self.min_size <= 0 and self.max_size is None:
            return True
        try:
            size = os.stat(path).st_size
        except OSError:
            return True  # the loader reports a file it cannot stat
        return size >= self.min_size and (self.max_size is None or size <= self.max_size)


def has_image_extension(name: str, extensions: Iterable[str]) -> bool:
    return os.path.splitext(name)[1].lower() in extensions


def _classify(path: str, follow_symlinks: bool) -> tuple[str | None, int]:
    """Why `path` cannot be read as an image file, or None if it is a regular file (never opens it),
    and its size in bytes as that stat saw it."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot stat: {exc.strerror}", 0
    if stat.S_ISLNK(info.st_mode):
        try:
            info = os.stat(path)
        except OSError:
            return "broken symlink or symlink loop", 0
    if stat.S_ISDIR(info.st_mode):
        return (None if follow_symlinks else "directory symlink not followed"), 0
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (FIFO, socket or device)", 0
    return None, info.st_size


def _identities(paths: Mapping[str, str]) -> dict[tuple[int, int], str]:
    """(dev, ino) -> reason, for the paths that exist (one that does not cannot be found by a scan)."""
    found = {}
    for path, reason in paths.items():
        try:
            info = os.stat(path)
        except OSError:
            continue
        found[(info.st_dev, info.st_ino)] = reason
    return found


def scan(
    roots: Sequence[str | os.PathLike],
    extensions: Iterable[str],
    follow_symlinks: bool = False,
    exclude: Mapping[str, str] | None = None,
    filters: ScanFilters = ScanFilters(),
) -> ScanResult:
    """Recursively list image files under `roots`, in a deterministic order.

    Paths keep the form of the root they were found under (absolute roots give absolute paths).
    Directory symlinks are not followed unless asked; when they are, each directory is entered once,
    so symlink loops end. `exclude`: folders and files (path -> reason) never scanned, matched by inode
    whatever path reaches them, each reported as skipped with its reason (dupbench's own outputs).
    `filters`: what the person left out (counted in the result, not reported one by one).
    """
    scanner = _Scanner(frozenset(e.lower() for e in extensions), follow_symlinks, _identities(exclude or {}), filters)
    for root in roots:
        scanner.scan_root(os.fspath(root))
    return scanner.result


class _Scanner:
    """The state of one scan: what was found, and which folders and files were already seen."""

    def __init__(self, extensions: frozenset[str], follow_symlinks: bool, excluded: dict[tuple[int, int], str], filters: ScanFilters) -> None:
        self.extensions, self.follow_symlinks, self.excluded, self.filters = extensions, follow_symlinks, excluded, filters
        self.result = ScanResult()
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()

    def scan_root(self, root: str) -> None:
        if not os.path.isdir(root):
            if os.path.lexists(root):
                self.add_file(root)
            else:
                self.result.skipped.append(Skipped(root, "no such file or directory"))
            return

        def on_error(exc: OSError) -> None:
            self.result.skipped.append(Skipped(exc.filename or root, f"unreadable directory: {exc.strerror}"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=self.follow_symlinks):
            if not self.enter(dirpath):
                dirnames[:] = []
                continue
            relative_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if relative_dir == "." else relative_dir + "/"
            dirnames[:] = sorted(d for d in dirnames if not self.filters.excludes(prefix + d))
            if not self.follow_symlinks:
                for name in dirnames:
                    full = os.path.join(dirpath, name)
                    if os.path.islink(full):
                        self.result.skipped.append(Skipped(full, "directory symlink not followed"))
            for name in sorted(filenames):
                self.consider(os.path.join(dirpath, name), prefix + name)

    def enter(self, dirpath: str) -> bool:
        """Whether to list `dirpath`: not when it was entered before (a loop) or is excluded (reported once)."""
        try:
            info = os.stat(dirpath)
        except OSError:
            return True
        key = (info.st_dev, info.st_ino)
        if key in self.seen_dirs:
            return False
        self.seen_dirs.add(key)
        if key in self.excluded:
            self.result.skipped.append(Skipped(dirpath, self.excluded[key]))
            return False
        return True

    def consider(self, full: str, relative: str) -> None:
        """Count a file the person's filters leave out; otherwise add it."""
        if not has_image_extension(os.path.basename(full), self.extensions):
            self.result.ignored_other_extensions += 1
        elif self.filters.excludes(relative):
            self.result.ignored_excluded += 1
        elif not self.filters.size_ok(full):
            self.result.ignored_size += 1
        else:
            self.add_file(full)

    def excluded_reason(self, path: str) -> str | None:
        if not self.excluded:
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        return self.excluded.get((info.st_dev, info.st_ino))

    def add_file(self, path: str) -> None:
        if path in self.seen_files:
            return
        self.seen_files.add(path)
        reason, size = _classify(path, follow_symlinks=False)
        reason = reason or self.excluded_reason(path)
        if reason is None and os.path.isdir(path):
            return
        if reason is None:
            self.result.files.append(path)
            self.result.sizes[path] = size
        else:
            self.result.skipped.append(Skipped(path, reason))
