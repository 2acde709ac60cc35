"""The manifest: what an action did, enough for `dupbench undo` to put it back, and to check it.

Every path in it is resolved (absolute, folder symlinks resolved: `plan.resolved`), beside the run's
resolved roots, destination and working directory, so undo restores into the same place from any
folder and can check each entry against the run that wrote it (see `dupbench.actions.undo`).
Version 1 manifests held paths relative to the folder `run` was started in, which they do not
record: they are refused rather than resolved against today's folder.

Crash safety: before the first change the journal and then the manifest (no entries, the journal's
name) are created exclusively (never through a symlink, never over an existing file); each change is
appended to the journal and fsynced before the next one starts; at the end the full manifest replaces
the first one atomically and the journal is removed. So an interrupted run still leaves a manifest
that `undo` reads (together with its journal).

Every manifest and journal line is sealed with this user's key (`dupbench.actions.seal`): undo
refuses one that was edited or written by someone else.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dupbench.actions.plan import Op, Skip
from dupbench.actions.seal import key_path, load_key, seal, sealed

MANIFEST_FORMAT = "dupbench-actions"
MANIFEST_VERSION = 2
FILE_MODE = 0o600  # manifests name every file acted on: readable by their owner only
EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True)
class Entry:
    """One completed operation.

    `destination`: the new path (move), the path inside the trash's files/ (trash), the keeper
    that `source` is now a hard link to (hardlink), None (delete). `digest` is the hex BLAKE2b-128
    of the content; `mode` and `mtime_ns` are the file's own before the operation (a hard link
    shares the keeper's, so undo restores them; permission bits only, setuid/setgid/sticky are never
    recorded). `linked_inode` is the (dev, ino) a hard link points at; `inode` the (dev, ino) of the
    file where a move or trash put it; `created_dirs` are directories inside the destination folder
    that the move made, removed again by undo when empty.
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
    inode: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            op=data["op"],
            source=_text(data["source"]),
            destination=_text(data.get("destination"), optional=True),
            digest=_text(data["digest"]),
            size=int(data["size"]),
            mode=int(data["mode"]),
            mtime_ns=int(data["mtime_ns"]),
            keeper=_text(data["keeper"]),
            trash_info=_text(data.get("trash_info"), optional=True),
            linked_inode=_inode(data.get("linked_inode")),
            created_dirs=tuple(_text(d) for d in data.get("created_dirs", ())),
            inode=_inode(data.get("inode")),
        )


def _text(value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string in the manifest, found {value!r}")
    return value


def _inode(value: Any) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class Manifest:
    action: str
    created: str
    finished: bool  # False: the run was interrupted; entries hold what was done before that
    roots: tuple[str, ...]  # resolved, in the order the plan used them
    to: str | None  # resolved
    cwd: str  # where `run` was started (recorded so no path ever depends on it)
    entries: tuple[Entry, ...]
    skipped: tuple[Skip, ...]


def manifest_text(data: Any) -> str:
    """JSON, ASCII-escaped: unlike `dupbench.result.write_json_atomic`, non-ASCII is escaped, since a
    file name that is not valid UTF-8 is held as lone surrogates, which only the escaped form can write
    (and read back exactly)."""
    return json.dumps(data, indent=2) + "\n"


def create_exclusive(path: Path, text: str) -> None:
    """Create `path` with `text`, failing (FileExistsError, or ELOOP for a symlink) if anything is there."""
    fd = os.open(path, EXCLUSIVE, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_manifest_json(data: Any, path: Path) -> None:
    """Replace the manifest atomically (temporary file beside `path`, then rename): a symlink put in
    its place meanwhile is replaced, never written through."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(manifest_text(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def journal_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".journal")


def name_taken(manifest: Path) -> bool:
    """True if the manifest's name or its journal's is taken by anything, a dangling symlink included."""
    return os.path.lexists(manifest) or os.path.lexists(journal_path(Path(manifest)))


class ManifestWriter:
    """Records operations as they happen; use as a context manager around the operations."""

    def __init__(self, path: Path, action: str, roots: Sequence[str], to: str | None) -> None:
        self.path = Path(path)
        self.header = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "action": action,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cwd": os.getcwd(),
            "roots": list(roots),
            "to": to,
        }
        self.entries: list[Entry] = []
        self.skipped: list[Skip] = []
        self.finished = False
        self._journal: int | None = None
        self._key = b""
        self._context = ""

    def __enter__(self) -> ManifestWriter:
        if os.path.lexists(self.path):
            raise FileExistsError(f"manifest {self.path} already exists; not overwritten")
        self._key = load_key(create=True) or b""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        journal = journal_path(self.path)
        try:
            self._journal = os.open(journal, EXCLUSIVE | os.O_APPEND, FILE_MODE)
        except FileExistsError:
            raise FileExistsError(f"journal {journal} already exists (a file or a link); not written through") from None
        first = {**self.header, "finished": False, "journal": journal.name, "entries": [], "skipped": []}
        self._context = seal(self._key, first)  # journal lines are bound to this manifest
        try:
            create_exclusive(self.path, manifest_text({**first, "seal": self._context}))
        except BaseException:
            os.close(self._journal)
            journal.unlink(missing_ok=True)
            raise
        return self

    def record(self, entry: Entry) -> None:
        """Append one done operation durably, before the next one starts."""
        self.entries.append(entry)
        data = entry.to_json()
        line = (json.dumps({"entry": data, "seal": seal(self._key, data, f"{self._context}:{len(self.entries)}")}) + "\n").encode("ascii")
        if self._journal is None:
            raise ValueError("the journal is closed: nothing more can be recorded")
        written = 0
        while written < len(line):
            written += os.write(self._journal, line[written:])
        os.fsync(self._journal)

    def skip(self, skip: Skip) -> None:
        self.skipped.append(skip)

    def close_journal(self) -> None:
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None

    def __exit__(self, *exc_info: object) -> None:
        final = {
            **self.header,
            "finished": self.finished and exc_info[0] is None,
            "journal": None,
            "entries": [e.to_json() for e in self.entries],
            "skipped": [asdict(s) for s in self.skipped],
        }
        write_manifest_json({**final, "seal": seal(self._key, final)}, self.path)
        self.close_journal()
        journal_path(self.path).unlink(missing_ok=True)


class OldManifest(ValueError):
    """A manifest this version of undo will not act on, with the reason."""


class ManifestRejected(ValueError):
    """A manifest that is not, as a whole, one this user's dupbench run wrote."""


def load_manifest(path: Path) -> Manifest:
    """Read a manifest, and its journal when the run that wrote it never finished writing it.

    Raises ValueError for a file that is not a dupbench manifest of the current version, and
    ManifestRejected for one whose seal does not match (edited, or written by another user).
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))  # ASCII as written; UTF-8 if edited by hand
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a dupbench actions manifest")
    if data.get("version") == 1:
        raise OldManifest(
            "written by an older dupbench (manifest version 1), whose paths are relative to the folder "
            "`run` was started in, which it did not record: undo refuses it rather than guess from "
            "today's folder; its entries (JSON) say where each file went"
        )
    if data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"unsupported manifest version {data.get('version')!r} (expected {MANIFEST_VERSION})")
    key = load_key(create=False)
    if key is None:
        raise ManifestRejected(f"this user has no dupbench key ({key_path()}): the manifest was written by another user or on another machine")
    body = {k: v for k, v in data.items() if k != "seal"}
    if not sealed(key, body, data.get("seal")):
        raise ManifestRejected("its seal does not match: it was edited, or written by another user's dupbench")
    entries = [Entry.from_json(e) for e in data["entries"]]
    if data.get("journal"):
        if data["journal"] != journal_path(path).name:
            raise ValueError(f"its journal is named {data['journal']!r}, not {journal_path(path).name!r}")
        entries.extend(_journal_entries(journal_path(path), key, data["seal"]))
    to = data.get("to")
    return Manifest(
        action=data["action"],
        created=data["created"],
        finished=bool(data["finished"]),
        roots=tuple(_text(r) for r in data["roots"]),
        to=_text(to, optional=True),
        cwd=_text(data["cwd"]),
        entries=tuple(entries),
        skipped=tuple(Skip(s["path"], s["reason"]) for s in data["skipped"]),
    )


def _journal_entries(journal: Path, key: bytes, context: str) -> list[Entry]:
    try:
        fd = os.open(journal, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return []
    with os.fdopen(fd, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    entries = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            entry = Entry.from_json(record["entry"])
        except (ValueError, KeyError, TypeError):
            break  # cut short by a crash: that one file stays where its operation put it, unrecorded
        if not sealed(key, record["entry"], record.get("seal"), f"{context}:{number}"):
            raise ManifestRejected(f"line {number} of its journal {journal.name} has no valid seal: edited or added")
        entries.append(entry)
    return entries
