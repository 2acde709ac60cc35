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
    assert whole["thread speed-up"] == pytest.approx(10.1 / 5.555, abs=0.01) and whole["baseline"] == "serial on 1 core"
    _, fits = speedup_vs_workers(runs, tmp_path)
    assert fits[0].baseline.startswith("serial on 1 core")


def test_median_interval_is_min_max_below_six_runs_and_an_order_statistic_interval_above():
    from dupbench.harness.stats import median_interval

    three = median_interval([3.0, 1.0, 2.0])
    assert (three.low, three.high, three.reaches) == (1.0, 3.0, False) and three.coverage == pytest.approx(0.75)
    ten = median_interval(np.arange(10.0))
    assert ten.reaches and (ten.low, ten.high) == (1.0, 8.0) and ten.coverage == pytest.approx(1 - 2 * 11 / 1024)


def test_ratio_interval_covers_the_ratio_of_medians_at_least_as_often_as_it_says():
    from dupbench.harness.stats import ratio_interval

    rng = np.random.default_rng(1)
    for n in (3, 5, 10):
        a, b = rng.lognormal(np.log(2.0), 0.3, (2000, n)), rng.lognormal(0.0, 0.3, (2000, n))
        intervals = [ratio_interval(x, y) for x, y in zip(a, b)]
        hit = np.mean([i.low <= 2.0 <= i.high for i in intervals])
        assert hit >= intervals[0].coverage - 0.02
        assert intervals[0].reaches == (n >= 7)


def test_seed_table_does_not_claim_95_percent_from_three_runs_and_calls_undecided_cells_inconclusive():
    from dupbench.report.text import INTERVAL, interval_note, seed_table, thread_vs_process

    runs = grid({("serial", 1, 2): 10.0, ("thread", 2, 2): 9.8, ("process", 2, 2): 5.0}, images=184)
    runs.loc[runs.index[3:6], "wall_s"] = [8.5, 9.8, 11.0]  # threads: a range straddling 1
    table = seed_table(runs).set_index(["images", "mode"])
    assert "95% CI" not in table.columns
    assert table.loc[(184, "thread"), "verdict"] == "inconclusive"
    assert "min-max" in table.loc[(184, "process"), INTERVAL] and table.loc[(184, "process"), "verdict"] == "faster (min-max range only)"
    assert "no 95% interval exists" in interval_note(seed_table(runs))
    versus = thread_vs_process(runs).iloc[0]
    assert versus["verdict"] == "processes faster (min-max range only)" and "min-max" in versus[INTERVAL]
    ten = thread_vs_process(grid({("serial", 1, 2): 10.0, ("thread", 2, 2): 5.0, ("process", 2, 2): 7.0}, repeats=10, images=184)).iloc[0]
    assert ten["verdict"] == "threads faster" and "min-max" not in ten[INTERVAL]


def test_the_report_says_how_far_speed_ups_move_without_the_flagged_runs():
    runs = grid({("serial", 1, 2): 10.0, ("process", 2, 2): 5.0}, repeats=4)
    runs["cell_id"] = runs["mode"] + "-" + runs["workers"].astype(str)
    runs["disturbed"] = False
    slow = runs.index[runs["mode"] == "process"][:2]  # two of four process runs disturbed and slow
    runs.loc[slow, ["wall_s", "disturbed"]] = [8.0, True]
    from dupbench.report.text import flagged_runs_effect

    (line,) = flagged_runs_effect(runs)
    # process walls 8, 8, 5.10, 5.15: median 6.575 s with the flagged runs, 5.125 s without: +28.3%
    assert "+28.3%" in line and "process" in line
    runs["disturbed"] = False
    assert flagged_runs_effect(runs) == []
