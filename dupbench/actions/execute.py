"""Carrying out a plan (its undo is in `dupbench.actions.undo`).

Each operation is atomic (a rename, a link-and-rename, or a verified copy then unlink) and is
recorded in the manifest's journal before the next starts. Every file and its group's keeper are
checked again just before the operation; anything that changed is left alone and reported.
Failures become counted skips with a reason, never a crash half-way. The manifest records resolved
paths, so undo finds the files from any folder.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dupbench.actions.files import Unusable, difference, link_replace, make_parents, move_file, read_state, remove_empty_dirs
from dupbench.actions.manifest import Entry, ManifestWriter
from dupbench.actions.plan import Plan, Skip, Step, is_within, resolved, show
from dupbench.actions.trash import send_to_trash, trash_can_for

Log = Callable[[str], None]


@dataclass(frozen=True)
class ApplyResult:
    manifest: Path
    done: tuple[Entry, ...]
    skipped: tuple[Skip, ...]  # the plan's skips, then those found at run time


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
                    entry = _perform(step, plan.to)
                except OSError as exc:
                    reason = f"{step.op} failed: {describe(exc)}"
            if entry is None:
                writer.skip(Skip(step.file.path, reason or "not done"))
                if log:
                    log(f"skip     {show(step.file.path)}: {show(reason)}")
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


def _perform(step: Step, to: str | None) -> Entry:
    source = step.file
    path = resolved(source.path)
    entry = Entry(step.op, path, step.destination, source.digest.hex(), source.size, source.mode & 0o777, source.mtime_ns, resolved(step.keeper.path))
    if step.op == "move":
        if step.destination is None:
            raise ValueError(f"a move of {source.path} planned without a destination")
        destination = step.destination
        created = make_parents(destination)
        try:
            folder = os.path.dirname(destination)
            if os.path.realpath(folder) != folder:  # a symlink planted inside DIR must not redirect the move
                raise OSError(errno.ELOOP, "a symbolic link in the destination's folders; not followed", folder)
            move_file(source.path, destination, source.digest)
        except BaseException:
            remove_empty_dirs(created)
            raise
        recorded = tuple(d for d in created if to is not None and is_within(d, to))  # undo removes only these
        return replace(entry, created_dirs=recorded, inode=_identity(destination))
    if step.op == "trash":
        trashed = send_to_trash(path, trash_can_for(path))
        return replace(entry, destination=trashed.path, trash_info=trashed.info, inode=_identity(trashed.path))
    if step.op == "delete":
        os.unlink(source.path)
        return entry
    link_replace(step.keeper.path, source.path, step.keeper.identity, source)
    return replace(entry, destination=resolved(step.keeper.path), linked_inode=step.keeper.identity)


def _identity(path: str) -> tuple[int, int]:
    info = os.lstat(path)
    return (info.st_dev, info.st_ino)


def describe(exc: OSError) -> str:
    message = exc.strerror or str(exc)
    return f"{message}: {exc.filename}" if exc.filename else message
