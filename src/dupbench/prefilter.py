"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes its 63 lowest-frequency DCT coefficients (8x8 without DC, so brightness does
not move it), divided by their norm so a contrast change does not either. The norm is floored at a
standard deviation of a few grey levels: a low-contrast image is not blown up to full contrast, where
a small logo or caption would swing its direction (measured on the study set, such copies fell out of
reach with plain normalisation). Candidates are all pairs within `radius`, found exactly by blocked
matrix products (|a - b|^2 = |a|^2 + |b|^2 - 2 a.b, one BLAS call per tile of 2,048 x 2,048 signatures).
That is n^2/2 distance evaluations, but each costs about a nanosecond; a k-d tree, which this replaced,
degenerates towards brute force in 63 dimensions and was 3-4x slower at 10,000-100,000 images (measured
by benchmarks/scale.py: 101 s vs ~25 s at 100,000). Pairs the signature puts far apart are never
compared, which is where the pruned strategy can lose a near duplicate that `--pairs all` finds; the
radius is set from that measurement (README, "Accuracy").
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


def candidate_pairs(sig: np.ndarray, radius: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j with ||sig_i - sig_j|| <= radius, as two int64 arrays sorted by (i, j).

    Tiles of the upper triangle only; a tile's temporaries are block^2 float32 (16 MB at 2,048), so memory
    stays flat however many images there are. Float32 distances of unit-scale vectors are exact to ~1e-6,
    far below any meaningful radius.
    """
    empty = np.empty(0, dtype=np.int64)
    n = len(sig)
    if n < 2:
        return empty, empty
    sig = np.ascontiguousarray(sig, dtype=np.float32)
    norms = np.einsum("ij,ij->i", sig, sig)
    limit = np.float32(radius * radius)
    lefts, rights = [], []
    for r0 in range(0, n, block):
        rows = sig[r0 : r0 + block]
        for c0 in range(r0, n, block):
            d2 = rows @ sig[c0 : c0 + block].T
            d2 *= -2
            d2 += norms[r0 : r0 + block, None]
            d2 += norms[None, c0 : c0 + block]
            i, j = np.nonzero(d2 <= limit)
            i += r0
            j += c0
            upper = i < j
            lefts.append(i[upper])
            rights.append(j[upper])
    left, right = np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)
    order = np.lexsort((right, left))
    return left[order], right[order]
