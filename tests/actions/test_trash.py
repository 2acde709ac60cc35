"""Delete: to the freedesktop trash, and back with undo; permanently only where no trash exists."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from action_helpers import action_args, contents, exact, make_report, snapshot, write

from dupbench.actions import (
    apply_plan,
    check_action_arguments,
    format_plan,
    load_manifest,
    make_plan,
    perform_actions,
    undo_manifest,
)

# --- delete -------------------------------------------------------------------------------------


def test_delete_without_yes_refuses_and_changes_nothing(tmp_path: Path, photos) -> None:
    root, groups = photos
    before = snapshot(tmp_path)
    args = action_args("--action", "delete")
    assert "--yes" in check_action_arguments(args)
    assert perform_actions(make_report([root], groups), args, out=io.StringIO()) == 2
    assert snapshot(tmp_path) == before


def test_delete_goes_to_the_trash_and_undo_restores_it(tmp_path: Path, photos, private_trash: Path) -> None:
    root, groups = photos
    before = contents(root)
    out = io.StringIO()
    status = perform_actions(
        make_report([root], groups), action_args("--action", "delete", "--yes", "--include-near", "--manifest", str(tmp_path / "m.json")), out=out
    )
    assert status == 0
    manifest = load_manifest(tmp_path / "m.json")
    assert manifest.finished and [e.op for e in manifest.entries] == ["trash"] * 3
    trashed = manifest.entries[0]
    assert Path(trashed.destination).parent == private_trash / "files" and not Path(trashed.source).exists()
    info = Path(trashed.trash_info).read_text()
    assert info.startswith("[Trash Info]\nPath=/") and "DeletionDate=" in info
    assert "/backup/beach%20copy.jpg\n" in (private_trash / "info" / "beach copy.jpg.trashinfo").read_text()

    assert len(undo_manifest(tmp_path / "m.json").restored) == 3
    assert contents(root) == before
    assert list((private_trash / "files").iterdir()) == list((private_trash / "info").iterdir()) == []


def test_trash_names_do_not_collide(tmp_path: Path, private_trash: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    first = write(tmp_path / "a" / "x.jpg", b"same")
    second = write(tmp_path / "b" / "x.jpg", b"same")
    result = apply_plan(make_plan([exact(keeper, first, second)], [str(tmp_path)], "delete"), tmp_path / "m.json")
    assert sorted(Path(e.destination).name for e in result.done) == ["x.2.jpg", "x.jpg"]
    undo_manifest(tmp_path / "m.json")
    assert Path(first).exists() and Path(second).exists()


def test_permanent_delete_where_there_is_no_trash_cannot_be_undone(tmp_path: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    member = write(tmp_path / "m.jpg", b"same")
    plan = make_plan([exact(keeper, member)], [str(tmp_path)], "delete", use_trash=False)
    assert "permanently" in format_plan(plan)
    apply_plan(plan, tmp_path / "m.json")
    assert not Path(member).exists() and Path(keeper).read_bytes() == b"same"
    undone = undo_manifest(tmp_path / "m.json")
    assert not undone.restored and "cannot be restored" in undone.skipped[0].reason


def test_trash_on_another_filesystem_uses_its_top_directory(tmp_path: Path, other_filesystem: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dupbench.actions.trash.mount_point", lambda path: str(other_filesystem))  # stands in for the mount's top
    keeper = write(other_filesystem / "k.jpg", b"same")
    member = write(other_filesystem / "sub" / "m.jpg", b"same")
    result = apply_plan(make_plan([exact(keeper, member)], [str(other_filesystem)], "delete"), tmp_path / "m.json")
    (entry,) = result.done
    assert Path(entry.destination) == other_filesystem / f".Trash-{os.getuid()}" / "files" / "m.jpg"
    assert "Path=sub/m.jpg\n" in Path(entry.trash_info).read_text()  # relative to the top directory
    undo_manifest(tmp_path / "m.json")
    assert Path(member).read_bytes() == b"same"
