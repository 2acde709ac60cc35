"""Keeper rules (`--keep`)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from action_helpers import exact, write

from dupbench.actions import (
    apply_plan,
    choose_keeper,
    make_plan,
    rekey_groups,
)
from dupbench.result import Group, Member

# --- keeper rules -------------------------------------------------------------------------------


def fake_stat(sizes: dict[str, int], mtimes: dict[str, int]):
    def stat_(path: str) -> SimpleNamespace:
        if path not in sizes:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_size=sizes[path], st_mtime_ns=mtimes[path])

    return stat_


def test_choose_keeper_rules() -> None:
    stat_ = fake_stat({"/a/1": 10, "/a/2": 30, "/b/3": 30}, {"/a/1": 5, "/a/2": 1, "/b/3": 9})
    paths = ["/a/1", "/a/2", "/b/3", "/gone"]
    assert choose_keeper(paths, "largest", stat_) == "/a/2"  # ties go to the earlier path
    assert choose_keeper(paths, "oldest", stat_) == "/a/2"
    assert choose_keeper(paths, "newest", stat_) == "/b/3"
    assert choose_keeper(paths, "path-prefix=/b", stat_) == "/b/3"
    assert choose_keeper(paths, "path-prefix=/c", stat_) == "/a/1"  # no match: the first path
    assert choose_keeper(["/gone"], "largest", stat_) == "/gone"
    with pytest.raises(ValueError, match="unknown keeper rule"):
        choose_keeper(paths, "prettiest", stat_)


def test_choose_keeper_on_real_files(tmp_path: Path) -> None:
    small = write(tmp_path / "small.jpg", b"x")
    large = write(tmp_path / "large.jpg", b"x" * 10)
    os.utime(small, ns=(1, 1))
    assert choose_keeper([small, large], "largest") == large
    assert choose_keeper([small, large], "oldest") == small
    assert choose_keeper([small, large], "newest") == large


def test_rekey_groups_swaps_the_keeper_and_keeps_every_path() -> None:
    stat_ = fake_stat({"/k": 1, "/m1": 5, "/m2": 2}, {"/k": 0, "/m1": 0, "/m2": 0})
    group = Group("exact", "/k", (Member("/m1", 1.0, "bytes", "/k"), Member("/m2", 0.9, "ssim", None)))
    (rekeyed,) = rekey_groups([group], "largest", stat_)
    assert rekeyed.keeper == "/m1" and rekeyed.paths == group.paths
    assert rekeyed.members[0] == Member("/k", 1.0, "bytes", "/m1")
    assert rekey_groups([rekeyed], "largest", stat_) == [rekeyed]  # idempotent
    assert rekey_groups([group], "path-prefix=/nowhere", stat_) == [group]


def test_a_keep_rule_changes_which_file_stays(tmp_path: Path) -> None:
    keeper = write(tmp_path / "old-keeper.jpg", b"same")
    preferred = write(tmp_path / "best" / "m.jpg", b"same")
    groups = rekey_groups([exact(keeper, preferred)], f"path-prefix={tmp_path / 'best'}")
    apply_plan(make_plan(groups, [str(tmp_path)], "delete"), tmp_path / "m.json")
    assert Path(preferred).exists() and not Path(keeper).exists()
