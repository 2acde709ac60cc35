"""An interrupted action leaves no temporary file and no second name behind, or the next run removes it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import dupbench.actions.files as files
from dupbench.actions.files import copy_verified, rename_no_replace
from dupbench.actions.leftovers import remove_stale_temporaries
from dupbench.cli import main
from dupbench.detector.features import file_digest


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_same_filesystem_rename_is_one_step_never_two_names(tmp_path, monkeypatch):
    """link() then unlink() leaves both names after a kill -9 between them; renameat2 has no such moment."""

    def no_link(*args, **kwargs):
        raise AssertionError("link() used: a kill -9 before the unlink would leave a stray hard link")

    monkeypatch.setattr(files.os, "link", no_link)
    (tmp_path / "a.jpg").write_bytes(b"a")
    (tmp_path / "dest").mkdir()
    rename_no_replace(str(tmp_path / "a.jpg"), str(tmp_path / "dest" / "a.jpg"))
    assert not (tmp_path / "a.jpg").exists() and (tmp_path / "dest" / "a.jpg").read_bytes() == b"a"
    (tmp_path / "b.jpg").write_bytes(b"b")
    with pytest.raises(FileExistsError):
        rename_no_replace(str(tmp_path / "b.jpg"), str(tmp_path / "dest" / "a.jpg"))
    assert (tmp_path / "b.jpg").read_bytes() == b"b" and (tmp_path / "dest" / "a.jpg").read_bytes() == b"a"


def test_an_interrupted_copy_leaves_no_temporary(tmp_path, monkeypatch):
    source = tmp_path / "a.jpg"
    source.write_bytes(b"x" * 5000)
    real_fsync = os.fsync

    def interrupted(fd):
        real_fsync(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        copy_verified(str(source), str(tmp_path / "b.jpg"), file_digest(source.read_bytes()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_only_exact_temporaries_of_dead_runs_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    stale = [f".a.jpg.{dead}.ab_cd123.dupbench-tmp", f".x.y.png.{dead}.0123456789ab.dupbench-link"]
    kept = [
        f".a.jpg.{alive}.ab_cd123.dupbench-tmp",  # a live run's
        f".a.jpg.{dead}.ab_cd12.dupbench-tmp",  # 7 characters: not mkstemp's
        f".a.jpg.{dead}.0123456789AB.dupbench-link",  # not token_hex's
        f"a.jpg.{dead}.ab_cd123.dupbench-tmp",  # no leading dot
        f".a.jpg.{dead}.ab_cd123.dupbench-tmp.jpg",
        ".a.jpg.ab_cd123.dupbench-tmp",  # no PID: cannot tell whose it is
        "photo.jpg",
    ]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"")
    assert sorted(remove_stale_temporaries([str(tmp_path)])) == sorted(str(tmp_path / n) for n in stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_the_next_move_removes_temporaries_a_killed_run_left(planted_folder, tmp_path):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    dupes = tmp_path / "dupes"
    dupes.mkdir()
    dead = dead_pid()
    leftover_dest = dupes / f".a.png.{dead}.zz_9zz9z.dupbench-tmp"  # SIGINT inside mkstemp of a cross-device move
    leftover_root = root / f".b.png.{dead}.0123456789ab.dupbench-link"
    for path in (leftover_dest, leftover_root):
        path.write_bytes(b"")
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--action", "move", "--to", str(dupes)]) == 0
    assert not leftover_dest.exists() and not leftover_root.exists()
    assert not [p for p in tmp_path.rglob("*dupbench-tmp")] and not [p for p in tmp_path.rglob("*dupbench-link")]
