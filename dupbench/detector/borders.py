"""Stage 2b, borders: a plain border added around a picture is cut off before its thumbnails are made.

A letterbox, a white mat, padding to a square for a photo site: the border shifts and shrinks the
picture inside every thumbnail (a 5% black border moves a detailed photo's thumbnail further than the
screen forgives) and changes the aspect ratio, so the bordered copy and its original never meet; and
the border's edge is what two different pictures in one frame agree on.

A side's outermost rows (columns) are plain when at least BAND_SHARE of their pixels lie within
BAND_LEVELS of the edge row's median colour; a frame's rows cross its side bands, so each side is
measured between the plain bands of the two sides across it. A plain band of MIN_BAND to MAX_BAND of
the side is cut where it ends at an edge across the picture: one of the next EDGE_ROWS rows (of the
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
"""

from __future__ import annotations

import math

import numpy as np

BAND_LEVELS = 8  # per channel: re-encoding noise in a plain band (JPEG encodes flat blocks almost exactly)
BAND_SHARE = 0.95  # of a row's pixels (JPEG blurs the outermost ones; a watermark or a speck may touch a border)
MIN_BAND = 0.01  # of the side: thinner is a hairline, not a border
MAX_BAND = 0.3  # of the side: wider is part of the picture (a backdrop), whose copies need no cut
EDGE_ROWS = 8  # stored pixels past the plain rows the edge may lie: JPEG rings across one 8x8 block
EDGE_LEVELS = 32
EDGE_SEGMENTS = 8  # an edge across the picture: in every eighth of the row,
EDGE_SHARE = 0.25  # at least this share of the pixels more than EDGE_LEVELS from the band
STEP = 8  # rows scanned per call while a band lasts: a picture without a border costs one row a side


def deviation(rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Per pixel of (k, w, c) rows, the largest channel distance to `level` (c,)."""
    return np.abs(rows.astype(np.int16) - level.astype(np.int16)).max(axis=-1)


def plain_rows(sides: np.ndarray, span: tuple[int, int]) -> int:
    """How many rows of `sides` (h, w, c: its row 0 on the picture's edge) are plain from the edge in,
    each row's pixels from span[0] to span[1] from its end (the rows cross the perpendicular sides'
    bands), counted up to the first that is not or MAX_BAND of the side plus one."""
    h, w = sides.shape[:2]
    part = sides[:, span[0] : w - span[1]]
    if not part.shape[1]:
        return 0
    level = edge_level(sides, span)
    most = int(MAX_BAND * h)
    band = 0
    while band <= most:
        chunk = part[band : min(band + STEP, most + 1)]
        plain = (deviation(chunk, level) <= BAND_LEVELS).mean(axis=1) >= BAND_SHARE
        if not plain.all():
            return band + int(np.argmin(plain))
        band += len(chunk)
    return band


def band_rows(sides: np.ndarray, span: tuple[int, int], reach: int) -> int:
    """The border to cut on the side whose rows are `sides`: its plain rows, up to the edge across the
    picture (within `reach` rows past them) that ends them; 0 where there is none."""
    h, w = sides.shape[:2]
    band = plain_rows(sides, span)
    if band < max(1, MIN_BAND * h) or band > MAX_BAND * h:
        return 0
    part = sides[:, span[0] : w - span[1]]
    level = edge_level(sides, span)
    after = deviation(part[band : band + reach], level) > EDGE_LEVELS
    width = after.shape[1] // EDGE_SEGMENTS * EDGE_SEGMENTS
    if not width:
        return 0
    segments = after[:, :width].reshape(len(after), EDGE_SEGMENTS, -1).mean(axis=2)
    edge = (segments >= EDGE_SHARE).all(axis=1)
    return band + int(np.argmax(edge)) if edge.any() else 0


def border(image: np.ndarray, scale: float = 1.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): rows and columns of plain border to cut from a BGR (or grey) image,
    a decode at `scale` of the stored size (a reduced JPEG decode: the edge's blur is in stored pixels).
    A frame's rows cross its side bands and its columns its top and bottom: each side is measured
    between the plain bands of the two sides across it (found first, on whole rows and columns)."""
    pixels = image if image.ndim == 3 else image[..., None]
    columns = pixels.transpose(1, 0, 2)
    sides = (pixels, pixels[::-1], columns, columns[::-1])
    h, w = pixels.shape[:2]
    bands = [plain_rows(view, (0, 0)) for view in sides]
    bands = [band if band <= MAX_BAND * size else 0 for band, size in zip(bands, (h, h, w, w))]
    spans = ((bands[2], bands[3]), (bands[2], bands[3]), (bands[0], bands[1]), (bands[0], bands[1]))
    reach = max(2, math.ceil(EDGE_ROWS * scale))
    cut = [band_rows(view, span, reach) for view, span in zip(sides, spans)]
    if any(cut):  # a border was added: its other sides may end where the picture is as dark (or light) as the border
        colours = [edge_level(view, span) for view, span in zip(sides, spans)]
        found = [colours[k] for k in range(4) if cut[k]]
        for k, (view, span) in enumerate(zip(sides, spans)):
            band = plain_rows(view, span)
            same = any(np.abs(colours[k] - colour).max() <= BAND_LEVELS for colour in found)
            if not cut[k] and same and max(1, MIN_BAND * len(view)) <= band <= MAX_BAND * len(view):
                cut[k] = band
    top, bottom, left, right = cut
    return top, bottom, left, right


def edge_level(sides: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """The median colour of the outermost row, between the perpendicular bands."""
    part = sides[0, span[0] : sides.shape[1] - span[1]]
    return np.median(part if len(part) else sides[0], axis=0)


def scaled(cut: tuple[int, int, int, int], decoded: tuple[int, int], stored: tuple[int, int]) -> tuple[int, int, int, int]:
    """A cut measured on a decode of (height, width) `decoded`, in the pixels of the picture's `stored`
    size, to the far side of the first row that is not plain (part of it may be border: a reduced JPEG
    decode averages 8 rows into one): the least picture the measurement allows, so a bordered copy is
    never credited with more resolution than it has (cluster.keeper_rank)."""
    (h, w), (height, width) = decoded, stored

    def far(side: int, factor: float, size: int) -> int:
        return min(size, round((side + 1) * factor)) if side else 0

    top, bottom, left, right = cut
    return (far(top, height / h, height), far(bottom, height / h, height), far(left, width / w, width), far(right, width / w, width))
