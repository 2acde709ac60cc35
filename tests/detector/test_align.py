"""The alignment of small crops: a crop that the squashed thumbnails pushed apart is found, a different
framing is not, and every mode agrees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from planted import photo

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.align import mutual_best, search_trims, trimmed, trimmed_grids, window_weights
from dupbench.detector.features import area_weights, colour_grid, resize_plane, thumbnail
from dupbench.detector.pipeline import find_duplicates
from dupbench.detector.verify import matched_pairs


def test_a_whole_window_is_the_area_resampling():
    whole = window_weights(64, 32, np.zeros(1, np.float32), np.full(1, 64.0, np.float32))[0]
    np.testing.assert_allclose(whole, area_weights(64, 32), atol=1e-6)


def test_a_whole_number_trim_resamples_the_cut_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 64, 64)).astype(np.uint8)
    cut = trimmed(image, np.array([[4, 0, 2, 6]], np.float32), 32)[0]
    expected = area_weights(60, 32) @ image[0, 4:, 2:58].astype(np.float32) @ area_weights(56, 32).T
    np.testing.assert_allclose(cut, expected, atol=1e-3)


def detailed_photo() -> np.ndarray:
    """A photo whose thumbnail a 5% crop moves well below the screen's threshold."""
    return photo("astronaut", 400)


def test_the_search_finds_the_trims_of_a_small_crop():
    image = cv2.cvtColor(detailed_photo(), cv2.COLOR_BGR2GRAY)
    h, w = image.shape
    crop = image[: h - h // 20, w // 20 :]  # 5% off the bottom and the left
    detail, crop_thumb, thumb = resize_plane(image, 64), thumbnail(crop, 32), thumbnail(image, 32)
    stored = matched_pairs(thumb[None], crop_thumb[None])[0]
    score, trims = search_trims(detail[None], crop_thumb[None], most=4.0)
    assert stored < 0.75 < 0.9 < score[0]
    np.testing.assert_allclose(trims[0], [0.0, 3.2, 3.2, 0.0], atol=1.0)  # 5% of 64 px is 3.2 px
    # the search resamples one side at a time; its score is that of the whole trimmed window
    np.testing.assert_allclose(score, matched_pairs(trimmed(detail[None], trims, 32), crop_thumb[None]), atol=1e-5)


def test_with_a_bar_a_crop_is_found_alike_and_a_hopeless_search_stops_after_the_coarse_step(monkeypatch):
    from dupbench.detector import align

    image = cv2.cvtColor(detailed_photo(), cv2.COLOR_BGR2GRAY)
    h, w = image.shape
    crop, other = image[: h - h // 20, w // 20 :], cv2.cvtColor(photo("chelsea", 400), cv2.COLOR_BGR2GRAY)
    details = np.stack([resize_plane(image, 64)] * 2)
    targets = np.stack([thumbnail(crop, 32), thumbnail(other, 32)])
    searched: list[int] = []
    real_ascend = align.ascend

    def counting(details, targets, table, trims, best, active, *rest):
        searched.append(len(active))
        real_ascend(details, targets, table, trims, best, active, *rest)

    monkeypatch.setattr(align, "ascend", counting)
    full_score, full_trims = search_trims(details, targets, most=4.0)
    assert searched == [2, 2, 2]
    searched.clear()
    score, trims = search_trims(details, targets, most=4.0, bar=0.95)
    assert full_score[1] < 0.95 - align.STILL_REACHES[0]  # the other photo: far below the bar at once
    assert searched == [2, 1, 1]
    np.testing.assert_array_equal(score[0], full_score[0])
    np.testing.assert_array_equal(trims[0], full_trims[0])


def groups_of(root: Path, mode: str = "serial", **settings) -> set[frozenset[str]]:
    execution = ExecutionConfig(mode, 2 if mode != "serial" else None, "fork")
    report = find_duplicates([str(root)], DetectorConfig(**settings), execution)
    return {frozenset(Path(p).name for p in g.paths) for g in report.groups}


@pytest.fixture
def crops(tmp_path: Path) -> Path:
    image = detailed_photo()
    h, w = image.shape[:2]
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    cv2.imwrite(str(tmp_path / "cropped.jpg"), image[h // 25 :, : w - w // 20], [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(tmp_path / "reframed.png"), image[h // 4 :, w // 4 :])  # another framing: a quarter cut from two sides
    cv2.imwrite(str(tmp_path / "other.png"), photo("chelsea", 400))
    return tmp_path


@pytest.mark.parametrize("pairs", ["all", "pruned"])
def test_a_small_crop_is_found_once_aligned_and_only_then(crops, pairs):
    assert groups_of(crops, pairs=pairs) == {frozenset({"photo.png", "cropped.jpg"})}
    assert groups_of(crops, pairs=pairs, crop_margin=0.0) == set()


def test_every_mode_aligns_alike(crops, mode):  # `mode`: every mode, dask where installed (conftest)
    assert groups_of(crops, mode) == groups_of(crops, "serial")


def cut_every_side(image: np.ndarray, share: float) -> np.ndarray:
    h, w = image.shape[:2]
    return image[round(h * share) : h - round(h * share), round(w * share) : w - round(w * share)]


def test_a_trimmed_colour_grid_is_the_grid_of_the_kept_part():
    # a picture whose colour changes smoothly, so each cell's colour is nearly even across it
    y, x = np.mgrid[0:400, 0:400] / 400.0
    image = np.stack([80 + 120 * x, 60 + 100 * y, 200 - 120 * x * y], axis=-1).astype(np.uint8)
    crop = cut_every_side(image, 0.05)
    grid, crop_grid = colour_grid(image)[None], colour_grid(crop)[None]
    cut = trimmed_grids(grid, np.full((1, 4), 0.05 * 64, np.float32), 64)
    assert np.abs(cut - crop_grid).max() < 0.25 * np.abs(grid - crop_grid).max()


@pytest.fixture
def colourful_crops(tmp_path: Path) -> Path:
    """A real, colourful photo (scikit-image's retina) and copies cut 5% from every side: the most the
    crop tolerance allows, which moves every cell of the 8x8 colour grid by up to half a cell."""
    image = photo("retina", 400)
    cv2.imwrite(str(tmp_path / "retina.png"), image)
    crop = cut_every_side(image, 0.05)
    cv2.imwrite(str(tmp_path / "retina-cropped.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 45) % 180  # the hue turned by 90 degrees
    cv2.imwrite(str(tmp_path / "retina-cropped-hue.jpg"), cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return tmp_path


def test_a_colourful_crop_at_the_tolerance_is_found_and_its_hue_variant_is_not(colourful_crops):
    from dupbench.detector.verify import colour_distance

    grids = [colour_grid(cv2.imread(str(colourful_crops / name))) for name in ("retina.png", "retina-cropped.jpg")]
    assert colour_distance(grids[0][None], grids[1][None])[0] > DetectorConfig().colour_tolerance  # as stored: refused
    assert groups_of(colourful_crops) == {frozenset({"retina.png", "retina-cropped.jpg"})}


def test_a_crop_the_screen_scores_below_one_half_is_still_searched(tmp_path):
    # four photos in one picture: detailed enough that 5% off every side screens at about 0.47
    tiles = [cv2.resize(photo(name, 200), (200, 200)) for name in ("astronaut", "coffee", "chelsea", "coins")]
    collage = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    cv2.imwrite(str(tmp_path / "collage.png"), collage)
    cv2.imwrite(str(tmp_path / "collage-cropped.jpg"), cut_every_side(collage, 0.05), [cv2.IMWRITE_JPEG_QUALITY, 90])
    grey = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in (collage, cut_every_side(collage, 0.05))]
    assert 0.4 < matched_pairs(thumbnail(grey[0], 32)[None], thumbnail(grey[1], 32)[None])[0] < 0.5
    assert groups_of(tmp_path) == {frozenset({"collage.png", "collage-cropped.jpg"})}
    assert groups_of(tmp_path, crop_floor=0.5) == set()


def test_alignment_is_counted(crops):
    report = find_duplicates([str(crops)], DetectorConfig(), ExecutionConfig("serial"))
    assert report.counts["realigned_pairs"] == 1


def test_the_crop_settings_are_checked():
    with pytest.raises(ValueError, match="crop_margin"):
        DetectorConfig(crop_margin=0.5)
    with pytest.raises(ValueError, match="crop_floor"):
        DetectorConfig(crop_floor=0.0)
    with pytest.raises(ValueError, match="crop_partners"):
        DetectorConfig(crop_partners=0)
    assert DetectorConfig(threshold=0.4).screen_floor == 0.4
    assert DetectorConfig(crop_margin=0.0).screen_floor == DetectorConfig().threshold


def test_the_command_line_sets_the_crop_margin(crops, tmp_path, capsys):
    from dupbench.cli import main

    out = tmp_path / "report.json"
    assert main(["run", str(crops), "--mode", "serial", "--no-cache", "--quiet", "--crop-margin", "0", "--output", str(out)]) == 0
    assert '"realigned_pairs": 0' in out.read_text()
    assert main(["run", str(crops), "--mode", "serial", "--no-cache", "--quiet", "--crop-margin", "0.5"]) == 2
    assert "crop_margin must be in [0, 0.25]" in capsys.readouterr().err


def test_only_pairs_among_both_images_best_partners_are_searched():
    # image 0 half-matches 1..5 (a galaxy on black among galaxies); 6 and 7 are each other's best
    left = np.array([0, 0, 0, 0, 0, 6, 1])
    right = np.array([1, 2, 3, 4, 5, 7, 2])
    scores = np.array([0.70, 0.60, 0.65, 0.55, 0.50, 0.58, 0.52])
    assert mutual_best(left, right, scores, 1).tolist() == [True, False, False, False, False, True, False]
    assert mutual_best(left, right, scores, 2).tolist() == [True, False, True, False, False, True, True]
    assert mutual_best(left, right, scores, 10).all()
    assert mutual_best(np.array([0, 0]), np.array([1, 2]), np.array([0.6, 0.6]), 1).tolist() == [True, False]  # ties: pair order
