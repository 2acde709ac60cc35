"""Carrying out a plan: moves and hard links that leave changed files alone, and undo restores them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from action_helpers import contents, exact, snapshot, write

from dupbench.actions import (
    apply_plan,
    load_manifest,
    make_plan,
    read_state,
    undo_manifest,
)
from dupbench.detector.features import file_digest
from dupbench.result import Group, Member

# --- move and undo ------------------------------------------------------------------------------


def test_move_then_undo_restores_every_file_byte_for_byte(tmp_path: Path, photos) -> None:
    root, groups = photos
    before, before_paths = contents(root), sorted(snapshot(root))
    to = tmp_path / "moved"
    result = apply_plan(make_plan(groups, [str(root)], "move", to=to), tmp_path / "manifest.json")
    assert len(result.done) == 3 and not result.skipped
    for group in groups:
        assert Path(group.keeper).read_bytes() == before[str(Path(group.keeper).relative_to(root))]
        for member in group.members:
            relative = Path(member.path).relative_to(root)
            assert not Path(member.path).exists()
            assert (to / relative).read_bytes() == before[str(relative)]

    undone = undo_manifest(tmp_path / "manifest.json")
    assert len(undone.restored) == 3 and not undone.skipped
    assert contents(root) == before
    assert sorted(snapshot(root)) == before_paths  # same paths, directories included
    assert not to.exists()  # the directories the move created (DIR too, here) are gone again


def test_undo_refuses_to_overwrite_a_file_now_at_the_original_path(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    to = tmp_path / "moved"
    apply_plan(make_plan([exact(keeper, member)], [str(root)], "move", to=to), tmp_path / "manifest.json")
    write(Path(member), b"a new file the user made")
    undone = undo_manifest(tmp_path / "manifest.json")
    assert not undone.restored and "not overwritten" in undone.skipped[0].reason
    assert Path(member).read_bytes() == b"a new file the user made"
    assert (to / "m.jpg").read_bytes() == b"same"


def test_move_across_filesystems_copies_verifies_and_undo_restores(tmp_path: Path, other_filesystem: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same" * 100)
    member = write(root / "d" / "m.jpg", b"same" * 100)
    before = contents(root)
    to = other_filesystem
    result = apply_plan(make_plan([exact(keeper, member)], [str(root)], "move", to=to), tmp_path / "manifest.json")
    assert len(result.done) == 1 and not Path(member).exists()
    assert (to / "d" / "m.jpg").read_bytes() == b"same" * 100
    assert not [p for p in to.rglob("*") if p.name.endswith("dupbench-tmp")]
    assert len(undo_manifest(tmp_path / "manifest.json").restored) == 1
    assert contents(root) == before


# --- changed files ------------------------------------------------------------------------------


def test_a_file_changed_since_the_scan_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    changed = write(root / "changed.jpg", b"edited after the scan")
    unchanged = write(root / "copy.jpg", b"same")
    scanned = {keeper: file_digest(b"same"), changed: file_digest(b"same"), unchanged: file_digest(b"same")}
    plan = make_plan([exact(keeper, changed, unchanged)], [str(root)], "delete", expected_digests=scanned)
    assert [s.file.path for s in plan.steps] == [unchanged]
    assert plan.skipped[0].path == changed and "changed since the scan" in plan.skipped[0].reason


def test_a_file_changed_between_plan_and_action_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    plan = make_plan([exact(keeper, member)], [str(root)], "delete")
    Path(member).write_bytes(b"new work, saved after the plan")
    result = apply_plan(plan, tmp_path / "manifest.json")
    assert not result.done and "changed" in result.skipped[0].reason
    assert Path(member).read_bytes() == b"new work, saved after the plan"
    assert load_manifest(tmp_path / "manifest.json").skipped[0].path == member


def test_a_keeper_changed_after_planning_leaves_its_group_alone(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    plan = make_plan([exact(keeper, member)], [str(root)], "move", to=tmp_path / "moved")
    Path(keeper).write_bytes(b"the keeper was edited")
    result = apply_plan(plan, tmp_path / "manifest.json")
    assert not result.done and "keeper" in result.skipped[0].reason
    assert Path(member).read_bytes() == b"same"


def test_the_digest_is_the_detectors_file_digest(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)  # more than one read chunk
    assert read_state(write(tmp_path / "big.jpg", data), follow_symlinks=False).digest == file_digest(data)


# --- hardlink -----------------------------------------------------------------------------------


def test_hardlink_links_byte_identical_copies_and_undo_separates_them(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same bytes")
    copy = write(root / "copy.jpg", b"same bytes")
    os.chmod(copy, 0o600)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    reencoded = write(root / "same-pixels.png", b"other bytes, same picture")
    groups = [Group("exact", keeper, (Member(copy, 1.0, "bytes", keeper), Member(reencoded, 1.0, "pixels", keeper)))]
    before = snapshot(root)

    result = apply_plan(make_plan(groups, [str(root)], "hardlink"), tmp_path / "m.json")
    assert [e.source for e in result.done] == [copy]
    assert "bytes differ" in result.skipped[0].reason  # "pixels" matches keep their own bytes
    assert os.stat(copy).st_ino == os.stat(keeper).st_ino
    assert not [p for p in root.iterdir() if "dupbench" in p.name]

    assert len(undo_manifest(tmp_path / "m.json").restored) == 1
    assert os.stat(copy).st_ino != os.stat(keeper).st_ino
    after = snapshot(root)
    for name, entry in before.items():
        assert after[name][:4] == entry[:4]  # bytes, mode and mtime; the copy has a new inode


def test_undo_leaves_a_hardlinked_path_that_was_replaced(tmp_path: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    copy = write(tmp_path / "c.jpg", b"same")
    apply_plan(make_plan([exact(keeper, copy)], [str(tmp_path)], "hardlink"), tmp_path / "m.json")
    os.unlink(copy)
    write(Path(copy), b"the user's new file")
    undone = undo_manifest(tmp_path / "m.json")
    assert not undone.restored and Path(copy).read_bytes() == b"the user's new file"


def test_hardlink_across_filesystems_is_skipped(tmp_path: Path, other_filesystem: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    member = write(other_filesystem / "m.jpg", b"same")
    plan = make_plan([exact(keeper, member)], [str(tmp_path), str(other_filesystem)], "hardlink")
    assert not plan.steps and "another filesystem" in plan.skipped[0].reason


# --- an edit made while a copy is being replaced by a hard link ---------------------------------


@pytest.fixture
def to_link(tmp_path: Path) -> tuple[str, str, object]:
    """(keeper, copy, plan) for hard-linking one byte-identical copy."""
    keeper = write(tmp_path / "r" / "k.jpg", b"same bytes")
    copy = write(tmp_path / "r" / "copy.jpg", b"same bytes")
    return keeper, copy, make_plan([exact(keeper, copy)], [str(tmp_path / "r")], "hardlink")


def assert_edit_kept(keeper: str, copy: str, result, manifest: Path) -> None:
    """The copy holds the edit, is still its own file, was not recorded, and undo leaves it."""
    assert Path(copy).read_bytes() == b"same bytes, edited"
    assert os.stat(copy).st_ino != os.stat(keeper).st_ino and Path(keeper).read_bytes() == b"same bytes"
    assert not result.done and "changed" in result.skipped[0].reason
    assert not [p for p in Path(copy).parent.iterdir() if "dupbench" in p.name]
    assert not undo_manifest(manifest).restored
    assert Path(copy).read_bytes() == b"same bytes, edited"


def test_an_edit_while_the_keeper_is_being_linked_is_kept(tmp_path: Path, to_link, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: link() slow (strace delayed it 1.5 s) and the copy edited meanwhile."""
    keeper, copy, plan = to_link
    real_link = os.link

    def slow_link(src, dst, *args, **kwargs):
        if src == keeper and str(dst).endswith(".dupbench-link"):
            with open(copy, "ab") as fh:  # the user saves an edit while link() runs
                fh.write(b", edited")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr("dupbench.actions.files.os.link", slow_link)
    result = apply_plan(plan, tmp_path / "m.json")
    assert_edit_kept(keeper, copy, result, tmp_path / "m.json")


@pytest.mark.parametrize("stage", ["linked-to-temporary", "set-aside", "verified", "replaced"])
def test_an_edit_through_an_open_file_at_any_step_is_kept(tmp_path: Path, to_link, monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """A program that has the copy open writes to it between two steps of the replacement."""
    keeper, copy, plan = to_link
    editor = open(copy, "ab")

    def edit_at(now: str, path: str) -> None:
        if now == stage:
            editor.write(b", edited")
            editor.flush()

    monkeypatch.setattr("dupbench.actions.files.race_point", edit_at)
    try:
        result = apply_plan(plan, tmp_path / "m.json")
    finally:
        editor.close()
    assert_edit_kept(keeper, copy, result, tmp_path / "m.json")


def test_a_file_saved_at_the_path_while_the_copy_is_set_aside_is_never_overwritten(tmp_path: Path, to_link, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper, copy, plan = to_link

    def save_at(now: str, path: str) -> None:
        if now == "verified":
            Path(path).write_bytes(b"saved by an editor")  # a new file where the copy was

    monkeypatch.setattr("dupbench.actions.files.race_point", save_at)
    result = apply_plan(plan, tmp_path / "m.json")
    assert not result.done and "the original is kept as" in result.skipped[0].reason
    assert Path(copy).read_bytes() == b"saved by an editor"
    kept = [p for p in Path(copy).parent.iterdir() if p.name.endswith(".dupbench-aside")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"same bytes"  # nothing lost; the message names it


def test_an_unchanged_copy_is_linked_with_every_step_run(tmp_path: Path, to_link, monkeypatch: pytest.MonkeyPatch) -> None:
    keeper, copy, plan = to_link
    seen: list[str] = []
    monkeypatch.setattr("dupbench.actions.files.race_point", lambda now, path: seen.append(now))
    result = apply_plan(plan, tmp_path / "m.json")
    assert len(result.done) == 1 and os.stat(copy).st_ino == os.stat(keeper).st_ino
    assert seen == ["linked-to-temporary", "set-aside", "verified", "replaced"]
