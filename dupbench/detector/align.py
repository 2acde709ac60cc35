"""Stage 4c, align: a second look at pairs that a small crop pushed apart.

Every thumbnail squashes its whole picture into one square, so a copy trimmed by a few percent a side
is its original's thumbnail shifted and stretched, and SSIM punishes shifts: a detailed photo with 5%
cut from two sides scores about 0.57 against its original, well under the screen's threshold, and
a dark wallpaper's crop just misses the low-information bar. For pairs the screen scored at least
`crop_floor`, or that verification rejected on the thumbnails' content, and that pass the checks no
crop changes (aspect, transparency, colour), one image's detail thumbnail (twice the side) is trimmed
by up to `crop_margin` of each side, resampled to the thumbnail's size and scored against the other's
thumbnail. The trims are found by a greedy search (coarse to fine steps, one side at a time), once
with each image as the larger view; the better alignment is kept. A pair whose aligned score reaches
`crop_threshold` is verified again, on the aligned images, by every check of verify.py. That bar is
above the screen's: the search keeps the best of many alignments, so even distinct pictures that share
a layout (dialogs of one program, galaxies on black) gain from it, while a true crop, once aligned,
matches about as well as a re-encode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.ssim import match_pairs, ssim_terms
from dupbench.detector.verify import PairRows, VerifyInputs, crop_invariant_failures, decide, gather_evidence, map_pair_chunks, turned_rows

STEPS = (2.0, 1.0, 0.5)  # trim steps of the search, in detail-thumbnail pixels, coarse to fine
MOST_MOVES = 8  # moves per step before the search settles for what it has
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
        windows, which = np.unique(np.stack([low, high], axis=1), axis=0, return_inverse=True)
        return window_weights(n, size, windows[:, 0], n - windows[:, 1])[which.ravel()]

    rows, columns = weights(trims[:, 0], trims[:, 1]), weights(trims[:, 2], trims[:, 3])
    return rows @ np.asarray(images, np.float32) @ columns.transpose(0, 2, 1)


def search_trims(details: np.ndarray, thumbs: np.ndarray, most: float) -> tuple[np.ndarray, np.ndarray]:
    """For each k, the trims of details[k] (each side 0..most pixels) whose resampling best matches
    thumbs[k], and that match score: a greedy ascent, all pairs of a batch moved at once (a pair that
    no move improved waits for the next, finer step)."""
    k, size = len(details), thumbs.shape[1]
    targets = ssim_terms(thumbs, np.float32)
    trims = np.zeros((k, 4), np.float32)
    best = match_pairs(ssim_terms(trimmed(details, trims, size), np.float32), targets)
    moves = len(MOVES)
    for step in STEPS:
        active = np.arange(k)
        for _ in range(MOST_MOVES):
            tries = trims[active, None, :] + step * MOVES[None]
            tries = np.where(((tries >= 0) & (tries <= most)).all(axis=2, keepdims=True), tries, trims[active, None, :])
            each = np.repeat(active, moves)
            crops = trimmed(details[each], tries.reshape(-1, 4), size)
            scores = match_pairs(ssim_terms(crops, np.float32), targets.take(each)).reshape(len(active), moves)
            pick = scores.argmax(axis=1)
            gain = scores[np.arange(len(active)), pick]
            better = gain > best[active] + 1e-6
            active = active[better]
            if not len(active):
                break
            trims[active] = tries[better, pick[better]]
            best[active] = gain[better]
    return best, trims


@dataclass(frozen=True)
class Alignment:
    """The better of the two alignments of each pair."""

    score: np.ndarray  # match score of the aligned thumbnails
    right_trimmed: np.ndarray  # bool: the right image (as turned) was the larger view and was trimmed
    trims: np.ndarray  # (k, 4) top, bottom, left, right, in detail-thumbnail pixels


def align(details_left: np.ndarray, details_right: np.ndarray, thumbs_left: np.ndarray, thumbs_right: np.ndarray, most: float) -> Alignment:
    """Each pair aligned both ways (left trimmed to match the right's thumbnail, and the reverse)."""
    left_score, left_trims = search_trims(details_left, thumbs_right, most)
    right_score, right_trims = search_trims(details_right, thumbs_left, most)
    right_trimmed = right_score > left_score
    return Alignment(np.maximum(left_score, right_score), right_trimmed, np.where(right_trimmed[:, None], right_trims, left_trims))


def aligned_rows(details_left: np.ndarray, details_right: np.ndarray, thumbs_left: np.ndarray, thumbs_right: np.ndarray, alignment: Alignment) -> PairRows:
    """The images each aligned pair is verified on: the trimmed one resampled at both sizes."""
    size, detail_size = thumbs_left.shape[1], details_left.shape[1]
    flip = alignment.right_trimmed[:, None, None]
    big = np.where(flip, details_right, details_left)
    thumb_cut, detail_cut = trimmed(big, alignment.trims, size), trimmed(big, alignment.trims, detail_size)
    return PairRows(
        thumb_left=np.where(flip, thumbs_left, thumb_cut),
        thumb_right=np.where(flip, thumb_cut, thumbs_right),
        detail_left=np.where(flip, details_left, detail_cut),
        detail_right=np.where(flip, detail_cut, details_right),
    )


def align_chunk(inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """For each pair of one chunk, whether it is kept once aligned, and its aligned score (nan where a
    crop-invariant check failed, so no search ran)."""
    left, right, turn = pairs[:3]
    kept, score = np.zeros(len(left), bool), np.full(len(left), np.nan)
    tried = np.flatnonzero(~crop_invariant_failures(inputs, left, right, turn, config))
    if not len(tried):
        return kept, score
    left, right, turn = left[tried], right[tried], turn[tried]
    images = (
        np.asarray(inputs.detail)[left],
        turned_rows(inputs.detail, right, turn),
        np.asarray(inputs.thumb)[left],
        turned_rows(inputs.thumb, right, turn),
    )
    alignment = align(*images, most=config.crop_margin * config.detail_size)
    score[tried] = alignment.score
    reach = np.flatnonzero(alignment.score >= max(config.threshold, config.crop_threshold))
    if len(reach):
        rows = aligned_rows(*(image[reach] for image in images), Alignment(alignment.score[reach], alignment.right_trimmed[reach], alignment.trims[reach]))
        evidence = gather_evidence(inputs, left[reach], right[reach], turn[reach], alignment.score[reach], config, rows)
        kept[tried[reach]] = decide(evidence, config) == 0
    return kept, score


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
