"""Intervals and verdicts valid for the number of runs a cell has, shared by `dupbench summary` and the report.

A median's interval is the distribution-free order-statistic one, [X(k), X(n+1-k)], whose coverage is
exact for any continuous distribution; a bootstrap of 3 values cannot promise 95%, and neither can any
interval from 3 runs: below the runs a level needs, the min-max range is given with the coverage it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

FASTER_THRESHOLD = 0.05  # a speed-up must clear 1 +- this to be called faster or slower


def median_coverage(n: int, k: int) -> float:
    """P(X(k) <= median <= X(n+1-k)) for n independent continuous values: 1 - 2 P(Binomial(n, 1/2) < k).
    Holds for any distribution, which is why it is used instead of a bootstrap at small n."""
    return 1 - 2 * sum(comb(n, i) for i in range(k)) / 2**n


@dataclass(frozen=True)
class Interval:
    """An interval with the coverage it is guaranteed to have (a lower bound, distribution-free);
    `reaches` says whether that coverage reaches the level asked for (else it is a min-max range)."""

    low: float
    high: float
    coverage: float
    reaches: bool

    def label(self, unit: str = "x") -> str:
        if np.isnan(self.low):
            return ""
        kind = f"{self.coverage:.0%}" if self.reaches else f"min-max, >={self.coverage:.0%}"
        return f"{self.low:.2f}-{self.high:.2f}{unit} ({kind})"


NO_INTERVAL = Interval(float("nan"), float("nan"), 0.0, False)


def median_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """Narrowest order-statistic interval [X(k), X(n+1-k)] for the median with coverage >= level; with too
    few values for that level (n < 6 for 95%), the min-max range, labelled by the coverage it does have."""
    x = np.sort(np.asarray(values, float))
    n = len(x)
    if n == 0:
        return NO_INTERVAL
    valid = [k for k in range(1, n // 2 + 1) if median_coverage(n, k) >= level]
    k = max(valid) if valid else 1
    return Interval(float(x[k - 1]), float(x[n - k]), median_coverage(n, k), bool(valid))


def ratio_interval(numerator: Sequence[float] | np.ndarray, denominator: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """Interval for median(numerator) / median(denominator): each median's order-statistic interval at
    sqrt(level), divided crosswise; independent samples, so coverage >= the product (95% needs 7 runs a side)."""
    a, b = median_interval(numerator, level**0.5), median_interval(denominator, level**0.5)
    if np.isnan(a.low) or np.isnan(b.low) or b.low <= 0:
        return NO_INTERVAL
    return Interval(a.low / b.high, a.high / b.low, a.coverage * b.coverage, a.reaches and b.reaches)


def speed_verdict(low: float, high: float, reaches: bool = True, above: str = "faster", below: str = "slower") -> str:
    """Faster (slower) only if the whole interval clears 1 +- FASTER_THRESHOLD, "same" only if it lies inside
    that band, else "inconclusive"; a verdict read off a min-max range (no 95% interval) says so."""
    if np.isnan(low) or np.isnan(high):
        return "n/a (no runs)"
    if low > 1 + FASTER_THRESHOLD:
        verdict = above
    elif high < 1 - FASTER_THRESHOLD:
        verdict = below
    elif low >= 1 - FASTER_THRESHOLD and high <= 1 + FASTER_THRESHOLD:
        verdict = f"same (within {FASTER_THRESHOLD:.0%})"
    else:
        return "inconclusive"
    return verdict if reaches else f"{verdict} (min-max range only)"
