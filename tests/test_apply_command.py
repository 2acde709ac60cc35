"""`dupbench apply PLAN`: a reviewed plan is checked against its report, then acted on with run --action's safety."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dupbench.cli import main


def tree_bytes(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def private_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def run(planted_folder, tmp_path: Path) -> tuple[Path, Path, dict]:
    """A copy of the planted photos, scanned: (root, report path, report JSON)."""
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    report = tmp_path / "report.json"
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--output", str(report)]) == 0
    return root, report, json.loads(report.read_text())


def plan_for(report: Path, data: dict, picks: dict[int, list[str]], action: str = "move", keepers: dict[int, str] | None = None) -> dict:
    """The plan the review page exports when `picks` (group -> paths) are ticked; same format as page.js writes."""
    keepers = keepers or {}
    files = data["files"]
    groups = []
    for index, paths in picks.items():
        keeper = keepers.get(index, data["groups"][index]["keeper"])
        groups.append(
            {
                "group": index,
                "kind": data["groups"][index]["kind"],
                "keeper": {"path": keeper, "digest": files[keeper]["digest"]},
                "remove": [{"path": p, "digest": files[p]["digest"]} for p in paths],
            }
        )
    return {
        "format": "dupbench-plan",
        "version": 1,
        "action": action,
        "report": {"path": str(report), "sha256": hashlib.sha256(report.read_bytes()).hexdigest()},
        "roots": data["roots"],
        "groups": groups,
    }


def write_plan(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "dupbench-plan.json"
    path.write_text(json.dumps(plan))
    return path


def members(data: dict, index: int) -> list[str]:
    return [m["path"] for m in data["groups"][index]["members"]]


def test_dry_run_lists_the_ticked_files_and_changes_nothing(run, tmp_path, capsys):
    root, report, data = run
    before = tree_bytes(root)
    ticked = members(data, 0)[:2]
    plan = write_plan(tmp_path, plan_for(report, data, {0: ticked}))
    assert main(["apply", str(plan), "--dry-run", "--to", str(tmp_path / "dupes")]) == 0
    out = capsys.readouterr().out
    assert all(f"move     {p} -> " in out for p in ticked)
    assert "move: 2 to move" in out and "dry run: nothing was changed" in out
    assert tree_bytes(root) == before and not (tmp_path / "dupes").exists()


def test_move_then_undo_restores_everything(run, tmp_path, capsys):
    root, report, data = run
    before = tree_bytes(root)
    plan = write_plan(tmp_path, plan_for(report, data, {0: members(data, 0), 1: members(data, 1)[:1]}))
    dupes = tmp_path / "dupes"
    assert main(["apply", str(plan), "--to", str(dupes)]) == 0
    moved = len(members(data, 0)) + 1
    assert len(tree_bytes(root)) == len(before) - moved
    assert Path(data["groups"][0]["keeper"]).exists() and Path(data["groups"][1]["keeper"]).exists()
    out = capsys.readouterr().out
    manifest = next(dupes.glob("dupbench-move-*.json"))
    assert f"to undo: dupbench undo {manifest}" in out
    assert main(["undo", str(manifest)]) == 0
    assert tree_bytes(root) == before


def test_a_keeper_chosen_on_the_page_stays_and_the_old_keeper_can_go(run, tmp_path):
    root, report, data = run
    old_keeper, new_keeper = data["groups"][0]["keeper"], members(data, 0)[0]
    plan = write_plan(tmp_path, plan_for(report, data, {0: [old_keeper]}, keepers={0: new_keeper}))
    assert main(["apply", str(plan), "--to", str(tmp_path / "dupes"), "--quiet"]) == 0
    assert not Path(old_keeper).exists() and Path(new_keeper).exists()


def test_delete_needs_yes_and_goes_to_the_trash(run, tmp_path):
    root, report, data = run
    victim = members(data, 0)[0]
    plan = write_plan(tmp_path, plan_for(report, data, {0: [victim]}, action="delete"))
    assert main(["apply", str(plan)]) == 2 and Path(victim).exists()
    assert main(["apply", str(plan), "--yes", "--manifest", str(tmp_path / "m.json")]) == 0
    assert not Path(victim).exists()
    assert any((tmp_path / "xdg-data" / "Trash" / "files").iterdir())
    assert main(["undo", str(tmp_path / "m.json")]) == 0 and Path(victim).exists()


def test_hardlink_replaces_only_byte_identical_copies(run, tmp_path, capsys):
    root, report, data = run
    paths = [data["groups"][0]["keeper"], *members(data, 0)]
    digest = {p: data["files"][p]["digest"] for p in paths}
    keeper = next(p for p in paths if sum(d == digest[p] for d in digest.values()) > 1)  # the PNG with a byte copy
    byte_copies = [p for p in paths if p != keeper and digest[p] == digest[keeper]]
    others = [p for p in paths if p != keeper and p not in byte_copies]
    assert byte_copies and others
    plan = write_plan(tmp_path, plan_for(report, data, {0: byte_copies + others}, action="hardlink", keepers={0: keeper}))
    assert main(["apply", str(plan), "--manifest", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert all(f"skip     {p}: bytes differ from the keeper's" in out for p in others)
    assert all(Path(p).samefile(keeper) for p in byte_copies)
    assert not any(Path(p).samefile(keeper) for p in others)


def test_a_file_changed_after_the_review_is_left_alone(run, tmp_path, capsys):
    root, report, data = run
    victim, other = members(data, 0)[:2]
    plan = write_plan(tmp_path, plan_for(report, data, {0: [victim, other]}))
    with open(victim, "ab") as fh:
        fh.write(b"edited after the review")
    assert main(["apply", str(plan), "--to", str(tmp_path / "dupes")]) == 0
    assert Path(victim).exists() and not Path(other).exists()
    assert f"skip     {victim}: changed since the scan" in capsys.readouterr().out


def test_a_changed_keeper_leaves_its_group_alone(run, tmp_path):
    root, report, data = run
    keeper = data["groups"][0]["keeper"]
    plan = write_plan(tmp_path, plan_for(report, data, {0: members(data, 0)}))
    with open(keeper, "ab") as fh:
        fh.write(b"edited")
    assert main(["apply", str(plan), "--to", str(tmp_path / "dupes"), "--quiet"]) == 0
    assert all(Path(p).exists() for p in members(data, 0))


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda plan, data: plan["groups"][0]["remove"].append({"path": "/etc/hostname", "digest": "0" * 32}), "is not in group 0"),
        (lambda plan, data: plan["groups"][0]["remove"].append(dict(plan["groups"][0]["keeper"])), "listed more than once"),
        (lambda plan, data: plan["groups"][0]["remove"][0].update(digest="f" * 32), "not the one the scan saw"),
        (lambda plan, data: plan["groups"][0].update(group=999), "group 999 is not in the report"),
        (lambda plan, data: plan["report"].update(sha256="0" * 64), "not the report this plan was made from"),
        (lambda plan, data: plan.update(format="something-else"), "not a dupbench plan"),
        (lambda plan, data: plan.update(action="shred"), "unknown action"),
        (lambda plan, data: plan["groups"][0]["keeper"].update(digest="not hex"), "not a 32-digit hex"),
    ],
)
def test_a_plan_that_does_not_fit_its_report_is_refused_before_anything_changes(run, tmp_path, capsys, tamper, message):
    root, report, data = run
    before = tree_bytes(root)
    plan = plan_for(report, data, {0: members(data, 0)[:1]})
    tamper(plan, data)
    path = write_plan(tmp_path, plan)
    assert main(["apply", str(path), "--to", str(tmp_path / "dupes")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert tree_bytes(root) == before


def test_a_report_moved_elsewhere_is_found_with_report_and_must_be_the_same(run, tmp_path, capsys):
    root, report, data = run
    plan = write_plan(tmp_path, plan_for(report, data, {0: members(data, 0)[:1]}))
    moved = tmp_path / "elsewhere.json"
    report.rename(moved)
    assert main(["apply", str(plan), "--dry-run", "--to", str(tmp_path / "d")]) == 2
    assert "pass it with --report" in capsys.readouterr().err
    assert main(["apply", str(plan), "--dry-run", "--to", str(tmp_path / "d"), "--report", str(moved)]) == 0


def test_move_needs_to_and_a_bad_plan_file_is_a_usage_error(run, tmp_path, capsys):
    root, report, data = run
    plan = write_plan(tmp_path, plan_for(report, data, {0: members(data, 0)[:1]}))
    assert main(["apply", str(plan)]) == 2
    assert "--action move needs --to DIR" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["apply", str(tmp_path / "junk.json")]) == 2
    assert main(["apply", str(tmp_path / "missing.json")]) == 2
    assert "Traceback" not in capsys.readouterr().err
