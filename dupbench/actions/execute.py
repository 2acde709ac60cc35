"""Carrying out a plan, and undoing it from its manifest.

Each operation is atomic (a rename, a link-and-rename, or a verified copy then unlink) and is
recorded in the manifest's journal before the next starts. Every file and its group's keeper are
checked again just before the operation; anything that changed is left alone and reported.
Failures become counted skips with a reason, never a crash half-way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from dupbench.actions.files import (
    Unusable,
    difference,
    link_replace,
    make_parents,
    move_file,
    read_state,
    remove_empty_dirs,
    unlink_replace_copy,
)
from dupbench.actions.manifest import Entry, ManifestWriter, load_manifest
from dupbench.actions.plan import Plan, Skip, Step, show
from dupbench.actions.trash import Trashed, restore_from_trash, send_to_trash, trash_can_for

Log = Callable[[str], None]


@dataclass(frozen=True)
class ApplyResult:
    manifest: Path
    done: tuple[Entry, ...]
    skipped: tuple[Skip, ...]  # the plan's skips, then those found at run time


@dataclass(frozen=True)
class UndoResult:
    restored: tuple[Entry, ...]
    skipped: tuple[Skip, ...]


def apply_plan(plan: Plan, manifest_path: str | os.PathLike, *, log: Log | None = None) -> ApplyResult:
    """Carry out `plan`, writing the manifest at `manifest_path` (never overwritten).

    Raises OSError only if the manifest cannot be started, before any file is touched.
    """
    if plan.action == "report":
        raise ValueError("the report action changes nothing and has no plan to apply")
    keeper_checks: dict[int, str | None] = {}
    with ManifestWriter(Path(manifest_path), plan.action, plan.roots, plan.to) as writer:
        for skip in plan.skipped:
            writer.skip(skip)
        for step in plan.steps:
            reason = _keeper_reason(step, keeper_checks) or _file_reason(step)
            entry = None
            if reason is None:
                try:
                    entry = _perform(step)
                except OSError as exc:
                    reason = f"{step.op} failed: {describe(exc)}"
            if entry is None:
                writer.skip(Skip(step.file.path, reason or "not done"))
                if log:
                    log(f"skip     {show(step.file.path)}: {reason}")
                continue
            writer.record(entry)
            if log:
                log(f"{step.op:8} {show(entry.source)} -> {show(entry.destination)}")
        writer.finished = True
    return ApplyResult(Path(manifest_path), tuple(writer.entries), tuple(writer.skipped))


def _keeper_reason(step: Step, checks: dict[int, str | None]) -> str | None:
    """Why the group's keeper no longer justifies acting (hashed once per group, located every step)."""
    if step.group not in checks:
        try:
            now = read_state(step.keeper.path, follow_symlinks=True)
            problem = difference(step.keeper, now)
        except Unusable as exc:
            problem = str(exc)
        checks[step.group] = None if problem is None else f"left alone: its keeper {step.keeper.path} {problem}"
    if checks[step.group] is not None:
        return checks[step.group]
    try:
        info = os.stat(step.keeper.path)
    except OSError as exc:
        return f"left alone: its keeper {step.keeper.path} is gone ({exc.strerror})"
    if (info.st_dev, info.st_ino) != step.keeper.identity:
        return f"left alone: its keeper {step.keeper.path} was replaced"
    return None


def _file_reason(step: Step) -> str | None:
    try:
        return difference(step.file, read_state(step.file.path, follow_symlinks=False))
    except Unusable as exc:
        return str(exc)


def _perform(step: Step) -> Entry:
    source = step.file
    entry = Entry(step.op, source.path, step.destination, source.digest.hex(), source.size, source.mode, source.mtime_ns, step.keeper.path)
    if step.op == "move":
        created = make_parents(step.destination)
        try:
            move_file(source.path, step.destination, source.digest)
        except BaseException:
            remove_empty_dirs(created)
            raise
        return replace(entry, created_dirs=created)
    if step.op == "trash":
        trashed = send_to_trash(source.path, trash_can_for(source.path))
        return replace(entry, destination=trashed.path, trash_info=trashed.info)
    if step.op == "delete":
        os.unlink(source.path)
        return entry
    link_replace(step.keeper.path, source.path, step.keeper.identity)
    return replace(entry, linked_inode=step.keeper.identity)


def undo_manifest(manifest_path: str | os.PathLike, *, dry_run: bool = False, log: Log | None = None) -> UndoResult:
    """Restore what a manifest records, newest first; never overwrites a file.

    move and trash: the file is moved back if its original path is free and its content is what was
    moved. hardlink: the path, still the link to the keeper, becomes a separate file again with the
    same bytes and its own mode and mtime. delete (permanent) cannot be undone and is reported.
    Raises ValueError or OSError for an unreadable manifest.
    """
    manifest = load_manifest(Path(manifest_path))
    restored: list[Entry] = []
    skipped: list[Skip] = []
    for entry in reversed(manifest.entries):
        reason = _undo_reason(entry)
        if reason is None and not dry_run:
            try:
                _restore(entry)
            except OSError as exc:
                reason = f"restore failed: {describe(exc)}"
        if reason is None:
            restored.append(entry)
            if log:
                log(f"{'would restore' if dry_run else 'restored'} {show(entry.source)}")
        else:
            skipped.append(Skip(entry.source, reason))
            if log:
                log(f"skip     {show(entry.source)}: {reason}")
    return UndoResult(tuple(restored), tuple(skipped))


def _undo_reason(entry: Entry) -> str | None:
    if entry.op == "delete":
        return "was deleted permanently (no system trash): cannot be restored"
    if entry.op == "hardlink":
        try:
            now = read_state(entry.source, follow_symlinks=False)
        except Unusable as exc:
            return str(exc)
        if now.identity != entry.linked_inode:
            return "no longer the hard link dupbench made; left alone"
        return None if now.digest.hex() == entry.digest else "content changed since it was linked; left alone"
    if os.path.lexists(entry.source):
        return "a file now exists at the original path; not overwritten"
    try:
        now = read_state(entry.destination, follow_symlinks=False)
    except Unusable as exc:
        return f"{show(entry.destination)} {exc}"
    if now.digest.hex() != entry.digest:
        return f"{show(entry.destination)} changed since it was moved; left there"
    return None


def _restore(entry: Entry) -> None:
    if entry.op == "hardlink":
        unlink_replace_copy(entry.source, entry.mode, entry.mtime_ns)
        return
    created = make_parents(entry.source)
    try:
        if entry.op == "trash":
            restore_from_trash(Trashed(entry.destination, entry.trash_info), entry.source)
        else:
            move_file(entry.destination, entry.source, bytes.fromhex(entry.digest))
    except BaseException:
        remove_empty_dirs(created)
        raise
    if entry.op == "move":
        remove_empty_dirs(entry.created_dirs)


def describe(exc: OSError) -> str:
    message = exc.strerror or str(exc)
    return f"{message}: {exc.filename}" if exc.filename else message

