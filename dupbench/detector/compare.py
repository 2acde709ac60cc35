"""Stage 4, compare: exact matches by digest (O(n)), near matches by batched SSIM over pairs.

Pair work is cut into many more tasks than workers (tiles of the triangle for `--pairs all`, runs of
candidate pairs for `--pairs pruned`) so a pool balances itself: later rows of the triangle are
shorter. Each task computes the SSIM terms of the thumbnails it touches and returns only the pairs at
or above the threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from dupbench.detector.decode import dihedral
from dupbench.detector.distinct import distinct
from dupbench.detector.features import ImageFeatures, may_hold_same_pixels
from dupbench.detector.prefilter import BLOCK as SIGNATURE_BLOCK
from dupbench.detector.prefilter import cap_candidates, index_candidates, merge_candidates, signatures, tile_candidates, uses_index
from dupbench.detector.ssim import match_many_to_many, match_pairs, ssim_terms
from dupbench.detector.tiles import Tile, triangle_tiles
from dupbench.execution.interface import Executor, Shared

# (left, right, score, pairs compared, orientation): `right` matched turned/mirrored by `orientation`
PairScores = tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]


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


def pixel_candidates(features: Sequence[ImageFeatures], left: Sequence[int], right: Sequence[int]) -> list[tuple[int, int]]:
    """The near pairs that may hold exactly the same pixels (`features.may_hold_same_pixels`).

    Pixel-identical files have (near-)identical thumbnails, so they always form a near pair; only
    those pairs can need the full-resolution decode that the load stage skipped for large JPEGs.
    """
    return [(a, b) for a, b in zip(left, right) if may_hold_same_pixels(features[a], features[b])]


ROWS_PER_CALL = 8  # rows of a tile scored per call: see ssim.ssim_block_map


def _empty_scores() -> PairScores:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64), 0, np.empty(0, np.int8)


def oriented(stack: np.ndarray, k: int) -> np.ndarray:
    """Each image of a (n, h, w, ...) stack turned or mirrored by `decode.dihedral`."""
    return np.ascontiguousarray(dihedral(stack, k, axes=(1, 2)))


def best_orientation(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise best score over the orientations' score blocks, and which orientation gave it (the
    lowest on ties, so the image as stored wins)."""
    if len(blocks) == 1:
        return blocks[0], np.zeros(blocks[0].shape, np.int8)
    stacked = np.stack(blocks)
    which = stacked.argmax(axis=0)
    return np.take_along_axis(stacked, which[None], axis=0)[0], which.astype(np.int8)


def score_tile(thumbs: np.ndarray, tile: Tile, threshold: float, rows_per_call: int = ROWS_PER_CALL, orientations: int = 1) -> PairScores:
    """Pairs i < j of one tile scoring at least `threshold`, `rows_per_call` rows against the tile's
    columns per call (on a diagonal tile the pairs with j <= i are scored too, then dropped). With
    `orientations` 4 or 8 each column is also scored turned (and mirrored) and the best kept."""
    r0, r1, c0, c1 = tile
    rows = ssim_terms(np.asarray(thumbs[r0:r1]), np.float32)
    columns = np.asarray(thumbs[c0:c1])
    variants = [ssim_terms(oriented(columns, k), np.float32) for k in range(orientations)]
    lefts, rights, scores, turns, compared = [], [], [], [], 0
    for start in range(r0, r1, rows_per_call):
        stop = min(start + rows_per_call, r1)
        first = max(c0, start + 1)  # the lowest column any row of this block pairs with
        if first >= c1:
            continue
        block_rows = rows.take(slice(start - r0, stop - r0))
        block, turn = best_orientation([match_many_to_many(block_rows, cols.take(slice(first - c0, c1 - c0))) for cols in variants])
        i, j = np.meshgrid(np.arange(start, stop), np.arange(first, c1), indexing="ij")
        upper = j > i
        compared += int(upper.sum())
        hit = upper & (block >= threshold)
        lefts.append(i[hit])
        rights.append(j[hit])
        scores.append(block[hit])
        turns.append(turn[hit])
    if not lefts:
        return _empty_scores()
    return (np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64), np.concatenate(scores), compared, np.concatenate(turns))


PAIRS_PER_CALL = 128  # pairs per `match_pairs` call: its temporaries then stay in cache (4x fewer us per pair than 4,096)


def paired_scores(thumbs: np.ndarray, left: np.ndarray, right: np.ndarray, orientations: int = 1) -> list[np.ndarray]:
    """Match scores of the pairs (thumbs[left[k]], thumbs[right[k]]), one array per orientation of `right`.

    The SSIM terms are filtered per batch of PAIRS_PER_CALL pairs from the thumbnails themselves: sparse
    candidates share few images, so terms of all the images a task touches, then gathered pair by pair,
    cost more (the gathers, and terms of images many batches apart) than filtering each batch's own.
    Candidates come sorted by left image, so a batch filters each of its left images once.
    """
    per_turn: list[list[np.ndarray]] = [[] for _ in range(orientations)]
    for s in range(0, len(left), PAIRS_PER_CALL):
        lefts, repeat = distinct(left[s : s + PAIRS_PER_CALL])
        rows = ssim_terms(np.asarray(thumbs[lefts]), np.float32).take(repeat)
        cols = np.asarray(thumbs[right[s : s + PAIRS_PER_CALL]])
        for k in range(orientations):
            per_turn[k].append(match_pairs(rows, ssim_terms(cols if k == 0 else oriented(cols, k), np.float32)))
    return [np.concatenate(parts) if parts else np.empty(0, np.float64) for parts in per_turn]


def score_candidates(thumbs: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], threshold: float, orientations: int = 1) -> PairScores:
    left, right = pairs
    scores, turn = best_orientation(paired_scores(thumbs, left, right, orientations))
    keep = scores >= threshold
    return left[keep], right[keep], scores[keep], len(left), turn[keep]


@dataclass
class NearPairs:
    """Pairs (indices into the compared thumbnails) with SSIM >= threshold."""

    left: np.ndarray
    right: np.ndarray
    scores: np.ndarray
    compared: int
    candidates: int
    orientation: np.ndarray  # which turn/mirror of `right` matched (0: as stored)

    def select(self, keep: np.ndarray) -> NearPairs:
        """The pairs where `keep` is true (the counts of what was compared stay)."""
        return NearPairs(self.left[keep], self.right[keep], self.scores[keep], self.compared, self.candidates, self.orientation[keep])

    def renumbered(self, mapping: np.ndarray) -> NearPairs:
        """The same pairs with each image index i replaced by mapping[i]."""
        return NearPairs(mapping[self.left], mapping[self.right], self.scores, self.compared, self.candidates, self.orientation)

    def extended(self, other: NearPairs) -> NearPairs:
        """These pairs followed by `other`'s, from the same comparison."""
        joined = (np.concatenate([getattr(self, name), getattr(other, name)]) for name in ("left", "right", "scores", "orientation"))
        left, right, scores, orientation = joined
        return NearPairs(left, right, scores, self.compared, self.candidates, orientation)


def _gather(results: Iterable[PairScores], on_done: Callable[[int], None]) -> PairScores:
    parts = []
    for part in results:
        parts.append(part)
        on_done(part[3])
    if not parts:
        return _empty_scores()
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        sum(p[3] for p in parts),
        np.concatenate([p[4] for p in parts]),
    )


def near_pairs(
    thumbs: np.ndarray,
    share: Callable[[np.ndarray], Shared],
    pairs: str,
    threshold: float,
    executor: Executor,
    block: int = 64,
    workers: int = 1,
    radius: float = 0.9,
    on_total: Callable[[int], None] = lambda total: None,
    on_done: Callable[[int], None] = lambda done: None,
    orientations: int = 1,
    candidates: str = "auto",
    cap: int = 0,
) -> NearPairs:
    """Score pairs of `thumbs` in the executor. `share(array)` gives what tasks receive instead of an array
    (the array itself, a SharedArray for process workers, a scattered reference on Dask)."""
    n = len(thumbs)
    shared_thumbs = share(thumbs)
    if pairs == "all":
        total = n * (n - 1) // 2
        on_total(total)
        task = partial(score_tile, shared_thumbs, threshold=threshold, orientations=orientations)
        left, right, scores, compared, turn = _gather(executor.map(task, triangle_tiles(n, block)), on_done)
        return NearPairs(left, right, scores, compared, total, turn)
    cand_left, cand_right = oriented_candidates(thumbs, share, executor, radius, orientations, candidates, cap)
    on_total(len(cand_left))
    step = candidates_per_task(len(cand_left), workers)
    chunks = [(cand_left[s : s + step], cand_right[s : s + step]) for s in range(0, len(cand_left), step)]
    task = partial(score_candidates, shared_thumbs, threshold=threshold, orientations=orientations)
    left, right, scores, compared, turn = _gather(executor.map(task, chunks), on_done)
    return NearPairs(left, right, scores, compared, len(cand_left), turn)


def oriented_candidates(
    thumbs: np.ndarray,
    share: Callable[[np.ndarray], Shared],
    executor: Executor,
    radius: float,
    orientations: int,
    candidates: str = "auto",
    cap: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs i < j whose signatures lie within `radius`, with j as stored or (orientations 4, 8)
    turned or mirrored: each turn is one more signature matrix and one more full square of tiles (or,
    with the index, one more pass of the turned signatures over its cells). `candidates` and `cap`: see
    DetectorConfig.candidates and candidate_cap (the cap applies to the index's candidates only)."""
    n = len(thumbs)
    sig = signatures(thumbs)
    if uses_index(candidates, n):
        turned = [signatures(oriented(thumbs, k)) for k in range(1, orientations)]  # kept: the cap ranks by them
        found = merge_candidates(index_candidates(sig, share, executor.map, radius, turned))
        return cap_candidates(sig, found, cap, turned)
    shared_sig = share(sig)
    parts = list(executor.map(partial(tile_candidates, shared_sig, radius=radius), triangle_tiles(n, SIGNATURE_BLOCK)))
    for k in range(1, orientations):
        shared_turned = share(signatures(oriented(thumbs, k)))
        task = partial(tile_candidates, shared_sig, radius=radius, other=shared_turned)
        for i, j in executor.map(task, triangle_tiles(n, SIGNATURE_BLOCK, square=True)):
            parts.append((np.minimum(i, j), np.maximum(i, j)))
    return merge_candidates(parts)
