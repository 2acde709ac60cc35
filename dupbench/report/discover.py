"""Finding the report's inputs in a results folder, as a reader would point at it (`dupbench report results/`).

The newest results of each experiment are taken, so that no figure mixes a rerun with the files it replaced.
A sweep's experiment is its name and the interpreter that ran it (the seed study may be run once per
interpreter); "newest" is the newest file of the experiment plus every file of it measured at the same commit.
Timestamps come from the files' metadata or names, never from file times, which a fresh clone resets.
Anything under a folder named `archive` (results kept for the record, superseded by a later study) is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

_STAMP = re.compile(r"(\d{8}T\d{6})Z?")


@dataclass
class Discovered:
    results: list[Path] = field(default_factory=list)
    accuracy: Path | None = None
    gil: Path | None = None
    scale: Path | None = None
    tables: list[Path] = field(default_factory=list)
    real_accuracy: list[Path] = field(default_factory=list)


def stamp_of(path: Path) -> str:
    """The UTC timestamp in a results path (file or folder name), '' if it has none."""
    found = _STAMP.findall(str(path))
    return found[-1] if found else ""


ARCHIVE = "archive"


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if ARCHIVE not in p.relative_to(folder).parts)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def sweep_files(folder: Path) -> list[tuple[Path, dict]]:
    """Every sweep CSV under folder with the metadata JSON the harness writes beside it."""
    found = []
    for csv in _files(folder, "*.csv"):
        meta = _read_json(csv.with_suffix(".json"))
        if isinstance(meta.get("sweep"), dict) and "name" in meta["sweep"]:
            found.append((csv, meta))
    return found


def experiment_of(meta: dict) -> tuple[str, str, bool]:
    """What a sweep file measured: the sweep's name and the interpreter (version, GIL) that ran it."""
    python = meta.get("python", {})
    return meta["sweep"]["name"], str(python.get("version", "")), bool(python.get("gil_enabled", True))


def newest_per_sweep(files: list[tuple[Path, dict]]) -> list[Path]:
    """Per experiment, the newest file and its siblings from the same commit, oldest first."""
    by_name: dict[tuple[str, str, bool], list[tuple[Path, dict]]] = {}
    for path, meta in files:
        by_name.setdefault(experiment_of(meta), []).append((path, meta))
    chosen: list[Path] = []
    for entries in by_name.values():
        entries.sort(key=lambda e: (e[1].get("collected_utc", ""), stamp_of(e[0])))
        commit = entries[-1][1].get("git", {}).get("commit")
        chosen += [path for path, meta in entries if meta.get("git", {}).get("commit") == commit]
    return sorted(chosen, key=stamp_of)


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda p: (stamp_of(p), str(p))) if paths else None


def newest_accuracy(folder: Path) -> Path | None:
    """The threshold sweep of the newest generated-study evaluation (experiments/accuracy.sh)."""
    sweeps = [p for p in _files(folder, "threshold-sweep-32px.csv") if p.parent.name.startswith("study-")]
    return max(sweeps, key=lambda p: (_read_json(p.with_name("metadata.json")).get("collected_utc", ""), str(p))) if sweeps else None


def newest_peers(folder: Path) -> list[Path]:
    """benchmarks/peers.py's newest table per data set: the generated set's (peers/<machine>/) and each named
    run's (peers/<machine>/<name>/, e.g. the real photos' speed runs), whatever machine ran it."""
    by_set: dict[tuple[str, ...], list[Path]] = {}
    for path in _files(folder, "peers/*/*.md") + _files(folder, "peers/*/*/*.md"):
        parts = path.relative_to(folder).parts
        by_set.setdefault(parts[parts.index("peers") + 2 : -1], []).append(path)
    return [newest for key in sorted(by_set) if (newest := _newest(by_set[key])) is not None]


def newest_real_accuracy(folder: Path) -> list[Path]:
    """Per real-image set and orientation setting (experiments/accuracy_real.sh), the newest evaluation."""
    by_set: dict[tuple[str, str], list[Path]] = {}
    for path in _files(folder, "evaluation*.json"):
        if path.parent.name.startswith("real-"):
            by_set.setdefault((path.parent.name, path.name), []).append(path)

    def collected(path: Path) -> str:
        return str(_read_json(path.with_name("metadata.json")).get("collected_utc", ""))

    return sorted(max(paths, key=collected) for paths in by_set.values())


def discover(folder: Path) -> Discovered:
    """The report's inputs found in folder; an experiment with no file here is simply absent."""
    return Discovered(
        results=newest_per_sweep(sweep_files(folder)),
        accuracy=newest_accuracy(folder),
        gil=_newest(_files(folder, "gil/*/*/results.json")),
        scale=_newest([p for p in _files(folder, "scale-*.csv") if not p.stem.endswith("-recall")]),
        tables=[t for t in (_newest(_files(folder, "limits-*.md")), *newest_peers(folder)) if t],
        real_accuracy=newest_real_accuracy(folder),
    )
