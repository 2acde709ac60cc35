"""`dupbench run` end to end through the CLI: JSON output, actions wired in, undo restores."""

from __future__ import annotations

import filecmp
import json
import os
import shutil

from dupbench.cli import main


def tree_bytes(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_json_and_exit_status(planted_folder, tmp_path):
    root, expected = planted_folder
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "thread", "--no-cache", "--quiet", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["version"] == 1 and data["mode"] == "thread"
    assert {frozenset([g["keeper"], *(m["path"] for m in g["members"])]) for g in data["groups"]} == {frozenset(g) for g in expected}
    assert main(["run", str(tmp_path / "missing")]) == 2


def test_dry_run_changes_nothing_then_move_and_undo_restore_everything(planted_folder, tmp_path, capsys):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    before = tree_bytes(root)
    dupes = tmp_path / "dupes"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--action", "move", "--to", str(dupes), "--dry-run"]) == 0
    assert tree_bytes(root) == before and not dupes.exists()
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--action", "move", "--to", str(dupes)]) == 0
    moved = [p for p in dupes.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert moved and len(tree_bytes(root)) == len(before) - len(moved)
    manifest = next(dupes.glob("dupbench-move-*.json"))
    assert main(["undo", str(manifest)]) == 0
    assert tree_bytes(root) == before


def test_delete_needs_yes(planted_folder, tmp_path):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    assert main(["run", str(root), "--no-cache", "--quiet", "--action", "delete"]) == 2
    assert not filecmp.dircmp(source, root).diff_files


def test_a_file_changed_after_the_scan_is_left_alone(planted_folder, tmp_path, monkeypatch):
    import dupbench.run_command as run_command

    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    real_find = run_command.find_duplicates
    changed = {}

    def find_then_edit(*args, **kwargs):
        report = real_find(*args, **kwargs)
        victim = report.groups[0].members[0].path
        with open(victim, "ab") as fh:  # the user edits a file between the scan and the action
            fh.write(b"edited")
        changed["path"] = victim
        return report

    monkeypatch.setattr(run_command, "find_duplicates", find_then_edit)
    dupes = tmp_path / "dupes"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--action", "move", "--to", str(dupes)]) == 0
    assert os.path.exists(changed["path"])  # not moved: its bytes no longer match the scan's digest


def test_output_survives_a_file_name_that_is_not_utf8(planted_folder, tmp_path):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    first = sorted(root.glob("*.png"))[0]
    odd = os.path.join(os.fsencode(root), b"caf\xe9.png")  # Latin-1 bytes, invalid as UTF-8
    shutil.copy(first, odd)
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--output", str(out)]) == 0
    paths = {p for g in json.loads(out.read_text())["groups"] for p in [g["keeper"], *(m["path"] for m in g["members"])]}
    assert os.fsdecode(odd) in paths and os.path.exists(next(p for p in paths if "caf" in p))
