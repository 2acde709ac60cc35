"""Stage 4c, align: a second look at pairs that a small crop pushed apart.

Every thumbnail squashes its whole picture into one square, so a copy trimmed by a few percent a side
is its original's thumbnail shifted and stretched, and SSIM punishes shifts: a detailed photo with 5%
cut from two sides scores about 0.57 against its original, well under the screen's threshold, and
a dark wallpaper's crop just misses the low-information bar. For pairs the screen scored at least
`crop_floor`, or that verification rejected on the thumbnails' content, that are among the
`crop_partners` best-screened of both their images, and that pass the checks no crop changes (aspect
within its tolerance, transparency), one image's detail thumbnail (twice the side) is trimmed
by up to `crop_margin` of each side, resampled to the thumbnail's size and scored against the other's
thumbnail. The trims are found by a greedy search (coarse to fine steps, one side at a time), once
with each image as the larger view; the better alignment is kept. A pair whose aligned score reaches
`crop_threshold` is verified again, on the aligned images and colour grids, by every check of verify.py
(a crop of 5% a side moves each cell of the 8x8 colour grid by up to half a cell: on a colourful
picture, more than the colour tolerance). That bar is
above the screen's: the search keeps the best of many alignments, so even distinct pictures that share
a layout (dialogs of one program, galaxies on black) gain from it, while a true crop, once aligned,
matches about as well as a re-encode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.distinct import distinct_rows
from dupbench.detector.ssim import SsimTerms, match_pairs, ssim_terms
from dupbench.detector.verify import PairRows, VerifyInputs, crop_invariant_failures, decide, gather_evidence, map_pair_chunks, pair_rows

STEPS = (2.0, 1.0, 0.5)  # trim steps of the search, in detail-thumbnail pixels, coarse to fine
GRID = STEPS[-1]  # every trim the search reaches is a multiple of the finest step
MOST_MOVES = 8  # moves per step before the search settles for what it has
# How far below the bar a search may be after each step but the last and still go on to the finer ones:
# 1.5 times the most any search gained from the steps after it on the tune sets (README, "Finding duplicates", Align).
STILL_REACHES = (0.35, 0.11)
# One side's trim one step longer or shorter: the 8 moves a search tries from where it is.
MOVES = np.array([[sign if side == k else 0.0 for k in range(4)] for side in range(4) for sign in (1.0, -1.0)], np.float32)


def window_weights(n: int, size: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(k, size, n): rows averaging pixels [0, n) into `size` equal bins of the window [low[k], high[k])
    by overlap, fractional edges included (OpenCV's INTER_AREA on a sub-pixel window)."""
    edges = low[:, None] + (high - low)[:, None] * np.linspace(0.0, 1.0, size + 1, dtype=np.float32)[None]
    pixel = np.arange(n, dtype=np.float32)[None, None, :]
    overlap = np.clip(np.minimum(edges[:, 1:, None], pixel + 1) - np.maximum(edges[:, :-1, None], pixel), 0, None)
    return overlap / np.maximum(overlap.sum(axis=2, keepdims=True), 1e-6)


def trimmed(images: np.ndarray, trims: np.ndarray, size: int) -> np.ndarray:
    """images[k] (square, side n) with trims[k] = (top, bottom, left, right) pixels cut off, resampled
    to (size, size) float32. A search tries few distinct windows per side, so each window's weights are
    built once and shared."""
    n = images.shape[1]

    def weights(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        windows, which = distinct_rows(np.stack([low, high], axis=1))
        return window_weights(n, size, windows[:, 0], n - windows[:, 1])[which.ravel()]

    rows, columns = weights(trims[:, 0], trims[:, 1]), weights(trims[:, 2], trims[:, 3])
    return rows @ np.asarray(images, np.float32) @ columns.transpose(0, 2, 1)


def weight_table(n: int, size: int, most: float) -> np.ndarray:
    """window_weights for every window the search can reach: table[i, j] cuts i * GRID pixels from the
    low end and j * GRID from the high end."""
    cuts = np.arange(int(most / GRID + 1e-6) + 1, dtype=np.float32) * GRID
    low, high = np.meshgrid(cuts, cuts, indexing="ij")
    return window_weights(n, size, low.ravel(), n - high.ravel()).reshape(len(cuts), len(cuts), size, n)


def ascend(
    details: np.ndarray, targets: SsimTerms, table: np.ndarray, trims: np.ndarray, best: np.ndarray, active: np.ndarray, step: float, most: float
) -> None:
    """Greedy moves of `step` pixels for the searches `active`, until no move improves one (at most
    MOST_MOVES): updates their `trims` and `best` scores in place. A move changes one side, so the four
    vertical moves share the image's column resampling and the four horizontal ones its row resampling."""
    moves = len(MOVES)
    for _ in range(MOST_MOVES):
        if not len(active):
            return
        tries = trims[active, None, :] + step * MOVES[None]
        valid = ((tries >= 0) & (tries <= most)).all(axis=2)
        tries = np.where(valid[..., None], tries, trims[active, None, :])
        cut = np.rint(tries / GRID).astype(np.int64)
        # only the weights a move changes, and each image's current ones once: moves 0-3 change its rows
        # (top, bottom), 4-7 its columns (left, right)
        rows, columns = table[cut[:, :4, 0], cut[:, :4, 1]], table[cut[:, 4:, 2], cut[:, 4:, 3]]  # (a, 4, size, n)
        rows_now, columns_now = table[cut[:, 4, 0], cut[:, 4, 1]], table[cut[:, 0, 2], cut[:, 0, 3]]  # (a, size, n)
        image = details[active]
        vertical = rows @ (image @ columns_now.transpose(0, 2, 1))[:, None]
        horizontal = (rows_now @ image)[:, None] @ columns.transpose(0, 1, 3, 2)
        crops = np.concatenate([vertical, horizontal], axis=1)[valid]  # a move off the grid is not scored
        scores = np.full((len(active), moves), -np.inf)
        scores[valid] = match_pairs(ssim_terms(crops, np.float32), targets.take(np.repeat(active, moves).reshape(-1, moves)[valid]))
        pick = scores.argmax(axis=1)
        gain = scores[np.arange(len(active)), pick]
        better = gain > best[active] + 1e-6
        active, pick, gain = active[better], pick[better], gain[better]
        trims[active] = tries[better, pick]
        best[active] = gain


def search_trims(details: np.ndarray, thumbs: np.ndarray, most: float, bar: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each k, the trims of details[k] (each side 0..most pixels, on a GRID) whose resampling best
    matches thumbs[k], and that match score: a greedy ascent, coarse to fine, all searches of a batch
    moved at once. With a `bar` (the score a pair is kept at), a search too far below it after a step
    (STILL_REACHES) stops there: nearly all searches are of distinct look-alikes, and the finer steps
    only ever moved a score by a little."""
    k, size, n = len(details), thumbs.shape[1], details.shape[1]
    images = np.asarray(details, np.float32)
    targets = ssim_terms(thumbs, np.float32)
    table = weight_table(n, size, most)
    trims = np.zeros((k, 4), np.float32)
    best = match_pairs(ssim_terms(trimmed(images, trims, size), np.float32), targets)
    active = np.arange(k)
    for step, reach in zip(STEPS, (*STILL_REACHES, None)):
        ascend(images, targets, table, trims, best, active, step, most)
        if bar is not None and reach is not None:
            active = active[best[active] >= bar - reach]
    return best, trims


@dataclass(frozen=True)
class Alignment:
    """The better of the two alignments of each pair."""

    score: np.ndarray  # match score of the aligned thumbnails
    right_trimmed: np.ndarray  # bool: the right image (as turned) was the larger view and was trimmed
    trims: np.ndarray  # (k, 4) top, bottom, left, right, in detail-thumbnail pixels


def align(
    details_left: np.ndarray, details_right: np.ndarray, thumbs_left: np.ndarray, thumbs_right: np.ndarray, most: float, bar: float | None = None
) -> Alignment:
    """Each pair aligned both ways (left trimmed to match the right's thumbnail, and the reverse), the
    two searches in one batch. (Refining only the way that led after the coarsest step lost 2 of 11
    aligned pairs of the generated study set.)"""
    k = len(details_left)
    best, trims = search_trims(np.concatenate([details_left, details_right]), np.concatenate([thumbs_right, thumbs_left]), most, bar)
    right_trimmed = best[k:] > best[:k]
    return Alignment(np.where(right_trimmed, best[k:], best[:k]), right_trimmed, np.where(right_trimmed[:, None], trims[k:], trims[:k]))


def trimmed_grids(grids: np.ndarray, trims: np.ndarray, detail_size: int) -> np.ndarray:
    """Colour grids (k, g, g, 2) cut by the detail-thumbnail trims, scaled to the grid's side, and
    resampled to (g, g): the grid of the part of the picture that was kept, on the assumption that each
    cell's colour is even across it (all the grid knows)."""
    side = grids.shape[1]
    scaled = np.asarray(trims, np.float32) * (side / detail_size)
    return np.stack([trimmed(grids[..., channel], scaled, side) for channel in range(grids.shape[3])], axis=-1)


def aligned_rows(
    details: tuple[np.ndarray, np.ndarray], thumbs: tuple[np.ndarray, np.ndarray], colours: tuple[np.ndarray, np.ndarray], alignment: Alignment
) -> PairRows:
    """The images each aligned pair is verified on: the trimmed one resampled at both sizes, and its
    colour grid cut the same way."""
    (details_left, details_right), (thumbs_left, thumbs_right), (colours_left, colours_right) = details, thumbs, colours
    size, detail_size = thumbs_left.shape[1], details_left.shape[1]
    flip = alignment.right_trimmed[:, None, None]
    big = np.where(flip, details_right, details_left)
    thumb_cut, detail_cut = trimmed(big, alignment.trims, size), trimmed(big, alignment.trims, detail_size)
    colour_cut = trimmed_grids(np.where(flip[..., None], colours_right, colours_left), alignment.trims, detail_size)
    return PairRows(
        thumb_left=np.where(flip, thumbs_left, thumb_cut),
        thumb_right=np.where(flip, thumb_cut, thumbs_right),
        detail_left=np.where(flip, details_left, detail_cut),
        detail_right=np.where(flip, detail_cut, details_right),
        colour_left=np.where(flip[..., None], colours_left, colour_cut),
        colour_right=np.where(flip[..., None], colour_cut, colours_right),
    )


def align_chunk(inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """For each pair of one chunk, whether it is kept once aligned, and its aligned score (nan where a
    crop-invariant check failed, so no search ran; for a search stopped below the bar, where it stopped)."""
    left, right, turn = pairs[:3]
    kept, score = np.zeros(len(left), bool), np.full(len(left), np.nan)
    tried = np.flatnonzero(~crop_invariant_failures(inputs, left, right, turn, config))
    if not len(tried):
        return kept, score
    left, right, turn = left[tried], right[tried], turn[tried]
    images = (*pair_rows(inputs, None, "detail", left, right, turn, slice(None)), *pair_rows(inputs, None, "thumb", left, right, turn, slice(None)))
    bar = max(config.threshold, config.crop_threshold)
    alignment = align(*images, most=config.crop_margin * config.detail_size, bar=bar)
    score[tried] = alignment.score
    reach = np.flatnonzero(alignment.score >= bar)
    if len(reach):
        details_left, details_right, thumbs_left, thumbs_right = (image[reach] for image in images)
        colours = pair_rows(inputs, None, "colour", left, right, turn, reach)
        reached = Alignment(alignment.score[reach], alignment.right_trimmed[reach], alignment.trims[reach])
        rows = aligned_rows((details_left, details_right), (thumbs_left, thumbs_right), colours, reached)
        evidence = gather_evidence(inputs, left[reach], right[reach], turn[reach], alignment.score[reach], config, rows)
        kept[tried[reach]] = decide(evidence, config) == 0
    return kept, score


def mutual_best(left: np.ndarray, right: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Whether each pair (left[i], right[i]) is among the k best-scored pairs of both its images (ties in
    pair order)."""
    n = len(left)
    ends, score = np.concatenate([left, right]), np.concatenate([scores, scores])
    order = np.lexsort((-score, ends))  # by image, then best first
    first = np.searchsorted(ends[order], ends[order], side="left")
    rank = np.empty(2 * n, np.int64)
    rank[order] = np.arange(2 * n) - first
    return (rank[:n] < k) & (rank[n:] < k)


def align_pairs(
    inputs: VerifyInputs,
    left: np.ndarray,
    right: np.ndarray,
    turn: np.ndarray,
    config: DetectorConfig,
    map_chunks: Callable[[Callable, list], Iterable[tuple[np.ndarray, np.ndarray]]],
    per_task: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: kept once aligned, and the aligned score (see `align_chunk`), chunks run through
    `map_chunks(task, chunks)` in order."""
    parts = list(map_pair_chunks(align_chunk, inputs, (left, right, turn), config, map_chunks, per_task))
    if not parts:
        return np.zeros(0, bool), np.empty(0, np.float64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
