"""Undoing an action from its manifest: only what dupbench itself did, checked first, then done.

A manifest must carry this user's seal (`dupbench.actions.seal`): one edited, or written by another
user, is refused as a whole. Beyond that, undo trusts no part of it that it can check:
- every path must be absolute and normalised, the original inside a recorded root, and a moved
  file exactly where that run's move would have put it (recomputed from the roots and DIR); a trashed
  file must be in the trash of its own file system with its .trashinfo beside it naming the original;
  directories to remove must be inside DIR, on the way to the file, and are removed only when empty;
- the file to put back must have the recorded digest, size and inode; no folder on the way may have
  become a symbolic link; the original path must be free;
- a mode is never widened: a hard link's copy gets the recorded permission bits, minus any the link
  itself does not have, and never setuid, setgid or sticky.
Every entry is checked before anything is touched: if one fails, the whole manifest is refused with
every reason and nothing changes. Entries already back in place (an earlier or interrupted undo) are
counted and left as they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dupbench.actions.execute import describe
from dupbench.actions.files import Unusable, make_parents, move_file, read_state, remove_empty_dirs, unlink_replace_copy
from dupbench.actions.manifest import Entry, Manifest, ManifestRejected, load_manifest
from dupbench.actions.plan import Skip, is_within, move_destination, show
from dupbench.actions.trash import Trashed, restore_from_trash, trash_can_for, trash_info_path
from dupbench.detector.features import DIGEST_BYTES

Log = Callable[[str], None]
Verdict = Literal["ready", "already", "cannot"]
OPS_OF_ACTION = {"move": {"move"}, "delete": {"trash", "delete"}, "hardlink": {"hardlink"}}
HEX_DIGEST = re.compile(rf"[0-9a-f]{{{2 * DIGEST_BYTES}}}")


@dataclass(frozen=True)
class UndoResult:
    restored: tuple[Entry, ...]
    already: tuple[Entry, ...]  # back in place before this undo: nothing to do
    skipped: tuple[Skip, ...]  # not restored, with the reason (all the problems, when refused)
    refused: bool = False  # an entry failed its checks, so nothing was changed


def undo_manifest(manifest_path: str | os.PathLike, *, dry_run: bool = False, log: Log | None = None) -> UndoResult:
    """Restore what a manifest records, newest first, after checking every entry; never overwrites.

    move and trash: the file goes back to its original path. hardlink: the path, still the link to the
    keeper, becomes a separate file again with the same bytes. delete (permanent) cannot be undone
    and is reported. Raises ValueError (ManifestRejected, OldManifest) or OSError for a manifest that
    cannot be read or trusted at all.
    """
    manifest = load_manifest(Path(manifest_path))
    check_header(manifest)
    entries = tuple(reversed(manifest.entries))
    verdicts = [(entry, check_entry(entry, manifest)) for entry in entries]
    problems = [Skip(entry.source, reason or "refused") for entry, (verdict, reason) in verdicts if verdict is None]
    problems += _repeats(entries)
    if problems:
        if log:
            for problem in problems:
                log(f"refused  {show(problem.path)}: {show(problem.reason)}")
        return UndoResult((), (), tuple(problems), refused=True)
    restored: list[Entry] = []
    already: list[Entry] = []
    skipped: list[Skip] = []
    for entry, (verdict, reason) in verdicts:
        if verdict == "cannot":
            skipped.append(Skip(entry.source, reason or ""))
            if log:
                log(f"skip     {show(entry.source)}: {show(reason)}")
            continue
        if verdict == "already":
            already.append(entry)
            continue
        if not dry_run:
            verdict, reason = check_entry(entry, manifest)  # again, just before acting on it
            if verdict == "ready":
                try:
                    _restore(entry)
                except OSError as exc:
                    verdict, reason = None, f"restore failed: {describe(exc)}"
            if verdict != "ready":
                skipped.append(Skip(entry.source, reason or "changed since it was checked"))
                if log:
                    log(f"skip     {show(entry.source)}: {show(reason)}")
                continue
        restored.append(entry)
        if log:
            log(f"{'would restore' if dry_run else 'restored'} {show(entry.source)}")
    return UndoResult(tuple(restored), tuple(already), tuple(skipped))


def check_header(manifest: Manifest) -> None:
    """Raise ManifestRejected unless the header is one a run writes."""
    if manifest.action not in OPS_OF_ACTION:
        raise ManifestRejected(f"unknown action {manifest.action!r}")
    if not manifest.roots:
        raise ManifestRejected("it records no scanned roots")
    for path in (*manifest.roots, manifest.cwd, *((manifest.to,) if manifest.to is not None else ())):
        if not clean(path):
            raise ManifestRejected(f"its roots, DIR and folder must be absolute, normalised paths: {show(path)}")
    if (manifest.action == "move") != (manifest.to is not None):
        raise ManifestRejected("a move records its DIR, and only a move does")


def clean(path: str | None) -> bool:
    """Absolute, normalised (no `..`, `.` or doubled separators), no NUL: the only form a run records."""
    return isinstance(path, str) and os.path.isabs(path) and os.path.normpath(path) == path and "\0" not in path and not path.startswith("//")


def check_entry(entry: Entry, manifest: Manifest) -> tuple[Verdict | None, str | None]:
    """("ready", None), ("already", None), ("cannot", why), or (None, the problem that refuses it)."""
    problem = _recorded_problem(entry, manifest)
    if problem:
        return None, f"not something dupbench did: {problem}"
    if entry.op == "delete":
        return "cannot", "was deleted permanently (no system trash): cannot be restored"
    if entry.op == "hardlink":
        return _hardlink_verdict(entry)
    return _moved_verdict(entry, manifest)


def _recorded_problem(entry: Entry, manifest: Manifest) -> str | None:
    """What in the entry no run of this manifest's header could have recorded (no disk access)."""
    if entry.op not in OPS_OF_ACTION[manifest.action]:
        return f"a {entry.op!r} entry in a {manifest.action} manifest"
    for name in ("source", "keeper"):
        path = getattr(entry, name)
        if not clean(path):
            return f"its {name} is not an absolute, normalised path"
        if not any(is_within(path, root) for root in manifest.roots):
            return f"its {name} {show(path)} is outside the scanned roots"
    if entry.source == entry.keeper:
        return "its file is its own keeper"
    if not HEX_DIGEST.fullmatch(entry.digest) or entry.size < 0:
        return "no valid digest and size"
    if not 0 <= entry.mode <= 0o777:
        return f"mode {entry.mode:#o} (a run records permission bits only)"
    if entry.created_dirs and entry.op != "move":
        return "directories recorded as created by something other than a move"
    if entry.op != "delete" and entry.destination is None:
        return f"no destination recorded for a {entry.op}"
    destination = entry.destination or ""
    if entry.op == "move":
        if destination != move_destination(entry.source, manifest.roots, manifest.to or ""):
            return f"{show(destination)} is not where the move put {show(entry.source)}"
        if entry.inode is None:
            return "no inode recorded for the moved file"
        for directory in entry.created_dirs:
            if not (clean(directory) and is_within(directory, manifest.to or "") and is_within(os.path.dirname(destination), directory)):
                return f"{show(directory)} is not a folder inside DIR on the way to the moved file"
    if entry.op == "trash":
        if not (clean(destination) and clean(entry.trash_info)) or entry.inode is None:
            return "no trashed path, trash info and inode"
        files = os.path.dirname(destination)
        can = os.path.dirname(files)
        if os.path.basename(files) != "files" or entry.trash_info != os.path.join(can, "info", os.path.basename(destination) + ".trashinfo"):
            return f"{show(destination)} and {show(entry.trash_info)} are not a trashed file and its info"
    if entry.op == "delete" and entry.destination is not None:
        return "a permanent delete with a destination"
    if entry.op == "hardlink" and (entry.destination != entry.keeper or entry.linked_inode is None):
        return "a hard link that names no keeper inode"
    return None


def _moved_verdict(entry: Entry, manifest: Manifest) -> tuple[Verdict | None, str | None]:
    assert entry.destination is not None
    root = next(r for r in manifest.roots if is_within(entry.source, r))
    problem = _folders_problem(entry.source, root, root_may_be_file=True)
    if problem:
        return None, problem
    if os.path.lexists(entry.source):
        if not os.path.lexists(entry.destination) and _has_digest(entry.source, entry.digest):
            return "already", None
        return None, "a file now exists at the original path; not overwritten"
    folder = os.path.dirname(entry.destination)
    if os.path.lexists(folder) and os.path.realpath(folder) != folder:
        return None, f"{show(folder)} now goes through a symbolic link"
    if entry.op == "trash":
        problem = _trash_problem(entry)
        if problem:
            return None, problem
    try:
        now = read_state(entry.destination, follow_symlinks=False)
    except Unusable as exc:
        return None, f"{show(entry.destination)} {exc}"
    if now.digest.hex() != entry.digest or now.size != entry.size:
        return None, f"{show(entry.destination)} changed since it was {'moved' if entry.op == 'move' else 'trashed'}; left there"
    if now.identity != entry.inode:
        return None, f"{show(entry.destination)} is another file than the one dupbench put there"
    return "ready", None


def _folders_problem(path: str, root: str, *, root_may_be_file: bool) -> str | None:
    """Why `path`'s folders (those that exist) are not what the run recorded: resolved, and the root there."""
    if root_may_be_file and path == root:
        root = os.path.dirname(root)
    if not os.path.isdir(root) or os.path.realpath(root) != root:
        return f"its root {show(root)} is gone or is now a symbolic link"
    folder = os.path.dirname(path)
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    if os.path.realpath(folder) != folder or not os.path.isdir(folder):
        return f"{show(folder)} is now a symbolic link or not a folder"
    return None


def _trash_problem(entry: Entry) -> str | None:
    assert entry.destination is not None and entry.trash_info is not None
    can = os.path.dirname(os.path.dirname(entry.destination))
    try:
        expected = trash_can_for(entry.destination)
    except OSError as exc:
        return f"{show(entry.destination)} is gone ({exc.strerror})"
    if expected.root != can:
        return f"{show(entry.destination)} is not in the trash of its file system ({show(expected.root)})"
    try:
        recorded = trash_info_path(entry.trash_info)
    except (OSError, ValueError) as exc:
        return f"its trash info {show(entry.trash_info)} cannot be used ({exc})"
    original = recorded if expected.topdir is None else os.path.join(expected.topdir, recorded)
    if os.path.normpath(original) != entry.source:
        return f"its trash info names {show(original)}, not {show(entry.source)}"
    return None


def _hardlink_verdict(entry: Entry) -> tuple[Verdict | None, str | None]:
    root_problem = _folders_problem(entry.source, os.path.dirname(entry.source), root_may_be_file=False)
    if root_problem:
        return None, root_problem
    try:
        now = read_state(entry.source, follow_symlinks=False)
    except Unusable as exc:
        return None, str(exc)
    if now.identity != entry.linked_inode:
        if now.digest.hex() == entry.digest:
            return "already", None  # a separate file with the bytes it had: what undo makes
        return None, "no longer the hard link dupbench made; left alone"
    if now.digest.hex() != entry.digest:
        return None, "content changed since it was linked; left alone"
    return "ready", None


def _has_digest(path: str, digest: str) -> bool:
    try:
        return read_state(path, follow_symlinks=False).digest.hex() == digest
    except Unusable:
        return False


def _repeats(entries: tuple[Entry, ...]) -> list[Skip]:
    """Two entries for one original path, or one moved file: no run records that."""
    seen: set[str] = set()
    problems = []
    for entry in entries:
        for path in (entry.source, entry.destination if entry.op in ("move", "trash") else None):
            if path is None:
                continue
            if path in seen:
                problems.append(Skip(entry.source, f"not something dupbench did: {show(path)} appears in two entries"))
            seen.add(path)
    return problems


def _restore(entry: Entry) -> None:
    if entry.op == "hardlink":
        now = read_state(entry.source, follow_symlinks=False)
        if now.identity != entry.linked_inode:
            raise OSError(f"{entry.source} is no longer the hard link dupbench made")
        mode = entry.mode & now.mode & 0o777  # never more than the link grants, never setuid/setgid/sticky
        unlink_replace_copy(entry.source, now, mode, entry.mtime_ns)
        return
    assert entry.destination is not None
    created = make_parents(entry.source)
    try:
        if entry.op == "trash":
            restore_from_trash(Trashed(entry.destination, entry.trash_info or ""), entry.source)
        else:
            move_file(entry.destination, entry.source, bytes.fromhex(entry.digest))
    except BaseException:
        remove_empty_dirs(created)
        raise
    if entry.op == "move":
        remove_empty_dirs(entry.created_dirs)
