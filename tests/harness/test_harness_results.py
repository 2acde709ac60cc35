from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from dupbench.harness.results import (
    RESULTS_SCHEMA_VERSION,
    STAGE_START_COLUMNS,
    RunRow,
    append_row,
    format_summary,
    load_results,
    new_results_path,
    summarize,
)
from dupbench.harness.spec import Cell

CELL = Cell(profile="study", images=10, dataset_seed=1, mode="serial", workers=1, cores=2, pairs="all", thumb_size=32, start_method="none")


def _row(cell: Cell = CELL, **overrides) -> RunRow:
    base = dict(
        schema_version=RESULTS_SCHEMA_VERSION,
        sweep="t",
        run_id="x",
        run_index=0,
        warmup=False,
        repeat=0,
        status="ok",
        cell=cell,
        commit="abc",
        started_utc="2026-01-01T00:00:00Z",
        wall_s=1.0,
        cpu_utilization=0.5,
        peak_rss_bytes=2**20,
    )
    base.update(overrides)
    return RunRow(**base)


def _cell(**changes) -> Cell:
    return dataclasses.replace(CELL, **changes)


def _frame(rows: list[RunRow]) -> pd.DataFrame:
    return pd.DataFrame([r.record() for r in rows])


def test_results_paths_are_never_reused(tmp_path):
    first = new_results_path(tmp_path, "m", "abc", now=0)
    first.write_text("x")
    second = new_results_path(tmp_path, "m", "abc", now=0)
    assert first.parent == tmp_path / "m" and first.name == "19700101T000000Z-abc.csv"
    assert second != first and not second.exists()


def test_rows_round_trip_through_csv_with_schema_version(tmp_path):
    path = tmp_path / "r.csv"
    append_row(path, _row(run_id="a", warmup=True))
    append_row(path, _row(run_id="b", peak_uss_bytes=None, disturbed=True))
    frame = load_results([path])
    assert list(frame.columns[:-1]) == RunRow.columns()
    assert frame["warmup"].tolist() == [True, False]
    assert frame["disturbed"].tolist() == [False, True]
    assert frame["peak_uss_bytes"].isna().all()
    assert (frame["schema_version"] == RESULTS_SCHEMA_VERSION).all()


def test_load_results_rejects_another_schema(tmp_path):
    path = tmp_path / "r.csv"
    append_row(path, _row(schema_version=99))
    with pytest.raises(ValueError, match="schema"):
        load_results([path])


def test_summary_gives_speedup_efficiency_and_leaves_out_warmups_and_failures():
    rows = [_row(run_id=f"s{i}", wall_s=w) for i, w in enumerate([2.0, 2.1, 1.9, 2.0])]
    rows += [_row(run_id="sw", wall_s=50.0, warmup=True), _row(run_id="sf", wall_s=0.1, status="crash")]
    rows += [_row(_cell(mode="process", workers=2, start_method="fork"), run_id=f"p{i}", wall_s=w) for i, w in enumerate([1.0, 1.05, 0.95, 1.0])]
    rows += [_row(_cell(mode="thread", workers=2), run_id=f"t{i}", wall_s=w) for i, w in enumerate([1.9, 2.1, 2.0, 2.05])]
    summary = summarize(_frame(rows)).set_index("mode")
    assert summary.loc["serial", "runs"] == 4 and summary.loc["serial", "median"] == pytest.approx(2.0)
    assert summary.loc["serial", "vs_serial"] == "baseline"
    assert summary.loc["process", "speedup"] == pytest.approx(2.0)
    assert summary.loc["process", "efficiency"] == pytest.approx(1.0)
    # 4 runs a side give no 95% interval: the verdict says it was read off the min-max range
    assert summary.loc["process", "vs_serial"] == "faster (min-max range only)"
    assert summary.loc["thread", "vs_serial"] == "inconclusive"  # 0.90-1.11: the data cannot decide
    text = format_summary(summary.reset_index())
    assert "process" in text and "faster" in text and "95% CI" not in text


def test_speed_ups_are_taken_against_the_fastest_serial_configuration():
    """Serial on 1 core beat serial on 2: a speed-up against the slower one would flatter the pool."""
    rows = [_row(_cell(cores=1), run_id=f"a{i}", wall_s=w) for i, w in enumerate([2.0, 2.0, 2.0])]
    rows += [_row(_cell(cores=2), run_id=f"b{i}", wall_s=w) for i, w in enumerate([2.4, 2.4, 2.4])]
    rows += [_row(_cell(mode="process", workers=2, cores=2, start_method="fork"), run_id=f"p{i}", wall_s=1.0) for i in range(3)]
    summary = summarize(_frame(rows))
    process = summary[summary["mode"] == "process"].iloc[0]
    assert process["speedup"] == pytest.approx(2.0)


def test_version_1_results_files_still_load_with_the_harness_interpreter(tmp_path):
    columns = [c for c in RunRow.columns() if c != "python"]
    path = tmp_path / "old.csv"
    pd.DataFrame([{c: "" for c in columns} | {"schema_version": 1, "warmup": False, "disturbed": False, "oversubscribed": False, "affinity_ok": True}]).to_csv(
        path, index=False
    )
    frame = load_results([path])
    assert frame["python"].tolist() == ["current"]
    columns = RunRow.columns()
    assert columns.index("python") > max(columns.index(c) for c in columns if c not in ("python", *STAGE_START_COLUMNS))  # added in schema 2
    assert columns[-len(STAGE_START_COLUMNS) :] == list(STAGE_START_COLUMNS)  # added in schema 4: after everything else


def test_summary_names_the_interpreter_when_several_ran_and_baselines_within_each():
    rows = [_row(_cell(python=py), run_id=f"{py}s{i}", wall_s=w) for py, ws in (("current", [2.0] * 3), ("/ft/python", [4.0] * 3)) for i, w in enumerate(ws)]
    rows += [
        _row(_cell(python=py, mode="thread", workers=2), run_id=f"{py}t{i}", wall_s=w) for py, w in (("current", 2.0), ("/ft/python", 2.0)) for i in range(3)
    ]
    summary = summarize(_frame(rows))
    thread = summary[summary["mode"] == "thread"].set_index("python")["speedup"]
    assert thread["current"] == pytest.approx(1.0) and thread["/ft/python"] == pytest.approx(2.0)
    text = format_summary(summary)
    assert text.splitlines()[0].split()[0] == "python" and "/ft/python" in text
    assert "python" not in format_summary(summarize(_frame(rows[:3]))).splitlines()[0]


def test_rewritten_results_do_not_make_the_tree_dirty_but_code_does(tmp_path):
    """A study overwrites committed results as it goes; only code differing from the commit is 'dirty'."""
    import subprocess

    from dupbench.harness.metadata import git_state

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.csv").write_text("1\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    (tmp_path / "results" / "a.csv").write_text("2\n")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True
