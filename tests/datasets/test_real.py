"""`dupbench dataset real` on fake package folders (no network): labels, split, determinism, bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dupbench.cli import main
from dupbench.datasets import read_ground_truth
from dupbench.datasets.real import (
    ORIENT,
    ORIENTATION_KINDS,
    SAME_PICTURE_RMS,
    Picked,
    build_real,
    collapse,
    split_of,
    summary,
)
from dupbench.datasets.real_sources import COMPLETE, SKIMAGE, key


def texture(seed: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A smooth random colour picture: distinct for every seed, photo-like enough for the photos filter."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3)).astype(np.uint8)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(big.astype(np.int16) + rng.integers(-20, 21, size=big.shape), 0, 255).astype(np.uint8)


def icon(seed: int, size: int) -> np.ndarray:
    """A filled shape in a colour on a transparent background (BGRA)."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((64, 64, 4), np.uint8)
    points = rng.integers(6, 58, size=(5, 2)).astype(np.int32)
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3)) + (255,)
    cv2.fillPoly(pixels, [cv2.convexHull(points)], colour)
    cv2.circle(pixels, tuple(int(v) for v in rng.integers(10, 54, size=2)), 6, (255, 255, 255, 255), -1)
    return cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)


def write(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)


@pytest.fixture(scope="module")
def photo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    extracted = cache / "extracted"
    for k in range(8):
        write(extracted / SKIMAGE / f"photo{k}.png", texture(k))
    (extracted / SKIMAGE / COMPLETE).write_text("fake\n")
    data = extracted / "opencv-doc" / "usr/share/doc/opencv-doc/examples/data"
    write(data / "aloeL.jpg", texture(100))
    write(data / "aloeR.jpg", texture(101))
    write(data / "same.jpg", texture(102, 640, 480))
    write(data / "same_small.png", cv2.resize(texture(102, 640, 480), (320, 240), interpolation=cv2.INTER_AREA))
    return cache


@pytest.fixture(scope="module")
def photo_sets(photo_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sets")
    for split in ("tune", "holdout", "all"):
        build_real(out / split, "photos", split, seed=3, cache=photo_cache, offline=True)
    return {split: out / split for split in ("tune", "holdout", "all")}


def test_every_source_picture_lands_in_exactly_one_split(photo_sets: dict[str, Path]) -> None:
    sources = {split: {e.source for e in read_ground_truth(path).images if e.role != "copy" and e.derived_from is None} for split, path in photo_sets.items()}
    assert not sources["tune"] & sources["holdout"]
    assert sources["all"] == sources["tune"] | sources["holdout"]
    everything = sources["tune"] | sources["holdout"]
    # 8 fake photos + aloeL/R + one of the two same-picture files (the other is collapsed away)
    assert len(everything) == 11
    assert sum("same" in s for s in everything) == 1


def test_a_family_stays_together_and_its_second_member_is_a_natural_negative(photo_sets: dict[str, Path]) -> None:
    for path in photo_sets.values():
        truth = read_ground_truth(path)
        aloe = [e for e in truth.images if e.source and "aloe" in e.source]
        if aloe:
            assert sorted(e.role for e in aloe) == ["hard_negative", "original"]
            assert [e.kind for e in aloe if e.role == "hard_negative"] == ["same_scene"]
            assert all(e.group is None for e in aloe if e.role == "hard_negative")
            return
    pytest.fail("the aloe pair is in neither split")


def test_copies_are_labelled_with_their_original_and_transform(photo_sets: dict[str, Path]) -> None:
    kinds = set()
    for path in photo_sets.values():
        truth = read_ground_truth(path)
        by_path = truth.by_path()
        for e in truth.images:
            if e.role == "copy":
                original = by_path[e.derived_from]
                assert original.role == "original" and original.group == e.group
                kinds.add(e.kind)
                if e.kind == "metadata_edit":
                    assert e.pixel_digest == original.pixel_digest and e.file_digest != original.file_digest
            if e.role == "hard_negative":
                assert e.group is None
    assert kinds & set(ORIENTATION_KINDS), "the fake set should hold at least one turned or mirrored copy"


def test_orientation_copies_hold_the_turned_pixels(photo_sets: dict[str, Path]) -> None:
    checked = 0
    for path in photo_sets.values():
        truth = read_ground_truth(path)
        by_path = truth.by_path()
        for e in truth.images:
            if e.kind in ORIENTATION_KINDS:
                original = cv2.imread(str(path / e.derived_from), cv2.IMREAD_COLOR)
                copy = cv2.imread(str(path / e.path), cv2.IMREAD_COLOR)
                expected = ORIENT[e.kind](original)
                assert copy.shape == expected.shape
                assert float(np.abs(copy.astype(int) - expected).mean()) < 3.0  # JPEG re-encoding only
                assert by_path[e.derived_from].group == e.group
                checked += 1
    assert checked


def test_same_seed_gives_the_same_files(photo_cache: Path, photo_sets: dict[str, Path], tmp_path: Path) -> None:
    again = build_real(tmp_path / "again", "photos", "tune", seed=3, cache=photo_cache, offline=True).truth
    first = read_ground_truth(photo_sets["tune"])
    assert [(e.path, e.file_digest, e.kind) for e in again.images] == [(e.path, e.file_digest, e.kind) for e in first.images]


def test_split_is_a_stable_hash_near_the_tune_share() -> None:
    sides = [split_of(f"family {k}", seed=1) for k in range(2000)]
    assert sides == [split_of(f"family {k}", seed=1) for k in range(2000)]
    assert 0.55 < sides.count("tune") / len(sides) < 0.65
    assert sides != [split_of(f"family {k}", seed=2) for k in range(2000)]


def test_collapse_keeps_one_of_two_resized_files_but_not_two_colour_variants() -> None:
    base = texture(7)
    items = [
        Picked(None, base),
        Picked(None, cv2.resize(base, (160, 120), interpolation=cv2.INTER_AREA)),  # type: ignore[arg-type]
        Picked(None, base[:, :, ::-1].copy()),
        Picked(None, base.copy()),
    ]  # type: ignore[arg-type]
    skipped: dict[str, int] = {}
    kept = collapse(items, skipped)
    assert len(kept) == 2 and kept[0] is items[0] and kept[1] is items[2]
    assert skipped == {"same pixels as another source file": 1, "same picture as another source file": 1}
    assert SAME_PICTURE_RMS > 0


@pytest.fixture(scope="module")
def clipart_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("clipcache")
    extracted = cache / "extracted"
    for k in range(40):
        for size in (32, 22):
            write(extracted / "tango-icon-theme" / f"usr/share/icons/Tango/{size}x{size}/apps/icon{k}.png", icon(k, size))
    for k in range(5):
        green = icon(500 + k, 32)
        purple = green.copy()
        purple[:, :, :3] = purple[:, :, [2, 0, 1]]
        write(extracted / "gnome-wise-icon-theme" / f"usr/share/icons/gnome-wise/32x32/places/p{k}.png", green)
        write(extracted / "gnome-noble-icon-theme" / f"usr/share/icons/gnome-noble/32x32/places/p{k}.png", purple)
    write(extracted / "openclipart-png" / "usr/share/openclipart/png/things/opaque.png", texture(9, 64, 64))
    out = tmp_path_factory.mktemp("clip") / "set"
    build_real(out, "clipart", "tune", seed=1, cache=cache, offline=True, limit=None)
    return out


def test_clipart_keeps_alpha_and_labels_second_sizes_as_groups(clipart_set: Path) -> None:
    truth = read_ground_truth(clipart_set)
    by_path = truth.by_path()
    assert all(cv2.imread(str(clipart_set / e.path), cv2.IMREAD_UNCHANGED).shape[2] == 4 for e in truth.images)
    assert not any("opaque" in e.path for e in truth.images)  # no transparency: not clip art
    twins = [e for e in truth.images if e.kind == "other_size"]
    assert twins, "some icons should come with their 22 px twin"
    for e in twins:
        original = by_path[e.derived_from]
        assert original.group == e.group is not None and e.width == 22 and original.width == 32
        assert Path(e.path).stem.split(" ")[0] == Path(original.path).stem.split(" ")[0]
    assert sum(len(g) > 1 for g in truth.groups().values()) == len(twins)


def test_colour_twins_are_negatives(clipart_set: Path) -> None:
    truth = read_ground_truth(clipart_set)
    colour = [e for e in truth.images if e.kind == "colour_variant"]
    wise = [e for e in truth.images if e.source and "gnome-wise" in e.source]
    assert len(colour) == len(wise) > 0
    assert all(e.role == "hard_negative" and e.group is None for e in colour)
    assert not truth.true_pairs() or all("gnome" not in a for a, _ in truth.true_pairs())


def test_flat_exact_copies_have_equal_pixels_and_colours_differ(tmp_path: Path) -> None:
    truth = build_real(tmp_path / "flat", "flat", "tune", seed=1, limit=60).truth
    by_path = truth.by_path()
    exact = [e for e in truth.images if e.kind.startswith("reencode_")]
    assert exact and all(e.pixel_digest == by_path[e.derived_from].pixel_digest for e in exact)
    solids = [cv2.imread(str(tmp_path / "flat" / e.path)) for e in truth.images if e.kind == "solid"]
    colours = {tuple(int(v) for v in s[0, 0]) for s in solids}
    assert len(colours) == len(solids)
    # A JPEG of one flat colour can decode to the very same pixels: then it is an exact pair too.
    jpeg_equal = [e for e in truth.images if e.kind == "jpeg_q80" and e.pixel_digest == by_path[e.derived_from].pixel_digest]
    assert summary(truth)["exact_pairs"] == len(exact) + len(jpeg_equal)


def test_missing_sources_offline_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["dataset", "real", str(tmp_path / "out"), "--class", "astro", "--cache-dir", str(tmp_path / "empty"), "--offline"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no astro images could be built" in err and "--offline" in err
    assert not (tmp_path / "out").exists()


def test_existing_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.jpg").write_bytes(b"x")
    assert main(["dataset", "real", str(tmp_path / "out"), "--class", "flat"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "out" / "mine.jpg").read_bytes() == b"x"


def test_key_joins_the_groups_or_falls_back_to_the_path() -> None:
    assert key(r"wallpapers/([^/]+)/contents/(images[^/]*)/", "usr/share/wallpapers/Flow/contents/images_dark/a.jpg") == "Flow/images_dark"
    assert key(r"nomatch(\d)", "a/b.png") == "a/b"
    assert key(None, "a/b.png") == "a/b"


def test_a_small_edit_is_a_natural_variant_but_a_colour_change_is_not() -> None:
    from dupbench.datasets.real import Candidate, natural_variants

    base = texture(21, 200, 200)
    captioned = base.copy()
    cv2.rectangle(captioned, (10, 10), (50, 40), (255, 255, 255), -1)  # ~3% of the picture
    recoloured = base[:, :, ::-1].copy()
    unrelated = texture(22, 200, 200)
    items = [
        Picked(Candidate("p", f"f{k}.png", f"p:f{k}", f"p:f{k}", Path(f"f{k}.png"), 200, 200), pixels)
        for k, pixels in enumerate((base, captioned, recoloured, unrelated))
    ]
    natural_variants(items)
    assert [item.variant_of for item in items] == [None, 0, None, None]
    assert items[1].candidate.family == items[0].candidate.family == "p:f0"


def test_the_whole_class_holds_both_halves_file_for_file(photo_sets: dict[str, Path]) -> None:
    # `all` exists to count false merges between pictures of opposite halves: it must be their union,
    # copies and labels included, not a third draw.
    halves = {(e.path, e.role, e.kind, e.pixel_digest) for split in ("tune", "holdout") for e in read_ground_truth(photo_sets[split]).images}
    assert {(e.path, e.role, e.kind, e.pixel_digest) for e in read_ground_truth(photo_sets["all"]).images} == halves
