import os

import pytest

from dupbench.cache import FeatureCache
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector import cache_settings_key, find_duplicates


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
