"""Batched SSIM of grayscale thumbnails, equal to scikit-image's reference.

`skimage.metrics.structural_similarity` spends most of its time per pair in Python glue and the five
filters it runs on every call (benchmarks/ssim_batched.py measures both). Here the per-image terms (local mean and variance) are filtered once
per image, and only the cross term E[xy] is filtered per pair, for a whole block of pairs in one
sequence of numpy/OpenCV calls. The parameters match skimage's defaults for 2-D uint8 input with
``data_range=255``: a 7x7 uniform window, K1=0.01, K2=0.03, sample covariance, and the mean taken
over the map with the window radius cropped from each edge (so only full windows count, which is why
an exact "valid" box sum reproduces scipy's reflected filter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:  # OpenCV's box filter is SIMD and releases the GIL; the numpy path serves interpreters without cv2.
    import cv2
except ImportError:  # pragma: no cover - exercised on the free-threaded build
    cv2 = None  # type: ignore[assignment]

WIN = 7
PAD = (WIN - 1) // 2
DATA_RANGE = 255.0
C1 = (0.01 * DATA_RANGE) ** 2
C2 = (0.03 * DATA_RANGE) ** 2
COV_NORM = WIN * WIN / (WIN * WIN - 1.0)


def box_mean_valid(stack: np.ndarray, use_cv2: bool = True) -> np.ndarray:
    """Mean over every full 7x7 window of each image in a (k, h, w) float stack -> (k, h-6, w-6)."""
    k, h, w = stack.shape
    if use_cv2 and cv2 is not None:
        flat = np.ascontiguousarray(stack).reshape(k * h, w)
        # Images are stacked vertically; the cropped centres only see windows inside their own image.
        mean = cv2.boxFilter(flat, -1, (WIN, WIN), normalize=True, borderType=cv2.BORDER_REFLECT)
        return mean.reshape(k, h, w)[:, PAD : h - PAD, PAD : w - PAD]
    acc = np.zeros((k, h + 1, w), dtype=stack.dtype)
    np.cumsum(stack, axis=1, out=acc[:, 1:])
    rows = acc[:, WIN:] - acc[:, :-WIN]
    acc2 = np.zeros((k, h - WIN + 1, w + 1), dtype=stack.dtype)
    np.cumsum(rows, axis=2, out=acc2[:, :, 1:])
    return (acc2[:, :, WIN:] - acc2[:, :, :-WIN]) / (WIN * WIN)


@dataclass(frozen=True)
class SsimTerms:
    """Per-image SSIM terms, computed once per image and reused for every pair it is in.

    ``mu`` is the local mean; ``mu2`` is mu^2 + C1/2 and ``var`` is the sample variance + C2/2, so a
    pair's denominators are plain sums of the two images' terms.
    """

    pixels: np.ndarray
    mu: np.ndarray
    mu2: np.ndarray
    var: np.ndarray

    def __len__(self) -> int:
        return len(self.pixels)

    def take(self, index: np.ndarray | slice) -> SsimTerms:
        return SsimTerms(self.pixels[index], self.mu[index], self.mu2[index], self.var[index])


def ssim_terms(thumbs: np.ndarray, dtype: type = np.float64, use_cv2: bool = True) -> SsimTerms:
    """Filter a (k, h, w) stack of thumbnails once: local means and variances."""
    if thumbs.ndim != 3 or min(thumbs.shape[1:]) < WIN:
        raise ValueError(f"thumbnails must be a (k, h, w) stack with h, w >= {WIN}, got {thumbs.shape}")
    x: np.ndarray = thumbs.astype(dtype)
    mu = box_mean_valid(x, use_cv2)
    mu_sq = mu * mu
    var = COV_NORM * (box_mean_valid(x * x, use_cv2) - mu_sq) + C2 / 2
    return SsimTerms(pixels=x, mu=mu, mu2=mu_sq + C1 / 2, var=var)


def ssim_block_map(rows: SsimTerms, cols: SsimTerms, use_cv2: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The SSIM map of every image in ``rows`` against every image in ``cols``, and each pair's variance
    sum (the map's structure weight) -> two (len(rows), len(cols), h-6, w-6) arrays.

    A block of rows in one call sequence: each numpy/OpenCV call then does R x C pairs of work for one
    dispatch, so the Python between calls, which holds the GIL, is a smaller share of the time: threads
    scale further and serial time per pair falls (README, "How it is built", has the measurement).
    """
    r, c = len(rows), len(cols)
    h, w = rows.mu.shape[1:]
    mu_xy = rows.mu[:, None] * cols.mu[None]
    products = rows.pixels[:, None] * cols.pixels[None]
    cross = box_mean_valid(products.reshape(r * c, *products.shape[2:]), use_cv2).reshape(r, c, h, w)
    variance = rows.var[:, None] + cols.var[None]
    return ssim_map(mu_xy, cross, rows.mu2[:, None] + cols.mu2[None], variance), variance


def ssim_map(mu_xy: np.ndarray, cross_mean: np.ndarray, mu2_sum: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """The SSIM map from a pair's terms: mu_x mu_y, E[xy], the two mu^2 terms' sum and the variances' sum
    (both with their constants, see SsimTerms). `mu_xy` is overwritten."""
    cross = cross_mean - mu_xy
    cross *= 2 * COV_NORM
    cross += C2
    mu_xy *= 2
    mu_xy += C1
    numerator = mu_xy * cross
    numerator /= mu2_sum * variance
    return numerator


def ssim_many_to_many(rows: SsimTerms, cols: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """SSIM of every row image against every column image -> (len(rows), len(cols)) float64."""
    return ssim_block_map(rows, cols, use_cv2)[0].mean(axis=(2, 3), dtype=np.float64)


def match_many_to_many(rows: SsimTerms, cols: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """The detector's match score of every row image against every column image: the lower of mean SSIM
    and structure-weighted SSIM -> (len(rows), len(cols)) float64.

    Mean SSIM over a mostly flat thumbnail is close to 1 for any two such images (a night sky, a
    product on white): flat windows agree whatever the subject. Weighting each window by the pair's
    local variance lets the windows with content decide, and keeps true copies (content agrees
    there too) near their plain SSIM.
    """
    smap, weight = ssim_block_map(rows, cols, use_cv2)
    plain = smap.mean(axis=(2, 3), dtype=np.float64)
    smap *= weight
    weighted = smap.sum(axis=(2, 3), dtype=np.float64) / weight.sum(axis=(2, 3), dtype=np.float64)
    return np.minimum(plain, weighted)


def ssim_pair_map(left: SsimTerms, right: SsimTerms, use_cv2: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The SSIM map of left[k] against right[k] for every k, and each pair's variance sum -> two
    (k, h-6, w-6) arrays (`ssim_block_map` pair by pair)."""
    k = len(left)
    h, w = left.mu.shape[1:]
    mu_xy = left.mu * right.mu
    cross = box_mean_valid(np.ascontiguousarray(left.pixels * right.pixels), use_cv2).reshape(k, h, w)
    weight = left.var + right.var
    return ssim_map(mu_xy, cross, left.mu2 + right.mu2, weight), weight


def match_pairs(left: SsimTerms, right: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """The match score (see `match_many_to_many`) of left[k] against right[k] for every k -> (k,) float64.

    The same arithmetic as `ssim_block_map` pair by pair instead of row by column: a batch of candidate
    pairs is one call sequence, where `ssim_pairs` makes one per distinct left image (a few pairs each
    when candidates are sparse, so Python glue cost more than the SSIM).
    """
    smap, weight = ssim_pair_map(left, right, use_cv2)
    plain = smap.mean(axis=(1, 2), dtype=np.float64)
    smap *= weight
    weighted = smap.sum(axis=(1, 2), dtype=np.float64) / weight.sum(axis=(1, 2), dtype=np.float64)
    return np.minimum(plain, weighted)


def ssim_one_to_many(one: SsimTerms, many: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """SSIM of the single image in ``one`` against each image in ``many`` -> (len(many),) float64."""
    return ssim_many_to_many(one, many, use_cv2)[0]


def match_one_to_many(one: SsimTerms, many: SsimTerms, use_cv2: bool = True) -> np.ndarray:
    """The match score (see `match_many_to_many`) of the single image in ``one`` against each in ``many``."""
    return match_many_to_many(one, many, use_cv2)[0]


def ssim_matrix(rows: SsimTerms, cols: SsimTerms, use_cv2: bool = True, score=ssim_one_to_many) -> np.ndarray:
    """`score` (SSIM by default) of every row image against every column image -> (len(rows), len(cols))."""
    out = np.empty((len(rows), len(cols)), dtype=np.float64)
    for i in range(len(rows)):
        out[i] = score(rows.take(slice(i, i + 1)), cols, use_cv2)
    return out


def ssim_pairs(terms: SsimTerms, left: np.ndarray, right: np.ndarray, use_cv2: bool = True, score=ssim_one_to_many) -> np.ndarray:
    """`score` (SSIM by default) of the pairs (terms[left[k]], terms[right[k]]), batched by equal left index."""
    scores = np.empty(len(left), dtype=np.float64)
    if len(left) == 0:
        return scores
    order = np.argsort(left, kind="stable")
    sorted_left = left[order]
    starts = np.flatnonzero(np.r_[True, sorted_left[1:] != sorted_left[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for start, end in zip(starts, ends):
        i = sorted_left[start]
        picks = order[start:end]
        scores[picks] = score(terms.take(slice(i, i + 1)), terms.take(right[picks]), use_cv2)
    return scores
