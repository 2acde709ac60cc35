"""run_sweep end to end with a stand-in child: rows, schema, metadata, timeline, failures and --resume."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from harness_fakes import standin_command, write_images

from dupbench.harness.results import RESULTS_SCHEMA_VERSION, RunRow, load_timeline
from dupbench.harness.spec import parse_spec
from dupbench.harness.sweep import build_run_command, ensure_dataset, run_sweep, stage_cpu_utilization

SPEC = """
name = "unit"
[dataset]
profile = "study"
sizes = [3]
seed = 5
[grid]
modes = ["serial", "process"]
workers = ["cores"]
cores = [1, "all"]
pairs = ["all"]
thumb_sizes = [32]
start_methods = ["fork"]
[run]
repeats = 2
warmups = 1
timeout_s = 30
order = "random"
"""


def _sweep(tmp_path: Path, text: str = SPEC, command=standin_command, **kwargs):
    return run_sweep(
        parse_spec(text),
        tmp_path / "results",
        dataset_cache=tmp_path / "cache",
        make_dataset=write_images,
        command_for=command,
        progress=False,
        machine="testbox",
        log=lambda message: None,
        **kwargs,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sweep")
    return tmp_path, _sweep(tmp_path)


def test_every_planned_run_is_one_row_of_the_schema(finished):
    _, result = finished
    frame = result.frame
    assert result.csv_path.parent.name == "testbox"
    assert list(pd.read_csv(result.csv_path).columns) == RunRow.columns()
    assert len(frame) == 4 * 3  # serial and process on 1 and 2 cores (2 allowed), 1 warm-up + 2 repeats
    assert (frame["schema_version"] == RESULTS_SCHEMA_VERSION).all()
    assert (frame["status"] == "ok").all(), frame[["run_id", "status", "error"]]
    assert frame["warmup"].sum() == 4
    assert frame["affinity_ok"].all()
    assert (frame["cpu_s"] > 0).all() and (frame["peak_rss_bytes"] > 0).all()
    assert (frame["dataset_files"] == 3).all() and (frame["cache_state"] == "read_pass").all()
    assert (frame["load_s"] > 0).all() and frame["load_images_per_s"].notna().all()
    assert frame["reported_start_method"].notna().all()
    assert sorted(frame["run_index"]) == list(range(12))


def test_metadata_and_timeline_sit_beside_the_results(finished):
    _, result = finished
    metadata = json.loads(result.metadata_path.read_text())
    for key in (
        "cpu_model",
        "logical_cores",
        "allowed_cores",
        "memory_total_bytes",
        "os",
        "python",
        "libraries",
        "git",
        "sweep_text",
        "multiprocessing_default_start_method",
    ):
        assert key in metadata
    assert "gil_enabled" in metadata["python"] and "commit" in metadata["git"]
    assert "opencv_threads" in metadata["libraries"] and "blas_threads" in metadata["libraries"]
    session = metadata["sessions"][0]
    assert session["control_before"]["median_s"] > 0 and session["control_after"]["median_s"] > 0
    assert 0 <= session["monitor_overhead"] < 0.05
    timeline = load_timeline(result.csv_path)
    assert set(timeline["run_id"]) == set(result.frame["run_id"])
    assert {"tree_cpu_pct", "rss_bytes", "threads", "processes", "core0_pct"} <= set(timeline.columns)


def test_resume_skips_runs_already_recorded(finished):
    tmp_path, result = finished
    again = _sweep(tmp_path, resume=result.csv_path)
    assert again.csv_path == result.csv_path
    assert len(again.frame) == len(result.frame)
    assert len(json.loads(result.metadata_path.read_text())["sessions"]) == 2


def test_resume_refuses_a_different_sweep_file(finished):
    tmp_path, result = finished
    with pytest.raises(ValueError, match="different sweep"):
        _sweep(tmp_path, SPEC.replace("repeats = 2", "repeats = 3"), resume=result.csv_path)


def test_timeouts_and_crashes_are_recorded_and_the_sweep_goes_on(tmp_path):
    def command(cell, dataset_dir, report_json):
        if cell.mode == "process":
            return standin_command(cell, dataset_dir, report_json, extra=("--sleep", "30"))
        if cell.cores == 1:
            return standin_command(cell, dataset_dir, report_json, extra=("--exit", "2"))
        return standin_command(cell, dataset_dir, report_json)

    # 10 s is generous: a loaded machine starts children slowly (0.7 s and 4 s each once timed out a crashing child)
    text = SPEC.replace("timeout_s = 30", "timeout_s = 10").replace("repeats = 2", "repeats = 1")
    frame = _sweep(tmp_path, text, command=command).frame.set_index("cell_id")
    statuses = frame.groupby(["mode", "cores"])["status"].apply(list).to_dict()
    assert statuses[("serial", 1)] == ["crash", "crash"]
    assert statuses[("serial", 2)] == ["ok", "ok"]
    for cores in (1, 2):  # the first run times out, the rest of that cell is skipped
        assert sorted(statuses[("process", cores)]) == ["skipped", "timeout"]


def test_datasets_are_generated_once_and_reused(tmp_path):
    calls = []

    def maker(out, n, seed, profile):
        calls.append(n)
        write_images(out, n, seed)

    first = ensure_dataset(tmp_path, "study", 2, 0, maker)
    second = ensure_dataset(tmp_path, "study", 2, 0, maker)
    assert first == second and calls == [2] and len(list(first.iterdir())) == 2


def test_the_real_run_command_has_the_detector_flags():
    from dupbench.harness.spec import Cell

    cell = Cell("study", 10, 1, "process", 2, 2, "pruned", 64, "spawn")
    command = build_run_command(cell, Path("/d"), Path("/r.json"))
    assert command[1:5] == ["-m", "dupbench", "run", "/d"]
    for flag, value in [
        ("--mode", "process"),
        ("--workers", "2"),
        ("--pairs", "pruned"),
        ("--thumb-size", "64"),
        ("--output", "/r.json"),
        ("--start-method", "spawn"),
    ]:
        assert command[command.index(flag) + 1] == value
    assert "--quiet" in command
    serial = build_run_command(Cell("study", 10, 1, "serial", 1, 1, "all", 64, "none"), Path("/d"), Path("/r"))
    assert "--start-method" not in serial


def test_stage_cpu_utilization_interpolates_the_cumulative_cpu():
    from dupbench.harness.monitor import Sample

    samples = [Sample(t, 100.0 + t, 2.0 * t, 200.0, 0, None, 1, 1, ()) for t in (0.0, 0.5, 1.0, 1.5, 2.0)]
    assert stage_cpu_utilization(samples, [100.25, 101.75], cores=2, interval_s=0.1) == pytest.approx(1.0)
    assert stage_cpu_utilization(samples, [100.0, 100.1], cores=2, interval_s=0.1) is None


def test_a_second_interpreter_is_probed_recorded_and_used_by_the_child(tmp_path):
    import sys

    text = SPEC.replace('start_methods = ["fork"]', f'start_methods = ["fork"]\npythons = ["current", "{sys.executable}"]')
    seen = []

    def command(cell, dataset_dir, report_json):
        seen.append(build_run_command(cell, dataset_dir, report_json)[0])
        return standin_command(cell, dataset_dir, report_json)

    result = _sweep(tmp_path, text.replace("repeats = 2", "repeats = 1"), command=command)
    assert set(result.frame["python"]) == {"current", sys.executable}
    assert set(seen) == {sys.executable}  # "current" is the harness's own interpreter
    probes = json.loads(result.metadata_path.read_text())["pythons"]
    assert probes[sys.executable]["version"] == probes["current"]["version"]
    assert "gil_enabled" in probes["current"] and "free_threaded_build" in probes["current"]


def test_an_interpreter_that_cannot_run_dupbench_is_refused_before_any_timing(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named dupbench' >&2\nexit 1\n")
    broken.chmod(0o755)
    text = SPEC.replace('start_methods = ["fork"]', f'start_methods = ["fork"]\npythons = ["{broken}"]')
    with pytest.raises(ValueError, match="cannot import dupbench.*pip install -e"):
        _sweep(tmp_path, text)
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.csv"))


def test_the_package_is_precompiled_so_no_measured_child_compiles_it(tmp_path, monkeypatch):
    """With PYTHONDONTWRITEBYTECODE (as some shells and CI set it) every child compiled dupbench from source."""
    import importlib.util
    import sys

    from dupbench.harness.sweep import precompile

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stage.py").write_text("def f():\n    return 1\n")
    assert precompile({"dupbench_path": str(package / "__init__.py"), "executable": sys.executable})
    assert Path(importlib.util.cache_from_source(str(package / "stage.py"))).exists()
