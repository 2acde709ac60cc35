"""The `dupbench run` action options: argument checks, manifest location, names that are not UTF-8."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from action_helpers import action_args, exact, make_report, write

from dupbench.actions import (
    check_action_arguments,
    load_manifest,
    perform_actions,
    undo_manifest,
)
from dupbench.result import Group, Member


def test_move_writes_its_manifest_in_the_destination_by_default(tmp_path: Path, photos) -> None:
    root, groups = photos
    out = io.StringIO()
    assert perform_actions(make_report([root], groups), action_args("--action", "move", "--to", str(tmp_path / "moved")), out=out) == 0
    manifests = list((tmp_path / "moved").glob("dupbench-move-*.json"))
    assert len(manifests) == 1 and f"dupbench undo {manifests[0]}" in out.getvalue()
    assert not list((tmp_path / "moved").glob("*.journal"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--action", "move"), "needs --to"),
        (("--to", "x"), "only used with --action move"),
    ],
)
def test_argument_errors_are_caught_before_scanning(argv: tuple[str, ...], message: str) -> None:
    assert message in check_action_arguments(action_args(*argv))


def test_names_that_are_not_utf8_are_moved_recorded_and_restored(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = os.fsdecode(os.fsencode(str(root)) + b"/caf\xe9 \xff.jpg")  # Latin-1 bytes in a name
    write(Path(member), b"same")
    out = io.StringIO()
    args = action_args("--action", "move", "--to", str(tmp_path / "moved"), "--manifest", str(tmp_path / "m.json"))
    assert perform_actions(make_report([root], [exact(keeper, member)]), args, out=out) == 0
    assert not os.path.lexists(member) and load_manifest(tmp_path / "m.json").entries[0].source == member
    assert len(undo_manifest(tmp_path / "m.json").restored) == 1
    assert Path(member).read_bytes() == b"same"


def test_an_action_touches_only_identical_copies_unless_near_groups_are_included(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"picture")
    same = write(root / "k copy.jpg", b"picture")
    similar = write(root / "k small.jpg", b"a smaller picture")
    other = write(root / "o.jpg", b"other")
    other_similar = write(root / "o edited.jpg", b"other, edited")
    groups = [
        Group("near", keeper, (Member(same, 1.0, "bytes", keeper), Member(similar, 0.9, "ssim"))),
        Group("near", other, (Member(other_similar, 0.9, "ssim"),)),
    ]
    out = io.StringIO()
    args = action_args("--action", "move", "--to", str(tmp_path / "moved"))
    assert perform_actions(make_report([root], groups), args, out=out) == 0
    assert not os.path.exists(same) and all(os.path.exists(p) for p in (keeper, similar, other, other_similar))
    assert "2 near-duplicate file(s) left alone" in out.getvalue() and "--include-near" in out.getvalue()
    args = action_args("--action", "move", "--to", str(tmp_path / "moved2"), "--include-near")
    assert perform_actions(make_report([root], groups), args, out=io.StringIO()) == 0
    assert not os.path.exists(similar) and not os.path.exists(other_similar) and os.path.exists(keeper) and os.path.exists(other)


@pytest.mark.parametrize("action", ["move", "delete", "hardlink"])
def test_nothing_under_a_reference_folder_is_touched_and_its_file_is_kept(tmp_path: Path, photos, action: str) -> None:
    from action_helpers import snapshot

    root, groups = photos
    reference = root / "backup"
    before = snapshot(reference)
    argv = ["--action", action, "--reference", str(reference), "--include-near", "--manifest", str(tmp_path / "m.json")]
    argv += ["--to", str(tmp_path / "moved")] if action == "move" else ["--yes"] if action == "delete" else []
    out = io.StringIO()
    assert perform_actions(make_report([root], groups), action_args(*argv), out=out) == 0
    assert snapshot(reference) == before
    if action == "hardlink":  # never a link to a reference file: a later edit of the copy would change it
        assert os.stat(root / "2020" / "beach.jpg").st_nlink == 1
        assert all(os.stat(p).st_nlink == 1 for p in reference.rglob("*") if p.is_file())
    else:  # the group's keeper is now the reference copy: the other copy goes
        assert not (root / "2020" / "beach.jpg").exists()


def test_a_reference_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    assert "is not a folder" in check_action_arguments(action_args("--action", "delete", "--yes", "--reference", str(tmp_path / "none")))


def test_keep_path_prefix_keeps_every_file_under_the_folder_not_only_the_keeper(tmp_path: Path, photos) -> None:
    """Two copies under backup/ in one group: the rule picks one as keeper, and the other must stay too."""
    from action_helpers import snapshot

    from dupbench.actions.keep import rekey_groups

    root, groups = photos
    rule = f"path-prefix={root / 'backup'}"
    before = snapshot(root / "backup")
    argv = ["--action", "move", "--to", str(tmp_path / "moved"), "--keep", rule, "--manifest", str(tmp_path / "m.json")]
    assert perform_actions(make_report([root], rekey_groups(groups, rule)), action_args(*argv), out=io.StringIO()) == 0
    assert snapshot(root / "backup") == before
    assert not (root / "2020" / "beach.jpg").exists()


@pytest.mark.parametrize("action", ["move", "delete", "hardlink"])
def test_a_reference_folder_is_untouched_end_to_end_in_every_mode(tmp_path: Path, mode: str, action: str) -> None:
    """`dupbench run --reference`: whatever mode found the groups, the reference copies stay as they were."""
    import cv2
    from action_helpers import snapshot
    from planted import photo

    from dupbench.cli import main

    root = tmp_path / "photos"
    (root / "backup").mkdir(parents=True)
    (root / "inbox").mkdir()
    picture = photo("coffee", 200)
    cv2.imwrite(str(root / "backup" / "coffee.png"), picture)
    cv2.imwrite(str(root / "inbox" / "coffee.png"), picture)  # identical bytes: an exact group
    cv2.imwrite(str(root / "inbox" / "coffee.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 90])  # a near copy
    before = snapshot(root / "backup")
    argv = ["run", str(root), "--mode", mode, "--workers", "2", "--no-cache", "--quiet", "--action", action, "--include-near"]
    argv += ["--reference", str(root / "backup"), "--manifest", str(tmp_path / "m.json")]
    argv += ["--to", str(tmp_path / "moved")] if action == "move" else ["--yes"] if action == "delete" else []
    assert main(argv) == 0
    assert snapshot(root / "backup") == before
    assert os.stat(root / "backup" / "coffee.png").st_nlink == 1
    if action != "hardlink":  # the copies outside the reference folder were acted on: the test is not vacuous
        assert not (root / "inbox" / "coffee.png").exists()
