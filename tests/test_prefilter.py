import numpy as np

from dupbench.features import thumbnail
from dupbench.prefilter import candidate_pairs, signatures

from planted import PHOTOS, photo


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


def test_neighbour_cap_keeps_the_closest_pairs_and_every_pair_of_a_small_set():
    rng = np.random.default_rng(5)
    sig = rng.normal(size=(300, 8)).astype(np.float32)
    radius = 3.0
    dist = np.linalg.norm(sig[:, None] - sig[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    capped, uncapped = candidate_pairs(sig[:20], radius, neighbours=19), candidate_pairs(sig[:20], radius)
    assert all(np.array_equal(a, b) for a, b in zip(capped, uncapped))  # a cap of n - 1 is no cap
    for k in (1, 4):
        left, right = candidate_pairs(sig, radius, neighbours=k)
        nearest = np.argsort(dist, axis=1)[:, :k]
        expected = {(min(i, j), max(i, j)) for i in range(len(sig)) for j in nearest[i] if dist[i, j] <= radius}
        assert set(zip(left.tolist(), right.tolist())) == expected
        assert list(zip(left, right)) == sorted(zip(left, right)) and np.all(left < right)


def test_neighbour_cap_makes_candidates_linear_in_a_dense_set():
    rng = np.random.default_rng(6)
    counts = []
    for n in (500, 2000):
        sig = rng.normal(size=(n, 4)).astype(np.float32)
        counts.append((len(candidate_pairs(sig, 2.0)[0]), len(candidate_pairs(sig, 2.0, neighbours=8)[0])))
    (uncapped_small, capped_small), (uncapped_big, capped_big) = counts
    assert uncapped_big / uncapped_small > 12  # a fixed radius: ~n^2 (16x for 4x the images)
    assert capped_big / capped_small < 4.5 and capped_big <= 2000 * 8
