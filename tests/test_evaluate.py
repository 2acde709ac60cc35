"""The evaluator on hand-made reports (perfect, one false merge, one missed pair) and the threshold sweep."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dupbench.cli import main
from dupbench.datasets import get_profile, make_dataset, read_ground_truth
from dupbench.datasets.ground_truth import GroundTruth, ImageEntry
from dupbench.evaluate import (
    OTHER,
    adjusted_rand_index,
    best_threshold,
    evaluate,
    load_thumbnails,
    pair_scores,
    plot_sweep,
    threshold_sweep,
)
from dupbench.result import DuplicateReport, Group, Member

ROOT = Path("/data/set")


def image(path: str, role: str, kind: str, group: int | None, pixels: str, of: str | None = None) -> ImageEntry:
    return ImageEntry(
        path=path,
        role=role,
        kind=kind,
        group=group,
        derived_from=of,
        source=None,
        region=None,
        flip=False,
        params={},
        width=8,
        height=8,
        size_bytes=1,
        file_digest=pixels,
        pixel_digest=pixels,
    )


@pytest.fixture()
def truth() -> GroundTruth:
    images = (
        image("a.jpg", "original", "original", 1, "A"),
        image("a copy.jpg", "copy", "byte_copy", 1, "A", "a.jpg"),
        image("a40.jpg", "copy", "jpeg_q40", 1, "A40", "a.jpg"),
        image("b.png", "original", "original", 2, "B"),
        image("b.webp", "copy", "format_webp", 2, "Bw", "b.png"),
        image("c.jpg", "original", "original", None, "C"),
        image("sky1.png", "hard_negative", "night_sky", None, "S1"),
        image("sky2.png", "hard_negative", "night_sky", None, "S2"),
    )
    return GroundTruth(
        profile="demo",
        seed=1,
        n_images=len(images),
        threshold=0.75,
        thumb_size=64,
        distinct_below=0.6,
        distinct_check="all pairs",
        libraries={},
        sources=[],
        images=images,
    )


def report(*groups: Group) -> DuplicateReport:
    return DuplicateReport(roots=[str(ROOT)], settings={}, groups=list(groups), skipped=[], stages={}, mode="serial", workers=1)


def group(kind: str, keeper: str, *members: tuple[str, str]) -> Group:
    return Group(kind, str(ROOT / keeper), tuple(Member(str(ROOT / p), 1.0, match) for p, match in members))


def perfect() -> list[Group]:
    return [
        group("exact", "a.jpg", ("a copy.jpg", "bytes")),
        group("near", "a.jpg", ("a40.jpg", "ssim")),
        group("near", "b.png", ("b.webp", "ssim")),
    ]


def test_perfect_report(truth: GroundTruth) -> None:
    result = evaluate(truth, report(*perfect()), ROOT)
    for metrics in (result.exact, result.near, result.any):
        assert (metrics.precision, metrics.recall, metrics.f1) == (1.0, 1.0, 1.0)
    assert result.exact.true_pairs == 1 and result.near.true_pairs == 3
    assert result.adjusted_rand_index == pytest.approx(1.0)
    assert result.groups_found_exactly == result.true_groups == 2
    assert all(row.recall == 1.0 for row in result.transforms)
    assert all(row.flagged == 0 and row.false_pairs == 0 for row in result.negatives)


def test_one_false_merge(truth: GroundTruth) -> None:
    result = evaluate(truth, report(*perfect(), group("near", "sky1.png", ("sky2.png", "ssim"))), ROOT)
    assert result.exact.precision == 1.0
    assert result.near.recall == 1.0
    assert result.near.predicted_pairs == 4 and result.near.precision == pytest.approx(3 / 4)
    assert result.adjusted_rand_index < 1.0
    rows = {row.kind: row for row in result.negatives}
    assert (rows["night_sky"].flagged, rows["night_sky"].false_pairs) == (2, 1)
    assert rows[OTHER].false_pairs == 0


def test_false_merge_of_two_groups_counts_every_implied_pair(truth: GroundTruth) -> None:
    result = evaluate(truth, report(*perfect(), group("near", "a40.jpg", ("b.webp", "ssim"))), ROOT)
    # Clusters {a, a copy, a40} and {b, b.webp} become one: 3 x 2 = 6 false pairs.
    assert result.any.predicted_pairs == 4 + 6
    assert result.groups_found_exactly == 0
    assert {row.kind: row for row in result.negatives}[OTHER].false_pairs == 6


def test_one_missed_pair(truth: GroundTruth) -> None:
    result = evaluate(truth, report(*perfect()[:2]), ROOT)
    assert result.near.precision == 1.0
    assert result.near.recall == pytest.approx(2 / 3)
    assert result.exact.recall == 1.0
    assert result.groups_found_exactly == 1
    assert {row.transform: row.recall for row in result.transforms}["format_webp"] == 0.0


def test_exact_pair_reported_only_as_near_is_not_an_exact_hit(truth: GroundTruth) -> None:
    groups = [group("near", "a40.jpg", ("a.jpg", "ssim"), ("a copy.jpg", "ssim")), perfect()[2]]
    result = evaluate(truth, report(*groups), ROOT)
    assert result.exact.recall == 0.0
    assert result.any.recall == 1.0 and result.any.precision == 1.0


def test_paths_outside_the_dataset_are_listed(truth: GroundTruth) -> None:
    stray = Group("near", "/elsewhere/x.jpg", (Member(str(ROOT / "a.jpg"), 0.9, "ssim"),))
    result = evaluate(truth, report(*perfect(), stray), ROOT)
    assert result.unknown_paths == ("/elsewhere/x.jpg",)
    assert result.any.precision == 1.0


def test_adjusted_rand_index_known_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.2424, abs=1e-4)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "set"
    make_dataset(out, 40, seed=3, profile=replace(get_profile("demo"), long_side=(96, 128)), progress=False, jobs=1)
    return out


def test_threshold_sweep_on_a_generated_set(tiny_dataset: Path, tmp_path: Path) -> None:
    truth = read_ground_truth(tiny_dataset)
    scores = pair_scores(truth, load_thumbnails(truth, tiny_dataset, 32))
    near_links = sum(1 for e in truth.images if e.role == "copy" and e.pixel_digest != truth.by_path()[e.derived_from].pixel_digest)
    assert len(scores.positive_scores) == near_links > 0
    sweep = threshold_sweep(scores, np.array([0.3, 0.5, 0.75, 0.99]))
    assert list(sweep["threshold"]) == [0.3, 0.5, 0.75, 0.99]
    assert sweep["recall"].is_monotonic_decreasing and sweep["fp"].is_monotonic_decreasing
    assert 0.3 <= best_threshold(sweep)["threshold"] <= 0.99
    plot_sweep(sweep, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_cli_with_a_perfect_report(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    truth = read_ground_truth(tiny_dataset)
    groups = [
        {
            "kind": "near",
            "keeper": str(tiny_dataset / members[0].path),
            "members": [
                {"path": str(tiny_dataset / m.path), "ssim": 1.0, "match": "pixels" if m.pixel_digest == members[0].pixel_digest else "ssim"}
                for m in members[1:]
            ],
        }
        for members in truth.groups().values()
    ]
    data = {"version": 1, "roots": [str(tiny_dataset)], "settings": {}, "groups": groups, "skipped": [], "stages": {}, "mode": "serial", "workers": 1}
    (tmp_path / "r.json").write_text(json.dumps(data))
    code = main(
        [
            "evaluate",
            str(tiny_dataset),
            str(tmp_path / "r.json"),
            "--output",
            str(tmp_path / "scores.json"),
            "--threshold-sweep",
            "--thumb-sizes",
            "32",
            "--quiet",
        ]
    )
    assert code == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["evaluation"]["any"]["f1"] == 1.0
    assert scores["evaluation"]["exact"]["recall"] == 1.0
    assert (tmp_path / "r-sweep-32px.png").is_file()
    assert "recall per transformation" in capsys.readouterr().out


def test_cli_json_prints_only_the_scores_on_stdout(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    truth = read_ground_truth(tiny_dataset)
    data = {"version": 1, "roots": [str(tiny_dataset)], "settings": {}, "groups": [], "skipped": [], "stages": {}, "mode": "serial", "workers": 1}
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert main(["evaluate", str(tiny_dataset), str(tmp_path / "r.json"), "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    scores = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert scores["evaluation"]["any"]["recall"] == 0.0 and truth.groups()
    assert "recall per transformation" in captured.err  # the human text went to stderr


def test_group_harm_counts_distinct_pictures_joined(truth: GroundTruth) -> None:
    # one group joins picture 1 (a.jpg and its copy: one picture), c.jpg, sky1 and sky2: four pictures
    chained = group("near", "a.jpg", ("a copy.jpg", "bytes"), ("c.jpg", "ssim"), ("sky1.png", "ssim"), ("sky2.png", "ssim"))
    result = evaluate(truth, report(chained, group("near", "b.png", ("b.webp", "ssim"))), ROOT)
    harm = result.harm
    assert (harm.predicted_groups, harm.largest_group, harm.worst_group_originals, harm.groups_joining_several) == (2, 5, 4, 1)
    assert harm.files_grouped == 7 and harm.files_grouped_share == pytest.approx(7 / 8)
    # 10 pairs in the chained group, of which only a/a-copy is true; b/b.webp is true
    assert harm.false_pairs == 9 == result.any.predicted_pairs - result.any.true_positives


def test_perfect_report_does_no_harm(truth: GroundTruth) -> None:
    harm = evaluate(truth, report(*perfect()), ROOT).harm
    assert harm.false_pairs == 0 and harm.groups_joining_several == 0 and harm.worst_group_originals == 1


def test_orientation_copies_are_scored_apart(truth: GroundTruth) -> None:
    turned = image("a turned.jpg", "copy", "turn_90", 1, "AT", "a.jpg")
    with_turn = replace(truth, images=(*truth.images, turned), n_images=truth.n_images + 1, settings={"orientation_kinds": ["turn_90"]})
    missed = evaluate(with_turn, report(*perfect()), ROOT)
    # the turned copy makes 3 true pairs (with a, a copy, a40), none found; upright pairs are all found
    assert (missed.orientation.true_pairs, missed.orientation.recall) == (3, 0.0)
    assert (missed.upright.precision, missed.upright.recall) == (1.0, 1.0)
    assert missed.any.recall == pytest.approx(4 / 7)
    found = evaluate(with_turn, report(*perfect(), group("near", "a.jpg", ("a turned.jpg", "ssim"))), ROOT)
    assert found.orientation.recall == 1.0 and found.upright.recall == 1.0


def test_without_orientation_kinds_upright_equals_any(truth: GroundTruth) -> None:
    result = evaluate(truth, report(*perfect(), group("near", "sky1.png", ("sky2.png", "ssim"))), ROOT)
    assert result.upright.precision == result.any.precision and result.upright.recall == result.any.recall
    assert result.orientation.true_pairs == result.orientation.predicted_pairs == 0


def test_evaluator_thumbnails_are_the_detectors_own(tmp_path):
    """A large JPEG is decoded at reduced scale by the detector; the evaluator must see that same thumbnail."""
    import cv2

    from dupbench.config import DetectorConfig
    from dupbench.detector.load import load_task

    rng = np.random.default_rng(3)
    pixels = cv2.GaussianBlur(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8), (0, 0), 3)
    cv2.imwrite(str(tmp_path / "big.jpg"), pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
    entries = (image("big.jpg", "original", "original", None, "aa"),)
    truth = GroundTruth("demo", 1, 1, 0.75, 32, 0.6, "all pairs", {}, [], entries)
    detector = load_task(DetectorConfig(thumb_size=32))([str(tmp_path / "big.jpg")])[0]
    assert np.array_equal(load_thumbnails(truth, tmp_path, 32)[0], detector.thumb)
