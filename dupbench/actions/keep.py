"""Keeper rules (`--keep`): which copy of a group stays.

The detector keeps the highest-resolution, then largest, file. These rules let a person choose
instead. The report carries no pixel counts, so "largest" means largest file; ties, unreadable
files and "path-prefix" with no match fall back to the order given, whose first path is the
detector's keeper when called from `rekey_groups`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from dupbench.result import Group, Member

KEEP_RULES = ("largest", "oldest", "newest", "path-prefix=DIR")
PREFIX = "path-prefix="

Stat = Callable[[str], os.stat_result]


def check_keep_rule(rule: str) -> str:
    """Return `rule` if it is valid, else raise ValueError naming the valid ones."""
    if rule in ("largest", "oldest", "newest"):
        return rule
    if rule.startswith(PREFIX) and rule[len(PREFIX) :]:
        return rule
    raise ValueError(f"unknown keeper rule {rule!r}; choose one of {', '.join(KEEP_RULES)}")


def choose_keeper(paths: Sequence[str], rule: str, stat: Stat = os.stat) -> str:
    """The path to keep among `paths` under `rule`; ties go to the earlier path."""
    if not paths:
        raise ValueError("choose_keeper needs at least one path")
    check_keep_rule(rule)
    if rule.startswith(PREFIX):
        prefix = Path(os.path.abspath(rule[len(PREFIX) :]))
        under = [p for p in paths if Path(os.path.abspath(p)).is_relative_to(prefix)]
        return under[0] if under else paths[0]
    stats: dict[str, os.stat_result] = {}
    for path in paths:
        try:
            stats[path] = stat(path)
        except OSError:
            continue  # a file that is gone cannot be the copy we keep
    if not stats:
        return paths[0]
    readable = [p for p in paths if p in stats]
    if rule == "largest":
        return max(readable, key=lambda p: stats[p].st_size)  # max keeps the first of equals
    if rule == "oldest":
        return min(readable, key=lambda p: stats[p].st_mtime_ns)
    return max(readable, key=lambda p: stats[p].st_mtime_ns)


def rekey_groups(groups: Sequence[Group], rule: str, stat: Stat = os.stat) -> list[Group]:
    """Each group with the keeper `rule` chooses; nothing is recomputed.

    Members keep their `ssim`, `match` and `same_as` as the detector found them (scores against
    the detector's keeper). The displaced keeper becomes a member carrying the new keeper's old
    scores, which are symmetric. No action trusts these labels: hard links are made only after
    comparing digests.
    """
    return [_rekey(group, choose_keeper([group.keeper, *(m.path for m in group.members)], rule, stat)) for group in groups]


def _rekey(group: Group, keeper: str) -> Group:
    if keeper == group.keeper:
        return group
    promoted = next(m for m in group.members if m.path == keeper)
    identical_to_old = promoted.match != "ssim" and promoted.same_as in (None, group.keeper)
    demoted = Member(
        path=group.keeper,
        ssim=promoted.ssim,
        match=promoted.match if identical_to_old else "ssim",
        same_as=keeper if identical_to_old else None,
    )
    others = tuple(m for m in group.members if m.path != keeper)
    return replace(group, keeper=keeper, members=(demoted, *others))


def under_any(path: str, folders: Sequence[str]) -> bool:
    """Whether `path` (resolved) lies inside one of `folders` (resolved)."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(folder)) for folder in folders)


def protect_references(groups: Sequence[Group], references: Sequence[str], linking: bool = False) -> list[Group]:
    """Groups in which no file under a reference folder is acted on: a group holding one keeps it (the
    first such file becomes the keeper), and every other reference file leaves the group's members.
    When `linking`, a group kept by a reference file is left out: a hard link to it would let a later
    edit of the linked copy change the reference file.

    Reference folders are the copies a person keeps whatever happens (an archive, a master library)."""
    if not references:
        return list(groups)
    protected = []
    for group in groups:
        paths = [group.keeper, *(m.path for m in group.members)]
        inside = [p for p in paths if under_any(p, references)]
        if inside and inside[0] != group.keeper:
            group = _rekey(group, inside[0])
        group = replace(group, members=tuple(m for m in group.members if m.path not in inside))
        if group.members and not (linking and inside):
            protected.append(group)
    return protected
