"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes the unit vector of its 8x8 lowest-frequency DCT coefficients without DC, so
brightness and contrast changes do not move it. Near duplicates (high SSIM) have nearby signatures.
Candidates are the pairs within `radius`: a k-d tree over the leading coefficients finds every pair
whose *projected* distance is within the radius (a superset, since projection onto orthonormal
coefficients can only shrink distances), and the full 63-dimensional distance then decides. The
work grows with the number of close pairs, not with n^2.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

COEFFS = 8
TREE_DIMS = 10


@lru_cache(maxsize=4)
def dct_basis(size: int, keep: int = COEFFS) -> np.ndarray:
    """The first `keep` rows of the orthonormal DCT-II matrix for length `size`."""
    n = np.arange(size)
    k = np.arange(keep)[:, None]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    basis[0] /= np.sqrt(2.0)
    return basis


def zigzag_order(k: int = COEFFS) -> np.ndarray:
    """Flat indices of a k x k block from low to high frequency, DC first."""
    cells = sorted(((i, j) for i in range(k) for j in range(k)), key=lambda c: (c[0] + c[1], c[0]))
    return np.array([i * k + j for i, j in cells])


def signatures(thumbs: np.ndarray) -> np.ndarray:
    """(n, 63) float32 unit vectors, columns in zigzag (low to high frequency) order."""
    if len(thumbs) == 0:
        return np.zeros((0, COEFFS * COEFFS - 1), np.float32)
    basis = dct_basis(thumbs.shape[1])
    coeffs = basis @ thumbs.astype(np.float32) @ basis.T
    flat = coeffs.reshape(len(thumbs), -1)[:, zigzag_order()[1:]]
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return np.divide(flat, norms, out=np.zeros_like(flat), where=norms > 1e-6).astype(np.float32)


def candidate_pairs(sig: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j with ||sig_i - sig_j|| <= radius, as two int64 arrays sorted by (i, j)."""
    from scipy.spatial import cKDTree  # imported here: workers never need it, and it costs ~0.3 s

    if len(sig) < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    tree = cKDTree(sig[:, :TREE_DIMS])
    pairs = tree.query_pairs(radius, output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    left, right = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    close = np.einsum("ij,ij->i", sig[left] - sig[right], sig[left] - sig[right]) <= radius * radius
    left, right = left[close], right[close]
    order = np.lexsort((right, left))
    return left[order], right[order]
