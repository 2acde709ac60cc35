"""Planning: dry runs change nothing, plans are exact, and no action ever touches a keeper."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from action_helpers import CHANGING_ACTIONS, action_args, exact, make_report, snapshot, write

from dupbench.actions import (
    apply_plan,
    format_plan,
    make_plan,
    perform_actions,
)

# --- dry run and report -------------------------------------------------------------------------


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_dry_run_changes_nothing(tmp_path: Path, photos, action: str, private_trash: Path) -> None:
    root, groups = photos
    before = snapshot(tmp_path)
    extra = ["--to", str(tmp_path / "moved")] if action == "move" else []
    out = io.StringIO()
    status = perform_actions(make_report([root], groups), action_args("--action", action, "--dry-run", *extra), out=out)
    assert status == 0
    assert snapshot(tmp_path) == before
    printed = out.getvalue()
    assert "dry run: nothing was changed" in printed
    assert str(groups[0].members[0].path) in printed
    assert repr(groups[0].members[1].path) in printed  # a newline in a name is quoted, not printed raw
    assert not private_trash.exists() and not (tmp_path / "moved").exists()


def test_report_action_changes_nothing(tmp_path: Path, photos) -> None:
    root, groups = photos
    before = snapshot(tmp_path)
    assert perform_actions(make_report([root], groups), action_args(), out=io.StringIO()) == 0
    assert snapshot(tmp_path) == before


def test_plan_lists_every_operation_exactly(tmp_path: Path, photos) -> None:
    root, groups = photos
    plan = make_plan(groups, [str(root)], "move", to=tmp_path / "moved")
    assert [(s.file.path, s.destination) for s in plan.steps] == [
        (m.path, str(tmp_path / "moved" / Path(m.path).relative_to(root))) for g in groups for m in g.members
    ]
    text = format_plan(plan)
    assert text.count("\nmove ") + text.startswith("move ") == 3


def test_move_under_two_roots_uses_the_first_root_and_separates_roots(tmp_path: Path) -> None:
    outer = tmp_path / "a"
    inner = outer / "sub"
    keeper = write(outer / "k.jpg", b"same")
    member = write(inner / "x" / "m.jpg", b"same")
    elsewhere = tmp_path / "b"
    far = write(elsewhere / "m.jpg", b"same")
    to = tmp_path / "moved"
    plan = make_plan([exact(keeper, member, far)], [str(outer), str(inner), str(elsewhere)], "move", to=to)
    assert [s.destination for s in plan.steps] == [str(to / "a" / "sub" / "x" / "m.jpg"), str(to / "b" / "m.jpg")]


def test_move_never_overwrites_an_existing_destination(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    occupied = write(tmp_path / "moved" / "m.jpg", b"someone else's file")
    plan = make_plan([exact(keeper, member)], [str(root)], "move", to=tmp_path / "moved")
    assert not plan.steps and "already exists" in plan.skipped[0].reason
    apply_plan(plan, tmp_path / "manifest.json")
    assert Path(member).read_bytes() == b"same" and Path(occupied).read_bytes() == b"someone else's file"


# --- keepers are never lost ---------------------------------------------------------------------


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_a_second_name_for_the_keeper_is_never_acted_on(tmp_path: Path, action: str) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    other_name = str(root / "k-hardlink.jpg")
    os.link(keeper, other_name)
    real_copy = write(root / "copy.jpg", b"same")
    plan = make_plan([exact(keeper, other_name, real_copy)], [str(root)], action, to=tmp_path / "moved")
    assert [s.file.path for s in plan.steps] == [real_copy]
    assert "same file as the keeper" in plan.skipped[0].reason
    apply_plan(plan, tmp_path / "manifest.json")
    assert Path(keeper).read_bytes() == b"same" and Path(other_name).read_bytes() == b"same"


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_the_keeper_reached_through_a_symlinked_root_is_never_acted_on(tmp_path: Path, action: str) -> None:
    real = tmp_path / "real"
    keeper = write(real / "k.jpg", b"same")
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    same_file = str(alias / "k.jpg")
    plan = make_plan([exact(keeper, same_file)], [str(real), str(alias)], action, to=tmp_path / "moved")
    assert not plan.steps
    apply_plan(plan, tmp_path / "manifest.json")
    assert Path(keeper).read_bytes() == b"same"


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_two_paths_to_one_member_are_acted_on_once(tmp_path: Path, action: str) -> None:
    real = tmp_path / "real"
    keeper = write(tmp_path / "keep" / "k.jpg", b"same")
    member = write(real / "m.jpg", b"same")
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    plan = make_plan([exact(keeper, member, str(alias / "m.jpg"))], [str(tmp_path)], action, to=tmp_path / "moved")
    assert [s.file.path for s in plan.steps] == [member]
    assert "already planned" in plan.skipped[0].reason
    result = apply_plan(plan, tmp_path / "manifest.json")
    assert len(result.done) == 1 and Path(keeper).read_bytes() == b"same"


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_a_keeper_of_another_group_is_never_acted_on(tmp_path: Path, action: str) -> None:
    root = tmp_path / "r"
    first = write(root / "a.jpg", b"same")
    second = write(root / "b.jpg", b"same")
    groups = [exact(first, second), exact(second, first)]  # inconsistent input must not cost both copies
    plan = make_plan(groups, [str(root)], action, to=tmp_path / "moved")
    assert not plan.steps
    apply_plan(plan, tmp_path / "manifest.json")
    assert Path(first).read_bytes() == Path(second).read_bytes() == b"same"


@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_every_keeper_survives_every_action(tmp_path: Path, photos, action: str) -> None:
    root, groups = photos
    keepers = {g.keeper: Path(g.keeper).read_bytes() for g in groups}
    apply_plan(make_plan(groups, [str(root)], action, to=tmp_path / "moved"), tmp_path / "manifest.json")
    assert {k: Path(k).read_bytes() for k in keepers} == keepers


def test_a_group_whose_keeper_is_missing_is_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "r"
    member = write(root / "m.jpg", b"same")
    plan = make_plan([exact(str(root / "gone.jpg"), member)], [str(root)], "move", to=tmp_path / "moved")
    assert not plan.steps and "keeper" in plan.skipped[0].reason
    assert Path(member).exists()


def test_symlinks_and_fifos_named_like_images_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    link = root / "link.jpg"
    link.symlink_to(keeper)
    fifo = root / "pipe.jpg"
    os.mkfifo(fifo)
    plan = make_plan([exact(keeper, str(link), str(fifo))], [str(root)], "delete")
    assert not plan.steps
    assert [s.reason.split(" (")[0] for s in plan.skipped] == ["is a symbolic link", "not a regular file"]


def test_hardlink_ignores_match_labels_and_compares_bytes(tmp_path: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"keeper")
    mislabelled = write(tmp_path / "m.jpg", b"not the same at all")
    plan = make_plan([exact(keeper, mislabelled, match="bytes")], [str(tmp_path)], "hardlink")
    assert not plan.steps


def test_a_name_in_a_skip_reason_cannot_forge_a_plan_line(tmp_path: Path) -> None:
    keeper = str(tmp_path / "gone\nDELETE /home/you/everything.jpg")  # missing: its name lands in the reason
    member = write(tmp_path / "m.jpg", b"same")
    text = format_plan(make_plan([exact(keeper, member)], [str(tmp_path)], "delete"))
    assert not [line for line in text.splitlines() if line.startswith("DELETE")]
    assert "\\nDELETE /home/you/everything.jpg" in text  # shown escaped


def test_a_file_already_inside_the_destination_is_never_moved(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "dupes" / "k.jpg", b"same")  # a copy moved there by an earlier run
    original = write(root / "a.jpg", b"same")
    plan = make_plan([exact(keeper, original)], [str(root)], "move", to=root / "dupes")
    assert not plan.steps  # the keeper is the copy in dupes/: the original is not moved in after it
    plan = make_plan([exact(original, keeper)], [str(root)], "move", to=root / "dupes")
    assert not plan.steps and "already inside the destination" in plan.skipped[0].reason
