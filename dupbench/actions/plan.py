"""Planning: turn a report's groups into the exact file operations an action would make.

Planning reads and hashes every file involved but changes nothing. Its guarantees:
- a keeper is never in the plan, nor is any file that is the same inode as any keeper (a second
  name, or the same file reached through a symlinked root): such a file *is* the keeper;
- a group whose keeper cannot be read, or changed since the scan, is left alone entirely;
- a file whose digest differs from the one seen at scan time (`expected_digests`) is left alone;
- `hardlink` only replaces files whose bytes equal the keeper's (by digest, whatever the report's
  `match` says): "pixels" matches are other encodings and their bytes would be lost;
- a move never targets an existing file, nor two files the same destination, and never acts on a
  file already inside the destination folder.

Destinations are computed from resolved paths (`resolved`: absolute, with every directory symlink
resolved), the form the manifest records, so `dupbench undo` can recompute and check each one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dupbench.actions.files import FileState, Unusable, read_state
from dupbench.actions.trash import trash_can_for
from dupbench.result import Group, Skipped

Action = Literal["report", "move", "delete", "hardlink"]
Op = Literal["move", "trash", "delete", "hardlink"]
ACTIONS: tuple[str, ...] = ("report", "move", "delete", "hardlink")


Skip = Skipped  # a file an action leaves alone, and why: the same record as a detector skip


@dataclass(frozen=True)
class Step:
    """One planned operation on `file`, justified by `keeper`, the copy that stays.

    `destination` is the new path (move), the trash directory (trash), the keeper linked to
    (hardlink), or None (delete).
    """

    op: Op
    file: FileState
    keeper: FileState
    destination: str | None
    group: int


@dataclass(frozen=True)
class Plan:
    action: Action
    steps: tuple[Step, ...]
    skipped: tuple[Skip, ...]
    keepers: tuple[str, ...]
    roots: tuple[str, ...]
    to: str | None = None


def make_plan(
    groups: Sequence[Group],
    roots: Sequence[str],
    action: Action,
    *,
    to: str | os.PathLike | None = None,
    expected_digests: Mapping[str, bytes] | None = None,
    use_trash: bool = True,
) -> Plan:
    """The exact operations `action` would make on `groups`; reads files, changes nothing.

    `delete` goes to the trash when `use_trash` (a file whose filesystem has no usable trash is then
    skipped at run time, never deleted outright), and deletes permanently otherwise.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}")
    if action == "move" and to is None:
        raise ValueError("--action move needs --to DIR")
    if action == "report":
        return Plan(action, (), (), tuple(g.keeper for g in groups), tuple(roots))
    expected = expected_digests or {}
    real_roots = resolved_roots(roots)
    real_to = None if to is None else os.path.realpath(to)
    steps: list[Step] = []
    skipped: list[Skip] = []
    keeper_states = _usable_keepers(groups, expected, real_to, skipped)
    protected = {state.identity: state.path for state in keeper_states.values()}
    planned: dict[tuple[int, int], str] = {}
    destinations: set[str] = set()
    for index, group in enumerate(groups):
        keeper = keeper_states.get(index)
        if keeper is None:
            continue
        for member in group.members:
            try:
                state = read_state(member.path, follow_symlinks=False)
            except Unusable as exc:
                skipped.append(Skip(member.path, str(exc)))
                continue
            op: Op = "delete"
            destination: str | None = None
            reason = _reason_to_leave(state, expected, protected, planned)
            if reason is None:
                op, destination, reason = _operation(action, member.path, state, keeper, real_roots, real_to, use_trash)
            if reason is None and op == "move" and destination in destinations:
                reason = f"another file is already planned to move to {destination}"
            if reason is not None:
                skipped.append(Skip(member.path, reason))
                continue
            planned[state.identity] = member.path
            if destination is not None:
                destinations.add(destination)
            steps.append(Step(op, state, keeper, destination, index))
    return Plan(action, tuple(steps), tuple(skipped), tuple(g.keeper for g in groups), tuple(real_roots), real_to)


def _usable_keepers(groups: Sequence[Group], expected: Mapping[str, bytes], real_to: str | None, skipped: list[Skip]) -> dict[int, FileState]:
    """Group index -> its keeper's state, for the groups whose keeper can be trusted; the members of the
    other groups are added to `skipped` with the reason."""
    keeper_states: dict[int, FileState] = {}
    for index, group in enumerate(groups):
        reason = None
        try:
            state = read_state(group.keeper, follow_symlinks=True)
            if group.keeper in expected and expected[group.keeper] != state.digest:
                reason = "changed since the scan"
            elif real_to is not None and is_within(resolved(group.keeper), real_to):
                reason = "is inside the destination folder (moved there before): the originals stay where they are"
        except Unusable as exc:
            reason = str(exc)
        if reason is None:
            keeper_states[index] = state
        else:
            skipped.extend(Skip(m.path, f"group left alone: its keeper {group.keeper} {reason}") for m in group.members)
    return keeper_states


def _operation(
    action: Action, path: str, state: FileState, keeper: FileState, real_roots: Sequence[str], real_to: str | None, use_trash: bool
) -> tuple[Op, str | None, str | None]:
    """(operation, destination, None) for one member the action may touch, or (_, _, the reason it cannot)."""
    if action == "move":
        if real_to is None:
            raise ValueError("--action move needs --to DIR")
        destination, reason = _move_destination(path, real_roots, real_to)
        return "move", destination, reason
    if action == "delete" and use_trash:
        try:
            return "trash", trash_can_for(path).root, None
        except OSError as exc:
            return "trash", None, f"cannot find its trash: {exc.strerror}"
    if action == "hardlink":
        return "hardlink", keeper.path, _hardlink_reason(state, keeper)
    return "delete", None, None


def _reason_to_leave(
    state: FileState,
    expected: Mapping[str, bytes],
    protected: Mapping[tuple[int, int], str],
    planned: Mapping[tuple[int, int], str],
) -> str | None:
    if state.path in expected and expected[state.path] != state.digest:
        return "changed since the scan"
    if state.identity in protected:
        return f"same file as the keeper {protected[state.identity]} (another name or path for it)"
    if state.identity in planned:
        return f"same file as {planned[state.identity]}, already planned"
    return None


def _hardlink_reason(state: FileState, keeper: FileState) -> str | None:
    if state.digest != keeper.digest or state.size != keeper.size:
        return "bytes differ from the keeper's (hard links replace byte-identical copies only)"
    if state.dev != keeper.dev:
        return "on another filesystem than the keeper (a hard link cannot cross filesystems)"
    return None


def resolved(path: str | os.PathLike) -> str:
    """`path` absolute with its folder's symlinks resolved; the last component is kept as it is (a
    symlink named like a photo stays the link). The form every manifest path takes."""
    absolute = os.path.abspath(path)
    parent, name = os.path.split(absolute)
    return os.path.join(os.path.realpath(parent), name) if name else os.path.realpath(absolute)


def resolved_roots(roots: Sequence[str | os.PathLike]) -> list[str]:
    """The roots fully resolved (a root may be a symlinked folder), repeats dropped, order kept."""
    return list(dict.fromkeys(os.path.realpath(r) for r in roots))


def is_within(path: str, folder: str) -> bool:
    """True if `path` is `folder` or below it (both absolute and normalised; no file-system access)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def root_labels(roots: Sequence[str]) -> dict[str, str]:
    """Subdirectory of DIR each (resolved) root's files move into: none for a single root, else its name.

    Two roots with the same name get their full paths, so no two files can collide.
    """
    unique = list(dict.fromkeys(roots))
    if len(unique) == 1:
        return {unique[0]: ""}
    names = [os.path.basename(r.rstrip(os.sep)) or "root" for r in unique]
    return {r: (n if names.count(n) == 1 else r.strip(os.sep)) for r, n in zip(unique, names)}


def move_destination(source: str, roots: Sequence[str], to: str) -> str | None:
    """Where a move puts `source`: DIR/label/path relative to the first root holding it, or None.

    Pure (no file-system access) on resolved paths, so undo can recompute it from a manifest.
    """
    labels = root_labels(roots)
    for root in roots:
        if source == root:  # a root that is a file itself
            relative = os.path.basename(source)
        elif is_within(source, root):
            relative = os.path.relpath(source, root)
        else:
            continue
        return os.path.normpath(os.path.join(to, labels[root], relative))
    return None


def _move_destination(path: str, roots: Sequence[str], to: str) -> tuple[str | None, str | None]:
    """(destination, None), or (None, reason)."""
    source = resolved(path)
    if is_within(source, to):
        return None, f"already inside the destination folder {show(to)}"
    destination = move_destination(source, roots, to)
    if destination is None:
        return None, "not under any scanned root"
    if os.path.lexists(destination):
        return None, f"destination {destination} already exists"
    return destination, None


def format_plan(plan: Plan) -> str:
    """The plan a person checks before saying yes: one line per operation and per skipped file."""
    verbs = {"move": "move", "trash": "trash", "delete": "DELETE", "hardlink": "hardlink"}
    lines = []
    for step in plan.steps:
        target = {
            "move": f" -> {show(step.destination)}",
            "trash": f" -> {show(step.destination)}",
            "delete": " (permanently: no system trash)",
            "hardlink": f" => {show(step.destination)}",
        }[step.op]
        keeper = "" if step.op == "hardlink" else f"   (keeping {show(step.keeper.path)})"
        lines.append(f"{verbs[step.op]:8} {show(step.file.path)}{target}{keeper}")
    for skip in plan.skipped:
        lines.append(f"skip     {show(skip.path)}: {show(skip.reason)}")
    lines.append(summary(plan))
    return "\n".join(lines)


def summary(plan: Plan) -> str:
    counts: dict[str, int] = {}
    for step in plan.steps:
        counts[step.op] = counts.get(step.op, 0) + 1
    freed = sum(step.file.size for step in plan.steps)
    done = ", ".join(f"{n} to {op}" for op, n in counts.items()) or "nothing to do"
    return f"{plan.action}: {done} ({freed:,} bytes); {len(plan.skipped)} left alone; {len(plan.keepers)} keepers untouched"


def show(text: str | None) -> str:
    """A path (or a reason naming one) as printed: quoted and escaped when it holds control or other
    unprintable characters, so a newline in a name cannot forge a line."""
    if text is None:
        return "-"
    return text if text.isprintable() else repr(text)
