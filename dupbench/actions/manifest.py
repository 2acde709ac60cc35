"""The manifest: what an action did, enough for `dupbench undo` to put it back.

Crash safety: before the first change the manifest is written (atomically) with no entries and the
name of a journal; each change is appended to the journal and fsynced before the next one starts;
at the end the full manifest replaces the first one atomically and the journal is removed. So an
interrupted run still leaves a manifest that `undo` reads (together with its journal).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from dupbench.actions.plan import Op, Skip

MANIFEST_FORMAT = "dupbench-actions"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Entry:
    """One completed operation.

    `destination`: the new path (move), the path inside the trash's files/ (trash), the keeper
    that `source` is now a hard link to (hardlink), None (delete). `digest` is the hex BLAKE2b-128
    of the content; `mode` and `mtime_ns` are the file's own before the operation (a hard link
    shares the keeper's, so undo restores them). `linked_inode` is the (dev, ino) a hard link
    points at; `created_dirs` are directories the move made, removed again by undo when empty.
    """

    op: Op
    source: str
    destination: str | None
    digest: str
    size: int
    mode: int
    mtime_ns: int
    keeper: str
    trash_info: str | None = None
    linked_inode: tuple[int, int] | None = None
    created_dirs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Entry":
        linked = data.get("linked_inode")
        return cls(
            op=data["op"],
            source=data["source"],
            destination=data.get("destination"),
            digest=data["digest"],
            size=int(data["size"]),
            mode=int(data["mode"]),
            mtime_ns=int(data["mtime_ns"]),
            keeper=data["keeper"],
            trash_info=data.get("trash_info"),
            linked_inode=None if linked is None else (int(linked[0]), int(linked[1])),
            created_dirs=tuple(data.get("created_dirs", ())),
        )


@dataclass(frozen=True)
class Manifest:
    action: str
    created: str
    finished: bool  # False: the run was interrupted; entries hold what was done before that
    roots: tuple[str, ...]
    to: str | None
    entries: tuple[Entry, ...]
    skipped: tuple[Skip, ...]


def write_manifest_json(data: Any, path: Path) -> None:
    """Write JSON atomically (temporary file beside `path`, then rename), ASCII-escaped.

    Unlike `dupbench.result.write_json_atomic`, non-ASCII is escaped: a file name that is not valid
    UTF-8 is held as lone surrogates, which only the escaped form can write (and read back exactly).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def journal_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".journal")


class ManifestWriter:
    """Records operations as they happen; use as a context manager around the operations."""

    def __init__(self, path: Path, action: str, roots: Sequence[str], to: str | None) -> None:
        self.path = Path(path)
        self.header = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "action": action,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "roots": list(roots),
            "to": to,
        }
        self.entries: list[Entry] = []
        self.skipped: list[Skip] = []
        self.finished = False
        self._journal = None

    def __enter__(self) -> "ManifestWriter":
        if self.path.exists():
            raise FileExistsError(f"manifest {self.path} already exists; not overwritten")
        journal = journal_path(self.path)
        write_manifest_json({**self.header, "finished": False, "journal": journal.name, "entries": [], "skipped": []}, self.path)
        self._journal = open(journal, "a", encoding="ascii")
        return self

    def record(self, entry: Entry) -> None:
        """Append one done operation durably, before the next one starts."""
        self.entries.append(entry)
        self._journal.write(json.dumps(entry.to_json()) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def skip(self, skip: Skip) -> None:
        self.skipped.append(skip)

    def __exit__(self, *exc_info: object) -> None:
        write_manifest_json(
            {
                **self.header,
                "finished": self.finished and exc_info[0] is None,
                "journal": None,
                "entries": [e.to_json() for e in self.entries],
                "skipped": [asdict(s) for s in self.skipped],
            },
            self.path,
        )
        self._journal.close()
        journal_path(self.path).unlink(missing_ok=True)


def load_manifest(path: Path) -> Manifest:
    """Read a manifest, and its journal when the run that wrote it never finished writing it.

    Raises ValueError for a file that is not a dupbench manifest of a known version.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))  # ASCII as written; UTF-8 if edited by hand
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a dupbench actions manifest")
    if data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"unsupported manifest version {data.get('version')!r} (expected {MANIFEST_VERSION})")
    entries = [Entry.from_json(e) for e in data["entries"]]
    if data.get("journal"):
        journal = path.with_name(data["journal"])
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                try:
                    entries.append(Entry.from_json(json.loads(line)))
                except (ValueError, KeyError):
                    break  # cut short by a crash: that one file stays where its operation put it, unrecorded
    return Manifest(
        action=data["action"],
        created=data["created"],
        finished=bool(data["finished"]),
        roots=tuple(data["roots"]),
        to=data.get("to"),
        entries=tuple(entries),
        skipped=tuple(Skip(s["path"], s["reason"]) for s in data["skipped"]),
    )
