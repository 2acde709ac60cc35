"""Stage 4b, verify (frames): a pair whose pictures share a uniform frame is verified again on what is inside it.

A white mat, a black letterbox or a plain border is the strongest edge in a thumbnail, and its flat band
agrees in every window: two different pictures in the same frame can pass every check of verify.py on
the frame alone (dark wallpapers in a white frame did: README, "Edits past the builders' lists"). Each
image's frame is measured on its detail thumbnail: the rows and columns from each edge of which at
least FRAME_SHARE of the pixels lie within FRAME_LEVELS grey levels of that edge's median. Where the
frame both images share (each side's narrower one) is at least MIN_FRAME pixels on some side and leaves
an interior of at least MIN_INTERIOR pixels each way, that interior is cut from both images (at both
thumbnail sizes and in the colour grids, as align.py cuts a crop) and a pair that verification kept is
kept only if the interiors also match at the threshold and pass every check of verify.py.

The check can only refuse: a frame one image lacks is no shared frame (a bordered copy of a picture is
left to the other stages), and a copy in the same frame as its original matches inside it as well.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.align import trimmed, trimmed_grids
from dupbench.detector.ssim import match_pairs, ssim_terms
from dupbench.detector.verify import BACKGROUND_LEVELS, PairRows, VerifyInputs, background, decide, gather_evidence, information, joined_chunks, pair_rows

FRAME_LEVELS = BACKGROUND_LEVELS  # grey levels a frame's pixel may stray from its edge's level (re-encoding noise)
FRAME_SHARE = 0.98  # share of a row's pixels that must: a row through the picture has far fewer
MIN_FRAME = 2.0  # detail-thumbnail pixels of shared frame on some side before the interior is checked
MIN_INTERIOR = 16.0  # detail-thumbnail pixels the interior must keep each way (a thumbnail's 8 px)


def frame_trims(details: np.ndarray) -> np.ndarray:
    """(k, 4): each detail thumbnail's frame on its top, bottom, left and right, in pixels (the uniform
    rows or columns from that edge inwards, counted up to the first that is not)."""
    x = np.asarray(details, np.int16)
    columns = x.transpose(0, 2, 1)
    out = np.zeros((len(x), 4), np.float32)
    for side, rows in enumerate((x, x[:, ::-1], columns, columns[:, ::-1])):  # each side's rows, from its edge inwards
        level = np.median(rows[:, 0, :], axis=1)
        uniform = (np.abs(rows - level[:, None, None]) <= FRAME_LEVELS).mean(axis=2) >= FRAME_SHARE
        out[:, side] = np.cumprod(uniform, axis=1).sum(axis=1)
    return out


def shared_frames(details_left: np.ndarray, details_right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the frame both images share (each side's narrower trim) and whether it is checked: at
    least MIN_FRAME on some side, and an interior of at least MIN_INTERIOR each way."""
    shared = np.minimum(frame_trims(details_left), frame_trims(details_right))
    n = details_left.shape[1]
    interior = np.minimum(n - shared[:, 0] - shared[:, 1], n - shared[:, 2] - shared[:, 3])
    return shared, (shared >= MIN_FRAME).any(axis=1) & (interior >= MIN_INTERIOR)


def interior_rows(details: tuple[np.ndarray, np.ndarray], colours: tuple[np.ndarray, np.ndarray], trims: np.ndarray, thumb_size: int) -> PairRows:
    """Both images of each pair cut by the same trims, at both thumbnail sizes and in the colour grids,
    with the interiors' own edge and background shares (a frame's edge is no information about what is
    inside it, and its band no background), measured on the detail thumbnails' own pixels inside the
    frame: the resampled interior is smoother, and would count a near-flat picture (a planet's banded
    texture) as flat, whose brightness must then agree, which a gamma copy's does not."""
    (detail_l, detail_r), (colour_l, colour_r) = details, colours
    n = detail_l.shape[1]
    info, back = np.empty(len(trims)), np.empty(len(trims))
    for k, (top, bottom, left, right) in enumerate(np.asarray(trims, np.int64)):
        inside = np.stack([detail_l[k, top : n - bottom, left : n - right], detail_r[k, top : n - bottom, left : n - right]])
        info[k], back[k] = information(inside).min(), background(inside).max()
    return PairRows(
        thumb_left=trimmed(detail_l, trims, thumb_size),
        thumb_right=trimmed(detail_r, trims, thumb_size),
        detail_left=trimmed(detail_l, trims, n),
        detail_right=trimmed(detail_r, trims, n),
        colour_left=trimmed_grids(colour_l, trims, n),
        colour_right=trimmed_grids(colour_r, trims, n),
        information=info,
        background=back,
    )


def frame_chunk(inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig) -> np.ndarray:
    """For each pair of one chunk, whether the interior of a frame both images share fails verification."""
    left, right, turn = pairs
    fails = np.zeros(len(left), bool)
    if not len(left):
        return fails
    details = pair_rows(inputs, None, "detail", left, right, turn, slice(None))
    trims, framed = shared_frames(*details)
    pick = np.flatnonzero(framed)
    if not len(pick):
        return fails
    colours = pair_rows(inputs, None, "colour", left, right, turn, pick)
    rows = interior_rows((details[0][pick], details[1][pick]), colours, trims[pick], config.thumb_size)
    screen = match_pairs(ssim_terms(rows.thumb_left, np.float32), ssim_terms(rows.thumb_right, np.float32))
    evidence = gather_evidence(inputs, left[pick], right[pick], turn[pick], screen, config, rows)
    fails[pick] = (screen < config.threshold) | (decide(evidence, config) != 0)
    return fails


def frame_failures(
    inputs: VerifyInputs, pairs: tuple[np.ndarray, np.ndarray, np.ndarray], config: DetectorConfig, map_chunks: Callable, per_task: int = 2048
) -> np.ndarray:
    """`frame_chunk` for all pairs (left, right, turn: those verification kept), chunks run through
    `map_chunks` in order."""
    return joined_chunks(frame_chunk, inputs, pairs, config, map_chunks, per_task, np.zeros(0, bool))
