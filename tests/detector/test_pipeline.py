import json
import os

import pytest

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.pipeline import chunk_size, find_duplicates
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
        assert group.keeper.endswith(".bmp"), "the lossless BMP is the largest file of the highest resolution"
        assert matches[f"{name}.png"] == matches[f"{name} copy.png"] == "pixels"
        assert matches[f"{name}_q40.JPG"] == "ssim"


@pytest.mark.parametrize("mode", ["serial", "thread", "process"])
def test_png_of_a_large_jpegs_pixels_is_an_exact_duplicate(tmp_path, mode):
    """The JPEG's thumbnail comes from a reduced decode, the PNG's from a full one; the pixels are the same."""
    import cv2
    from planted import photo

    jpeg = tmp_path / "big.jpg"
    cv2.imwrite(str(jpeg), cv2.resize(photo("astronaut", 96), (1200, 800), interpolation=cv2.INTER_CUBIC))
    cv2.imwrite(str(tmp_path / "big.png"), cv2.imread(str(jpeg)))
    cv2.imwrite(str(tmp_path / "other.jpg"), cv2.resize(photo("coffee", 96), (1200, 800)))
    report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig(mode=mode, workers=2, start_method="fork"))
    assert [(g.kind, [(m.path.rsplit("/", 1)[-1], m.match) for m in g.members]) for g in report.groups] == [("exact", [("big.jpg", "pixels")])]
    assert report.counts["pixel_checks"] == 1, "only the JPEG: the PNG's digest was taken during its load"


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


@pytest.mark.parametrize("mode", ["serial", "thread"])
def test_the_pillow_path_gives_the_opencv_groups_with_close_ssim(planted_folder, serial_report, mode):
    """What free-threaded CPython runs (no OpenCV wheel there): Pillow decodes, numpy makes thumbnails."""
    root, _ = planted_folder
    report = find_duplicates([str(root)], DetectorConfig(decoder="pillow"), ExecutionConfig(mode=mode, workers=2))
    assert report.settings["decoder"] == report.settings["decoder_used"] == "pillow"
    assert serial_report.settings["decoder_used"] == "opencv"  # what "auto" chose where cv2 imports
    assert report.group_sets() == serial_report.group_sets()
    opencv = {m.path: m.ssim for g in serial_report.groups for m in g.members}
    pillow = {m.path: m.ssim for g in report.groups for m in g.members}
    assert max(abs(pillow[p] - opencv[p]) for p in opencv if p in pillow) <= 0.02


def test_the_largest_files_are_loaded_first_and_reported_in_scan_order(planted_folder, serial_report):
    from dupbench.detector.pipeline import largest_first
    from dupbench.detector.scan import scan

    root, _ = planted_folder
    found = scan([str(root)], DetectorConfig().extensions)
    assert set(found.sizes) == set(found.files)
    assert all(found.sizes[p] == os.path.getsize(p) for p in found.files)
    order = largest_first(found.files, found.sizes)
    assert [found.sizes[p] for p in order] == sorted(found.sizes.values(), reverse=True)
    assert order != found.files  # the planted folder's scan order is not by size, so the order did change
    report = find_duplicates([str(root)], DetectorConfig(), ExecutionConfig("thread", 2))
    assert report.groups == serial_report.groups


def test_a_few_dozen_pairs_are_cut_into_one_task_per_worker_within_the_bounds():
    assert chunk_size(65, 2, 16, 2048) == 33  # both workers verify
    assert chunk_size(65, 64, 16, 2048) == 16  # never below a task's fixed cost
    assert chunk_size(100_000, 2, 16, 2048) == 2048
    assert chunk_size(1_000, 8, 8) == 125
    assert chunk_size(0, 0, 8) == 8
