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
  `colour_tolerance`, and where both grids have chroma above `hue_chroma_floor`, their hues turn by at
  most `hue_tolerance` degrees (on a mostly grey picture a hue shift moves the grid less than the
  distance allows, yet it is another picture: a bluish galaxy made purple);
- where either image has little structure (the share of its detail thumbnail's pixels on an edge is
  below `information_floor`, or more than `background_ceiling` of them lie within a few grey levels of
  its commonest level: diagrams on white, small subjects on black), the detail thumbnails (twice the
  side) match at `detail_threshold` and the thumbnails themselves at `low_information_threshold`, or,
  failing that, both match at `toned_threshold` once one image is given the brightness, contrast and
  gamma edit that best makes it the other (on a mostly dark or flat picture such an edit clips or
  stretches the background that SSIM's windows are made of; another picture is not undone by three
  parameters, and the stricter bar pays for their freedom);
- where either is flat (edge share below `flat_floor`), their mean brightness agrees within
  `level_tolerance`: for a flat picture its level is all the information there is;
- where both have transparency (icons, clip art, logos: drawn, not photographed), the thumbnails match
  at `transparent_threshold`: a copy of a drawing is a re-save or a resize, which leaves its thumbnail
  nearly intact, while drawings of one set share a base and differ by an emblem, a state or a face;
  and where both are at least the detail side, no 5x5 patch of their detail thumbnails differs by more
  than `region_ceiling` grey levels once one is given the tone edit that best makes it the other (a
  resize moves a drawing's lines but keeps each patch's mean; another phase of a rendered Moon adds a
  lit crescent);
- and at most `changed_ceiling` of the thumbnails' SSIM windows show other content (local SSIM below
  CHANGED_SSIM), as stored or once one is given the tone edit that best makes it the other (an edit that
  clips flattens a region): an edit spreads its change thinly, another picture on the same base differs
  in one place.
The checks are vectorised over chunks of pairs and run in the executor like the other stages. A pair
kept here whose pictures share a plain frame is checked again inside it (frames.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from dupbench.config import DetectorConfig
from dupbench.detector.compare import oriented
from dupbench.detector.distinct import distinct
from dupbench.detector.ssim import SsimTerms, match_one_to_many, match_pairs, ssim_block_map, ssim_pair_map, ssim_pairs, ssim_terms

try:
    import cv2
except ImportError:  # pragma: no cover - free-threaded interpreters have no cv2 wheel
    cv2 = None  # type: ignore[assignment]

REASONS = ("kept", "aspect", "alpha", "colour", "detail", "changed", "frame")  # "frame": see frames.py
EDGE_LEVEL = 12.0  # |Laplacian| in grey levels at which a detail-thumbnail pixel counts as an edge
BACKGROUND_LEVELS = 6  # grey levels around the commonest one that count as background
CHANGED_SSIM = 0.3  # a thumbnail window whose local SSIM is below this shows other content


@dataclass(frozen=True)
class PairEvidence:
    """What verification measured for each pair (one array entry per pair)."""

    aspect: np.ndarray  # |log| of the ratio of the two aspect ratios
    alpha: np.ndarray  # match score of the alpha thumbnails (1 for two opaque images, 0 for one of each)
    colour: np.ndarray  # chroma-grid distance
    hue: np.ndarray  # degrees the right grid's hues are turned against the left's (0 where either has too little chroma)
    information: np.ndarray  # the lower of the two images' edge shares
    background: np.ndarray  # the higher of the two images' background shares
    detail: np.ndarray  # match score of the detail thumbnails (nan where not needed)
    screen: np.ndarray  # match score of the thumbnails (what the compare stage found)
    level: np.ndarray  # difference of mean brightness, grey levels
    changed: np.ndarray  # share of thumbnail windows with local SSIM below CHANGED_SSIM (the lower of as stored and after a tone fit)
    toned: np.ndarray  # the lower of the thumbnail and detail scores after a tone fit (nan where not needed)
    transparent: np.ndarray  # bool: both images have transparency
    region: np.ndarray  # two transparent pictures' largest patch difference, grey levels (nan where not measured)


def information(details: np.ndarray) -> np.ndarray:
    """Share of each detail thumbnail's pixels on an edge (|4-neighbour Laplacian| >= EDGE_LEVEL).

    Smooth gradients, flat areas and empty backgrounds have no edges; texture and photographs have many.
    """
    x = np.asarray(details, np.int16)  # exact (|Laplacian| <= 1020) and cheaper than float32: it runs in the parent
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return (np.abs(lap) >= EDGE_LEVEL).mean(axis=(1, 2))


def background(details: np.ndarray) -> np.ndarray:
    """Share of each detail thumbnail's pixels within BACKGROUND_LEVELS of its commonest grey level,
    counted from each image's histogram (a pass over the pixels and 256 counts each, not a full-size
    comparison: it runs in the parent, for every image in a pair)."""
    if not len(details):
        return np.empty(0, np.float32)
    flat = np.asarray(details, np.uint8).reshape(len(details), -1)
    counts = np.zeros((len(flat), 257), np.int64)
    for row, pixels in zip(counts, flat):
        row[1:] = np.bincount(pixels, minlength=256)
    mode = counts[:, 1:].argmax(axis=1)
    below, rows = np.cumsum(counts, axis=1), np.arange(len(flat))  # below[:, v]: pixels darker than grey level v
    window = below[rows, np.minimum(mode + BACKGROUND_LEVELS + 1, 256)] - below[rows, np.maximum(mode - BACKGROUND_LEVELS, 0)]
    return (window / max(1, flat.shape[1])).astype(np.float32)


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


def hue_turn(a: np.ndarray, b: np.ndarray, floor: float) -> np.ndarray:
    """Per pair of chroma grids a[k], b[k] (k, 8, 8, 2), the angle in degrees (0-180) between their hues:
    the angle of the sum over cells of a * conj(b) as complex numbers a* + i b*, so the cells with the
    most chroma weigh most. Tone and saturation edits scale chroma and keep this near 0; a hue shift turns
    every cell. 0 where either grid's RMS chroma is below `floor`: a grey picture's hue is noise."""
    za = np.asarray(a, np.float64)[..., 0] + 1j * np.asarray(a, np.float64)[..., 1]
    zb = np.asarray(b, np.float64)[..., 0] + 1j * np.asarray(b, np.float64)[..., 1]
    turn = np.degrees(np.abs(np.angle((za * np.conj(zb)).sum(axis=(1, 2)))))
    chroma = np.sqrt(np.minimum((np.abs(za) ** 2).mean(axis=(1, 2)), (np.abs(zb) ** 2).mean(axis=(1, 2))))
    return np.where(chroma >= floor, turn, 0.0)


def pair_scores(stack: np.ndarray, left: np.ndarray, right: np.ndarray, turn: np.ndarray, score: Callable = match_one_to_many) -> np.ndarray:
    """`score` (the detector's match score by default, see ssim.match_many_to_many) of stack[left[p]] against
    stack[right[p]] turned or mirrored by turn[p] (compare.oriented)."""
    out = np.empty(len(left), np.float64)
    for k in distinct(turn)[0]:
        pick = turn == k
        lefts, left_at = distinct(left[pick])
        rights, right_at = distinct(right[pick])
        images = np.concatenate([np.asarray(stack[lefts]), oriented(np.asarray(stack[rights]), int(k))])
        terms = ssim_terms(images, np.float32)
        out[pick] = ssim_pairs(terms, left_at, right_at + len(lefts), score=score)
    return out


def changed_share(one: SsimTerms, many: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """Share of the SSIM map's windows below CHANGED_SSIM, of `one` against each of `many` (an
    `ssim_pairs` score): re-encodes, resizes, small crops and tone edits lower SSIM a little everywhere;
    another picture built on the same base (an icon with another emblem, another phase of the Moon, the
    next frame of a video) differs completely somewhere."""
    return changed_windows(ssim_block_map(one, many, use_cv2)[0][0])


def changed_windows(smap: np.ndarray) -> np.ndarray:
    """Per map of a (k, h, w) stack of SSIM maps, the share of windows below CHANGED_SSIM."""
    return (smap < CHANGED_SSIM).mean(axis=(1, 2), dtype=np.float64)


def changed_pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`changed_share` of left[k] against right[k] for two stacks of thumbnails, pair by pair."""
    return changed_windows(ssim_pair_map(ssim_terms(left, np.float32), ssim_terms(right, np.float32))[0])


def matched_pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The match score of left[k] against right[k] for two stacks of images, pair by pair."""
    return match_pairs(ssim_terms(left, np.float32), ssim_terms(right, np.float32))


GAMMAS = np.geomspace(0.5, 2.0, 13)  # the gamma edits a tone fit tries (each with its own gain and offset)
GAINS = (0.5 * 255, 2.0 * 255)  # the contrast scales it may apply (1: gain 255)


def tone_fitted(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """source[k] through the brightness, contrast and gamma edit that best gives target[k]: clip(gain *
    (s / 255) ** gamma + offset), least squares over the target pixels that are not clipped (a clipped
    pixel says only "at least" or "at most"), the gamma from GAMMAS with the least error after clipping.

    Three parameters reproduce a tone edit, clipping included, but cannot turn one smooth picture into
    another the way free histogram matching does (it made two different gradient wallpapers of the tune
    set match: README, "How it is built"). The gain is held to GAINS: a fit that flattens a picture would make it
    match any near-flat one (SSIM of two flat windows is 1), and one that inverts it is no edit; where no
    fit qualifies the image is left as it is."""
    x = np.asarray(source, np.float64).reshape(len(source), -1) / 255.0
    y = np.asarray(target, np.float64).reshape(len(target), -1)
    inside = ((y > 0) & (y < 255)).astype(np.float64)
    best, best_error = np.asarray(source, np.float64).reshape(x.shape).copy(), np.full(len(x), np.inf)
    for gamma in GAMMAS:
        xg = x**gamma
        n, sx, sy = inside.sum(1), (inside * xg).sum(1), (inside * y).sum(1)
        sxx, sxy = (inside * xg * xg).sum(1), (inside * xg * y).sum(1)
        det = n * sxx - sx * sx
        ok = det > 1e-9
        gain = np.where(ok, (n * sxy - sx * sy) / np.where(ok, det, 1.0), 0.0)
        offset = np.where(n > 0, (sy - gain * sx) / np.maximum(n, 1.0), 0.0)
        fit = np.clip(gain[:, None] * xg + offset[:, None], 0, 255)
        error = ((fit - y) ** 2).mean(1)
        better = ok & (gain >= GAINS[0]) & (gain <= GAINS[1]) & (error < best_error)
        best[better], best_error[better] = fit[better], error[better]
    return np.clip(np.rint(best), 0, 255).astype(np.uint8).reshape(np.shape(source))


def fitted_changed(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`changed_pairs` once one image is given the tone edit that best makes it the other, the better
    direction: a brightness or contrast edit that clips flattens a region (a bright sky, a dark
    background), which reads as other content there; another picture differs in one place whatever
    its tones."""
    return np.minimum(changed_pairs(tone_fitted(left, right), right), changed_pairs(left, tone_fitted(right, left)))


def toned_scores(thumbs: tuple[np.ndarray, np.ndarray], details: tuple[np.ndarray, np.ndarray], bar: float) -> np.ndarray:
    """Per pair, the lower of the thumbnail and detail match scores once one image is given the tone edit
    that best makes it the other (`tone_fitted`), the better of the two directions (a brightness edit that
    clipped is reproduced only one way). The detail thumbnails (4x the pixels) are fitted only where the
    thumbnails reach `bar`; elsewhere the thumbnails' score, already below it, is returned."""
    (thumb_l, thumb_r), (detail_l, detail_r) = thumbs, details
    best = np.zeros(len(thumb_l))
    for forward in (True, False):
        fit = (lambda a, b: (tone_fitted(a, b), b)) if forward else (lambda a, b: (a, tone_fitted(b, a)))
        score = matched_pairs(*fit(thumb_l, thumb_r))
        reach = score >= bar
        if reach.any():
            score[reach] = np.minimum(score[reach], matched_pairs(*fit(detail_l[reach], detail_r[reach])))
        best = np.maximum(best, score)
    return best


@dataclass(frozen=True)
class PairRows:
    """Each pair's own thumbnails, detail thumbnails and colour grids (the right ones already turned):
    what a pair realigned on a small crop is verified on instead of the images as stored (see align.py)."""

    thumb_left: np.ndarray
    thumb_right: np.ndarray
    detail_left: np.ndarray
    detail_right: np.ndarray
    colour_left: np.ndarray
    colour_right: np.ndarray
    # The pair's lower edge share and higher background share, where these rows are a part of each
    # picture that is measured on its own (a frame's interior, see frames.py); None: the whole images'.
    information: np.ndarray | None = None
    background: np.ndarray | None = None


REGION_PATCH = 5  # side of the detail-thumbnail patches `region_difference` averages


def region_difference(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair, the largest |mean| over REGION_PATCH-square patches of left[k] - right[k] (detail
    thumbnails) once one is given the tone edit that best makes it the other (`tone_fitted`), the
    better direction. Resizing or re-encoding a drawing moves its edges by a pixel, which changes pixels
    but hardly a patch's mean; content one picture has and the other lacks (a lit crescent, a badge)
    shifts a whole patch."""

    def largest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        difference = np.asarray(a, np.float32) - np.asarray(b, np.float32)
        patches = np.lib.stride_tricks.sliding_window_view(difference, (REGION_PATCH, REGION_PATCH), axis=(1, 2))
        return np.abs(patches.mean(axis=(-2, -1))).max(axis=(1, 2))

    return np.minimum(largest(tone_fitted(left, right), right), largest(left, tone_fitted(right, left)))


def turned_rows(stack: np.ndarray, index: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """stack[index[p]] turned by turn[p], for every pair p."""
    rows = np.array(np.asarray(stack)[index])
    for k in distinct(turn)[0]:
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
    short_side: np.ndarray  # (n,) the shorter side in pixels


def gather_cheap(
    inputs: VerifyInputs, left: np.ndarray, right: np.ndarray, turn: np.ndarray, config: DetectorConfig, rows: PairRows | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The aspect, alpha, colour and hue measurements of PairEvidence: the checks that no SSIM map needs;
    colour and hue on `rows`' grids where given (a realigned crop), else on the stored ones."""
    aspect, alpha = gather_shape(inputs, left, right, turn)
    grids = pair_rows(inputs, rows, "colour", left, right, turn, slice(None))
    return aspect, alpha, colour_distance(*grids), hue_turn(*grids, config.hue_chroma_floor)


def gather_shape(inputs: VerifyInputs, left: np.ndarray, right: np.ndarray, turn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aspect and alpha measurements of PairEvidence: what no small crop changes."""
    aspects, opaque = np.asarray(inputs.aspect), np.asarray(inputs.opaque)
    swapped = np.where(turn % 2 == 1, -1.0, 1.0)  # a quarter turn swaps width and height: log aspect negates
    aspect = np.abs(aspects[left] - swapped * aspects[right])
    opaque_l, opaque_r = opaque[left], opaque[right]
    alpha = np.where(opaque_l & opaque_r, 1.0, 0.0)
    both = ~opaque_l & ~opaque_r
    if both.any():
        alpha[both] = pair_scores(inputs.alpha, left[both], right[both], turn[both])
    return aspect, alpha


def pair_rows(
    inputs: VerifyInputs, rows: PairRows | None, name: str, left: np.ndarray, right: np.ndarray, turn: np.ndarray, pick: np.ndarray | slice
) -> tuple[np.ndarray, np.ndarray]:
    """The picked pairs' `name` ("thumb", "detail" or "colour") rows, left and right (turned): realigned
    where `rows` are given, else as stored."""
    if rows is None:
        stack = getattr(inputs, name)
        return np.asarray(stack)[left[pick]], turned_rows(stack, right[pick], turn[pick])
    return getattr(rows, f"{name}_left")[pick], getattr(rows, f"{name}_right")[pick]


def gather_evidence(
    inputs: VerifyInputs, left: np.ndarray, right: np.ndarray, turn: np.ndarray, screen: np.ndarray, config: DetectorConfig, rows: PairRows | None = None
) -> PairEvidence:
    """Each check's measurement for pairs (left, right turned by `turn`); the thumbnail and detail
    checks on `rows` where given (a realigned crop), else on the stored images."""
    arr = {name: np.asarray(getattr(inputs, name)) for name in ("information", "background")}
    aspect, alpha, colour, hue = gather_cheap(inputs, left, right, turn, config, rows)
    own = None if rows is None or rows.information is None or rows.background is None else (rows.information, rows.background)
    if own is not None:
        info, back = own
    else:
        info = np.minimum(arr["information"][left], arr["information"][right])
        back = np.maximum(arr["background"][left], arr["background"][right])
    detail = np.full(len(left), np.nan)
    low = low_information(info, back, config)
    if low.any():
        if rows is None:
            detail[low] = pair_scores(inputs.detail, left[low], right[low], turn[low])
        else:
            detail[low] = matched_pairs(rows.detail_left[low], rows.detail_right[low])
    level = np.zeros(len(left))
    flat = info < config.flat_floor
    if flat.any():
        if own is not None and rows is not None:
            level[flat] = np.abs(rows.detail_left[flat].mean(axis=(1, 2)) - rows.detail_right[flat].mean(axis=(1, 2)))
        else:
            means = np.asarray(inputs.detail, np.float32)
            level[flat] = np.abs(means[left[flat]].mean(axis=(1, 2)) - means[right[flat]].mean(axis=(1, 2)))
    if rows is None:
        changed = pair_scores(inputs.thumb, left, right, turn, score=changed_share)
    else:
        changed = changed_pairs(rows.thumb_left, rows.thumb_right)
    passing = ~np.logical_or.reduce(invariant_failures(aspect, alpha, colour, hue, config))  # the others fail anyway: no fit needed
    refit = passing & (changed > config.changed_ceiling)
    if refit.any():
        changed[refit] = np.minimum(changed[refit], fitted_changed(*pair_rows(inputs, rows, "thumb", left, right, turn, refit)))
    toned = np.full(len(left), np.nan)
    weak = passing & low & weak_match(detail, screen, config) & (changed <= config.changed_ceiling)
    if weak.any():
        thumbs, details = (pair_rows(inputs, rows, name, left, right, turn, weak) for name in ("thumb", "detail"))
        toned[weak] = toned_scores(thumbs, details, config.toned_threshold)
    opaque = np.asarray(inputs.opaque)
    transparent = ~opaque[left] & ~opaque[right]
    region = np.full(len(left), np.nan)
    sides = np.asarray(inputs.short_side)
    drawn = passing & transparent & (screen >= config.transparent_threshold) & (np.minimum(sides[left], sides[right]) >= config.detail_size)
    if drawn.any():
        region[drawn] = region_difference(*pair_rows(inputs, rows, "detail", left, right, turn, drawn))
    return PairEvidence(aspect, alpha, colour, hue, info, back, detail, screen, level, changed, toned, transparent, region)


def invariant_failures(
    aspect: np.ndarray, alpha: np.ndarray, colour: np.ndarray, hue: np.ndarray, config: DetectorConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which pairs fail the aspect, transparency and colour checks (REASONS 1-3; colour: the grids'
    distance or their hue turn): the checks that need no SSIM map."""
    return (*shape_failures(aspect, alpha, config), (colour > config.colour_tolerance) | (hue > config.hue_tolerance))


def shape_failures(aspect: np.ndarray, alpha: np.ndarray, config: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs fail the aspect and transparency checks."""
    return aspect > np.log(config.aspect_tolerance), alpha < config.alpha_threshold


def crop_invariant_failures(inputs: VerifyInputs, left: np.ndarray, right: np.ndarray, turn: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """Pairs failing a check that no small crop changes (aspect within its tolerance, transparency):
    realigning them cannot help (see align.py). Colour is not one of them: a crop of 5% a side moves
    every cell of the 8x8 grid by up to half a cell, which on a colourful picture is more than the
    tolerance, so it is checked on the aligned grids instead."""
    aspect, alpha = shape_failures(*gather_shape(inputs, left, right, turn), config)
    return aspect | alpha


def low_information(info: np.ndarray, back: np.ndarray, config: DetectorConfig) -> np.ndarray:
    return (info < config.information_floor) | (back > config.background_ceiling)


def weak_match(detail: np.ndarray, screen: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """Pairs whose detail or thumbnail score is below the low-information bar, as stored."""
    return (np.nan_to_num(detail) < config.detail_threshold) | (screen < config.low_information_threshold)


def decide(evidence: PairEvidence, config: DetectorConfig) -> np.ndarray:
    """Per pair, the index in REASONS of the first check it fails (0: kept)."""
    reason = np.zeros(len(evidence.aspect), np.int8)
    low = low_information(evidence.information, evidence.background, config)
    flat = evidence.information < config.flat_floor
    weak = weak_match(evidence.detail, evidence.screen, config) & ~(np.nan_to_num(evidence.toned) >= config.toned_threshold)
    drawing = evidence.transparent & ((evidence.screen < config.transparent_threshold) | (evidence.region > config.region_ceiling))
    detail_fails = (low & weak) | (flat & (evidence.level > config.level_tolerance)) | drawing
    for code, failed in reversed(
        list(
            enumerate(
                (
                    *invariant_failures(evidence.aspect, evidence.alpha, evidence.colour, evidence.hue, config),
                    detail_fails,
                    evidence.changed > config.changed_ceiling,
                ),
                start=1,
            )
        )
    ):
        reason[failed] = code
    return reason


def verify_chunk(inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig) -> np.ndarray:
    """The reason code of each pair of one chunk."""
    left, right, turn, screen = pairs
    if len(left) == 0:
        return np.empty(0, np.int8)
    return decide(gather_evidence(inputs, left, right, turn, screen, config), config)


def on_chunk(task: Callable, *arrays_then_chunk: Any, config: DetectorConfig) -> Any:
    """`task(VerifyInputs(*arrays), chunk, config)`: what `map_pair_chunks` sends to the executor.

    The arrays (VerifyInputs' fields in order) travel as separate arguments of a partial, not as one
    VerifyInputs, so an executor can resolve each shared reference among a task's arguments (Dask does
    so only at the top level)."""
    *arrays, chunk = arrays_then_chunk
    return task(VerifyInputs(*arrays), chunk, config)


def map_pair_chunks(
    task: Callable, inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig, map_chunks: Callable[[Callable, list], Iterable], per_task: int
) -> Iterable:
    """`task(inputs, chunk, config)` over chunks of `per_task` pairs, in order, through `map_chunks`."""
    chunks = [tuple(column[s : s + per_task] for column in pairs) for s in range(0, len(pairs[0]), per_task)]
    if not chunks:
        return []
    arrays = [getattr(inputs, name) for name in inputs.__dataclass_fields__]
    return map_chunks(partial(on_chunk, task, *arrays, config=config), chunks)


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
    return joined_chunks(verify_chunk, inputs, (left, right, turn, screen), config, map_chunks, per_task, np.empty(0, np.int8))


def joined_chunks(
    task: Callable, inputs: VerifyInputs, pairs: tuple[np.ndarray, ...], config: DetectorConfig, map_chunks: Callable, per_task: int, empty: np.ndarray
) -> np.ndarray:
    """`map_pair_chunks` with one array a chunk, joined in order (`empty` where there are no pairs)."""
    parts = list(map_pair_chunks(task, inputs, pairs, config, map_chunks, per_task))
    return np.concatenate(parts) if parts else empty
