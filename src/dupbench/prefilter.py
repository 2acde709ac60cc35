"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes its 63 lowest-frequency DCT coefficients (8x8 without DC, so brightness does
not move it), divided by their norm so a contrast change does not either. The norm is floored at a
standard deviation of a few grey levels: a low-contrast image is not blown up to full contrast, where
a small logo or caption would swing its direction (measured on the study set, such copies fell out of
reach with plain normalisation). Candidates are all pairs within `radius`, found exactly with a k-d
tree: the work grows with the number of close pairs, not with n^2. Pairs the signature puts far apart
are never compared, which is where the pruned strategy can lose a near duplicate that `--pairs all`
finds; the radius is set from that measurement (README, "Accuracy").
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


def candidate_pairs(sig: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j with ||sig_i - sig_j|| <= radius, as two int64 arrays sorted by (i, j)."""
    from scipy.spatial import cKDTree  # imported here: workers never need it, and it costs ~0.3 s

    empty = np.empty(0, dtype=np.int64)
    if len(sig) < 2:
        return empty, empty
    pairs = cKDTree(sig).query_pairs(radius, output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        return empty, empty
    left, right = pairs.min(axis=1), pairs.max(axis=1)
    order = np.lexsort((right, left))
    return left[order], right[order]
