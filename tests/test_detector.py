import json

import pytest

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector import find_duplicates
from dupbench.result import DuplicateReport


@pytest.fixture(scope="module")
def serial_report(planted_folder):
    root, _ = planted_folder
    return find_duplicates([str(root)], DetectorConfig(), ExecutionConfig(mode="serial"))


def test_finds_the_planted_groups_exactly(planted_folder, serial_report):
    _, expected = planted_folder
    assert serial_report.group_sets() == {frozenset(g) for g in expected}


def test_byte_and_lossless_copies_are_exact_matches(serial_report):
    for group in serial_report.groups:
        matches = {m.path.rsplit("/", 1)[-1]: m.match for m in group.members}
        name = group.keeper.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        assert {matches.get(f"{name} copy.png"), matches.get(f"{name}.png")} <= {"bytes", "pixels", None}
        assert "ssim" in matches.values()


@pytest.mark.parametrize("pairs", ["all", "pruned"])
@pytest.mark.parametrize("mode, workers", [("thread", 1), ("thread", 2), ("thread", 3), ("process", 1), ("process", 2), ("process", 3)])
def test_every_mode_and_worker_count_gives_the_serial_groups(planted_folder, serial_report, mode, workers, pairs):
    root, _ = planted_folder
    config = DetectorConfig(pairs=pairs, block_size=5)
    report = find_duplicates([str(root)], config, ExecutionConfig(mode=mode, workers=workers, start_method="fork"))
    assert report.groups == serial_report.groups
    assert report.workers == workers


def test_report_json_round_trips(serial_report):
    data = json.loads(json.dumps(serial_report.to_json()))
    assert set(data) >= {"version", "roots", "settings", "groups", "skipped", "stages", "mode", "workers"}
    assert set(data["stages"]) >= {"scan", "load", "compare", "cluster"}
    assert DuplicateReport.from_json(data).groups == serial_report.groups


def test_bad_files_are_skipped_and_good_ones_still_grouped(tmp_path, planted_folder):
    root, expected = planted_folder
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    report = find_duplicates([str(root), str(tmp_path)], DetectorConfig(), ExecutionConfig(mode="thread", workers=2))
    assert report.group_sets() == {frozenset(g) for g in expected}
    assert [s.path for s in report.skipped] == [str(tmp_path / "broken.jpg")]
