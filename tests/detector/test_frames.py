"""Frames: different pictures in one uniform frame are not duplicates, a picture and its copy in that
frame are, and every mode agrees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from planted import photo

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector import frames
from dupbench.detector.frames import frame_trims, shared_frames
from dupbench.detector.pipeline import find_duplicates

DARK_PHOTOS = ("camera", "coins", "moon", "brick", "grass", "chelsea", "rocket")


def framed(image: np.ndarray, share: float = 0.2, value: int = 255) -> np.ndarray:
    """A frame of `share` of the short side on every side, as a print mat or a photo app adds it."""
    side = round(min(image.shape[:2]) * share)
    return cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_CONSTANT, value=(value,) * 3)


def dark(image: np.ndarray, top: int = 60) -> np.ndarray:
    """The picture with its tones squeezed into 0..top: a night shot, a dark wallpaper."""
    return (image.astype(np.float32) * (top / 255.0)).astype(np.uint8)


def groups_of(root: Path, mode: str = "serial") -> set[frozenset[str]]:
    execution = ExecutionConfig(mode, 2 if mode != "serial" else None, "fork")
    report = find_duplicates([str(root)], DetectorConfig(), execution)
    return {frozenset(Path(p).name for p in g.paths) for g in report.groups}


def test_a_frame_is_measured_from_each_edge():
    rng = np.random.default_rng(0)
    image = np.full((64, 64), 250, np.uint8)
    image[10:54, 6:58] = rng.integers(0, 120, (44, 52))
    image[:10] += rng.integers(0, 4, (10, 64)).astype(np.uint8)  # re-encoding noise in the band
    np.testing.assert_array_equal(frame_trims(image[None])[0], [10, 10, 6, 6])
    np.testing.assert_array_equal(frame_trims(rng.integers(0, 256, (1, 64, 64)).astype(np.uint8))[0], [0, 0, 0, 0])


def test_only_a_frame_both_images_have_is_shared():
    rng = np.random.default_rng(1)
    plain = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    boxed = np.full((64, 64), 255, np.uint8)
    boxed[8:56, 8:56] = plain[8:56, 8:56]
    trims, checked = shared_frames(np.stack([boxed, boxed]), np.stack([boxed, plain]))
    np.testing.assert_array_equal(trims, [[8, 8, 8, 8], [0, 0, 0, 0]])
    assert checked.tolist() == [True, False]


@pytest.fixture
def dark_framed(tmp_path: Path) -> Path:
    for name in DARK_PHOTOS:
        cv2.imwrite(str(tmp_path / f"{name}.jpg"), framed(dark(photo(name, 400))), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return tmp_path


def no_border_cut(monkeypatch) -> None:
    """This frame ends at an edge across the picture, so borders.py cuts it before any thumbnail; the
    check inside a shared frame is for the frames it leaves (a soft inner edge, a band over 30% of a
    side), so here the cut is turned off."""
    from dupbench.detector import load

    monkeypatch.setattr(load, "border", lambda image, scale=1.0: (0, 0, 0, 0))


def test_different_dark_pictures_in_one_white_frame_are_not_grouped(dark_framed, monkeypatch):
    assert groups_of(dark_framed) == set()
    no_border_cut(monkeypatch)
    report = find_duplicates([str(dark_framed)], DetectorConfig(), ExecutionConfig("serial"))
    assert report.groups == []
    assert report.counts["rejected_frame"] > 0
    # without the look inside the frame, the frame's edge makes most of them one group
    monkeypatch.setattr(frames, "frame_chunk", lambda inputs, pairs, config: np.zeros(len(pairs[0]), bool))
    assert max(map(len, groups_of(dark_framed)), default=0) >= 3


@pytest.mark.parametrize("cut", [True, False])
def test_a_framed_picture_and_its_copies_in_the_same_frame_are_grouped_in_every_mode(dark_framed, monkeypatch, cut):
    if not cut:
        no_border_cut(monkeypatch)
    picture = framed(dark(photo("camera", 400)))
    cv2.imwrite(str(dark_framed / "camera-q60.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 60])
    cv2.imwrite(str(dark_framed / "camera-half.png"), cv2.resize(picture, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    expected = {frozenset({"camera.jpg", "camera-q60.jpg", "camera-half.png"})}
    assert groups_of(dark_framed) == expected
    assert groups_of(dark_framed, "thread") == expected
    assert groups_of(dark_framed, "process") == expected
