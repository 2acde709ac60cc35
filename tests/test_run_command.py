"""`dupbench run` end to end through the CLI: JSON output, actions wired in, undo restores."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess

import pytest

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


def non_keepers(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and "dupes" not in p.parts}


def test_move_into_a_folder_inside_the_scanned_tree_twice_moves_no_original(planted_folder, tmp_path, monkeypatch, capsys):
    source, _ = planted_folder
    shutil.copytree(source, tmp_path / "act1")
    monkeypatch.chdir(tmp_path)
    command = ["run", "act1", "--action", "move", "--to", "act1/dupes", "--mode", "serial", "--no-cache"]
    assert main(command) == 0
    originals = non_keepers(tmp_path / "act1")
    moved = tree_bytes(tmp_path / "act1" / "dupes")
    assert len(moved) > 1 and originals
    capsys.readouterr()
    assert main(command) == 0  # the reproduction: the second run moved nine originals into dupes/
    assert non_keepers(tmp_path / "act1") == originals
    assert {k: v for k, v in tree_bytes(tmp_path / "act1" / "dupes").items() if k.suffix != ".json"} == {k: v for k, v in moved.items() if k.suffix != ".json"}
    assert "the --to folder of this move: never scanned" in capsys.readouterr().out


def test_a_root_inside_the_destination_is_refused_before_scanning(tmp_path, monkeypatch, capsys):
    (tmp_path / "dupes" / "pics").mkdir(parents=True)
    monkeypatch.setattr("dupbench.run_command.find_duplicates", scan_must_not_run)
    assert main(["run", str(tmp_path / "dupes" / "pics"), "--action", "move", "--to", str(tmp_path / "dupes"), "--no-cache"]) == 2
    assert "inside --to" in capsys.readouterr().err


def scan_must_not_run(*args, **kwargs):
    raise AssertionError("the run scanned before refusing its --output")


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder no one can create files in: mode 0o555, and immutable too when we are root (root
    ignores permission bits)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        folder.chmod(0o755)
        pytest.skip("running as root without chattr +i: cannot make a folder root cannot write in")
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


@pytest.mark.parametrize("case", ["directory", "unwritable", "missing-folder"])
def test_a_bad_output_is_refused_before_scanning(planted_folder, tmp_path, request, monkeypatch, capsys, case):
    root, _ = planted_folder
    output = {
        "directory": lambda: tmp_path,
        "unwritable": lambda: request.getfixturevalue("unwritable_folder") / "r.json",
        "missing-folder": lambda: tmp_path / "no such folder" / "r.json",
    }[case]()
    monkeypatch.setattr("dupbench.run_command.find_duplicates", scan_must_not_run)
    assert main(["run", str(root), "--no-cache", "--quiet", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dupbench run: --output") and "Traceback" not in err
    assert not (tmp_path / "no such folder").exists()  # refused, not created


def test_a_file_name_with_a_newline_cannot_forge_a_report_line(planted_folder, tmp_path, capsys):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    first = sorted(root.glob("*.png"))[0]
    shutil.copy(first, root / "x.png\n[exact] keep FORGED.png")
    os.symlink("nowhere", root / "broken\n    FORGED-SKIP.jpg")  # a skipped file: its name is printed too
    assert main(["run", str(root), "--mode", "serial", "--no-cache"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if "FORGED" in line and "\\n" not in line]
    assert any("\\n[exact] keep FORGED.png" in line for line in lines)  # shown, escaped


@pytest.mark.parametrize("option", [["--output", "-"], ["--json"]])
def test_output_dash_writes_only_the_json_to_stdout(planted_folder, capsys, option):
    root, expected = planted_folder
    assert main(["run", str(root), "--mode", "serial", "--no-cache", *option]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert len(data["groups"]) == len(expected)
    assert "duplicate groups" in captured.err and "[near] keep" in captured.err  # the printed report went to stderr
    assert not os.path.exists("-")


def test_json_and_output_file_together_write_the_same_report_to_both(planted_folder, tmp_path, capsys):
    root, _ = planted_folder
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--json", "--output", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed["groups"] == written["groups"] and printed["groups"]


def test_output_dash_with_an_action_keeps_stdout_json(planted_folder, tmp_path, capsys):
    root, _ = planted_folder
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--output", "-", "--action", "move", "--to", str(tmp_path / "d"), "--dry-run"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)
    assert "dry run: nothing was changed" in captured.err


def test_csv_has_one_row_per_file_with_size_and_resolution(planted_folder, tmp_path):
    import csv

    root, expected = planted_folder
    table = tmp_path / "groups.csv"
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--csv", str(table), "--output", str(out)]) == 0
    rows = list(csv.DictReader(table.open(newline="")))
    data = json.loads(out.read_text())
    assert len(rows) == sum(len(g) for g in expected)
    assert sum(r["role"] == "keeper" for r in rows) == len(expected)
    for row in rows:
        info = data["files"][row["path"]]
        assert (int(row["width"]), int(row["height"]), int(row["size_bytes"]), row["digest"]) == (info["width"], info["height"], info["size"], info["digest"])
        assert int(row["size_bytes"]) == os.path.getsize(row["path"])
    assert {frozenset(r["path"] for r in rows if r["group"] == str(n)) for n in range(len(expected))} == {frozenset(g) for g in expected}


def test_printed_report_shows_resolution_size_and_what_to_do_next(planted_folder, tmp_path, capsys):
    import cv2

    root, _ = planted_folder
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    keeper = json.loads(out.read_text())["groups"][0]["keeper"]
    height, width = cv2.imread(keeper).shape[:2]
    size_kb = os.path.getsize(keeper) / 1000
    assert f"keep {keeper}  ({width}x{height}, {size_kb:.1f} KB)" in text
    assert f"review them side by side in a browser: dupbench review {out}" in text
    assert "--action move --to DIR" in text and "dupbench undo MANIFEST" in text
    assert text.rstrip().splitlines()[-1].startswith("  undo an action")


def test_more_groups_than_shown_point_to_the_output_file_when_there_is_one(planted_folder, tmp_path, capsys, monkeypatch):
    import dupbench.run_command as run_command

    monkeypatch.setattr(run_command, "SHOWN_GROUPS", 1)
    root, expected = planted_folder
    assert main(["run", str(root), "--mode", "serial", "--no-cache"]) == 0
    assert f"... and {len(expected) - 1} more groups (write them all with --output FILE.json)" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "write them all with --output" not in text
    assert f"... and {len(expected) - 1} more groups (all of them are in {out})" in text


def test_the_demo_run_says_when_it_builds_the_set(tmp_path, monkeypatch, capsys):
    import dupbench.run_command as run_command

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(run_command, "find_duplicates", lambda roots, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # stop right after the set is there: the scan is tested elsewhere
        run_command.run(run_command_args(run_command, []))
    first = capsys.readouterr().err
    assert "building the demo set (60 images, first run only)" in first and str(tmp_path / "cache") in first
    with pytest.raises(KeyboardInterrupt):
        run_command.run(run_command_args(run_command, []))
    second = capsys.readouterr().err
    assert "building" not in second and "using the demo set" in second


def run_command_args(run_command, argv):
    import argparse

    parser = argparse.ArgumentParser()
    run_command.register(parser.add_subparsers())
    return parser.parse_args(["run", "--mode", "serial", "--no-cache", *argv])


def test_a_csv_that_cannot_be_written_is_refused_before_scanning(planted_folder, tmp_path, capsys):
    root, _ = planted_folder
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--csv", str(tmp_path / "no-such-folder" / "g.csv")]) == 2
    assert "--csv: the folder" in capsys.readouterr().err
    assert not (tmp_path / "no-such-folder").exists()


def test_unbounded_settings_are_refused_or_capped_with_a_message(planted_folder, capsys):
    root, _ = planted_folder
    assert main(["run", str(root), "--thumb-size", "100000", "--no-cache", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "between 16 and 256" in err and "Traceback" not in err
    assert main(["run", str(root), "--mode", "thread", "--workers", "10000", "--no-cache", "--quiet"]) == 0
    assert "capped at" in capsys.readouterr().err


def test_candidate_cap_option_reaches_the_detector_config(tmp_path):
    from dupbench.cli import build_parser
    from dupbench.config import DetectorConfig
    from dupbench.run_command import configs_from

    def parsed(*options: str):
        return configs_from(build_parser(["run"]).parse_args(["run", str(tmp_path), *options]))

    assert parsed()[0].candidate_cap == DetectorConfig().candidate_cap
    assert parsed("--candidate-cap", "0")[0].candidate_cap == 0
    assert "candidate_cap" in parsed("--candidate-cap", "-1")
