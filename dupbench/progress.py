"""Progress bars on stderr, shown only to a person watching a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm

# tqdm's monitor thread would be alive when a fork-started pool forks; it only tunes refresh rates.
tqdm.monitor_interval = 0


def progress_bar(desc: str, total: int | None, enabled: bool, unit: str = "it") -> tqdm:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=False,  # counts stay integers (40/60, not 40.0/60.0)
        disable=not (enabled and sys.stderr.isatty()),
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
