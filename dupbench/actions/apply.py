"""A reviewed plan (exported by the `dupbench review` page), checked against its run before any action.

The plan names, per group, the copy to keep and the copies to remove, with each file's digest. It is
checked against the report it came from, which it names by path and SHA-256: every file must be in
the group the plan puts it in, its digest must be the one the scan saw, and no keeper may be removed.
What is left becomes ordinary groups for `make_plan`/`apply_plan`, so everything `run --action`
guarantees holds: files re-hashed before acting, keepers never touched, a manifest for `dupbench undo`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dupbench.result import DuplicateReport, Group, Member

PLAN_FORMAT = "dupbench-plan"
PLAN_VERSION = 1
PLAN_ACTIONS = ("move", "delete", "hardlink")
DIGEST = re.compile(r"[0-9a-f]{32}")


class PlanError(ValueError):
    """The plan cannot be applied; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class PlannedFile:
    path: str
    digest: str


@dataclass(frozen=True)
class PlannedGroup:
    group: int  # index into the report's groups
    keeper: PlannedFile
    remove: tuple[PlannedFile, ...]


@dataclass(frozen=True)
class ReviewPlan:
    action: str
    report_path: str
    report_sha256: str
    groups: tuple[PlannedGroup, ...]


def _file(data: Any, where: str) -> PlannedFile:
    if not isinstance(data, dict) or not isinstance(data.get("path"), str) or not isinstance(data.get("digest"), str):
        raise PlanError(f'{where}: expected {{"path": ..., "digest": ...}}')
    if not DIGEST.fullmatch(data["digest"]):
        raise PlanError(f"{where}: digest {data['digest']!r} is not a 32-digit hex BLAKE2b-128 digest")
    return PlannedFile(data["path"], data["digest"])


def parse_plan(data: Any) -> ReviewPlan:
    """A plan from its JSON; raises PlanError for anything not of the format the review page writes."""
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise PlanError("not a dupbench plan (exported by the `dupbench review` page)")
    if data.get("version") != PLAN_VERSION:
        raise PlanError(f"unsupported plan version {data.get('version')!r} (expected {PLAN_VERSION})")
    if data.get("action") not in PLAN_ACTIONS:
        raise PlanError(f"unknown action {data.get('action')!r}; expected one of {', '.join(PLAN_ACTIONS)}")
    report = data.get("report")
    if not isinstance(report, dict) or not isinstance(report.get("path"), str) or not isinstance(report.get("sha256"), str):
        raise PlanError("the plan does not name its report (report.path and report.sha256)")
    if not isinstance(data.get("groups"), list):
        raise PlanError("the plan has no list of groups")
    groups = []
    for n, group in enumerate(data["groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("group"), int) or not isinstance(group.get("remove"), list):
            raise PlanError(f'groups[{n}]: expected {{"group": N, "keeper": ..., "remove": [...]}}')
        keeper = _file(group.get("keeper"), f"groups[{n}].keeper")
        remove = tuple(_file(f, f"groups[{n}].remove[{i}]") for i, f in enumerate(group["remove"]))
        groups.append(PlannedGroup(group["group"], keeper, remove))
    return ReviewPlan(data["action"], report["path"], report["sha256"], tuple(groups))


def load_plan(path: Path) -> ReviewPlan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanError(f"not JSON: {exc}") from None
    return parse_plan(data)


def load_plan_report(plan: ReviewPlan, report_path: Path | None = None) -> DuplicateReport:
    """The report the plan was made from (or the one at `report_path`), refused unless its SHA-256 matches."""
    path = Path(report_path or plan.report_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read the plan's report {path}: {exc.strerror or exc}; pass it with --report") from None
    if hashlib.sha256(raw).hexdigest() != plan.report_sha256:
        raise PlanError(f"{path} is not the report this plan was made from (its SHA-256 differs): review the new report again")
    try:
        return DuplicateReport.from_json(json.loads(raw.decode("utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"cannot read the plan's report {path}: {exc}") from None


def checked_groups(plan: ReviewPlan, report: DuplicateReport) -> tuple[list[Group], dict[str, bytes]]:
    """The plan as groups (keeper plus only the files to remove) and the digests to re-check them against.

    Raises PlanError when the plan does not fit its report: a group that is not there, a file outside
    its group, a keeper also to be removed, a file listed twice, or a digest other than the scan's.
    """
    groups: list[Group] = []
    expected: dict[str, bytes] = {}
    seen: set[str] = set()
    for planned in plan.groups:
        if not 0 <= planned.group < len(report.groups):
            raise PlanError(f"group {planned.group} is not in the report ({len(report.groups)} groups)")
        group = report.groups[planned.group]
        members = {m.path: m for m in group.members}
        for file in (planned.keeper, *planned.remove):
            if file.path not in group.paths:
                raise PlanError(f"{file.path!r} is not in group {planned.group} of the report")
            if file.path in seen:
                raise PlanError(f"{file.path!r} is listed more than once in the plan")
            seen.add(file.path)
            scanned = report.files.get(file.path)
            if scanned is not None and scanned.digest != file.digest:
                raise PlanError(f"the digest of {file.path!r} in the plan is not the one the scan saw")
            expected[file.path] = bytes.fromhex(file.digest)
        promoted = members.get(planned.keeper.path)  # the old keeper, if removed, carries its scores (they are symmetric)
        chosen = tuple(members.get(f.path) or Member(f.path, promoted.ssim if promoted else 1.0, "ssim") for f in planned.remove)
        if chosen:
            groups.append(Group(group.kind, planned.keeper.path, chosen))
    return groups, expected
