"""The one result format: every mode and configuration returns a `DuplicateReport`.

The JSON written from it (schema version 1) is the contract the evaluator, the harness, the report and
users' scripts rely on; see README "JSON output".
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
# The pipeline's stages, as `DuplicateReport.stages` names them (verify and pixel_checks are parts of compare).
STAGES = ("scan", "load", "compare", "cluster")
Match = Literal["bytes", "pixels", "ssim"]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Member:
    """A group member: its SSIM to the keeper, and how it matched.

    `match` is "bytes" or "pixels" when the member is identical to `same_as` (the keeper, or the
    best-ranked member of its identical copies); otherwise "ssim" and `same_as` is None.
    """

    path: str
    ssim: float
    match: Match
    same_as: str | None = None


@dataclass(frozen=True)
class Group:
    kind: Literal["exact", "near"]
    keeper: str
    members: tuple[Member, ...]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset([self.keeper, *(m.path for m in self.members)])


@dataclass(frozen=True)
class FileInfo:
    """What the scan saw of a file in a group: bytes, stored resolution, and BLAKE2b-128 digest (hex).

    Written so the human output, `--csv` and `dupbench review` can show each copy's size and
    resolution, and a reviewed plan can carry the digests `dupbench apply` re-checks before acting.
    """

    size: int
    width: int
    height: int
    digest: str


@dataclass
class DuplicateReport:
    roots: list[str]
    settings: dict[str, Any]
    groups: list[Group]
    skipped: list[Skipped]
    stages: dict[str, float]
    mode: str
    workers: int
    counts: dict[str, int] = field(default_factory=dict)
    stage_bounds: dict[str, list[float]] = field(default_factory=dict)
    # Near pairs that matched but were not put in one group (no chaining): (path, path, score), for review.
    left_out: list[tuple[str, str, float]] = field(default_factory=list)
    # One entry per file in a group; absent (empty) in reports written before it existed.
    files: dict[str, FileInfo] = field(default_factory=dict)
    # File digests seen at load time, so an action can refuse a file that changed since; not in the JSON.
    file_digests: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "roots": self.roots,
            "settings": self.settings,
            "groups": [{"kind": g.kind, "keeper": g.keeper, "members": [asdict(m) for m in g.members]} for g in self.groups],
            "skipped": [asdict(s) for s in self.skipped],
            "stages": self.stages,
            "mode": self.mode,
            "workers": self.workers,
            "counts": self.counts,
            "stage_bounds": self.stage_bounds,
            "left_out_pairs": [list(p) for p in self.left_out],
            "files": {path: asdict(info) for path, info in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicateReport:
        if not isinstance(data, dict):
            raise ValueError("not a dupbench report (expected a JSON object)")
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported report version {data.get('version')!r} (expected {SCHEMA_VERSION})")
        groups = [
            Group(g["kind"], g["keeper"], tuple(Member(m["path"], float(m["ssim"]), m["match"], m.get("same_as")) for m in g["members"]))
            for g in data["groups"]
        ]
        files = {path: FileInfo(int(f["size"]), int(f["width"]), int(f["height"]), str(f["digest"])) for path, f in data.get("files", {}).items()}
        return cls(
            roots=list(data["roots"]),
            settings=dict(data["settings"]),
            groups=groups,
            skipped=[Skipped(s["path"], s["reason"]) for s in data["skipped"]],
            stages=dict(data["stages"]),
            mode=data["mode"],
            workers=int(data["workers"]),
            counts=dict(data.get("counts", {})),
            stage_bounds=dict(data.get("stage_bounds", {})),
            left_out=[(str(a), str(b), float(v)) for a, b, v in data.get("left_out_pairs", [])],
            files=files,
            file_digests={path: bytes.fromhex(info.digest) for path, info in files.items()},
        )

    def group_sets(self) -> set[frozenset[str]]:
        """Groups as sets of paths: what 'identical groups across modes' compares."""
        return {g.paths for g in self.groups}


def json_text(data: Any) -> str:
    """Indented JSON, UTF-8 where it can be; ASCII-escaped when a file name is not UTF-8 (surrogate-escaped by os)."""
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2, ensure_ascii=True)
    return text + "\n"


def write_json_atomic(data: Any, path: Path) -> None:
    """Write JSON to a temporary file beside `path` and rename it, so no half-written file is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        text = json_text(data)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_report(path: Path) -> DuplicateReport:
    return DuplicateReport.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
