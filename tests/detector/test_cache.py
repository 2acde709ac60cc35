import os
import sqlite3
import subprocess
from contextlib import contextmanager

import numpy as np
import pytest

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.cache import FeatureCache, file_keys
from dupbench.detector.pipeline import cache_settings_key, find_duplicates


def run(root, cache, mode="serial"):
    return find_duplicates([str(root)], DetectorConfig(), ExecutionConfig(mode=mode, workers=2, start_method="fork"), cache=cache)


@pytest.mark.parametrize("mode", ["serial", "thread", "process"])
def test_second_run_uses_the_cache_and_gives_the_same_groups(planted_folder, tmp_path, mode):
    root, expected = planted_folder
    key = cache_settings_key(DetectorConfig())
    with FeatureCache(tmp_path / "c.sqlite", key) as cache:
        first = run(root, cache, mode)
    with FeatureCache(tmp_path / "c.sqlite", key) as cache:
        second = run(root, cache, mode)
    assert first.counts["cache_hits"] == 0
    assert second.counts["cache_hits"] == second.counts["images"] == first.counts["images"]
    assert second.groups == first.groups and second.group_sets() == {frozenset(g) for g in expected}


def test_changed_file_and_changed_settings_miss(planted_folder, tmp_path):
    root, _ = planted_folder
    with FeatureCache(tmp_path / "c.sqlite", "a") as cache:
        run(root, cache)
    victim = next(root.glob("*.png"))
    info = victim.stat()
    os.utime(victim, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    try:
        with FeatureCache(tmp_path / "c.sqlite", "a") as cache:
            again = run(root, cache)
        with FeatureCache(tmp_path / "c.sqlite", "b") as cache:
            other = run(root, cache)
    finally:
        os.utime(victim, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert again.counts["cache_hits"] == again.counts["images"] - 1
    assert other.counts["cache_hits"] == 0


def test_corrupt_cache_is_rebuilt_with_a_warning(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with FeatureCache(path, "a") as cache:
        report = run(root, cache)
    assert "rebuilding" in capsys.readouterr().err
    assert report.group_sets() == {frozenset(g) for g in expected}
    with FeatureCache(path, "a") as cache:
        assert run(root, cache).counts["cache_hits"] == report.counts["images"]


def fill(cache: FeatureCache, count: int) -> None:
    """Store `count` made-up entries, so the database spans many pages."""
    from dupbench.detector.cache import FileKey
    from dupbench.detector.features import ImageFeatures

    rng = np.random.default_rng(0)
    features = [ImageFeatures(f"/x/{i}.png", 100, 8, 8, rng.bytes(16), None, rng.integers(0, 255, (32, 32), dtype=np.uint8)) for i in range(count)]
    cache.store(features, {f.path: FileKey(f.path, 100, 1) for f in features})


def test_damaged_pages_found_by_a_lookup_rebuild_the_cache_with_a_warning(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    path = tmp_path / "c.sqlite"
    with FeatureCache(path, "a") as cache:
        fill(cache, 3000)
        run(root, cache)
    size = path.stat().st_size
    assert size > 200_000
    # The schema (page 1) and the meta table (pages 2-3) stay intact, so the database opens and no check
    # runs at open (it would read every page of a large cache on every run); the features' pages do not
    # read, which the first lookup finds.
    with open(path, "r+b") as fh:
        fh.seek(3 * 4096)
        fh.write(np.random.default_rng(1).bytes(size - 3 * 4096))
    capsys.readouterr()
    with FeatureCache(path, "a") as cache:
        report = run(root, cache)
    assert "rebuilding" in capsys.readouterr().err
    assert report.group_sets() == {frozenset(g) for g in expected}
    with FeatureCache(path, "a") as cache:
        assert run(root, cache).counts["cache_hits"] == report.counts["images"]


@contextmanager
def read_only(path):
    """`path` made unwritable even for root (the immutable attribute), or by its mode where chattr is not allowed."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def assert_runs_without_cache(root, expected, cache_path, capsys, **kwargs):
    capsys.readouterr()
    with FeatureCache(cache_path, "a", **kwargs) as cache:
        first = run(root, cache)
        second = run(root, cache)
    err = capsys.readouterr().err
    assert "running without it" in err and "Traceback" not in err
    assert first.group_sets() == second.group_sets() == {frozenset(g) for g in expected}
    assert second.counts["cache_hits"] == 0


def test_read_only_folder_is_a_warning_and_a_run_without_cache(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        assert_runs_without_cache(root, expected, folder / "c.sqlite", capsys)
        assert_runs_without_cache(root, expected, folder / "sub" / "c.sqlite", capsys)


def test_read_only_cache_file_is_a_warning_and_a_run_without_cache(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    path = tmp_path / "c.sqlite"
    with FeatureCache(path, "a") as cache:
        run(root, cache)
    with read_only(path):
        assert_runs_without_cache(root, expected, path, capsys)


def test_cache_path_that_is_a_directory_or_under_a_file_is_a_warning(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    (tmp_path / "dir.sqlite").mkdir()
    assert_runs_without_cache(root, expected, tmp_path / "dir.sqlite", capsys)
    (tmp_path / "file").write_text("x")
    assert_runs_without_cache(root, expected, tmp_path / "file" / "c.sqlite", capsys)


def test_cache_locked_by_another_run_is_a_warning_and_a_run_without_cache(planted_folder, tmp_path, capsys):
    root, expected = planted_folder
    path = tmp_path / "c.sqlite"
    FeatureCache(path, "a").close()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert_runs_without_cache(root, expected, path, capsys, timeout=0.2)
    finally:
        other.rollback()
        other.close()


def test_cache_problem_through_the_cli_is_a_warning_and_exit_0(planted_folder, tmp_path, capsys):
    from dupbench.cli import main

    root, _ = planted_folder
    (tmp_path / "dir.sqlite").mkdir()
    assert main(["run", str(root), "--mode", "serial", "--quiet", "--cache", str(tmp_path / "dir.sqlite")]) == 0
    assert "running without it" in capsys.readouterr().err


def live_bytes(db):
    with sqlite3.connect(db) as con:
        pages, free, size = (con.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size, con.execute("SELECT count(*) FROM features").fetchone()[0]


def test_the_cache_keeps_its_bound_and_drops_the_files_least_recently_used(planted_folder, tmp_path):
    root, _ = planted_folder
    key = cache_settings_key(DetectorConfig())
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    first, rest = files[:2], files[2:]
    with FeatureCache(tmp_path / "unbounded.sqlite", key) as cache:
        run_files(files, cache)
    size, entries = live_bytes(tmp_path / "unbounded.sqlite")
    bound = size - size // (2 * entries)  # half an entry too small for every file
    db = tmp_path / "c.sqlite"
    with FeatureCache(db, key, max_bytes=bound) as cache:
        run_files(first, cache)
    with sqlite3.connect(db) as con:  # as if the first run was a week ago; the hit below makes one recent
        con.execute("UPDATE usage SET used = used - 7 * 86400")
    with FeatureCache(db, key, max_bytes=bound) as cache:
        assert run_files(first[:1], cache).counts["cache_hits"] == 1
    with FeatureCache(db, key, max_bytes=bound) as cache:
        run_files(rest, cache)
    with sqlite3.connect(db) as con:
        kept = {row[0] for row in con.execute("SELECT path FROM features")}
    assert kept == {os.path.abspath(f) for f in [first[0], *rest]}  # first[1], unused for a week, went
    assert live_bytes(db)[0] <= bound


def test_a_cache_from_before_the_bound_is_used_as_it_is_and_stays_writable_by_that_release(planted_folder, tmp_path):
    root, key, db, first = cached_once(planted_folder, tmp_path)
    with sqlite3.connect(db) as con:  # the file as the previous release left it: no usage table
        con.execute("DROP TABLE usage")
    with FeatureCache(db, key) as cache:
        again = run(root, cache)
    assert again.counts["cache_hits"] == first.counts["images"]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == first.counts["images"]  # the hits were marked used
        columns = [row[1] for row in con.execute("PRAGMA table_info(features)")]
    assert len(columns) == 11  # what that release inserts, by position


@pytest.mark.parametrize("stamp", ["'yesterday'", "NULL", "4102444800"])  # text, nothing, the year 2100
def test_an_odd_last_use_is_a_hit_marked_anew_and_never_pins_the_cache(planted_folder, tmp_path, stamp):
    root, key, db, first = cached_once(planted_folder, tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE usage")  # a table that accepts the odd stamps
        con.execute("CREATE TABLE usage (path TEXT, settings TEXT, used, PRIMARY KEY (path, settings))")
        con.execute(f"INSERT INTO usage SELECT path, settings, {stamp} FROM features")
    with FeatureCache(db, key) as cache:
        assert run(root, cache).counts["cache_hits"] == first.counts["images"]
    with sqlite3.connect(db) as con:
        stamps = [row[0] for row in con.execute("SELECT used FROM usage")]
    assert all(isinstance(s, int) and s < 4102444800 for s in stamps)


def test_a_damaged_entry_is_a_miss_read_again_with_a_warning(planted_folder, tmp_path, capsys):
    root, key, db, first = cached_once(planted_folder, tmp_path)
    with sqlite3.connect(db) as con:  # one entry's verification features no longer an npz
        con.execute("UPDATE features SET extra = x'00112233' WHERE rowid = (SELECT min(rowid) FROM features)")
    with FeatureCache(db, key) as cache:
        again = run(root, cache)
    assert again.counts["cache_hits"] == first.counts["images"] - 1
    assert again.groups == first.groups
    assert "1 entries of feature cache" in capsys.readouterr().err
    with FeatureCache(db, key) as cache:
        assert run(root, cache).counts["cache_hits"] == first.counts["images"]  # stored again whole


def cached_once(planted_folder, tmp_path):
    """The planted folder run once into a new cache: (root, settings key, cache file, that run's report)."""
    root, _ = planted_folder
    key = cache_settings_key(DetectorConfig())
    with FeatureCache(tmp_path / "c.sqlite", key) as cache:
        return root, key, tmp_path / "c.sqlite", run(root, cache)


def run_files(paths, cache):
    return find_duplicates(paths, DetectorConfig(), ExecutionConfig(mode="serial"), cache=cache)


def test_a_cached_picture_keeps_its_border(tmp_path):
    import cv2
    from planted import photo

    from dupbench.detector.load import load_features

    image = cv2.copyMakeBorder(photo("coffee", 300), 20, 20, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    cv2.imwrite(str(tmp_path / "letterboxed.png"), image)
    key = cache_settings_key(DetectorConfig())
    with FeatureCache(tmp_path / "c.sqlite", key) as cache:
        first = run(tmp_path, cache)
    path = str(tmp_path / "letterboxed.png")
    with FeatureCache(tmp_path / "c.sqlite", key) as cache:
        found = cache.lookup([path], file_keys([path]))
    assert first.counts["images"] == 1
    assert found[path].border == load_features(path, DetectorConfig()).border == (20, 20, 0, 0)
