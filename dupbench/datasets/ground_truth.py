"""The ground truth of a generated dataset: what every file is, and which files are duplicates.

Written as OUT/ground_truth.json (schema below, versioned). True duplicate pairs are derived, never
stored: two files are duplicates when they are in the same group (an original and its planted copies);
such a pair is *exact* when both files decode to identical pixels (this includes equal bytes), else
*near*. Hard negatives have no group: they are duplicates of nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from dupbench.result import write_json_atomic

SCHEMA = "dupbench-ground-truth"
SCHEMA_VERSION = 1
FILENAME = "ground_truth.json"
Role = Literal["original", "copy", "hard_negative"]
PairKind = Literal["exact", "near"]


@dataclass(frozen=True)
class ImageEntry:
    """One generated file.

    ``kind`` is "original", the transformation of a copy, or the hard-negative kind. ``group`` is the
    duplicate group (shared by an original and its copies). ``derived_from`` is the original a copy or an
    edited hard negative was made from. ``source`` and ``region`` (x, y, w, h in the source photo, then
    mirrored if ``flip``) say where originals and overlapping crops were cut.
    """

    path: str
    role: Role
    kind: str
    group: int | None
    derived_from: str | None
    source: str | None
    region: tuple[int, int, int, int] | None
    flip: bool
    params: dict[str, Any]
    width: int
    height: int
    size_bytes: int
    file_digest: str
    pixel_digest: str


@dataclass(frozen=True)
class GroundTruth:
    profile: str
    seed: int
    n_images: int
    threshold: float
    thumb_size: int
    distinct_below: float
    distinct_check: str
    libraries: dict[str, str]
    sources: list[str]
    images: tuple[ImageEntry, ...]
    version: int = SCHEMA_VERSION
    settings: dict[str, Any] = field(default_factory=dict)

    def by_path(self) -> dict[str, ImageEntry]:
        return {entry.path: entry for entry in self.images}

    def groups(self) -> dict[int, list[ImageEntry]]:
        """Duplicate groups (original first, then copies in path order)."""
        out: dict[int, list[ImageEntry]] = {}
        for entry in sorted(self.images, key=lambda e: (e.role != "original", e.path)):
            if entry.group is not None:
                out.setdefault(entry.group, []).append(entry)
        return out

    def true_pairs(self) -> dict[tuple[str, str], PairKind]:
        """Every duplicate pair (paths sorted within the pair) and whether it is exact or near."""
        pairs: dict[tuple[str, str], PairKind] = {}
        for members in self.groups().values():
            for a, b in combinations(members, 2):
                key = (a.path, b.path) if a.path < b.path else (b.path, a.path)
                pairs[key] = "exact" if a.pixel_digest == b.pixel_digest else "near"
        return pairs

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data = {"schema": SCHEMA, "version": self.version, **{k: v for k, v in data.items() if k != "version"}}
        data["images"] = [_entry_json(entry) for entry in self.images]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        if data.get("schema") != SCHEMA or data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"not a dupbench ground truth of version {SCHEMA_VERSION} (schema={data.get('schema')!r}, version={data.get('version')!r})")
        images = tuple(ImageEntry(**{**item, "region": tuple(item["region"]) if item["region"] is not None else None}) for item in data["images"])
        fields = {
            k: data[k]
            for k in ("profile", "seed", "n_images", "threshold", "thumb_size", "distinct_below", "distinct_check", "libraries", "sources", "settings")
        }
        return cls(images=images, **fields)


def _entry_json(entry: ImageEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["region"] = list(entry.region) if entry.region is not None else None
    return data


def write_ground_truth(truth: GroundTruth, path: Path) -> None:
    write_json_atomic(truth.to_json(), Path(path))


def read_ground_truth(path: Path) -> GroundTruth:
    """Read a ground truth file, or OUT/ground_truth.json when given the dataset folder."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    return GroundTruth.from_json(json.loads(path.read_text(encoding="utf-8")))
