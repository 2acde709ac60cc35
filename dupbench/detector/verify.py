"""Stage 4b, verify: a second look at every pair the thumbnails matched, before it may join a group.

A 32 px luma SSIM is a cheap screen, and on real collections it is not enough: it ignores hue (a purple
and a green version of one texture), squashes every aspect ratio into one square (a landscape photo and
a portrait strip cut from it), drops transparency, and calls any two low-information pictures alike
(flat colours, gradients, line drawings on white, small subjects on black), since flat windows agree
whatever the subject. A pair is kept only if
- its aspect ratios agree within `aspect_tolerance` (the crops a copy may have);
- both are opaque, or both have transparency and their alpha thumbnails match;
- their colour layouts agree: the mean distance of their 8x8 chroma grids, after fitting one global
  saturation scale (so contrast and gamma edits, which scale chroma, still match), is at most
  `colour_tolerance`;
- where either image has little structure (the share of its detail thumbnail's pixels on an edge is
  below `information_floor`, or more than `background_ceiling` of them lie within a few grey levels of
  its commonest level: diagrams on white, small subjects on black), the detail thumbnails (twice the
  side) match at `detail_threshold` and the thumbnails themselves at `low_information_threshold`;
- where either is flat (edge share below `flat_floor`), their mean brightness agrees within
  `level_tolerance`: for a flat picture its level is all the information there is;
- and at most `changed_ceiling` of the thumbnails' SSIM windows show other content (local SSIM below
  CHANGED_SSIM): an edit spreads its change thinly, another picture on the same base differs in one place.
The checks are vectorised over chunks of pairs and run in the executor like the other stages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.compare import oriented
from dupbench.detector.ssim import SsimTerms, match_one_to_many, ssim_block_map, ssim_pairs, ssim_terms

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None  # type: ignore[assignment]

REASONS = ("kept", "aspect", "alpha", "colour", "detail", "changed")
EDGE_LEVEL = 12.0  # |Laplacian| in grey levels at which a detail-thumbnail pixel counts as an edge
BACKGROUND_LEVELS = 6  # grey levels around the commonest one that count as background
CHANGED_SSIM = 0.3  # a thumbnail window whose local SSIM is below this shows other content


@dataclass(frozen=True)
class PairEvidence:
    """What verification measured for each pair (one array entry per pair)."""

    aspect: np.ndarray  # |log| of the ratio of the two aspect ratios
    alpha: np.ndarray  # match score of the alpha thumbnails (1 for two opaque images, 0 for one of each)
    colour: np.ndarray  # chroma-grid distance
    information: np.ndarray  # the lower of the two images' edge shares
    background: np.ndarray  # the higher of the two images' background shares
    detail: np.ndarray  # match score of the detail thumbnails (nan where not needed)
    screen: np.ndarray  # match score of the thumbnails (what the compare stage found)
    level: np.ndarray  # difference of mean brightness, grey levels
    changed: np.ndarray  # share of thumbnail windows with local SSIM below CHANGED_SSIM


def information(details: np.ndarray) -> np.ndarray:
    """Share of each detail thumbnail's pixels on an edge (|4-neighbour Laplacian| >= EDGE_LEVEL).

    Smooth gradients, flat areas and empty backgrounds have no edges; texture and photographs have many.
    """
    x = np.asarray(details, np.float32)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return (np.abs(lap) >= EDGE_LEVEL).mean(axis=(1, 2))


def background(details: np.ndarray) -> np.ndarray:
    """Share of each detail thumbnail's pixels within BACKGROUND_LEVELS of its commonest grey level."""
    if not len(details):
        return np.empty(0, np.float32)
    flat = np.asarray(details, np.uint8).reshape(len(details), -1)
    counts = np.bincount((flat + 256 * np.arange(len(flat))[:, None]).ravel(), minlength=256 * len(flat))
    mode = counts.reshape(len(flat), 256).argmax(axis=1)
    return (np.abs(flat.astype(np.int16) - mode[:, None]) <= BACKGROUND_LEVELS).mean(axis=1).astype(np.float32)


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean per-cell chroma distance of grids a[k] and b[k] (k, 8, 8, 2), after scaling one by the
    saturation factor (0.5-2) that fits it best, taken both ways and the lower kept (symmetric)."""

    def one_way(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        power = (v * v).sum(axis=(1, 2, 3))
        scale = np.where(power > 1e-6, (u * v).sum(axis=(1, 2, 3)) / np.maximum(power, 1e-6), 1.0)
        scale = np.clip(scale, 0.5, 2.0)[:, None, None, None]
        return np.sqrt(((u - scale * v) ** 2).sum(axis=3)).mean(axis=(1, 2))

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.minimum(one_way(a, b), one_way(b, a))


def pair_scores(stack: np.ndarray, left: np.ndarray, right: np.ndarray, turn: np.ndarray, score: Callable = match_one_to_many) -> np.ndarray:
    """`score` (the detector's match score by default, see ssim.match_many_to_many) of stack[left[p]] against
    stack[right[p]] turned or mirrored by turn[p] (compare.oriented)."""
    out = np.empty(len(left), np.float64)
    for k in np.unique(turn):
        pick = turn == k
        lefts, left_at = np.unique(left[pick], return_inverse=True)
        rights, right_at = np.unique(right[pick], return_inverse=True)
        images = np.concatenate([np.asarray(stack[lefts]), oriented(np.asarray(stack[rights]), int(k))])
        terms = ssim_terms(images, np.float32)
        out[pick] = ssim_pairs(terms, left_at, right_at + len(lefts), score=score)
    return out


def changed_share(one: SsimTerms, many: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """Share of the SSIM map's windows below CHANGED_SSIM, of `one` against each of `many` (an
    `ssim_pairs` score): re-encodes, resizes, small crops and tone edits lower SSIM a little everywhere;
    another picture built on the same base (an icon with another emblem, another phase of the Moon, the
    next frame of a video) differs completely somewhere."""
    smap, _ = ssim_block_map(one, many, use_cv2)
    return (smap[0] < CHANGED_SSIM).mean(axis=(1, 2), dtype=np.float64)


def turned_rows(stack: np.ndarray, index: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """stack[index[p]] turned by turn[p], for every pair p."""
    rows = np.array(np.asarray(stack)[index])
    for k in np.unique(turn):
        if k:
            rows[turn == k] = oriented(rows[turn == k], int(k))
    return rows


@dataclass(frozen=True)
class VerifyInputs:
    """Per-image arrays verification reads (index = compared image), shared with workers once."""

    aspect: np.ndarray  # (n,) log(width / height)
    colour: np.ndarray  # (n, 8, 8, 2) float32
    alpha: np.ndarray  # (n, s, s) uint8, 255 for opaque images
    opaque: np.ndarray  # (n,) bool
    detail: np.ndarray  # (n, 2s, 2s) uint8
    thumb: np.ndarray  # (n, s, s) uint8, the screen's thumbnails
    information: np.ndarray  # (n,) float32
    background: np.ndarray  # (n,) float32


def gather_evidence(inputs: VerifyInputs, left: np.ndarray, right: np.ndarray, turn: np.ndarray, screen: np.ndarray, config: DetectorConfig) -> PairEvidence:
    """Each check's measurement for pairs (left, right turned by `turn`)."""
    arr = {name: np.asarray(getattr(inputs, name)) for name in ("aspect", "opaque", "information", "background")}
    swapped = np.where(turn % 2 == 1, -1.0, 1.0)  # a quarter turn swaps width and height: log aspect negates
    aspect = np.abs(arr["aspect"][left] - swapped * arr["aspect"][right])
    opaque_l, opaque_r = arr["opaque"][left], arr["opaque"][right]
    alpha = np.where(opaque_l & opaque_r, 1.0, 0.0)
    both = ~opaque_l & ~opaque_r
    if both.any():
        alpha[both] = pair_scores(inputs.alpha, left[both], right[both], turn[both])
    colour = colour_distance(np.asarray(inputs.colour)[left], turned_rows(inputs.colour, right, turn))
    info = np.minimum(arr["information"][left], arr["information"][right])
    back = np.maximum(arr["background"][left], arr["background"][right])
    detail = np.full(len(left), np.nan)
    low = low_information(info, back, config)
    if low.any():
        detail[low] = pair_scores(inputs.detail, left[low], right[low], turn[low])
    level = np.zeros(len(left))
    flat = info < config.flat_floor
    if flat.any():
        means = np.asarray(inputs.detail, np.float32)
        level[flat] = np.abs(means[left[flat]].mean(axis=(1, 2)) - means[right[flat]].mean(axis=(1, 2)))
    changed = pair_scores(inputs.thumb, left, right, turn, score=changed_share)
    return PairEvidence(aspect, alpha, colour, info, back, detail, screen, level, changed)


def low_information(info: np.ndarray, back: np.ndarray, config: DetectorConfig) -> np.ndarray:
    return (info < config.information_floor) | (back > config.background_ceiling)


def decide(evidence: PairEvidence, config: DetectorConfig) -> np.ndarray:
    """Per pair, the index in REASONS of the first check it fails (0: kept)."""
    reason = np.zeros(len(evidence.aspect), np.int8)
    low = low_information(evidence.information, evidence.background, config)
    flat = evidence.information < config.flat_floor
    weak = (np.nan_to_num(evidence.detail) < config.detail_threshold) | (evidence.screen < config.low_information_threshold)
    detail_fails = (low & weak) | (flat & (evidence.level > config.level_tolerance))
    for code, failed in reversed(
        list(
            enumerate(
                (
                    evidence.aspect > np.log(config.aspect_tolerance),
                    evidence.alpha < config.alpha_threshold,
                    evidence.colour > config.colour_tolerance,
                    detail_fails,
                    evidence.changed > config.changed_ceiling,
                ),
                start=1,
            )
        )
    ):
        reason[failed] = code
    return reason


def verify_chunk(
    aspect: np.ndarray,
    colour: np.ndarray,
    alpha: np.ndarray,
    opaque: np.ndarray,
    detail: np.ndarray,
    thumb: np.ndarray,
    information: np.ndarray,
    background: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    config: DetectorConfig,
) -> np.ndarray:
    """A task for `executor.map`: the reason code of each pair of one chunk.

    The arrays come as separate arguments (not one VerifyInputs) so an executor can resolve each shared
    reference it finds among a task's arguments (Dask does so only at the top level)."""
    inputs = VerifyInputs(aspect, colour, alpha, opaque, detail, thumb, information, background)
    left, right, turn, screen = pairs
    if len(left) == 0:
        return np.empty(0, np.int8)
    return decide(gather_evidence(inputs, left, right, turn, screen, config), config)


def verify_pairs(
    inputs: VerifyInputs,
    left: np.ndarray,
    right: np.ndarray,
    turn: np.ndarray,
    screen: np.ndarray,
    config: DetectorConfig,
    map_chunks: Callable[[Callable, list], Iterable[np.ndarray]],
    per_task: int = 2048,
) -> np.ndarray:
    """Reason codes for all pairs (0 = kept), chunks run through `map_chunks(task, chunks)` in order."""
    chunks = [(left[s : s + per_task], right[s : s + per_task], turn[s : s + per_task], screen[s : s + per_task]) for s in range(0, len(left), per_task)]
    if not chunks:
        return np.empty(0, np.int8)
    i = inputs
    task = partial(verify_chunk, i.aspect, i.colour, i.alpha, i.opaque, i.detail, i.thumb, i.information, i.background, config=config)
    return np.concatenate(list(map_chunks(task, chunks)))
