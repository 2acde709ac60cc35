"""The report's statistics: Amdahl over workers <= cores, Karp-Flatt, the best serial baseline, intervals valid for n."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dupbench.report.figures import amdahl_fits, speedup_vs_workers


def grid(times: dict[tuple[str, int, int], float], repeats: int = 3, images: int = 1600) -> pd.DataFrame:
    """Runs of (mode, workers, cores) -> wall time, all pairs, one results file, with a 1% spread."""
    rows = [
        dict(mode=mode, workers=workers, cores=cores, wall_s=wall * (1 + 0.01 * r), images=images, pairs="all", source="a.csv", interpreter="CPython 3.11.7")
        for (mode, workers, cores), wall in times.items()
        for r in range(repeats)
    ]
    return pd.DataFrame(rows)


OVERSUBSCRIBED = {
    ("serial", 1, 1): 10.0,
    ("serial", 1, 2): 10.0,
    ("thread", 1, 2): 10.0,
    ("thread", 2, 2): 5.5,  # 1/S = 0.55 at p = 2: serial fraction 0.1
    ("thread", 4, 2): 9.0,  # oversubscribed: much slower, must not move the fit
    ("thread", 8, 2): 12.0,
}


def test_amdahl_fits_only_workers_up_to_cores_and_keeps_oversubscription_apart(tmp_path):
    _, (fit,) = speedup_vs_workers(grid(OVERSUBSCRIBED), tmp_path)
    assert fit.workers == (1, 2)
    assert fit.serial_fraction == pytest.approx(0.1, abs=0.02)
    assert [p for p, _ in fit.karp_flatt] == [2] and fit.karp_flatt[0][1] == pytest.approx(0.1, abs=0.02)
    assert [w for w, _ in fit.oversubscribed] == [4, 8]
    assert fit.oversubscribed[1][1] < 1


def test_karp_flatt_is_zero_for_ideal_and_one_for_no_speedup():
    from dupbench.report.data import karp_flatt

    assert karp_flatt(2.0, 2) == pytest.approx(0.0)
    assert karp_flatt(1.0, 4) == pytest.approx(1.0)
    assert np.isnan(karp_flatt(1.5, 1))


def test_amdahl_sentence_labels_oversubscribed_runs_and_reports_karp_flatt():
    from dupbench.report.render import amdahl_sentence

    text = amdahl_sentence(amdahl_fits(grid(OVERSUBSCRIBED)))
    assert "Karp-Flatt" in text and "p = 2" in text
    assert "Oversubscribed" in text and "8 workers" in text
    assert "workers 1, 2 (only workers <= cores)" in text
