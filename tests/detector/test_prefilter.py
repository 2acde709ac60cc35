import cv2
import numpy as np
import pytest
from planted import PHOTOS, photo

from dupbench.config import EXACT_CANDIDATES_UP_TO, DetectorConfig, ExecutionConfig
from dupbench.detector import compare
from dupbench.detector.compare import oriented_candidates, score_candidates
from dupbench.detector.features import thumbnail
from dupbench.detector.pipeline import find_duplicates
from dupbench.detector.prefilter import candidate_pairs, cap_candidates, index_candidates, merge_candidates, signatures, train_centroids, uses_index
from dupbench.execution import make_executor
from dupbench.execution.serial import SerialExecutor


def test_signature_ignores_brightness_and_contrast():
    thumb = thumbnail(photo("astronaut"), 32).astype(np.float64)
    changed = np.clip(thumb * 0.8 + 20, 0, 255).astype(np.uint8)
    sig = signatures(np.stack([thumb.astype(np.uint8), changed]))
    assert np.linalg.norm(sig[0] - sig[1]) < 0.05
    assert np.allclose(np.linalg.norm(sig, axis=1), 1.0, atol=1e-5)


def test_low_contrast_signatures_are_not_scaled_up():
    rng = np.random.default_rng(0)
    faint = (128 + rng.normal(0, 2, (1, 32, 32))).astype(np.uint8)
    assert np.linalg.norm(signatures(faint)) < 0.5


def test_flat_thumbnail_gets_a_zero_signature():
    assert np.abs(signatures(np.full((1, 32, 32), 90, np.uint8))).max() < 1e-3


def test_candidates_equal_brute_force_within_radius():
    rng = np.random.default_rng(3)
    base = np.stack([thumbnail(photo(name), 64) for name in PHOTOS])
    noisy = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    sig = signatures(np.concatenate([base, noisy, rng.integers(0, 256, (20, 64, 64), dtype=np.uint8)]))
    for radius in (0.3, 0.6, 1.0):
        left, right = candidate_pairs(sig, radius)
        dist = np.linalg.norm(sig[:, None] - sig[None], axis=2)
        i, j = np.nonzero(np.triu(dist <= radius, k=1))
        assert list(zip(left, right)) == list(zip(i, j))


def test_tiles_give_the_same_pairs_whatever_the_block():
    rng = np.random.default_rng(4)
    sig = rng.normal(size=(500, 6)).astype(np.float32)
    reference = candidate_pairs(sig, 2.5, block=10_000)
    for block in (1, 7, 64, 499):
        left, right = candidate_pairs(sig, 2.5, block=block)
        assert np.array_equal(left, reference[0]) and np.array_equal(right, reference[1])
    assert len(reference[0]) > 100


# The approximate index (candidates="index").


def smooth_fields_with_copies(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random 32 px fields, a fifth of them copies of another blended with a third field by up to
    a half, so the copies' signature distances spread over the whole radius."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 6, 6), dtype=np.float32) * 255
    thumbs = np.stack([cv2.resize(c, (32, 32), interpolation=cv2.INTER_CUBIC) for c in coarse])
    copies = rng.choice(n, n // 5, replace=False)
    sources, others = rng.integers(0, n, len(copies)), rng.integers(0, n, len(copies))
    blend = rng.uniform(0, 0.5, len(copies))[:, None, None].astype(np.float32)
    thumbs[copies] = (1 - blend) * thumbs[sources] + blend * thumbs[others] + rng.normal(0, 4, (len(copies), 32, 32)).astype(np.float32)
    return np.clip(np.rint(thumbs), 0, 255).astype(np.uint8)


SMALL_CELLS = {"cell_size": 64, "probes": 12}  # ~90 cells, an eighth probed (as at 100,000 images): far from a full scan


def index_pairs(sig: np.ndarray, radius: float = 0.9, executor=None, turned=(), **settings) -> tuple[np.ndarray, np.ndarray]:
    share, map_ = (lambda a: a, map) if executor is None else (executor.share, executor.map)
    return merge_candidates(index_candidates(sig, share, map_, radius, turned, **{**SMALL_CELLS, **settings}))


def test_index_keeps_nearly_every_exact_pair_and_no_others():
    thumbs = smooth_fields_with_copies(6000)
    sig = signatures(thumbs)
    exact = candidate_pairs(sig, 0.9)
    found = index_pairs(sig)
    exact_keys, found_keys = exact[0] * len(sig) + exact[1], found[0] * len(sig) + found[1]
    assert np.isin(found_keys, exact_keys).all()  # every pair is within the radius: distances are exact
    hit = np.isin(exact_keys, found_keys)
    distance = np.linalg.norm(sig[exact[0]] - sig[exact[1]], axis=1)
    assert ((distance > 0.3) & (distance < 0.8)).sum() > 500 and (distance > 0.8).sum() > 1000  # the set spans the radius
    assert hit[distance < 0.5].all()
    assert hit.mean() >= 0.93
    near_left, near_right, *_ = score_candidates(thumbs, exact, DetectorConfig().threshold)
    assert len(near_left) > 500 and np.isin(near_left * len(sig) + near_right, found_keys).mean() >= 0.99


def test_fewer_probes_lose_pairs_near_the_radius_first():
    sig = signatures(smooth_fields_with_copies(6000, seed=1))
    exact = candidate_pairs(sig, 0.9)
    found = index_pairs(sig, probes=2)
    hit = np.isin(exact[0] * len(sig) + exact[1], found[0] * len(sig) + found[1])
    distance = np.linalg.norm(sig[exact[0]] - sig[exact[1]], axis=1)
    assert hit.mean() < 0.8  # two probes of ~90 cells miss pairs: the recall test above can fail
    assert hit[distance < 0.3].mean() > hit[distance > 0.8].mean()


def test_index_is_deterministic_and_seeded():
    sig = signatures(smooth_fields_with_copies(3000, seed=2))
    first, second = index_pairs(sig), index_pairs(sig)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert np.array_equal(train_centroids(sig, 40), train_centroids(sig, 40))
    assert not np.array_equal(train_centroids(sig, 40, seed=1), train_centroids(sig, 40, seed=2))


def test_index_gives_the_same_candidates_in_every_mode(mode):
    thumbs = smooth_fields_with_copies(3000, seed=3)
    sig = signatures(thumbs)
    turned = [signatures(np.ascontiguousarray(np.rot90(thumbs, 1, axes=(1, 2))))]
    reference = index_pairs(sig, turned=turned)
    with make_executor(ExecutionConfig(mode=mode, workers=2)) as executor:
        found = index_pairs(sig, executor=executor, turned=turned)
        default = oriented_candidates(thumbs, executor.share, executor, 0.9, 1, "index")
    assert np.array_equal(found[0], reference[0]) and np.array_equal(found[1], reference[1])
    assert np.array_equal(default[0], merge_candidates(index_candidates(sig, lambda a: a, map, 0.9))[0])
    assert len(reference[0]) > 1000


def test_turned_copies_are_found_by_the_index():
    thumbs = smooth_fields_with_copies(2000, seed=4)
    turned_copy = np.rot90(thumbs[:50], 1, axes=(1, 2))
    both = np.concatenate([thumbs, turned_copy])
    candidates = oriented_candidates(both, lambda a: a, SerialExecutor(), 0.9, 4, "index")
    keys = set(zip(candidates[0].tolist(), candidates[1].tolist()))
    assert all((i, 2000 + i) in keys for i in range(50))


def test_merge_candidates_sorts_and_drops_repeats():
    parts = [(np.array([3, 1, 1]), np.array([4, 2, 5])), (np.array([1, 0]), np.array([2, 9]))]
    left, right = merge_candidates(parts)
    assert list(zip(left.tolist(), right.tolist())) == [(0, 9), (1, 2), (1, 5), (3, 4)]


def test_auto_scans_exactly_up_to_its_limit_and_indexes_above():
    assert not uses_index("auto", EXACT_CANDIDATES_UP_TO) and uses_index("auto", EXACT_CANDIDATES_UP_TO + 1)
    assert uses_index("index", 10) and not uses_index("exact", 10**7)
    with pytest.raises(ValueError, match="candidates"):
        DetectorConfig(candidates="approximate")  # type: ignore[arg-type]


def test_index_tasks_return_each_pair_once():
    sig = signatures(smooth_fields_with_copies(3000, seed=5))
    parts = index_candidates(sig, lambda a: a, map, 0.9, **SMALL_CELLS)
    raw = sum(len(p[0]) for p in parts)
    assert raw > 1000 and raw == len(merge_candidates(parts)[0])


def test_the_index_reaches_the_pipeline_and_finds_the_planted_groups(planted_folder, monkeypatch):
    root, expected = planted_folder
    calls = []
    monkeypatch.setattr(compare, "index_candidates", lambda *args, **kwargs: calls.append(1) or index_candidates(*args, **kwargs))
    report = find_duplicates([str(root)], DetectorConfig(candidates="index"), ExecutionConfig(mode="process", workers=2, start_method="fork"))
    assert calls == [1]  # the pipeline's candidates came from the index
    assert report.group_sets() == {frozenset(g) for g in expected}


# The per-image cap on the index's candidates (DetectorConfig.candidate_cap).


def brute_force_cap(sig: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], k: int) -> set[tuple[int, int]]:
    """Pairs within k-th nearest of either end, image by image in plain Python."""
    distance = {(a, b): float(np.sum((sig[a] - sig[b]) ** 2, dtype=np.float32)) for a, b in zip(pairs[0].tolist(), pairs[1].tolist())}
    mine: dict[int, list[float]] = {}
    for (a, b), d in distance.items():
        mine.setdefault(a, []).append(d)
        mine.setdefault(b, []).append(d)
    kth = {i: sorted(ds)[k - 1] if len(ds) >= k else np.inf for i, ds in mine.items()}
    return {(a, b) for (a, b), d in distance.items() if d <= kth[a] or d <= kth[b]}


def test_cap_keeps_the_pairs_among_either_images_k_nearest():
    sig = signatures(smooth_fields_with_copies(500, seed=6))
    pairs = candidate_pairs(sig, 1.3)  # a wide radius: many candidates per image
    for k in (1, 3, 10):
        left, right = cap_candidates(sig, pairs, k)
        found = list(zip(left.tolist(), right.tolist()))
        assert found == sorted(found) and set(found) == brute_force_cap(sig, pairs, k)
        assert len(found) < len(pairs[0])
    assert len(pairs[0]) > 10 * len(sig)


def test_no_cap_or_a_cap_above_every_count_keeps_every_pair():
    sig = signatures(smooth_fields_with_copies(800, seed=7))
    pairs = candidate_pairs(sig, 1.3)
    most = int(np.bincount(np.concatenate(pairs)).max())
    for k in (0, most):
        left, right = cap_candidates(sig, pairs, k)
        assert np.array_equal(left, pairs[0]) and np.array_equal(right, pairs[1])


def test_cap_keeps_near_copies_and_drops_far_candidates():
    thumbs = smooth_fields_with_copies(3000, seed=8)
    sig = signatures(thumbs)
    exact = candidate_pairs(sig, 1.1)  # a wide radius: ~30 candidates per image, most of them no copy
    capped = cap_candidates(sig, exact, 4)
    near = score_candidates(thumbs, exact, DetectorConfig().threshold)
    near_keys, capped_keys = near[0] * len(sig) + near[1], capped[0] * len(sig) + capped[1]
    assert np.isin(near_keys, capped_keys).mean() >= 0.99
    assert len(capped[0]) < len(exact[0]) / 2


def test_cap_ranks_turned_pairs_by_their_turned_distance():
    thumbs = smooth_fields_with_copies(2000, seed=4)
    both = np.concatenate([thumbs, np.rot90(thumbs[:50], 1, axes=(1, 2))])
    candidates = oriented_candidates(both, lambda a: a, SerialExecutor(), 0.9, 4, "index", cap=2)
    keys = set(zip(candidates[0].tolist(), candidates[1].tolist()))
    assert all((i, 2000 + i) in keys for i in range(50))
    assert len(keys) < len(oriented_candidates(both, lambda a: a, SerialExecutor(), 0.9, 4, "index")[0])


def test_cap_gives_the_same_candidates_in_every_mode(mode):
    thumbs = smooth_fields_with_copies(3000, seed=3)
    reference = oriented_candidates(thumbs, lambda a: a, SerialExecutor(), 0.9, 4, "index", cap=4)
    with make_executor(ExecutionConfig(mode=mode, workers=2)) as executor:
        found = oriented_candidates(thumbs, executor.share, executor, 0.9, 4, "index", cap=4)
    assert np.array_equal(found[0], reference[0]) and np.array_equal(found[1], reference[1])


def test_cap_leaves_the_exact_scan_below_the_auto_threshold_unchanged():
    thumbs = smooth_fields_with_copies(2000, seed=9)
    before = candidate_pairs(signatures(thumbs), 0.9)
    for cap in (0, 1, DetectorConfig().candidate_cap):
        for search in ("auto", "exact"):
            left, right = oriented_candidates(thumbs, lambda a: a, SerialExecutor(), 0.9, 1, search, cap)
            assert np.array_equal(left, before[0]) and np.array_equal(right, before[1])
    with pytest.raises(ValueError, match="candidate_cap"):
        DetectorConfig(candidate_cap=-1)
