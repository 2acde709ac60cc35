"""Every `dupbench gil` command of docs/lesson-gil.md runs, at a tiny scale, and prints what the page promises."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from dupbench.gil.__main__ import main

LESSON = Path(__file__).resolve().parents[2] / "docs" / "lesson-gil.md"
# Appended to each command: later options win, so the page's commands run with a tiny amount of work.
TINY = ["--scale", "0.02", "--repeats", "1", "--no-overheads"]


def lesson_commands(text: str) -> list[list[str]]:
    """The `dupbench gil ...` lines of the page's fenced code blocks, split as a shell would."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    return [shlex.split(line)[2:] for block in blocks for line in block.splitlines() if line.startswith("dupbench gil")]


def with_this_interpreter(argv: list[str]) -> list[str]:
    """`--python PATH` becomes this interpreter: the lesson's builds need not exist where the tests run."""
    return [sys.executable if previous == "--python" else arg for previous, arg in zip(["", *argv], argv)]


def test_the_lesson_has_commands_for_each_part() -> None:
    commands = lesson_commands(LESSON.read_text())
    assert len(commands) >= 4
    assert any("--live" in c for c in commands) and any("--python" in c for c in commands) and [] in commands


@pytest.mark.parametrize("argv", lesson_commands(LESSON.read_text()), ids=lambda argv: " ".join(argv)[:40] or "defaults")
def test_each_lesson_command_runs_at_a_tiny_scale(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*with_this_interpreter(argv), *TINY, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "results.json").read_text())
    kernels = argv[argv.index("--kernels") + 1].split(",") if "--kernels" in argv else ["pure_python", "decode", "resize", "ssim", "hash", "io_wait"]
    for run in record["runs"]:
        assert [k["name"] for k in run["kernels"]] == kernels
    assert len(record["runs"]) == max(1, argv.count("--python"))
    assert "speed-up" in out and "CPU cores" in out and (tmp_path / "gil.png").exists()
    if "--live" in argv:
        assert "now: pure_python (holds the GIL)" in out
