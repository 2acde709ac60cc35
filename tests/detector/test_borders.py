"""Plain borders: cut off before the thumbnails where a band ends at an edge across the picture, left
where a plain area fades into the picture; a bordered copy is found and is not the keeper."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from planted import photo

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.borders import border, scaled
from dupbench.detector.load import load_features
from dupbench.detector.pipeline import find_duplicates


def bordered(image: np.ndarray, top: int, bottom: int, left: int, right: int, value: int = 0) -> np.ndarray:
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(value,) * 3)


def test_an_added_border_is_measured_on_every_side():
    image = photo("astronaut", 400)
    assert border(image) == (0, 0, 0, 0)
    assert border(bordered(image, 20, 20, 0, 0)) == (20, 20, 0, 0)  # a letterbox
    assert border(bordered(image, 30, 30, 30, 30, 255)) == (30, 30, 30, 30)  # a white mat
    noisy = bordered(image, 20, 20, 16, 16).astype(np.int16)
    noisy[:20] += np.random.default_rng(0).integers(0, 6, noisy[:20].shape).astype(np.int16)  # re-encoding noise in the band
    assert border(noisy.astype(np.uint8)) == (20, 20, 16, 16)
    assert border(bordered(image, 12, 12, 12, 12)) == (0, 0, 0, 0)  # under 16 px: a 1/8 JPEG decode of a copy would not see it
    # the astronaut's lower edge is as dark as a black border there: cut because the other sides are
    assert border(bordered(image, 20, 20, 20, 20)) == (20, 20, 20, 20)


def test_a_plain_area_that_fades_into_the_picture_is_not_a_border():
    sky = np.tile(np.linspace(200, 120, 300)[:, None, None], (1, 400, 3)).astype(np.uint8)  # a clear sky, darker below
    sky[:40] = 200
    assert border(sky) == (0, 0, 0, 0)
    dots = np.full((300, 400, 3), 255, np.uint8)  # a diagram's margin ends at a few lines, not at an edge across
    cv2.line(dots, (50, 60), (120, 60), (0, 0, 0), 2)
    cv2.circle(dots, (200, 150), 40, (0, 0, 0), 2)
    assert border(dots) == (0, 0, 0, 0)
    silhouette = np.full((200, 200, 3), (120, 60, 50), np.uint8)  # a shape with one long straight side, on plain blue
    cv2.fillPoly(silhouette, [np.array([(60, 160), (140, 50), (145, 160)])], (40, 60, 210))
    assert border(silhouette) == (0, 0, 0, 0)
    assert border(np.full((100, 100, 3), 128, np.uint8)) == (0, 0, 0, 0)  # a flat picture is no border around nothing
    wide = bordered(photo("astronaut", 400)[:200], 160, 0, 0, 0)  # a band of 44% of the side is part of the picture
    assert border(wide)[0] == 0


def test_a_cut_is_scaled_to_the_stored_size():
    assert scaled((5, 0, 10, 2), (100, 200), (800, 1600)) == (48, 0, 88, 24)  # to the far side of the first row with picture
    assert scaled((5, 0, 10, 2), (800, 1600), (800, 1600)) == (5, 0, 10, 2)  # a full decode sees where the picture starts


def test_a_bordered_copy_is_found_and_not_kept_over_its_original(tmp_path: Path):
    image = photo("coffee", 600)
    cv2.imwrite(str(tmp_path / "coffee.png"), image)
    side = round(0.05 * min(image.shape[:2]))
    cv2.imwrite(str(tmp_path / "coffee-black-border.jpg"), bordered(image, side, side, side, side), [cv2.IMWRITE_JPEG_QUALITY, 90])
    square = (image.shape[1] - image.shape[0]) // 2  # padded to a square in white, as for a photo site
    cv2.imwrite(str(tmp_path / "coffee-square.jpg"), bordered(image, square, square, 0, 0, 255), [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(tmp_path / "chelsea.png"), photo("chelsea", 600))
    features = load_features(str(tmp_path / "coffee-square.jpg"), DetectorConfig())
    # measured on the reduced JPEG decode (1/8 scale here), so to within 8 pixels a side, and never more picture than there is
    width, height = features.content_size
    assert width == image.shape[1] and image.shape[0] - 16 <= height <= image.shape[0]
    for mode in ("serial", "process"):
        report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig(mode, 2 if mode != "serial" else None, "fork"))
        assert [sorted(Path(p).name for p in g.paths) for g in report.groups] == [["coffee-black-border.jpg", "coffee-square.jpg", "coffee.png"]]
        assert Path(report.groups[0].keeper).name == "coffee.png"


def test_any_shape_of_picture_gets_a_cut_that_leaves_a_picture():
    rng = np.random.default_rng(2)
    for h in (1, 2, 3, 7, 9, 17, 64):
        for w in (1, 2, 5, 8, 16, 33):
            for image in (
                rng.integers(0, 256, (h, w, 3)).astype(np.uint8),
                np.zeros((h, w, 3), np.uint8),
                bordered(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), 3, 3, 3, 3),
            ):
                top, bottom, left, right = border(image)
                assert min(top, bottom, left, right) >= 0
                assert top + bottom < image.shape[0] and left + right < image.shape[1]
    assert border(np.zeros((40, 40), np.uint8)) == (0, 0, 0, 0)  # grey pictures too


def test_a_small_bordered_picture_loads(tmp_path: Path):
    cv2.imwrite(str(tmp_path / "tiny.png"), bordered(photo("coffee", 40), 16, 16, 16, 16, 255))
    features = load_features(str(tmp_path / "tiny.png"), DetectorConfig())
    assert features.border is not None and features.detail.shape == (64, 64) and features.content_size[0] < features.width


def names_of(report) -> list[list[str]]:
    return [sorted(Path(p).name for p in g.paths) for g in report.groups]


def test_a_border_too_thin_for_a_reduced_decode_is_cut_in_no_copy(tmp_path: Path):
    # 6 px: a 1/8 JPEG decode cannot see it, so cutting it from the PNG alone made the JPEG look larger
    framed = bordered(photo("coffee", 600), 6, 6, 6, 6)
    cv2.imwrite(str(tmp_path / "framed.png"), framed)
    cv2.imwrite(str(tmp_path / "framed-q92.jpg"), framed, [cv2.IMWRITE_JPEG_QUALITY, 92])
    report = find_duplicates([str(tmp_path)], DetectorConfig(), ExecutionConfig("serial"))
    assert names_of(report) == [["framed-q92.jpg", "framed.png"]] and Path(report.groups[0].keeper).name == "framed.png"
