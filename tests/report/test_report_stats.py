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


SLOW_TWO_CORE_SERIAL = {("serial", 1, 1): 10.0, ("serial", 1, 2): 12.0, ("thread", 2, 2): 5.5, ("process", 2, 2): 6.0}


def test_speedups_are_taken_against_the_fastest_serial_configuration_and_say_which(tmp_path):
    from dupbench.report.text import seed_table, stage_speedups

    runs = grid(SLOW_TWO_CORE_SERIAL, images=1472).assign(load_s=1.0, compare_s=lambda f: f["wall_s"] - 1.0)
    table = seed_table(runs)
    thread = table[(table["images"] == 1472) & (table["mode"] == "thread")].iloc[0]
    assert thread["speed-up"] == f"{10.1 / 5.555:.2f}x"  # medians: 10 * 1.01 over 5.5 * 1.01, not 12 over 5.5
    assert thread["baseline"] == "serial on 1 core"
    whole = stage_speedups(runs).set_index("stage").loc["whole run"]
    assert whole["thread speed-up"] == pytest.approx(10.1 / 5.555, abs=0.01) and whole["baseline"] == "serial on 1 core(s)"
    _, fits = speedup_vs_workers(runs, tmp_path)
    assert fits[0].baseline.startswith("serial on 1 core")
