"""Dataset generation: determinism, composition, labels, distinct originals, the demo cache."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest

from dupbench.config import DetectorConfig
from dupbench.datasets import FILENAME, ensure_demo, get_profile, make_dataset, read_ground_truth
from dupbench.datasets.generate import allocate, plan_counts
from dupbench.datasets.transforms import COPY_TRANSFORMS, HARD_NEGATIVE_KINDS
from dupbench.detector.decode import decode_image
from dupbench.detector.features import thumbnail
from dupbench.detector.ssim import ssim_matrix, ssim_terms

# Tiny images keep each dataset build well under a second.
TINY = replace(get_profile("demo"), long_side=(96, 128))
N = 60


def file_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "set"
    make_dataset(out, N, seed=7, profile=TINY, progress=False, jobs=1)
    return out


def test_same_seed_gives_same_bytes_serial_and_pool(dataset: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    make_dataset(again, N, seed=7, profile=TINY, progress=False, jobs=2)
    assert file_bytes(again) == file_bytes(dataset)


def test_other_seed_gives_other_images(dataset: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    make_dataset(other, N, seed=8, profile=TINY, progress=False, jobs=1)
    assert file_bytes(other) != file_bytes(dataset)


def test_files_match_ground_truth(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    on_disk = set(file_bytes(dataset)) - {FILENAME}
    assert on_disk == {e.path for e in truth.images}
    assert truth.n_images == N == len(truth.images)
    for entry in truth.images:
        assert (dataset / entry.path).stat().st_size == entry.size_bytes


def test_every_transformation_and_negative_kind_is_planted(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    kinds = Counter(e.kind for e in truth.images)
    assert set(COPY_TRANSFORMS) <= set(kinds)
    assert set(HARD_NEGATIVE_KINDS) <= set(kinds)
    for entry in truth.images:
        if entry.role == "copy":
            assert truth.by_path()[entry.derived_from].role == "original"
            assert entry.group == truth.by_path()[entry.derived_from].group is not None
        if entry.role == "hard_negative":
            assert entry.group is None


def test_exact_pairs_are_the_lossless_copies(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    exact_kinds = {"byte_copy", "renamed_copy", "reencode_png", "reencode_bmp", "reencode_tiff"}
    by_path = truth.by_path()
    for (a, b), kind in truth.true_pairs().items():
        kinds = {by_path[a].kind, by_path[b].kind} - {"original"}
        if kind == "near":
            assert not kinds <= exact_kinds or len(kinds) == 0
    copies = [e for e in truth.images if e.kind in exact_kinds]
    assert copies and all(truth.true_pairs()[tuple(sorted((e.path, e.derived_from)))] == "exact" for e in copies)


def test_byte_and_renamed_copies_have_the_original_bytes(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    for entry in truth.images:
        if entry.kind in ("byte_copy", "renamed_copy"):
            assert (dataset / entry.path).read_bytes() == (dataset / entry.derived_from).read_bytes()
            same_folder = Path(entry.path).parent == Path(entry.derived_from).parent
            assert same_folder == (entry.kind == "byte_copy")


def test_exif_copy_decodes_to_the_original_orientation(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    copies = [e for e in truth.images if e.kind == "exif_orientation"]
    assert copies
    for entry in copies:
        original = truth.by_path()[entry.derived_from]
        raw = cv2.imdecode(np.fromfile(dataset / entry.path, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        shown = decode_image((dataset / entry.path).read_bytes())
        assert shown.shape[:2] == (original.height, original.width)
        if entry.params["orientation"] in (6, 8) and original.width != original.height:
            assert raw.shape[:2] == (original.width, original.height)


def test_originals_are_pairwise_distinct(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    originals = [e for e in truth.images if e.role == "original"]
    size = DetectorConfig().thumb_size
    thumbs = np.stack([thumbnail(decode_image((dataset / e.path).read_bytes()), size) for e in originals])
    scores = ssim_matrix(ssim_terms(thumbs), ssim_terms(thumbs))
    np.fill_diagonal(scores, -1.0)
    assert scores.max() < DetectorConfig().threshold
    assert all(e.source and e.region for e in originals)


def test_allocate_is_exact_and_proportional() -> None:
    names = allocate(10, (("a", 1.0), ("b", 1.0), ("c", 2.0)))
    assert Counter(names) == {"a": 2, "b": 3, "c": 5} or Counter(names) == {"a": 3, "b": 2, "c": 5}
    assert len(allocate(7, (("a", 1.0), ("b", 3.0)))) == 7
    assert sum(plan_counts(1000, get_profile("study"))) == 1000


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_dataset(tmp_path, 5, seed=1, profile=TINY, progress=False)


def test_source_folder(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        smooth = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 3)
        cv2.imwrite(str(photos / f"p{k}.png"), cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX))
    truth = make_dataset(tmp_path / "out", 12, seed=1, profile=TINY, source=photos, progress=False, jobs=1)
    assert truth.sources == ["p0.png", "p1.png"]
    assert {e.source for e in truth.images if e.role == "original"} <= {"p0.png", "p1.png"}


def test_ensure_demo_builds_once_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    import dupbench.datasets as datasets

    real = datasets.make_dataset

    def tiny_make(out, n_images, seed, profile, progress=True):
        calls.append((n_images, seed, profile))
        return real(out, 12, seed, TINY, progress=False, jobs=1)

    monkeypatch.setattr(datasets, "make_dataset", tiny_make)
    first = ensure_demo(tmp_path)
    second = ensure_demo(tmp_path)
    assert first == second == tmp_path / "demo-v1"
    assert (first / FILENAME).is_file()
    assert calls == [(datasets.DEMO_IMAGES, datasets.DEMO_SEED, "demo")]
    assert [p.name for p in tmp_path.iterdir()] == ["demo-v1"]


def test_originals_do_not_repeat_regions(dataset: Path) -> None:
    truth = read_ground_truth(dataset)
    regions = [(e.source, e.region, e.flip) for e in truth.images if e.role == "original"]
    assert all(a != b for a, b in combinations(regions, 2))


def test_cli_make_and_profiles(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dupbench.cli import main

    assert (
        main(
            ["dataset", "make", str(tmp_path / "cli"), "--images", "10", "--seed", "2", "--profile", "demo", "--long-side", "96-128", "--jobs", "1", "--quiet"]
        )
        == 0
    )
    truth = read_ground_truth(tmp_path / "cli")
    assert truth.n_images == 10 and truth.settings["long_side"] == [96, 128]
    assert main(["dataset", "profiles"]) == 0
    assert "study" in capsys.readouterr().out
