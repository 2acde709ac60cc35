"""Progress bars on stderr, shown only to a person watching a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm


class SilentBar:
    """A bar nobody sees: what the stages call on one, doing nothing. Importing tqdm is a noticeable share of
    a run's start-up, so a run with no terminal to draw on (scripts, --quiet, pipes) does not import it."""

    def __init__(self, total: int | None) -> None:
        self.total = total

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(desc: str, total: int | None, enabled: bool, unit: str = "it") -> tqdm | SilentBar:
    if not (enabled and sys.stderr.isatty()):
        return SilentBar(total)
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # tqdm's monitor thread would be alive when a fork-started pool forks; it only tunes refresh rates
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=False,  # counts stay integers (40/60, not 40.0/60.0)
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
