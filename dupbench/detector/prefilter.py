"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes its 63 lowest-frequency DCT coefficients (8x8 without DC, so brightness does
not move it), divided by their norm so a contrast change does not either. The norm is floored at a
standard deviation of a few grey levels: a low-contrast image is not blown up to full contrast, where
a small logo or caption would swing its direction (measured on the study set, such copies fell out of
reach with plain normalisation). Candidates are all pairs within `radius`, found exactly by blocked
matrix products (|a - b|^2 = |a|^2 + |b|^2 - 2 a.b, one BLAS call per tile of 2,048 x 2,048 signatures),
the tiles run in the executor like the SSIM tiles. That is n^2/2 distance evaluations, but each costs
about a nanosecond; a k-d tree, which this replaced, degenerates towards brute force in 63 dimensions
and was 4x slower, in the parent alone (benchmarks/scale.py, serial: 101 s vs 25.7 s at 100,000 images). Pairs the signature puts far apart are never
compared, which is where the pruned strategy can lose a near duplicate that `--pairs all` finds; the
radius is set from that measurement (README, "Accuracy").
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dupbench.detector.tiles import Tile, triangle_tiles

COEFFS = 8
CONTRAST_FLOOR = 6.25  # grey levels of standard deviation below which signatures are not rescaled up
SIGNATURE_CHUNK = 8192


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
    order = zigzag_order()[1:]
    out = np.empty((len(thumbs), len(order)), np.float32)
    for start in range(0, len(thumbs), SIGNATURE_CHUNK):  # float copies of a chunk only, not of every thumbnail
        coeffs = basis @ np.asarray(thumbs[start : start + SIGNATURE_CHUNK], np.float32) @ basis.T
        flat = coeffs.reshape(len(coeffs), -1)[:, order]
        # An orthonormal DCT's AC norm is side x the standard deviation of the low-passed image.
        norms = np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), CONTRAST_FLOOR * side)
        out[start : start + len(flat)] = flat / norms
    return out


BLOCK = 2048


def tile_candidates(sig: np.ndarray, tile: Tile, radius: float, other: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs i < j of one tile with ||sig_i - sig_j|| <= radius (unsorted); a task for `executor.map`.
    Given `other` (the signatures of turned images), pairs i != j with ||sig_i - other_j|| <= radius.

    |a - b|^2 = |a|^2 + |b|^2 - 2 a.b with one BLAS product per tile; the temporaries are block^2
    float32 (16 MB at 2,048), so memory stays flat however many images there are. Float32 distances of
    unit-scale vectors are exact to ~1e-6, far below any meaningful radius.
    """
    r0, r1, c0, c1 = tile
    rows = np.asarray(sig[r0:r1], np.float32)
    cols = np.asarray((sig if other is None else other)[c0:c1], np.float32)
    d2 = rows @ cols.T
    d2 *= -2
    d2 += np.einsum("ij,ij->i", rows, rows)[:, None]
    d2 += np.einsum("ij,ij->i", cols, cols)[None, :]
    i, j = np.nonzero(d2 <= np.float32(radius * radius))
    i += r0
    j += c0
    keep = i < j if other is None else i != j
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def merge_candidates(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The tiles' pairs as two int64 arrays sorted by (i, j)."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    left, right = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    order = np.lexsort((right, left))
    return left[order], right[order]


def candidate_pairs(sig: np.ndarray, radius: float, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j with ||sig_i - sig_j|| <= radius, sorted by (i, j), in this thread (the detector
    maps `tile_candidates` over `tiles.triangle_tiles` in its executor instead)."""
    return merge_candidates([tile_candidates(sig, tile, radius) for tile in triangle_tiles(len(sig), block)])
