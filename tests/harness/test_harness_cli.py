"""`dupbench sweep` and `dupbench summary` from the command line; the smoke sweep runs the real detector."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dupbench.cli import build_parser, main
from dupbench.harness.results import RESULTS_SCHEMA_VERSION, RunRow, load_results

SMOKE = Path(__file__).resolve().parents[2] / "experiments" / "smoke.toml"


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> Path:
    """experiments/smoke.toml as CI runs it: real datasets, real `dupbench run` children (~15 s)."""
    tmp = tmp_path_factory.mktemp("smoke")
    status = main(["sweep", str(SMOKE), "--out", str(tmp / "results"), "--datasets", str(tmp / "datasets"), "--machine", "ci", "--no-summary"])
    assert status == 0
    (csv_path,) = (tmp / "results" / "ci").glob("*.csv")
    return csv_path


def test_smoke_sweep_results_pass_the_schema(smoke_results):
    raw = pd.read_csv(smoke_results)
    assert list(raw.columns) == RunRow.columns()
    frame = load_results([smoke_results])
    assert (frame["schema_version"] == RESULTS_SCHEMA_VERSION).all()
    assert (frame["status"] == "ok").all(), frame[["run_id", "status", "error"]].to_string()
    assert set(frame["mode"]) == {"serial", "thread", "process"}
    assert len(frame) == frame["cell_id"].nunique() * 3 and frame["warmup"].sum() == frame["cell_id"].nunique()
    assert frame["run_id"].is_unique
    assert (frame["images_counted"] == 12).all()
    assert frame["pairs_compared"].nunique() == 1 and frame["pairs_compared"].iloc[0] > 0  # same work in every mode
    assert frame["detector_total_s"].lt(frame["wall_s"]).all()  # the parent's wall includes start-up
    assert frame["affinity_ok"].all() and frame["reported_execution"].str.len().gt(0).all()
    metadata = json.loads(smoke_results.with_suffix(".json").read_text())
    assert metadata["git"]["commit"] and smoke_results.stem.endswith(metadata["git"]["short_commit"])
    assert metadata["sweep_text"] == SMOKE.read_text()
    assert smoke_results.with_suffix(".timeline.csv.gz").exists()


def test_summary_prints_medians_and_speedups(smoke_results, capsys):
    assert main(["summary", str(smoke_results)]) == 0
    out = capsys.readouterr().out
    assert "wall median [IQR]" in out and "baseline" in out and "process" in out


def test_summary_rejects_an_unknown_metric(smoke_results, capsys):
    assert main(["summary", str(smoke_results), "--metric", "nope"]) == 2


def test_dry_run_lists_the_plan_without_running(capsys):
    assert main(["sweep", str(SMOKE), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(warm-up)" in out and "cells" in out and "runs" in out


def test_bad_sweep_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[dataset]\nsizes = [3]\n[grid]\nmodes = ["gpu"]\n')
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    assert "grid.modes" in capsys.readouterr().err


def test_help_teaches_the_commands():
    parser = build_parser()
    actions = {a.dest: a for a in parser._actions}
    choices = actions["command"].choices
    assert "sweep" in choices and "summary" in choices
    assert "sched_setaffinity" in choices["sweep"].format_help()
    assert "bootstrap" in choices["summary"].format_help()
