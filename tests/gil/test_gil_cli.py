"""`dupbench gil` end to end at a tiny size: files written, side-by-side runs, overheads measured."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from dupbench.gil import cli
from dupbench.gil.__main__ import main
from dupbench.gil.overheads import measure_payloads, measure_startup

TINY = ["--scale", "0.1", "--repeats", "1", "--workers", "1,2", "--no-overheads"]


def test_register_adds_a_teaching_subcommand() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    gil = cli.register(sub)
    assert "GIL" in gil.description
    args = parser.parse_args(["gil", "--workers", "4,1,2"])
    assert args.workers == (1, 2, 4)
    assert args.func is cli.run_gil_command
    with pytest.raises(SystemExit):
        parser.parse_args(["gil", "--workers", "0"])


def test_local_run_writes_results_summary_and_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TINY, "--kernels", "pure_python,io_wait", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    (run,) = record["runs"]
    assert run["interpreter"]["version"]
    assert [k["name"] for k in run["kernels"]] == ["pure_python", "io_wait"]
    assert all(k["outputs_match_serial"] for k in run["kernels"])
    assert run["explanation"].startswith("CPython") or "WARNING" in run["explanation"]
    assert (tmp_path / "gil.png").stat().st_size > 0
    assert "speed-up" in capsys.readouterr().out


def test_python_option_runs_each_interpreter_and_compares(tmp_path: Path) -> None:
    argv = [*TINY, "--repeats", "2", "--kernels", "io_wait", "--out", str(tmp_path), "--python", sys.executable, "--python", sys.executable]
    assert main(argv) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert len(record["runs"]) == 2
    for run in record["runs"]:  # two rounds of one repeat each, merged
        assert run["settings"]["repeats"] == 2 and run["settings"]["rounds"] == 2
        assert sorted({r["repeat"] for r in run["kernels"][0]["runs"]}) == [0, 1]
        assert run["stages"][0]["kernel"] == "io_wait"
    assert record["comparison"].startswith("Compared:")
    # The first round calibrates; every later round and interpreter runs the same task counts.
    assert len({k["tasks"] for run in record["runs"] for k in run["kernels"]}) == 1
    assert "Side by side" in (tmp_path / "summary.txt").read_text()
    # --render rebuilds the text and figure from the stored measurements alone.
    (tmp_path / "summary.txt").unlink()
    (tmp_path / "gil.png").unlink()
    assert main(["--render", str(tmp_path / "results.json")]) == 0
    assert "Side by side" in (tmp_path / "summary.txt").read_text()
    assert (tmp_path / "gil.png").exists()
    assert json.loads((tmp_path / "results.json").read_text())["command"] == record["command"]


def test_a_failing_interpreter_is_reported_not_fatal(tmp_path: Path) -> None:
    argv = [*TINY, "--kernels", "io_wait", "--out", str(tmp_path), "--python", sys.executable, "--python", str(tmp_path / "no-such-python")]
    assert main(argv) == cli.EXIT_FAILED
    assert len(json.loads((tmp_path / "results.json").read_text())["runs"]) == 1


def test_overheads_are_measured_for_fork_and_payloads() -> None:
    (startup,) = measure_startup(workers=1, repeats=1, methods=("fork",))
    assert startup.median_s > 0
    rows = measure_payloads(sizes=(1_000, 100_000), runs=1)
    assert [r.payload_bytes for r in rows] == [1_000, 100_000]
    assert all(r.pickle_s > 0 and r.shared_memory_s > 0 and r.shared_memory_copy_s > 0 for r in rows)


def test_a_gil_that_came_back_is_shouted_in_the_table() -> None:
    from dupbench.gil.report import format_run

    run = {
        "interpreter": {"short_name": "CPython 3.13.15t (GIL on)", "executable": "/x/python", "cv2_available": False},
        "settings": {"start_method": "fork", "thread_limits": {}, "repeats": 1},
        "machine": {"usable_cpus": 2},
        "gil_checks": [{"when": "after imports", "gil_enabled": True, "warning": "WARNING: the GIL is ENABLED"}],
        "kernels": [],
        "overheads": None,
    }
    text = format_run(run)
    assert text.startswith("!!!")
    assert "WARNING: the GIL is ENABLED" in text
    assert "Pillow" in text
