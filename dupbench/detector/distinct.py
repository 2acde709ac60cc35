"""Distinct values and where each element falls among them: what the stages ask of `np.unique`.

numpy's own `np.unique` imports `numpy.ma` on its first call, 8 ms in every process of a run (the
parent in the verify stage, each worker in its first compare task); a sort does the same work here.
"""

from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of a 1-d array, and for each element the index of its value among them."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    first = np.ones(len(values), bool)
    first[1:] = ranked[1:] != ranked[:-1]
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ranked[first], inverse


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a (k, 2) float32 array (in no promised order), and each row's index among them."""
    rows = np.ascontiguousarray(rows, np.float32)
    keys = rows.view(np.int64).ravel()  # both floats of a row as one 64-bit key: equal rows, equal keys
    _, inverse = distinct(keys)
    chosen = np.empty(int(inverse.max()) + 1 if len(inverse) else 0, np.int64)
    chosen[inverse] = np.arange(len(rows))
    return rows[chosen], inverse
