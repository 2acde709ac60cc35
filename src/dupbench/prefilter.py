"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes its 63 lowest-frequency DCT coefficients (8x8 without DC, so brightness does
not move it), divided by their norm so a contrast change does not either. The norm is floored at a
standard deviation of a few grey levels: a low-contrast image is not blown up to full contrast, where
a small logo or caption would swing its direction (measured on the study set, such copies fell out of
reach with plain normalisation). Candidates are the pairs within `radius`, found with a k-d tree, and
at most `neighbours` nearest per image. The cap is what keeps the work near-linear: a fixed radius holds
a fixed share of all pairs wherever images are dense (look-alike skies, bursts, a synthetic set), so
without it candidates grow as n^2 (measured: 30,000 -> 100,000 images, 8.6 s -> 101 s, slope 2.0).
A pair is kept when either image is among the other's nearest, so a group of up to `neighbours` + 1
mutually close images is compared in full, and larger ones are linked through chains. Pairs the
signature puts far apart are never compared, which is where the pruned strategy can lose a near
duplicate that `--pairs all` finds; the radius and cap are set from that measurement (README, "Accuracy").
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

COEFFS = 8
CONTRAST_FLOOR = 6.25  # grey levels of standard deviation below which signatures are not rescaled up


@lru_cache(maxsize=4)
def dct_basis(size: int, keep: int = COEFFS) -> np.ndarray:
    """The first `keep` rows of the orthonormal DCT-II matrix for length `size`."""
    n = np.arange(size)
    k = np.arange(keep)[:, None]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def zigzag_order(k: int = COEFFS) -> np.ndarray:
    """Flat indices of a k x k block from low to high frequency, DC first."""
    cells = sorted(((i, j) for i in range(k) for j in range(k)), key=lambda c: (c[0] + c[1], c[0]))
    return np.array([i * k + j for i, j in cells])


def signatures(thumbs: np.ndarray) -> np.ndarray:
    """(n, 63) float32 signatures: low-frequency DCT without DC, contrast-normalised with a floor."""
    if len(thumbs) == 0:
        return np.zeros((0, COEFFS * COEFFS - 1), np.float32)
    side = thumbs.shape[1]
    basis = dct_basis(side)
    coeffs = basis @ thumbs.astype(np.float32) @ basis.T
    flat = coeffs.reshape(len(thumbs), -1)[:, zigzag_order()[1:]]
    # An orthonormal DCT's AC norm is side x the standard deviation of the low-passed image.
    norms = np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), CONTRAST_FLOOR * side)
    return (flat / norms).astype(np.float32)


def candidate_pairs(sig: np.ndarray, radius: float, neighbours: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j with ||sig_i - sig_j|| <= radius where j is among i's `neighbours` nearest or i among
    j's (every pair within the radius when `neighbours` is None), as two int64 arrays sorted by (i, j)."""
    from scipy.spatial import cKDTree  # imported here: workers never need it, and it costs ~0.3 s

    empty = np.empty(0, dtype=np.int64)
    n = len(sig)
    if n < 2:
        return empty, empty
    tree = cKDTree(sig)
    if neighbours is None or neighbours >= n - 1:
        pairs = tree.query_pairs(radius, output_type="ndarray").astype(np.int64)
        if len(pairs) == 0:
            return empty, empty
        left, right = pairs.min(axis=1), pairs.max(axis=1)
    else:
        # k + 1: each point finds itself too. Missing neighbours come back as index n (distance inf).
        _, found = tree.query(sig, k=neighbours + 1, distance_upper_bound=radius)
        rows = np.repeat(np.arange(n, dtype=np.int64), neighbours + 1)
        found = found.ravel().astype(np.int64)
        keep = (found < n) & (found != rows)
        a, b = rows[keep], found[keep]
        keys = np.unique(np.minimum(a, b) * n + np.maximum(a, b))  # each pair once, sorted by (i, j)
        left, right = keys // n, keys % n
        if len(left) == 0:
            return empty, empty
        return left, right
    order = np.lexsort((right, left))
    return left[order], right[order]
