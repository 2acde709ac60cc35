"""A persistent feature cache, so a second run over an unchanged folder skips reading and decoding.

Entries are keyed by path, size, modification time (ns) and the settings that shape the features
(thumbnail size, decoder, cache format), so a changed file or a changed setting is simply a miss.
Only the parent process touches the database: it looks up every file before the load stage and
stores what the workers computed after it, so thread and process workers never share a connection.
A cache that cannot be read (corrupt, another format version) is rebuilt with a warning, never a crash.
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from dupbench.features import ImageFeatures

FORMAT_VERSION = 2  # 2: detail thumbnail, colour grid, alpha thumbnail and JPEG quality (verification)


def pack_extra(f: ImageFeatures) -> bytes:
    """The verification features as one blob (npz): detail, colour, alpha (if any), JPEG quality (if any)."""
    arrays = {"detail": f.detail, "colour": f.colour}
    if f.alpha is not None:
        arrays["alpha"] = f.alpha
    if f.jpeg_quality is not None:
        arrays["quality"] = np.array(f.jpeg_quality)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def unpack_extra(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob)) as data:
        return {
            "detail": data["detail"],
            "colour": data["colour"],
            "alpha": data["alpha"] if "alpha" in data else None,
            "jpeg_quality": int(data["quality"]) if "quality" in data else None,
        }


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dupbench" / "features.sqlite"


@dataclass(frozen=True)
class FileKey:
    path: str
    size: int
    mtime_ns: int


def file_keys(paths: Iterable[str]) -> dict[str, FileKey]:
    """Size and mtime of each path that can still be stat'ed (the loader reports the others)."""
    keys = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        keys[path] = FileKey(os.path.abspath(path), info.st_size, info.st_mtime_ns)
    return keys


class FeatureCache:
    """SQLite store of `ImageFeatures`; use as a context manager."""

    def __init__(self, path: Path, settings_key: str) -> None:
        self.path = Path(path)
        self.settings_key = settings_key
        self.hits = 0
        self.stored = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            print(f"dupbench: feature cache {self.path} is unreadable ({exc}); rebuilding it", file=sys.stderr)
            self.path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is not None and row[0] != str(FORMAT_VERSION):
            print(f"dupbench: feature cache {self.path} has format {row[0]}, not {FORMAT_VERSION}; rebuilding it", file=sys.stderr)
            db.execute("DROP TABLE IF EXISTS features")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(FORMAT_VERSION),))
        db.execute(
            "CREATE TABLE IF NOT EXISTS features (path TEXT, size INTEGER, mtime_ns INTEGER, settings TEXT,"
            " width INTEGER, height INTEGER, file_digest BLOB, pixel_digest BLOB, thumb BLOB, side INTEGER, extra BLOB,"
            " PRIMARY KEY (path, settings))"
        )
        db.commit()
        return db

    def lookup(self, paths: Sequence[str], keys: dict[str, FileKey]) -> dict[str, ImageFeatures]:
        """Features of the paths whose file is unchanged since they were stored."""
        found = {}
        query = "SELECT size, mtime_ns, width, height, file_digest, pixel_digest, thumb, side, extra FROM features WHERE path = ? AND settings = ?"
        for path in paths:
            key = keys.get(path)
            if key is None:
                continue
            row = self._db.execute(query, (key.path, self.settings_key)).fetchone()
            if row is None or row[0] != key.size or row[1] != key.mtime_ns:
                continue
            thumb = np.frombuffer(row[6], dtype=np.uint8).reshape(row[7], row[7])
            found[path] = ImageFeatures(path, key.size, row[2], row[3], row[4], row[5], thumb, **unpack_extra(row[8]))
        self.hits += len(found)
        return found

    def store(self, features: Iterable[ImageFeatures], keys: dict[str, FileKey]) -> None:
        rows = [
            (k.path, k.size, k.mtime_ns, self.settings_key, f.width, f.height, f.file_digest, f.pixel_digest,
             np.ascontiguousarray(f.thumb).tobytes(), f.thumb.shape[0], pack_extra(f))
            for f in features
            if (k := keys.get(f.path)) is not None and k.size == f.size_bytes
        ]
        self._db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._db.commit()
        self.stored += len(rows)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "FeatureCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
