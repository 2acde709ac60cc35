"""Ground-truth JSON: round trip, schema version, derived duplicate pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dupbench.datasets.ground_truth import GroundTruth, ImageEntry, read_ground_truth, write_ground_truth


def entry(path: str, role: str, kind: str, group: int | None, pixels: str, of: str | None = None) -> ImageEntry:
    return ImageEntry(
        path=path,
        role=role,
        kind=kind,
        group=group,
        derived_from=of,
        source="camera" if of is None else None,
        region=(1, 2, 30, 40) if role == "original" else None,
        flip=False,
        params={"q": 40},
        width=30,
        height=40,
        size_bytes=100,
        file_digest=path,
        pixel_digest=pixels,
    )


def small_truth() -> GroundTruth:
    images = (
        entry("a.jpg", "original", "original", 1, "A"),
        entry("a (1).jpg", "copy", "byte_copy", 1, "A", "a.jpg"),
        entry("x/a.png", "copy", "reencode_png", 1, "A", "a.jpg"),
        entry("b.jpg", "copy", "jpeg_q40", 1, "B", "a.jpg"),
        entry("c.jpg", "original", "original", None, "C"),
        entry("n.png", "hard_negative", "night_sky", None, "N"),
    )
    return GroundTruth(
        profile="demo",
        seed=3,
        n_images=len(images),
        threshold=0.75,
        thumb_size=64,
        distinct_below=0.6,
        distinct_check="all pairs",
        libraries={"numpy": "2"},
        sources=["camera"],
        images=images,
    )


def test_round_trip(tmp_path: Path) -> None:
    truth = small_truth()
    write_ground_truth(truth, tmp_path / "ground_truth.json")
    assert read_ground_truth(tmp_path) == truth
    data = json.loads((tmp_path / "ground_truth.json").read_text())
    assert data["schema"] == "dupbench-ground-truth" and data["version"] == 1
    assert data["images"][0]["region"] == [1, 2, 30, 40]


def test_rejects_other_versions(tmp_path: Path) -> None:
    data = small_truth().to_json()
    data["version"] = 99
    (tmp_path / "ground_truth.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="version"):
        read_ground_truth(tmp_path / "ground_truth.json")


def test_true_pairs_exact_by_pixels_near_otherwise() -> None:
    pairs = small_truth().true_pairs()
    assert pairs == {
        ("a (1).jpg", "a.jpg"): "exact",
        ("a (1).jpg", "x/a.png"): "exact",
        ("a.jpg", "x/a.png"): "exact",
        ("a (1).jpg", "b.jpg"): "near",
        ("a.jpg", "b.jpg"): "near",
        ("b.jpg", "x/a.png"): "near",
    }
