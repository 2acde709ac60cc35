"""Candidate pruning before SSIM: a cheap, vectorised signature and a metric index.

Each thumbnail becomes its 63 lowest-frequency DCT coefficients (8x8 without DC, so brightness does
not move it), divided by their norm so a contrast change does not either. The norm is floored at a
standard deviation of a few grey levels: a low-contrast image is not blown up to full contrast, where
a small logo or caption would swing its direction (measured on the study set, such copies fell out of
reach with plain normalisation). Candidates are pairs within `radius`, found either exactly by blocked
matrix products (|a - b|^2 = |a|^2 + |b|^2 - 2 a.b, one BLAS call per tile of 2,048 x 2,048 signatures),
the tiles run in the executor like the SSIM tiles. That is n^2/2 distance evaluations, but each costs
about a nanosecond; a k-d tree, which this replaced, degenerates towards brute force in 63 dimensions
and was 4x slower, in the parent alone (benchmarks/scale.py, serial: 101 s vs 25.7 s at 100,000 images);
or by an inverted file over seeded k-means cells (`index_candidates`), which compares each image only
with the images of its PROBES nearest cells, so its work grows linearly and it can miss pairs near the
radius (DetectorConfig.candidates chooses; benchmarks/scale.py measures both). Pairs the signature puts far apart are never
compared, which is where the pruned strategy can lose a near duplicate that `--pairs all` finds; the
radius is set from that measurement (README, "Accuracy").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import Any

import numpy as np

from dupbench.config import EXACT_CANDIDATES_UP_TO
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
    """The parts' pairs as two int64 arrays sorted by (i, j), each pair once (a pair of turned images can
    be found from both ends). Empties `parts` as it goes: at a million images the candidate pairs are
    most of the stage's memory, and this way they are held about twice at the peak, not four times."""
    total = sum(len(p[0]) for p in parts)
    if not total:
        parts.clear()
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    span = np.int64(1 + max(int(p[1].max()) for p in parts if len(p[1])))
    keys = np.empty(total, np.int64)
    at = 0
    while parts:
        left, right = parts.pop()
        keys[at : at + len(left)] = left
        keys[at : at + len(left)] *= span
        keys[at : at + len(left)] += right
        at += len(left)
    keys.sort()
    repeated = keys[1:] == keys[:-1]
    if repeated.any():
        keys = keys[np.r_[True, ~repeated]]
    del repeated
    left = keys // span
    keys -= left * span
    return left, keys


def candidate_pairs(sig: np.ndarray, radius: float, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j with ||sig_i - sig_j|| <= radius, sorted by (i, j), in this thread (the detector
    maps `tile_candidates` over `tiles.triangle_tiles` in its executor instead)."""
    return merge_candidates([tile_candidates(sig, tile, radius) for tile in triangle_tiles(len(sig), block)])


# The approximate index (`candidates="index"`): an inverted file over k-means cells, probed several deep.
CLUSTER_SIZE = 512  # signatures per k-means cell on average: the cells grow in number with n, so work per image stays flat
PROBES = 24  # cells each signature is compared against: its nearest centroids
TRAIN_PER_CLUSTER = 32  # training sample per centroid (k-means converges on a sample; the whole set adds nothing)
KMEANS_ITERATIONS = 8
INDEX_SEED = 20251201
ASSIGN_CHUNK = 8192  # rows per assignment task, fixed so every mode computes the same products
CELLS_PER_TASK = 16


def uses_index(candidates: str, n: int) -> bool:
    """Whether `candidates` ("exact", "index" or "auto") means the index for n signatures."""
    return candidates == "index" or (candidates == "auto" and n > EXACT_CANDIDATES_UP_TO)


def squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows), len(cols)) float32 squared distances, one BLAS product."""
    d2 = rows @ cols.T
    d2 *= -2
    d2 += np.einsum("ij,ij->i", rows, rows)[:, None]
    d2 += np.einsum("ij,ij->i", cols, cols)[None, :]
    return d2


def train_centroids(sig: np.ndarray, clusters: int, seed: int = INDEX_SEED, iterations: int = KMEANS_ITERATIONS) -> np.ndarray:
    """(clusters, d) k-means centroids of a seeded sample of `sig`: the same signatures give the same cells.

    Serial in the caller: on a sample of TRAIN_PER_CLUSTER per cell it is a small share of the index's
    work, and one process computing it is what makes it identical in every execution mode.
    """
    rng = np.random.default_rng(seed)
    size = min(len(sig), clusters * TRAIN_PER_CLUSTER)
    sample = np.asarray(sig[np.sort(rng.choice(len(sig), size, replace=False))], np.float32)
    centroids = sample[rng.choice(size, clusters, replace=False)].copy()
    for _ in range(iterations):
        labels = np.concatenate([squared_distances(sample[s : s + ASSIGN_CHUNK], centroids).argmin(axis=1) for s in range(0, size, ASSIGN_CHUNK)])
        counts = np.bincount(labels, minlength=clusters)
        sums = np.stack([np.bincount(labels, weights=sample[:, d], minlength=clusters) for d in range(sample.shape[1])], axis=1)
        filled = counts > 0  # an emptied cell keeps its centroid
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return centroids


def nearest_cells(sig: np.ndarray, centroids: np.ndarray, rows: tuple[int, int], probes: int = PROBES) -> np.ndarray:
    """(r1 - r0, probes) int32: each signature's own cell (nearest centroid), then the cells whose border
    with it is nearest; a task for `executor.map`.

    A cell j can hold a point within r of q, whose own cell is i, only if q is within r of the bisecting
    plane of centroids i and j, at (|q - c_j|^2 - |q - c_i|^2) / (2 |c_i - c_j|). Ranking cells by that
    (as multi-probe inverted files do) rather than by centroid distance reaches the far pairs of a
    big radius with fewer probes: a big cell's centroid can be far while its border is near.
    """
    d2 = squared_distances(np.asarray(sig[rows[0] : rows[1]], np.float32), centroids)
    probes = min(probes, len(centroids))
    own = d2.argmin(axis=1)
    gaps = np.sqrt(np.maximum(squared_distances(centroids, centroids), 0))[own]
    border = (d2 - d2[np.arange(len(d2)), own][:, None]) / np.maximum(2 * gaps, 1e-12)
    border[np.arange(len(d2)), own] = -1  # its own cell first
    top = np.argpartition(border, probes - 1, axis=1)[:, :probes]
    order = np.argsort(np.take_along_axis(border, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int32)


def inverted_lists(cells: np.ndarray, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Members of each cell, cell by cell (int32), and where each cell's run starts (clusters + 1 offsets)."""
    flat = cells.ravel()
    members = (np.argsort(flat, kind="stable") // cells.shape[1]).astype(np.int32)
    offsets = np.zeros(clusters + 1, np.int64)
    np.cumsum(np.bincount(flat, minlength=clusters), out=offsets[1:])
    return members, offsets


def cell_count(n: int, size: int = CLUSTER_SIZE, probes: int = PROBES) -> int:
    """Cells for n signatures: about `size` each, and never fewer than `probes` (all probed: the exact scan)."""
    return max(1, min(n, max(probes, round(n / size))))


def cell_candidates(
    query: np.ndarray,
    base: np.ndarray,
    visitors: tuple[np.ndarray, np.ndarray],
    homes: tuple[np.ndarray, np.ndarray],
    cells: tuple[int, int],
    radius: float,
    probed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (min, max) of distinct a, b within `radius` (query_a to base_b), b living in one of `cells` and a
    probing it; a task for `executor.map`. `visitors` and `homes` are (members, offsets) of `inverted_lists`.

    Given `probed` (the (n, probes) cells of every signature, its own first: query and base are the same
    signatures), a pair that is also found from its other end, because b probes a's cell too, is kept
    only where the smaller index is the one living there, so no pair leaves a task twice. The pairs are
    int32 (n < 2^31): half the memory while the parts wait to be merged.
    """
    limit = np.float32(radius * radius)
    (visiting, visit_at), (living, live_at) = visitors, homes
    lefts, rights = [], []
    for cell in range(*cells):
        home = np.asarray(living[live_at[cell] : live_at[cell + 1]])
        guests = np.asarray(visiting[visit_at[cell] : visit_at[cell + 1]])
        if not len(home) or not len(guests):
            continue
        cols = np.asarray(base[home], np.float32)
        for start in range(0, len(guests), BLOCK):
            rows = guests[start : start + BLOCK]
            i, j = np.nonzero(squared_distances(np.asarray(query[rows], np.float32), cols) <= limit)
            a, b = rows[i], home[j]
            keep = a != b
            if probed is not None:
                mirrored = (np.asarray(probed[b]) == np.asarray(probed[a, 0])[:, None]).any(axis=1)
                keep &= ~mirrored | (b < a)
            lefts.append(np.minimum(a, b)[keep])
            rights.append(np.maximum(a, b)[keep])
    if not lefts:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    return np.concatenate(lefts), np.concatenate(rights)


Mapper = Callable[..., Iterable[Any]]


def assign_cells(shared_sig: Any, centroids: np.ndarray, n: int, map_: Mapper, probes: int = PROBES) -> np.ndarray:
    """(n, probes) nearest cells of every signature, computed in the executor in fixed row chunks."""
    chunks = [(s, min(s + ASSIGN_CHUNK, n)) for s in range(0, n, ASSIGN_CHUNK)]
    return np.concatenate(list(map_(partial(nearest_cells, shared_sig, centroids, probes=probes), chunks)))


def index_candidates(
    sig: np.ndarray,
    share: Callable[[np.ndarray], Any],
    map_: Mapper,
    radius: float,
    turned: Iterable[np.ndarray] = (),
    cell_size: int = CLUSTER_SIZE,
    probes: int = PROBES,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs within `radius` that share a probed cell, as parts for `merge_candidates`; with `turned`
    (signatures of turned images), also pairs (i, j) with sig_i within `radius` of turned_j.

    Every image is compared with the images living in its PROBES nearest k-means cells instead of with all
    of them: work per image is PROBES x CLUSTER_SIZE whatever n. A pair is missed only when neither image
    has the other's cell among its nearest, which happens to pairs near the radius far more than to close
    ones (benchmarks/scale.py measures the share kept). Seeded training and fixed task boundaries make the
    cells, and so the pairs, the same in every mode.
    """
    n = len(sig)
    if n < 2:
        return []
    clusters = cell_count(n, cell_size, probes)
    centroids = train_centroids(sig, clusters)
    shared_sig = share(sig)
    cells = assign_cells(shared_sig, centroids, n, map_, probes)
    shared_cells = share(cells)
    homes = tuple(share(a) for a in inverted_lists(cells[:, :1], clusters))
    ranges = [(c, min(c + CELLS_PER_TASK, clusters)) for c in range(0, clusters, CELLS_PER_TASK)]
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for query in [None, *turned]:
        shared_query = shared_sig if query is None else share(query)
        query_cells = cells if query is None else assign_cells(shared_query, centroids, n, map_, probes)
        visitors = tuple(share(a) for a in inverted_lists(query_cells, clusters))
        task = partial(cell_candidates, shared_query, shared_sig, visitors, homes, radius=radius, probed=shared_cells if query is None else None)
        parts.extend(map_(task, ranges))
    return parts


CAP_CHUNK = 1 << 16  # pairs per distance chunk: a few (chunk, 63) float32 temporaries, 16 MB each


def pair_distances(sig: np.ndarray, left: np.ndarray, right: np.ndarray, turned: Iterable[np.ndarray] = ()) -> np.ndarray:
    """Float32 squared signature distance of each pair; with `turned` (signatures of turned images), the
    smallest over the pair as stored and either image turned, the distance that made it a candidate."""
    out = np.empty(len(left), np.float32)
    versions = list(turned)
    for start in range(0, len(left), CAP_CHUNK):
        a, b = left[start : start + CAP_CHUNK], right[start : start + CAP_CHUNK]
        rows, cols = np.asarray(sig[a], np.float32), np.asarray(sig[b], np.float32)
        best = np.einsum("ij,ij->i", rows - cols, rows - cols)
        for other in versions:
            for x, y in ((rows, np.asarray(other[b], np.float32)), (np.asarray(other[a], np.float32), cols)):
                np.minimum(best, np.einsum("ij,ij->i", x - y, x - y), out=best)
        out[start : start + len(a)] = best
    return out


def kth_nearest(left: np.ndarray, right: np.ndarray, distance: np.ndarray, n: int, k: int) -> np.ndarray:
    """(n,) float32: each image's k-th smallest distance over the pairs it is in, at either end (+inf with
    fewer than k).

    Non-negative float32 distances order like their bit patterns, so one int64 sort of (image, bits) ranks
    every image's candidates at once, without an argsort's index array.
    """
    m = len(left)
    keys = np.empty(2 * m, np.int64)
    keys[:m], keys[m:] = left, right
    keys <<= 32
    bits = distance.view(np.uint32)
    keys[:m] |= bits
    keys[m:] |= bits
    keys.sort()
    counts = np.bincount(left, minlength=n) + np.bincount(right, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, np.inf, np.float32)
    full = counts >= k
    out[full] = (keys[starts[full] + k - 1] & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return out


def cap_candidates(sig: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], k: int, turned: Iterable[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The pairs among either image's k nearest candidates, in the input's order (k < 1: all of them).

    A fixed radius admits more neighbours the denser the signatures are, so uncapped candidates grow
    faster than n and SSIM on them dominates a large run; capped they are at most 2 k n. A near
    duplicate is among an image's nearest candidates, so the cap costs recall only where an image
    has more than k candidates closer than its copy. Ties at the k-th distance are all kept, so the
    result depends on the distances alone, not on the order the pairs were found in.
    """
    left, right = pairs
    if k < 1 or not len(left):
        return left, right
    n = len(sig)
    distance = pair_distances(sig, left, right, turned)
    kth = kth_nearest(left, right, distance, n, k)
    keep = distance <= kth[left]
    keep |= distance <= kth[right]
    return left[keep], right[keep]
