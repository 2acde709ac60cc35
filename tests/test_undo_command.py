"""`dupbench undo MANIFEST`: exit status and messages, over a real move."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dupbench import undo_command
from dupbench.actions import apply_plan, make_plan
from dupbench.result import Group, Member


def undo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dupbench")
    undo_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["undo", *argv])
    return args.func(args)


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Path, Path]:
    """A root whose duplicate was moved away; returns (moved file's original path, manifest)."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "k.jpg").write_bytes(b"same")
    (root / "m.jpg").write_bytes(b"same")
    group = Group("exact", str(root / "k.jpg"), (Member(str(root / "m.jpg"), 1.0, "bytes", str(root / "k.jpg")),))
    apply_plan(make_plan([group], [str(root)], "move", to=tmp_path / "moved"), tmp_path / "manifest.json")
    return root / "m.jpg", tmp_path / "manifest.json"


def test_undo_restores_and_exits_zero(moved, capsys: pytest.CaptureFixture[str]) -> None:
    original, manifest = moved
    assert not original.exists()
    assert undo([str(manifest), "--dry-run"]) == 0 and not original.exists()
    assert undo([str(manifest)]) == 0
    assert original.read_bytes() == b"same"
    assert "restored 1, 0 left" in capsys.readouterr().out


def test_undo_twice_changes_nothing_the_second_time(moved, capsys: pytest.CaptureFixture[str]) -> None:
    original, manifest = moved
    undo([str(manifest)])
    assert undo([str(manifest)]) == 0
    assert "restored 0, 1 already back in place" in capsys.readouterr().out
    assert original.read_bytes() == b"same"


def test_undo_refuses_everything_when_one_original_path_is_taken(moved, capsys: pytest.CaptureFixture[str]) -> None:
    original, manifest = moved
    original.write_bytes(b"a new file the user made")
    assert undo([str(manifest)]) == 1
    out = capsys.readouterr().out
    assert "not overwritten" in out and "refused, nothing was changed" in out
    assert original.read_bytes() == b"a new file the user made"


@pytest.mark.parametrize("content", ["not json", '{"format": "something else"}', '{"format": "dupbench-actions", "version": 99}'])
def test_a_bad_manifest_is_a_usage_error(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text(content)
    assert undo([str(tmp_path / "bad.json")]) == 2
    assert "cannot use manifest" in capsys.readouterr().err
    assert undo([str(tmp_path / "missing.json")]) == 2
