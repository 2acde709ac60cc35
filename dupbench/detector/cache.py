"""A persistent feature cache, so a second run over an unchanged folder skips reading and decoding.

Entries are keyed by path, size, modification time (ns) and the settings that shape the features
(thumbnail size, decoder, cache format), so a changed file or a changed setting is simply a miss.
Only the parent process touches the database: it looks up every file before the load stage and
stores what the workers computed after it, so thread and process workers never share a connection.
The cache is bounded: once a run's new entries take its live pages past `MAX_BYTES`, the entries least
recently looked up or stored are dropped until they are under it again, so the features of folders
scanned once (a benchmark's, a photo library since moved) do not stay forever. The file itself may be
larger by what one run stored (SQLite reuses freed pages but does not give them back). When each entry
was last used is kept in a table of its own, so an older release, which does not know it, can still
read and write the same file (its entries count as never used), and marking a hit rewrites a small row,
not the entry's thumbnails. A cache that cannot be read (corrupt, another format version) is rebuilt with a warning; one that
cannot be used at all (read-only or missing folder, a directory in its place, locked by another run, a
disk error mid-run) is a warning and a run without the cache. Never a crash: it only saves time.
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dupbench.detector.features import ImageFeatures

# 2: detail thumbnail, colour grid, alpha thumbnail and JPEG quality (verification); 3: pixel digests of
# full decodes taken at load, lossy coding and JPEG coded-data digest (pixel checks); 4: thumbnails
# and colour grid from one resize (`features.small_views`)
FORMAT_VERSION = 4
LOCK_TIMEOUT_S = 5.0  # how long to wait for another run's lock before going on without the cache
MAX_BYTES = 1 << 30  # live pages the cache keeps: ~130,000 files at the default thumbnail size (~8 KB each)
TOUCH_AFTER_S = 86_400  # a hit rewrites its entry's last use only if that is older: one write a file a day
CACHE_ERRORS = (sqlite3.Error, OSError, ValueError, KeyError)  # ValueError/KeyError: a stored row of the wrong shape


def pack_extra(f: ImageFeatures) -> bytes:
    """The verification and pixel-check features as one blob (npz): each of detail, colour, alpha, JPEG
    quality, lossy coding, coded-data digest and plain border the image has."""
    present = {"detail": f.detail, "colour": f.colour, "alpha": f.alpha}
    arrays = {name: value for name, value in present.items() if value is not None}
    if f.jpeg_quality is not None:
        arrays["quality"] = np.array(f.jpeg_quality)
    if f.border is not None:
        arrays["border"] = np.array(f.border, np.int64)
    for name in ("lossy_coding", "coded_digest"):
        value = getattr(f, name)
        if value is not None:
            arrays[name] = np.frombuffer(value, np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub: a ** dict could name allow_pickle
    return out.getvalue()


def unpack_extra(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob)) as data:
        return {
            "detail": data["detail"] if "detail" in data else None,
            "colour": data["colour"] if "colour" in data else None,
            "alpha": data["alpha"] if "alpha" in data else None,
            "jpeg_quality": int(data["quality"]) if "quality" in data else None,
            "lossy_coding": data["lossy_coding"].tobytes() if "lossy_coding" in data else None,
            "coded_digest": data["coded_digest"].tobytes() if "coded_digest" in data else None,
            "border": tuple(int(v) for v in data["border"]) if "border" in data else None,
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

    def __init__(self, path: Path, settings_key: str, timeout: float = LOCK_TIMEOUT_S, max_bytes: int = MAX_BYTES) -> None:
        self.path = Path(path)
        self.settings_key = settings_key
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.hits = 0
        self._stale_hits: list[str] = []  # paths found whose last use is unknown, older than TOUCH_AFTER_S or ahead of the clock
        self.damaged = 0  # entries that could not be read back (a damaged blob): misses, stored again
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open_or_rebuild()
        except CACHE_ERRORS as exc:
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        """Warn and go on without the cache (it only saves time; the run's results do not depend on it)."""
        print(f"dupbench: warning: feature cache {self.path} cannot be used ({_describe(exc)}); running without it", file=sys.stderr)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    @property
    def usable(self) -> bool:
        return self._db is not None

    def _open_or_rebuild(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _is_corruption(exc):
                raise  # locked, read-only, not a file: rebuilding would not help
            return self._rebuilt(exc)

    def _rebuilt(self, exc: sqlite3.DatabaseError) -> sqlite3.Connection:
        """A new, empty database in place of the corrupt one, with a warning."""
        print(f"dupbench: feature cache {self.path} is unreadable ({exc}); rebuilding it", file=sys.stderr)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return self._open()

    def _recover(self, exc: BaseException) -> bool:
        """After an error mid-run: rebuild a corrupt cache (True: it is empty and usable again), or warn
        and go on without it (False)."""
        if not (isinstance(exc, sqlite3.DatabaseError) and _is_corruption(exc)):
            self._give_up(exc)
            return False
        self.close()
        try:
            self._db = self._rebuilt(exc)
        except CACHE_ERRORS as again:
            self._give_up(again)
            return False
        return True

    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory")
        db = sqlite3.connect(self.path, timeout=self.timeout)
        try:
            return self._prepare(db)
        except BaseException:
            db.close()
            raise

    def _prepare(self, db: sqlite3.Connection) -> sqlite3.Connection:
        # No integrity check here: it reads every page (0.35 s for a 1.7 GB cache with the pages in
        # memory, seconds from disk, on every run however small). A damaged page is found when a lookup
        # or a store reads it, and the cache is rebuilt then (`_recover`).
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
        db.execute("CREATE TABLE IF NOT EXISTS usage (path TEXT, settings TEXT, used INTEGER NOT NULL, PRIMARY KEY (path, settings))")
        db.commit()
        return db

    def lookup(self, paths: Sequence[str], keys: dict[str, FileKey]) -> dict[str, ImageFeatures]:
        """Features of the paths whose file is unchanged since they were stored."""
        if self._db is None:
            return {}
        try:
            found = self._lookup(paths, keys)
        except CACHE_ERRORS as exc:
            self._recover(exc)  # rebuilt or not, nothing usable was found
            return {}
        self.hits += len(found)
        return found

    def _lookup(self, paths: Sequence[str], keys: dict[str, FileKey]) -> dict[str, ImageFeatures]:
        assert self._db is not None
        found = {}
        query = (
            "SELECT f.size, f.mtime_ns, f.width, f.height, f.file_digest, f.pixel_digest, f.thumb, f.side, f.extra, u.used FROM features f"
            " LEFT JOIN usage u ON u.path = f.path AND u.settings = f.settings WHERE f.path = ? AND f.settings = ?"
        )
        now = int(time.time())
        for path in paths:
            key = keys.get(path)
            if key is None:
                continue
            row = self._db.execute(query, (key.path, self.settings_key)).fetchone()
            if row is None or row[0] != key.size or row[1] != key.mtime_ns:
                continue
            try:
                thumb = np.frombuffer(row[6], dtype=np.uint8).reshape(row[7], row[7])
                found[path] = ImageFeatures(path, key.size, row[2], row[3], row[4], row[5], thumb, **unpack_extra(row[8]))
            except (ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile):  # a damaged entry: a miss, loaded and stored again
                self.damaged += 1
                continue
            used = row[9]
            if not isinstance(used, int) or not now - TOUCH_AFTER_S <= used <= now:
                self._stale_hits.append(key.path)
        if self.damaged:
            print(f"dupbench: warning: {self.damaged} entries of feature cache {self.path} were damaged; those files are read again", file=sys.stderr)
        return found

    def store(self, features: Iterable[ImageFeatures], keys: dict[str, FileKey]) -> None:
        """Store what the load stage computed, mark the hits as used now, and drop the least recently used
        entries while the cache is over `max_bytes`."""
        if self._db is None:
            return
        rows = [
            (
                k.path,
                k.size,
                k.mtime_ns,
                self.settings_key,
                f.width,
                f.height,
                f.file_digest,
                f.pixel_digest,
                np.ascontiguousarray(f.thumb).tobytes(),
                f.thumb.shape[0],
                pack_extra(f),
            )
            for f in features
            if (k := keys.get(f.path)) is not None and k.size == f.size_bytes
        ]
        try:
            self._insert(rows)
        except CACHE_ERRORS as exc:
            if self._recover(exc):  # rebuilt after a damaged page: store into the new one
                try:
                    self._insert(rows)
                except CACHE_ERRORS as again:
                    self._give_up(again)

    def _insert(self, rows: list[tuple]) -> None:
        assert self._db is not None
        self._db.executemany(
            "INSERT OR REPLACE INTO features (path, size, mtime_ns, settings, width, height, file_digest, pixel_digest, thumb, side, extra)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        now = int(time.time())
        used = [row[0] for row in rows] + self._stale_hits
        self._db.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?, ?)", [(path, self.settings_key, now) for path in used])
        self._stale_hits = []
        if rows:  # only new entries can take the cache over its bound
            self._bound()
        self._db.commit()

    def _bound(self) -> None:
        """Drop the least recently used entries (those no usage row vouches for, or stamped ahead of the
        clock, first) until the live pages are under `max_bytes`. Each round drops entries whose thumbnail
        bytes add up to what is over, then measures again: pages hold a little more than those bytes,
        so a round or two finishes, without dropping far more than needed when entries differ in size.
        The order is read once, and only when the cache is over its bound."""
        assert self._db is not None
        now = int(time.time())
        order = (
            "SELECT f.rowid, f.path, f.settings, length(f.thumb) + length(f.extra) + length(f.path) FROM features f"
            " LEFT JOIN usage u ON u.path = f.path AND u.settings = f.settings"
            " ORDER BY CASE WHEN u.used IS NULL OR typeof(u.used) != 'integer' OR u.used > ? THEN 0 ELSE u.used END"
        )
        pages, free, page_size = (self._db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size"))
        if (pages - free) * page_size <= self.max_bytes:
            return
        queue = self._db.execute(order, (now,)).fetchall()  # oldest first, read once for every round
        for _ in range(8):
            pages, free = (self._db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count"))
            over = (pages - free) * page_size - self.max_bytes
            if over <= 0 or not queue:
                return
            taken, freed = 0, 0
            while taken < len(queue) and freed < over:
                freed += queue[taken][3] or 0
                taken += 1
            doomed, queue = queue[:taken], queue[taken:]
            self._db.executemany("DELETE FROM features WHERE rowid = ?", [(rowid,) for rowid, *_ in doomed])
            self._db.executemany("DELETE FROM usage WHERE path = ? AND settings = ?", [(path, settings) for _, path, settings, _ in doomed])

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    return any(word in str(exc).lower() for word in ("malformed", "not a database", "corrupt"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
