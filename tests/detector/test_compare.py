import numpy as np
import pytest
from planted import PHOTOS, photo

from dupbench.detector.compare import exact_edges, near_pairs, score_tile
from dupbench.detector.features import ImageFeatures, thumbnail
from dupbench.detector.ssim import match_one_to_many, ssim_terms
from dupbench.detector.tiles import triangle_tiles
from dupbench.execution.serial import SerialExecutor


def feature(path, file_digest, pixel_digest):
    return ImageFeatures(path, 1, 1, 1, file_digest, pixel_digest, np.zeros((8, 8), np.uint8))


def test_exact_edges_group_by_bytes_then_pixels():
    items = [feature("a", b"1", b"p"), feature("b", b"1", b"p"), feature("c", b"2", b"p"), feature("d", b"3", b"q")]
    assert exact_edges(items) == [(0, 1, "bytes"), (0, 1, "pixels"), (0, 2, "pixels")]


@pytest.mark.parametrize("n, block", [(1, 4), (7, 3), (64, 64), (65, 8)])
def test_triangle_tiles_cover_each_pair_once(n, block):
    seen = []
    for r0, r1, c0, c1 in triangle_tiles(n, block):
        seen += [(i, j) for i in range(r0, r1) for j in range(max(c0, i + 1), c1)]
    assert sorted(seen) == [(i, j) for i in range(n) for j in range(i + 1, n)]
    assert len(seen) == len(set(seen))


@pytest.fixture(scope="module")
def thumbs():
    rng = np.random.default_rng(5)
    base = np.stack([thumbnail(photo(name), 64) for name in PHOTOS])
    copies = np.clip(base[:4] + rng.normal(0, 6, base[:4].shape), 0, 255).astype(np.uint8)
    return np.concatenate([base, copies])


def test_tile_scores_match_the_full_matrix(thumbs):
    terms = ssim_terms(thumbs)
    full = np.stack([match_one_to_many(terms.take(slice(i, i + 1)), terms) for i in range(len(thumbs))])
    left, right, scores, compared, _ = score_tile(thumbs, (0, 5, 3, 12), threshold=-1.0)
    assert compared == len(left) == sum(1 for i in range(5) for j in range(max(3, i + 1), 12))
    np.testing.assert_allclose(scores, full[left, right], atol=1e-5)


def test_pruned_finds_what_all_pairs_finds_on_planted_copies(thumbs):
    results = {strategy: near_pairs(thumbs, lambda a: a, strategy, 0.7, SerialExecutor(), block=5) for strategy in ("all", "pruned")}
    found = {s: set(zip(r.left.tolist(), r.right.tolist())) for s, r in results.items()}
    assert found["all"] == {(i, i + len(PHOTOS)) for i in range(4)}
    assert found["pruned"] == found["all"]
    assert results["pruned"].compared < results["all"].compared == len(thumbs) * (len(thumbs) - 1) // 2


@pytest.fixture(scope="module")
def study_set(tmp_path_factory):
    from dupbench.datasets import get_profile, make_dataset

    root = tmp_path_factory.mktemp("study") / "set"
    make_dataset(root, 240, seed=5, profile=get_profile("study").with_long_side(160, 320), progress=False, jobs=1)
    return root


def test_pruned_keeps_at_least_99_percent_of_all_pairs_on_generated_data(study_set):
    """The issue's bound: the prefilter may lose at most 1% of the near pairs `--pairs all` finds."""
    from dupbench.config import DetectorConfig
    from dupbench.detector.load import load_features

    paths = sorted(str(p) for p in study_set.rglob("*") if p.suffix.lower() in DetectorConfig().extensions)
    thumbs = np.stack([load_features(p, DetectorConfig()).thumb for p in paths])
    found = {}
    for strategy in ("all", "pruned"):
        result = near_pairs(thumbs, lambda a: a, strategy, DetectorConfig().threshold, SerialExecutor(), radius=DetectorConfig().prefilter_radius)
        found[strategy] = set(zip(result.left.tolist(), result.right.tolist()))
    assert len(found["all"]) > 50
    assert found["pruned"] <= found["all"]
    assert len(found["pruned"]) >= 0.99 * len(found["all"])


def test_row_blocks_of_any_size_give_the_row_by_row_scores():
    """score_tile scores several rows per call; the pairs, their order and scores must not depend on it."""
    rng = np.random.default_rng(2)
    thumbs = rng.integers(0, 256, (23, 32, 32), dtype=np.uint8)
    thumbs[7] = thumbs[3]  # some pairs above any threshold
    for tile in [(0, 23, 0, 23), (0, 10, 10, 23), (5, 17, 5, 17)]:
        reference = score_tile(thumbs, tile, -1.0, rows_per_call=1)
        for rows in (2, 3, 8, 64):
            got = score_tile(thumbs, tile, -1.0, rows_per_call=rows)
            assert got[3] == reference[3]
            for a, b in zip(got[:3], reference[:3]):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
