"""`dupbench report results/` finds the newest results of each experiment, one commit per experiment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dupbench.cli import main
from dupbench.report.discover import discover


def _sweep(folder: Path, stamp: str, name: str, commit: str, version: str = "3.11.7", gil: bool = True) -> Path:
    csv = folder / "vm" / f"{stamp}Z-{commit[:10]}.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("run_id\n")
    meta = {"collected_utc": f"{stamp}Z", "sweep": {"name": name}, "git": {"commit": commit}, "python": {"version": version, "gil_enabled": gil}}
    csv.with_suffix(".json").write_text(json.dumps(meta))
    return csv


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_newest_commit_of_each_experiment_and_its_siblings(tmp_path):
    old = _sweep(tmp_path, "20261101T000000", "seed_study", "a" * 40)
    new = _sweep(tmp_path, "20261201T000000", "seed_study", "b" * 40)
    new_sibling = _sweep(tmp_path, "20261201T010000", "seed_study", "b" * 40)
    other_interpreter = _sweep(tmp_path, "20261115T000000", "seed_study", "c" * 40, version="3.13.15", gil=False)
    dask = _sweep(tmp_path, "20261110T000000", "dask", "a" * 40)
    _sweep(tmp_path / "archive", "20261231T000000", "dask", "d" * 40)  # kept for the record, never rendered
    found = discover(tmp_path)
    assert old not in found.results
    assert set(found.results) == {new, new_sibling, other_interpreter, dask}
    assert found.accuracy is None and found.gil is None and found.scale is None and found.tables == []


def test_newest_side_inputs_by_the_timestamp_in_their_names(tmp_path):
    _sweep(tmp_path, "20261201T000000", "seed_study", "b" * 40)
    _touch(tmp_path / "benchmarks" / "scale-vm-20261201T000000Z.csv")
    scale = _touch(tmp_path / "benchmarks" / "scale-vm-20261202T000000Z.csv")
    _touch(tmp_path / "benchmarks" / "scale-vm-20261203T000000Z-recall.csv")
    limits = _touch(tmp_path / "benchmarks" / "limits-vm-20261202T000000Z.md")
    _touch(tmp_path / "benchmarks" / "limits-vm-20261101T000000Z.md")
    peers = _touch(tmp_path / "peers" / "vm" / "20261202T000000Z-abc.md")
    _touch(tmp_path / "peers" / "vm" / "real-photos-tune-speed" / "20261201T000000Z-abc.md")
    real_peers = _touch(tmp_path / "peers" / "vm" / "real-photos-tune-speed" / "20261203T000000Z-abc.md")
    gil = _touch(tmp_path / "gil" / "amd" / "20261202T000000-abc" / "results.json", "{}")
    _touch(tmp_path / "gil" / "amd" / "20261101T000000-abc" / "results.json", "{}")
    accuracy = _touch(tmp_path / "accuracy" / "vm" / "study-n1000-s1" / "threshold-sweep-32px.csv")
    _touch(tmp_path / "accuracy" / "vm" / "real-photos-tune" / "threshold-sweep-32px.csv")
    found = discover(tmp_path)
    assert (found.scale, found.gil, found.accuracy, found.tables) == (scale, gil, accuracy, [limits, peers, real_peers])


def test_report_of_a_folder_renders_instead_of_a_traceback(tmp_path, capsys):
    """The committed results folder, as a reader types it (it ended in IsADirectoryError)."""
    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "results"
    for csv in sorted((root / "results").rglob("*-d59015d702.*")):  # one small committed sweep (dask), wherever it is kept
        _touch(folder / "vm" / csv.name)
        shutil.copy(csv, folder / "vm" / csv.name)
    assert main(["report", str(folder), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "README.md").read_text()
    assert f"dupbench report {folder} --out" in text and "d59015d702" in text


def test_a_folder_without_sweeps_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no sweep results" in capsys.readouterr().err


def _evaluation(folder: Path, name: str, collected: str, false_pairs: int = 0, o8: bool = False) -> Path:
    scores = {"true_pairs": 10, "predicted_pairs": 10, "true_positives": 10, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    evaluation = {"exact": scores, "any": scores, "upright": scores, "harm": {"false_pairs": false_pairs, "largest_group": 3}}
    path = _touch(folder / name / ("evaluation-o8.json" if o8 else "evaluation.json"), json.dumps({"evaluation": evaluation}))
    meta = {
        "collected_utc": collected,
        "git": {"short_commit": "abc"},
        "command": "bash experiments/accuracy_real.sh 1 (class photos)",
        "dataset": {"n_images": 20},
    }
    _touch(path.with_name("metadata.json"), json.dumps(meta))
    return path


def test_real_image_evaluations_are_found_newest_per_set_and_setting(tmp_path):
    old = _evaluation(tmp_path / "accuracy" / "old-machine", "real-photos-holdout", "2026-11-01T00:00:00Z", false_pairs=9)
    new = _evaluation(tmp_path / "accuracy" / "vm", "real-photos-holdout", "2026-12-01T00:00:00Z")
    o8 = _evaluation(tmp_path / "accuracy" / "vm", "real-photos-holdout", "2026-12-01T00:00:00Z", o8=True)
    tune = _evaluation(tmp_path / "accuracy" / "vm", "real-astro-tune", "2026-12-01T00:00:00Z")
    _evaluation(tmp_path / "accuracy" / "vm", "study-n1000-s1", "2026-12-02T00:00:00Z")  # the generated set is not a real one
    _evaluation(tmp_path / "archive" / "vm", "real-astro-tune", "2026-12-31T00:00:00Z")
    found = discover(tmp_path).real_accuracy
    assert old not in found and set(found) == {new, o8, tune}
