import numpy as np
from planted import PHOTOS, photo

from dupbench.detector.features import thumbnail
from dupbench.detector.prefilter import candidate_pairs, signatures


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
