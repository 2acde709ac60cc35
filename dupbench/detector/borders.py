"""Stage 2b, borders: a plain border added around a picture is cut off before its thumbnails are made.

A letterbox, a white mat, padding to a square for a photo site: the border shifts and shrinks the
picture inside every thumbnail (a 5% black border moves a detailed photo's thumbnail further than the
screen forgives) and changes the aspect ratio, so the bordered copy and its original never meet; and
the border's edge is what two different pictures in one frame agree on.

A side's outermost rows (columns) are plain when at least BAND_SHARE of their pixels lie within
BAND_LEVELS of the edge row's median colour; a frame's rows cross its side bands, so each side is
measured between the plain bands of the two sides across it. A plain band of MIN_BAND (and at least
MIN_PIXELS) to MAX_BAND of the side is cut where it ends at an edge across the picture: one of the next EDGE_ROWS rows (of the
stored size) has, in each of its EDGE_SEGMENTS equal parts, at least EDGE_SHARE of the pixels more
than EDGE_LEVELS from the band; the cut is at that row, not where the plain rows end (JPEG's ringing
and anti-aliasing blur a border's last rows differently in every copy). Once one side is cut, a
border was added, and the other sides' plain bands of its colour are cut too: a dark picture inside
a black border has no edge there, but its band is the border.

A shape on a plain background (a silhouette, a product on white) reaches across only part of the
picture, so its background is not cut: the cut would follow the shape's outline, which two copies
blur differently. A sky, a wall or a backdrop fades or ends in a few objects, a diagram's margin at a
few lines, a galaxy's black at a few stars: they stay. Transparent pictures keep their canvas (an
icon's padding is part of the drawing at every size).

Every side is read on a sample of its rows and of their pixels (SAMPLE each), so the cost is the same
at any resolution: reading every pixel of the bands doubled the load stage on astronomy photos, whose
black skies are plain bands on every side.
"""

from __future__ import annotations

import math

import numpy as np

BAND_LEVELS = 8  # per channel: re-encoding noise in a plain band (JPEG encodes flat blocks almost exactly)
BAND_SHARE = 0.95  # of a row's pixels (JPEG blurs the outermost ones; a watermark or a speck may touch a border)
MIN_BAND = 0.01  # of the side: thinner is a hairline, not a border
MIN_PIXELS = 16  # stored pixels, and at least: two rows of a 1/8 reduced JPEG decode, so every copy sees the band
MAX_BAND = 0.3  # of the side: wider is part of the picture (a backdrop), whose copies need no cut
EDGE_ROWS = 8  # stored pixels past the plain rows the edge may lie: JPEG rings across one 8x8 block
EDGE_LEVELS = 32
EDGE_SEGMENTS = 8  # an edge across the picture: in every eighth of the row,
EDGE_SHARE = 0.25  # at least this share of the pixels more than EDGE_LEVELS from the band
SAMPLE = 128  # rows, and pixels of a row, looked at per side: the cost is the same at any resolution


def deviation(rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per pixel of (k, w, c) rows, the largest channel distance to `level` (c,): channel by channel,
    since numpy's reduction over an axis of three is slower than the arithmetic."""
    x = rows.astype(np.int16)
    x -= level.astype(np.int16)
    np.abs(x, out=x)
    largest = x[..., 0]
    for channel in range(1, x.shape[-1]):
        largest = np.maximum(largest, x[..., channel])
    return largest


def sampled(sides: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """Each row of `sides` between span[0] and span[1] pixels from its ends, every k-th pixel of it
    (at most about SAMPLE): plainness and an edge's reach are shares of a row, which a sample keeps."""
    part = sides[:, span[0] : sides.shape[1] - span[1]]
    return part[:, :: max(1, part.shape[1] // SAMPLE)]


def plain(rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    return (deviation(rows, level) <= BAND_LEVELS).mean(axis=1) >= BAND_SHARE


def plain_rows(part: np.ndarray) -> int:
    """How many rows of `part` (sampled rows, row 0 on the picture's edge) are plain from the edge in,
    counted up to the first that is not or MAX_BAND of the side plus one. Every k-th row is looked at
    first (at most about SAMPLE of them), then the rows between the last plain one and the first not."""
    h = part.shape[0]
    if not part.shape[1]:
        return 0
    level = np.median(part[0], axis=0)
    if not plain(part[:1], level)[0]:  # most pictures: one row a side
        return 0
    most = int(MAX_BAND * h)
    stride = max(1, h // SAMPLE)
    rows = np.arange(0, most + 1, stride)
    first = len(rows)
    for start in range(0, len(rows), 16):
        coarse = plain(part[rows[start : start + 16]], level)
        if not coarse.all():
            first = start + int(np.argmin(coarse))
            break
    low, high = (first - 1) * stride + 1, min(first * stride, most) + 1
    fine = plain(part[low:high], level)
    return low + int(np.argmin(fine)) if not fine.all() else high


def least(h: int, scale: float) -> float:
    """The fewest decoded rows of a side of `h` that may be a border: MIN_BAND of it, and MIN_PIXELS
    stored pixels (a 6 px border is invisible to a 1/8 JPEG decode: cut from a PNG alone, it made the
    JPEG copy look larger, and its keeper)."""
    return max(1.0, MIN_BAND * h, MIN_PIXELS * scale)


def band_rows(sides: np.ndarray, span: tuple[int, int], reach: int, scale: float, known: int | None = None) -> tuple[int, int]:
    """The border to cut on the side whose rows are `sides` (up to the edge across the picture, within
    `reach` rows past the plain ones, that ends them; 0 where there is none), and its plain rows
    (`known` where already counted)."""
    h = sides.shape[0]
    part = sampled(sides, span)
    band = plain_rows(part) if known is None else known
    if band < least(h, scale) or band > MAX_BAND * h:
        return 0, band
    after = deviation(part[band : band + reach], np.median(part[0], axis=0)) > EDGE_LEVELS
    width = after.shape[1] // EDGE_SEGMENTS * EDGE_SEGMENTS
    if not width:
        return 0, band
    segments = after[:, :width].reshape(len(after), EDGE_SEGMENTS, -1).mean(axis=2)
    edge = (segments >= EDGE_SHARE).all(axis=1)
    return (band + int(np.argmax(edge)) if edge.any() else 0), band


def border(image: np.ndarray, scale: float = 1.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): rows and columns of plain border to cut from a BGR (or grey) image,
    a decode at `scale` of the stored size (a reduced JPEG decode: the edge's blur is in stored pixels).
    A frame's rows cross its side bands and its columns its top and bottom: each side is measured
    between the plain bands of the two sides across it (found first, on whole rows and columns)."""
    pixels = image if image.ndim == 3 else image[..., None]
    columns = pixels.transpose(1, 0, 2)
    sides = (pixels, pixels[::-1], columns, columns[::-1])
    whole = [plain_rows(sampled(view, (0, 0))) for view in sides]
    short = [band <= MAX_BAND * len(view) for band, view in zip(whole, sides)]  # longer on whole rows is longer still on part of them
    bands = [band if ok else 0 for band, ok in zip(whole, short)]
    spans = ((bands[2], bands[3]), (bands[2], bands[3]), (bands[0], bands[1]), (bands[0], bands[1]))
    reach = max(2, math.ceil(EDGE_ROWS * scale))
    cut, band = [0] * 4, list(whole)
    for k, (view, span) in enumerate(zip(sides, spans)):
        if short[k]:
            cut[k], band[k] = band_rows(view, span, reach, scale, None if any(span) else whole[k])
    if any(cut):  # a border was added: its other sides may end where the picture is as dark (or light) as the border
        colours = [np.median(sampled(view, span)[0], axis=0) for view, span in zip(sides, spans)]
        found = [colours[k] for k in range(4) if cut[k]]
        for k, view in enumerate(sides):
            same = any(np.abs(colours[k] - colour).max() <= BAND_LEVELS for colour in found)
            if not cut[k] and same and least(len(view), scale) <= band[k] <= MAX_BAND * len(view):
                cut[k] = band[k]
    top, bottom, left, right = cut
    return top, bottom, left, right


def scaled(cut: tuple[int, int, int, int], decoded: tuple[int, int], stored: tuple[int, int]) -> tuple[int, int, int, int]:
    """A cut measured on a decode of (height, width) `decoded`, in the pixels of the picture's `stored`
    size; on a reduced decode to the far side of the first row that is not plain (part of it may be
    border: a 1/8 JPEG decode averages 8 rows into one): the least picture the measurement allows, so a
    bordered copy is never credited with more resolution than it has (cluster.keeper_rank)."""
    (h, w), (height, width) = decoded, stored

    def far(side: int, factor: float, size: int) -> int:
        return min(size, round((side + (factor > 1.0)) * factor)) if side else 0

    top, bottom, left, right = cut
    return (far(top, height / h, height), far(bottom, height / h, height), far(left, width / w, width), far(right, width / w, width))
