"""The manifest: written before the first change, never overwritten, readable after a crash."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from action_helpers import action_args, snapshot, write

from dupbench.actions import (
    apply_plan,
    check_action_arguments,
    load_manifest,
    make_plan,
    undo_manifest,
)
from dupbench.actions.command import default_manifest_path
from dupbench.actions.manifest import Entry, ManifestWriter
from dupbench.detector.features import file_digest

# --- manifest -----------------------------------------------------------------------------------


def test_an_interrupted_run_leaves_a_manifest_that_undo_reads(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root / "k.jpg", b"same")
    moved = write(tmp_path / "moved" / "m.jpg", b"same")
    inode = (os.stat(moved).st_dev, os.stat(moved).st_ino)
    entry = Entry("move", str(root / "m.jpg"), moved, file_digest(b"same").hex(), 4, 0o644, 0, str(root / "k.jpg"), inode=inode)
    writer = ManifestWriter(tmp_path / "m.json", "move", [str(root)], str(tmp_path / "moved"))
    writer.__enter__()
    writer.record(entry)
    writer.close_journal()  # the process dies here: no final manifest is written
    manifest = load_manifest(tmp_path / "m.json")
    assert not manifest.finished and manifest.entries == (entry,)
    assert len(undo_manifest(tmp_path / "m.json").restored) == 1
    assert (root / "m.jpg").read_bytes() == b"same"


def test_a_manifest_is_never_overwritten(tmp_path: Path, photos) -> None:
    root, groups = photos
    write(tmp_path / "m.json", b"{}")
    before = snapshot(root)
    with pytest.raises(FileExistsError):
        apply_plan(make_plan(groups, [str(root)], "delete"), tmp_path / "m.json")
    assert snapshot(root) == before
    assert "already exists" in check_action_arguments(action_args("--action", "delete", "--yes", "--manifest", str(tmp_path / "m.json")))


def test_a_symlink_planted_at_the_journal_name_is_never_written_through(tmp_path: Path, photos) -> None:
    root, groups = photos
    target = write(tmp_path / "victim.txt", b"the user's file\n")
    (tmp_path / "m.json.journal").symlink_to(target)
    before = snapshot(root)
    with pytest.raises(FileExistsError, match="not written through"):
        apply_plan(make_plan(groups, [str(root)], "delete"), tmp_path / "m.json")
    assert Path(target).read_bytes() == b"the user's file\n"
    assert snapshot(root) == before and not (tmp_path / "m.json").exists()
    args = action_args("--action", "delete", "--yes", "--manifest", str(tmp_path / "m.json"))
    assert "already exists" in check_action_arguments(args)  # the run refuses before scanning


def test_a_dangling_symlink_at_the_manifest_name_is_never_followed_or_replaced(tmp_path: Path, photos) -> None:
    root, groups = photos
    (tmp_path / "m.json").symlink_to(tmp_path / "somewhere.json")
    before = snapshot(root)
    with pytest.raises(FileExistsError):
        apply_plan(make_plan(groups, [str(root)], "delete"), tmp_path / "m.json")
    assert (tmp_path / "m.json").is_symlink() and not (tmp_path / "somewhere.json").exists()
    assert snapshot(root) == before
    args = action_args("--action", "delete", "--yes", "--manifest", str(tmp_path / "m.json"))
    assert "already exists" in check_action_arguments(args)


def test_the_default_manifest_name_skips_a_name_whose_journal_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dupbench.actions.command.time.strftime", lambda fmt, *a: "20260101-000000")
    (tmp_path / "dupbench-move-20260101-000000.json.journal").symlink_to(tmp_path / "victim")
    assert default_manifest_path("move", tmp_path) == tmp_path / "dupbench-move-20260101-000000-2.json"


def test_journal_and_manifest_are_created_private_and_exclusive(tmp_path: Path) -> None:
    writer = ManifestWriter(tmp_path / "m.json", "move", [str(tmp_path / "r")], str(tmp_path / "moved"))
    with writer:
        for path in (tmp_path / "m.json", tmp_path / "m.json.journal"):
            assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600 and stat.S_ISREG(os.lstat(path).st_mode)
        writer.finished = True
    assert stat.S_IMODE(os.stat(tmp_path / "m.json").st_mode) == 0o600
    assert not (tmp_path / "m.json.journal").exists()
