"""Blocks of the pair matrix: the unit of work the compare stage and the prefilter hand to the executor."""

from __future__ import annotations

Tile = tuple[int, int, int, int]  # rows r0:r1 against columns c0:c1


def triangle_tiles(n: int, block: int, square: bool = False) -> list[Tile]:
    """Tiles covering every pair i < j of n items once (with `square`, every pair (i, j) of the n x n square)."""
    starts = range(0, n, block)
    return [(r, min(r + block, n), c, min(c + block, n)) for r in starts for c in starts if square or c >= r]
