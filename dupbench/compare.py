"""Stage 4, compare: exact matches by digest (O(n)), near matches by batched SSIM over pairs.

Pair work is cut into many more tasks than workers (tiles of the triangle for `--pairs all`, runs of
candidate pairs for `--pairs pruned`) so a pool balances itself: later rows of the triangle are
shorter. Each task computes the SSIM terms of the thumbnails it touches and returns only the pairs at
or above the threshold.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Sequence

import numpy as np

from dupbench.features import ImageFeatures
from dupbench.prefilter import merge_candidates, signature_tiles, signatures, tile_candidates
from dupbench.ssim import match_many_to_many, match_one_to_many, ssim_pairs, ssim_terms

Tile = tuple[int, int, int, int]
PairScores = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def candidates_per_task(n_candidates: int, workers: int, smallest: int = 256, largest: int = 4096) -> int:
    """About eight tasks per worker, each big enough to amortise computing its SSIM terms."""
    return max(smallest, min(largest, -(-n_candidates // (8 * max(1, workers)))))


def exact_edges(features: Sequence[ImageFeatures]) -> list[tuple[int, int, str]]:
    """Edges (first, other, match) linking files with equal bytes, then equal pixels (where taken)."""
    edges: list[tuple[int, int, str]] = []
    for key, match in (("file_digest", "bytes"), ("pixel_digest", "pixels")):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for index, item in enumerate(features):
            digest = getattr(item, key)
            if digest is not None:
                buckets[digest].append(index)
        for members in buckets.values():
            edges.extend((members[0], other, match) for other in members[1:])
    return edges


def pixel_candidates(features: Sequence[ImageFeatures], left: Sequence[int], right: Sequence[int]) -> list[int]:
    """Files that may hold exactly the same pixels as another: ends of a near pair with equal pixel counts.

    Pixel-identical files have (near-)identical thumbnails, so they always form a near pair; only
    those pairs need the full-resolution decode that the load stage skipped.
    """
    chosen = {i for a, b in zip(left, right) if features[a].pixels == features[b].pixels for i in (a, b)}
    return sorted(chosen)


ROWS_PER_CALL = 8  # rows of a tile scored per call: see ssim.ssim_block_map


def triangle_tiles(n: int, block: int) -> list[Tile]:
    """Tiles (r0, r1, c0, c1) covering every pair i < j once."""
    starts = range(0, n, block)
    return [(r, min(r + block, n), c, min(c + block, n)) for r in starts for c in starts if c >= r]


def _empty_scores() -> PairScores:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64), 0


def score_tile(thumbs: np.ndarray, tile: Tile, threshold: float, rows_per_call: int = ROWS_PER_CALL) -> PairScores:
    """Pairs i < j of one tile scoring at least `threshold`, `rows_per_call` rows against the tile's
    columns per call (on a diagonal tile the pairs with j <= i are scored too, then dropped)."""
    r0, r1, c0, c1 = tile
    rows, cols = ssim_terms(np.asarray(thumbs[r0:r1]), np.float32), ssim_terms(np.asarray(thumbs[c0:c1]), np.float32)
    lefts, rights, scores, compared = [], [], [], 0
    for start in range(r0, r1, rows_per_call):
        stop = min(start + rows_per_call, r1)
        first = max(c0, start + 1)  # the lowest column any row of this block pairs with
        if first >= c1:
            continue
        block = match_many_to_many(rows.take(slice(start - r0, stop - r0)), cols.take(slice(first - c0, c1 - c0)))
        i, j = np.meshgrid(np.arange(start, stop), np.arange(first, c1), indexing="ij")
        upper = j > i
        compared += int(upper.sum())
        hit = upper & (block >= threshold)
        lefts.append(i[hit])
        rights.append(j[hit])
        scores.append(block[hit])
    if not lefts:
        return _empty_scores()
    return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64), np.concatenate(scores), compared


def score_candidates(thumbs: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], threshold: float) -> PairScores:
    left, right = pairs
    involved, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    terms = ssim_terms(np.asarray(thumbs[involved]), np.float32)
    scores = ssim_pairs(terms, inverse[: len(left)], inverse[len(left) :], score=match_one_to_many)
    keep = scores >= threshold
    return left[keep], right[keep], scores[keep], len(left)


@dataclass
class NearPairs:
    """Pairs (indices into the compared thumbnails) with SSIM >= threshold."""

    left: np.ndarray
    right: np.ndarray
    scores: np.ndarray
    compared: int
    candidates: int


def _gather(results: Iterable[PairScores], on_done: Callable[[int], None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    parts = []
    for part in results:
        parts.append(part)
        on_done(part[3])
    if not parts:
        left, right, scores, _ = _empty_scores()
        return left, right, scores, 0
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        sum(p[3] for p in parts),
    )


def near_pairs(
    thumbs: np.ndarray,
    share: Callable[[np.ndarray], object],
    pairs: str,
    threshold: float,
    executor: Executor,
    block: int = 64,
    workers: int = 1,
    radius: float = 0.9,
    on_total: Callable[[int], None] = lambda total: None,
    on_done: Callable[[int], None] = lambda done: None,
) -> NearPairs:
    """Score pairs of `thumbs` in the executor. `share(array)` gives what tasks receive instead of an array
    (the array itself, a SharedArray for process workers, a scattered reference on Dask)."""
    n = len(thumbs)
    shared_thumbs = share(thumbs)
    if pairs == "all":
        total = n * (n - 1) // 2
        on_total(total)
        task = partial(score_tile, shared_thumbs, threshold=threshold)
        left, right, scores, compared = _gather(executor.map(task, triangle_tiles(n, block)), on_done)
        return NearPairs(left, right, scores, compared, total)
    shared_sig = share(signatures(thumbs))
    cand_left, cand_right = merge_candidates(list(executor.map(partial(tile_candidates, shared_sig, radius=radius), signature_tiles(n))))
    on_total(len(cand_left))
    step = candidates_per_task(len(cand_left), workers)
    chunks = [(cand_left[s : s + step], cand_right[s : s + step]) for s in range(0, len(cand_left), step)]
    task = partial(score_candidates, shared_thumbs, threshold=threshold)
    left, right, scores, compared = _gather(executor.map(task, chunks), on_done)
    return NearPairs(left, right, scores, compared, len(cand_left))
