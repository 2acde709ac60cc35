"""Invented seed-study results for the report's tests (importable by name, like planted.py): one row per
size, mode and repeat, with the times a test's model gives, so each test states only its model."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

MODES = ("serial", "thread", "process")


def seed_frame(sizes: Iterable[int], repeats: int, times: Callable[[int, str, int], dict], **columns: object) -> pd.DataFrame:
    """Rows of an all-pairs seed sweep on 2 cores; `times(images, mode, repeat)` gives each row's measured
    columns (wall_s, stage times, ...) and `columns` the ones every row shares."""
    rows = [
        dict(
            sweep="seed_study",
            **columns,
            images=images,
            mode=mode,
            pairs="all",
            cores=2,
            workers=1 if mode == "serial" else 2,
            repeat=repeat,
            **times(images, mode, repeat),
        )
        for images in sizes
        for mode in MODES
        for repeat in range(repeats)
    ]
    return pd.DataFrame(rows)
