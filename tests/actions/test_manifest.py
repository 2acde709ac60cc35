"""The manifest: written before the first change, never overwritten, readable after a crash."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from dupbench.actions import (
    add_action_arguments,
    apply_plan,
    check_action_arguments,
    choose_keeper,
    format_plan,
    load_manifest,
    make_plan,
    perform_actions,
    read_state,
    rekey_groups,
    undo_manifest,
)
from dupbench.actions.manifest import Entry, ManifestWriter
from dupbench.features import file_digest
from dupbench.result import DuplicateReport, Group, Member
from action_helpers import CHANGING_ACTIONS, action_args, contents, exact, make_report, near, snapshot, write


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



