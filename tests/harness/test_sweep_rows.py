"""The sweep's small parts without a child: the results file it opens or resumes, the child's report, the row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dupbench.harness.measure import Measurement
from dupbench.harness.monitor import Sample, TreeUsage
from dupbench.harness.results import RESULTS_SCHEMA_VERSION, RunRow, append_row, metadata_path
from dupbench.harness.spec import Cell, PlannedRun, parse_spec
from dupbench.harness.sweep import DatasetInfo, make_row, open_results, read_report
from dupbench.result import STAGES, DuplicateReport

REPO = Path(__file__).resolve().parents[2]
SPEC = parse_spec('name = "rows"\n[dataset]\nsizes = [3]\n')
INFO = {"git": {"short_commit": "abc1234", "commit": "abc1234" * 5, "dirty": False}, "collected_utc": "2026-01-01T00:00:00Z"}
CELL = Cell("study", 3, 0, "process", 2, 2, "all", 32, "fork")


def _usage(samples: tuple[Sample, ...] = ()) -> TreeUsage:
    return TreeUsage(1.0, 0.5, 2**20, None, 3, 4, 5, 3, 3, (), samples, 0.01, 2.0, 3.5, 0.0)


def _measurement(status: str = "ok", samples: tuple[Sample, ...] = ()) -> Measurement:
    return Measurement(status, 0, 2.0, 100.0, _usage(samples), 1.2, 0.4, 2**21, 1.0, (0, 1), 0.5, 0.6, "")


def _report(**changes) -> DuplicateReport:
    base = dict(
        roots=["/d"],
        settings={"execution": {"mode": "process", "workers": 2, "start_method": "fork", "scheduler": None}},
        groups=[],
        skipped=[],
        stages={"scan": 0.1, "load": 0.8, "compare": 0.5, "cluster": 0.1, "total": 1.5},
        mode="process",
        workers=2,
        counts={"images": 3, "pairs_compared": 3},
        stage_bounds={"load": [100.2, 101.0]},
    )
    return DuplicateReport(**(base | changes))


def _row(report: DuplicateReport | None, measurement: Measurement | None = None) -> RunRow:
    dataset = DatasetInfo(files=3, bytes=300, cache_state="read_pass", read_pass_s=0.01)
    planned = PlannedRun(CELL, 0, False)
    return make_row(
        sweep="rows", planned=planned, run_index=4, commit="abc", measurement=measurement or _measurement(), report=report, dataset=dataset, interval_s=0.1
    )


def test_a_new_results_file_is_named_by_machine_and_commit_and_holds_no_runs(tmp_path):
    results = open_results(SPEC, tmp_path, "box", INFO, resume=None)
    assert results.csv_path.parent == tmp_path / "box" and results.csv_path.name.endswith("-abc1234.csv")
    assert results.done == set() and results.metadata["sessions"] == []
    assert results.metadata["results_schema_version"] == RESULTS_SCHEMA_VERSION and results.metadata["sweep"]["name"] == "rows"


def test_resuming_keeps_the_recorded_runs_and_the_earlier_sessions(tmp_path):
    csv_path = tmp_path / "old.csv"
    metadata_path(csv_path).write_text(json.dumps({"sweep_text": SPEC.text, "sessions": [{"commit": "x"}], "results_schema_version": RESULTS_SCHEMA_VERSION}))
    append_row(csv_path, _row(_report()))
    results = open_results(SPEC, tmp_path, "box", INFO, resume=csv_path)
    assert results.csv_path == csv_path and results.done == {PlannedRun(CELL, 0, False).run_id}
    assert results.metadata["sessions"] == [{"commit": "x"}]


def test_resuming_refuses_another_sweep_file_or_a_file_without_metadata(tmp_path):
    csv_path = tmp_path / "old.csv"
    with pytest.raises(ValueError, match="no readable metadata"):
        open_results(SPEC, tmp_path, "box", INFO, resume=csv_path)
    metadata_path(csv_path).write_text(json.dumps({"sweep_text": SPEC.text + "\n# edited"}))
    with pytest.raises(ValueError, match="different sweep file"):
        open_results(SPEC, tmp_path, "box", INFO, resume=csv_path)
    metadata_path(csv_path).write_text(json.dumps({"sweep_text": SPEC.text, "results_schema_version": RESULTS_SCHEMA_VERSION - 1}))
    with pytest.raises(ValueError, match="cannot resume it: start a new results file"):  # its columns would not line up
        open_results(SPEC, tmp_path, "box", INFO, resume=csv_path)


def test_the_childs_report_is_read_as_a_duplicate_report_or_not_at_all(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_report().to_json()))
    assert read_report(path) == _report()
    for text in ("{not json", '{"version": 1, "stages": {}}', '{"version": 2}', "[]"):
        path.write_text(text)
        assert read_report(path) is None, text
    assert read_report(tmp_path / "missing.json") is None


def test_a_row_joins_what_the_parent_measured_with_what_the_child_reported():
    samples = tuple(Sample(t, 100.0 + t, 2.0 * t, 200.0, 0, None, 1, 1, ()) for t in (0.0, 0.5, 1.0, 1.5, 2.0))
    row = _row(_report(), _measurement(samples=samples))
    assert row.status == "ok" and row.cell == CELL and row.cell_id == CELL.cell_id and row.run_index == 4
    assert (row.scan_s, row.load_s, row.compare_s, row.cluster_s, row.detector_total_s) == (0.1, 0.8, 0.5, 0.1, 1.5)
    assert row.load_cpu_utilization == pytest.approx(1.0) and row.scan_cpu_utilization is None  # no bounds reported for scan
    assert row.images_counted == 3 and row.load_images_per_s == pytest.approx(3 / 0.8)
    assert row.reported_workers == 2 and row.reported_start_method == "fork"
    assert json.loads(row.reported_execution)["mode"] == "process"
    assert row.cpu_s == pytest.approx(1.2 + 0.5) and row.cpu_utilization == pytest.approx(1.7 / 4)  # the larger lower bound of each
    # foreign CPU = busy core time - the run's CPU (its larger lower bound, 1.7, not the samples' 1.5) - the monitor's
    assert row.foreign_cpu_fraction == pytest.approx((3.5 - 1.7 - 0.01) / 4) and row.disturbed


def test_an_ok_exit_without_a_report_is_no_report_with_empty_child_columns():
    row = _row(None)
    assert row.status == "no_report"
    assert row.load_s is None and row.images_counted is None and row.reported_execution == ""
    assert row.wall_s == 2.0  # the parent's measurements stay
    assert _row(None, _measurement(status="timeout")).status == "timeout"


def test_rows_keep_the_column_order_of_the_committed_results(tmp_path):
    committed = sorted((REPO / "results" / "vm").glob("2026*Z-*.csv"), key=lambda p: p.name)
    assert committed, "no sweep results committed under results/vm"
    with open(committed[-1], newline="") as fh:
        header = next(csv.reader(fh))
    assert RunRow.columns()[: len(header)] == header, "columns are only ever added at the end, so older files line up"
    record = _row(_report()).record()
    assert list(record) == RunRow.columns()
    assert {k: record[k] for k in ("mode", "workers", "start_method", "python", "oversubscribed")} == {
        "mode": "process",
        "workers": 2,
        "start_method": "fork",
        "python": "current",
        "oversubscribed": False,
    }


def test_each_stage_start_is_recorded_in_seconds_after_the_run_was_started():
    row = _row(_report(stage_bounds={"load": [100.2, 101.0], "compare": [101.0, 101.5]}))  # the run started at epoch 100.0
    assert row.load_start_s == pytest.approx(0.2) and row.compare_start_s == pytest.approx(1.0)
    assert row.scan_start_s is None and row.cluster_start_s is None  # not reported: left empty, never guessed
    assert RunRow.columns()[-len(STAGES) :] == [f"{stage}_start_s" for stage in STAGES]
