"""Safe actions on duplicates: plans change nothing, keepers survive, changed files are left, undo restores.

Files hold arbitrary bytes: the actions never decode images, they compare digests.
"""

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

CHANGING_ACTIONS = ("move", "delete", "hardlink")


@pytest.fixture(autouse=True)
def private_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The home trash lives in the test's folder, on the same filesystem as the test files."""
    data_home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    return data_home / "Trash"


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def exact(keeper: str, *members: str, match: str = "bytes") -> Group:
    return Group("exact", keeper, tuple(Member(m, 1.0, match, keeper) for m in members))


def near(keeper: str, *members: str) -> Group:
    return Group("near", keeper, tuple(Member(m, 0.95, "ssim", None) for m in members))


def make_report(roots: list[Path | str], groups: list[Group]) -> DuplicateReport:
    return DuplicateReport(roots=[str(r) for r in roots], settings={}, groups=groups, skipped=[], stages={}, mode="serial", workers=1)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root`: kind, and for files bytes, mode, mtime and inode."""
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                state[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[str(path.relative_to(root))] = ("dir",)
            else:
                state[str(path.relative_to(root))] = ("file", path.read_bytes(), info.st_mode, info.st_mtime_ns, info.st_ino)
    return state


def contents(root: Path) -> dict[str, bytes]:
    """Paths and bytes only: what undo must restore (inodes may change with a copy across devices)."""
    return {k: v[1] for k, v in snapshot(root).items() if v[0] == "file"}


def action_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_action_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, list[Group]]:
    """A root with an exact group (nested dirs, awkward names) and a near group."""
    root = tmp_path / "photos"
    keeper = write(root / "2020" / "beach.jpg", b"A" * 300)
    copy1 = write(root / "backup" / "beach copy.jpg", b"A" * 300)
    copy2 = write(root / "backup" / "deep" / "stränd\nnewline.jpg", b"A" * 300)
    other = write(root / "2021" / "dog.jpg", b"dog-original" * 10)
    resized = write(root / "2021" / "small" / "dog.jpg", b"dog-resized")
    return root, [exact(keeper, copy1, copy2), near(other, resized)]


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
    status = perform_actions(make_report([root], groups), action_args("--action", "delete", "--yes", "--manifest", str(tmp_path / "m.json")), out=out)
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


def test_hardlink_ignores_match_labels_and_compares_bytes(tmp_path: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"keeper")
    mislabelled = write(tmp_path / "m.jpg", b"not the same at all")
    plan = make_plan([exact(keeper, mislabelled, match="bytes")], [str(tmp_path)], "hardlink")
    assert not plan.steps


def test_undo_leaves_a_hardlinked_path_that_was_replaced(tmp_path: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    copy = write(tmp_path / "c.jpg", b"same")
    apply_plan(make_plan([exact(keeper, copy)], [str(tmp_path)], "hardlink"), tmp_path / "m.json")
    os.unlink(copy)
    write(Path(copy), b"the user's new file")
    undone = undo_manifest(tmp_path / "m.json")
    assert not undone.restored and Path(copy).read_bytes() == b"the user's new file"


# --- manifest -----------------------------------------------------------------------------------


def test_an_interrupted_run_leaves_a_manifest_that_undo_reads(tmp_path: Path) -> None:
    moved = write(tmp_path / "moved" / "m.jpg", b"same")
    entry = Entry("move", str(tmp_path / "r" / "m.jpg"), moved, file_digest(b"same").hex(), 4, 0o644, 0, str(tmp_path / "k.jpg"))
    writer = ManifestWriter(tmp_path / "m.json", "move", [str(tmp_path / "r")], str(tmp_path / "moved"))
    writer.__enter__()
    writer.record(entry)
    writer._journal.close()  # the process dies here: no final manifest is written
    manifest = load_manifest(tmp_path / "m.json")
    assert not manifest.finished and manifest.entries == (entry,)
    assert len(undo_manifest(tmp_path / "m.json").restored) == 1
    assert (tmp_path / "r" / "m.jpg").read_bytes() == b"same"


def test_a_manifest_is_never_overwritten(tmp_path: Path, photos) -> None:
    root, groups = photos
    write(tmp_path / "m.json", b"{}")
    before = snapshot(root)
    with pytest.raises(FileExistsError):
        apply_plan(make_plan(groups, [str(root)], "delete"), tmp_path / "m.json")
    assert snapshot(root) == before
    assert "already exists" in check_action_arguments(action_args("--action", "delete", "--yes", "--manifest", str(tmp_path / "m.json")))


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


# --- other filesystems --------------------------------------------------------------------------


@pytest.fixture
def other_filesystem(tmp_path: Path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second filesystem at /dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm))
    yield folder
    shutil.rmtree(folder)


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


def test_hardlink_across_filesystems_is_skipped(tmp_path: Path, other_filesystem: Path) -> None:
    keeper = write(tmp_path / "k.jpg", b"same")
    member = write(other_filesystem / "m.jpg", b"same")
    plan = make_plan([exact(keeper, member)], [str(tmp_path), str(other_filesystem)], "hardlink")
    assert not plan.steps and "another filesystem" in plan.skipped[0].reason


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
