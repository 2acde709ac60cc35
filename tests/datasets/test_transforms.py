"""Each transformation is pure: same input and seed, same bytes; and it does what its label says."""

from __future__ import annotations

import numpy as np
import pytest

from dupbench.datasets.transforms import (
    COPY_TRANSFORMS,
    LOOKALIKE_NEGATIVES,
    StoredImage,
    decode,
    encode,
)


@pytest.fixture(scope="module")
def original() -> StoredImage:
    y, x = np.mgrid[0:90, 0:120]
    pixels = np.stack([x * 2, y * 2, (x + y)], axis=2).astype(np.uint8)
    data = encode(pixels, ".jpg", 90)
    return StoredImage(data, ".jpg", decode(data), 90)


@pytest.mark.parametrize("name", sorted(COPY_TRANSFORMS))
def test_copy_transform_is_deterministic_and_decodable(name: str, original: StoredImage) -> None:
    first = COPY_TRANSFORMS[name](original, np.random.default_rng(5), 1.0)
    second = COPY_TRANSFORMS[name](original, np.random.default_rng(5), 1.0)
    assert first == second or first.data == second.data
    assert decode(first.data) is not None


@pytest.mark.parametrize("name", ["reencode_png", "reencode_bmp", "reencode_tiff"])
def test_lossless_reencode_keeps_pixels(name: str, original: StoredImage) -> None:
    copy = COPY_TRANSFORMS[name](original, np.random.default_rng(0), 0.5)
    assert copy.data != original.data
    assert np.array_equal(decode(copy.data), original.pixels)


def test_small_crop_stays_within_five_percent(original: StoredImage) -> None:
    for seed in range(20):
        params = COPY_TRANSFORMS["small_crop"](original, np.random.default_rng(seed), 1.0).params
        assert max(params.values()) <= 0.05 and max(params.values()) >= 0.01


@pytest.mark.parametrize("name", sorted(LOOKALIKE_NEGATIVES))
def test_lookalikes_are_mostly_flat(name: str) -> None:
    pixels = LOOKALIKE_NEGATIVES[name](np.random.default_rng(1), 160, 120, 0.5)
    gray = pixels.mean(axis=2)
    assert np.mean(np.abs(gray - np.median(gray)) < 12) > 0.8
