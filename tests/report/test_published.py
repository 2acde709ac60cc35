"""The published study beside ours: the quoted numbers stay as quoted, and every verdict follows the data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from seed_frames import seed_frame

from dupbench.report.published import (
    PUBLISHED,
    beyond_two_cores,
    differences,
    matched_interpreters,
    published_section,
    side_by_side,
    small_size_verdict,
    threads_win_claim,
    zero_thread_claim,
)
from dupbench.report.text import PUBLISHED_SIZES, growth_claims, seed_table, variance_claims

METADATA = [{"cpu_model": "AMD EPYC", "logical_cores": 2, "allowed_cores": [0, 1]}]


def study_runs(thread: float = 0.5, process: float = 0.6, repeats: int = 3, spread: float = 0.01, sizes=PUBLISHED_SIZES, startup: float = 0.2) -> pd.DataFrame:
    """Seed-study rows: serial takes 1 unit x (n/100)^1.5 + start-up; the pools the given fraction of the work."""
    shares = {"serial": (1.0, 0.5), "thread": (thread, 0.9), "process": (process, 0.95)}

    def times(images: int, mode: str, repeat: int) -> dict:
        share, cpu = shares[mode]
        work, jitter = (images / 100) ** 1.5, 1 + spread * (repeat - (repeats - 1) / 2)
        return dict(
            wall_s=(work * share + startup) * jitter,
            load_s=0.4 * work * share * jitter,
            compare_s=0.6 * work * share * jitter,
            cpu_utilization=cpu,
            pairs_compared=images * (images - 1) // 2,
            dataset_bytes=images * 350_000,
        )

    columns = dict(source="seed.csv", interpreter="CPython 3.11.7", profile="study:800-1200", dataset_seed=1, thumb_size=32)
    return seed_frame(sizes, repeats, times, **columns)


def test_the_quoted_table_covers_the_study_sizes_and_modes():
    assert PUBLISHED.sizes == PUBLISHED_SIZES  # the seed sweep's sizes are the paper's
    for images in PUBLISHED.sizes:
        assert all(PUBLISHED.time(images, mode) is not None for mode in ("serial", "thread", "process"))
    assert PUBLISHED.utilisation("thread") == PUBLISHED.utilisation("process") != PUBLISHED.utilisation("serial")


def test_side_by_side_puts_the_papers_numbers_beside_the_seed_tables():
    runs = study_runs()
    table = side_by_side(runs).set_index(["images", "mode"])
    ours = seed_table(runs).set_index(["images", "mode"])
    for images in PUBLISHED_SIZES:
        serial = PUBLISHED.time(images, "serial")
        process = PUBLISHED.time(images, "process")
        assert table.loc[(images, "processes"), "published speed-up"] == f"{serial / process:.2f}x"
        assert table.loc[(images, "processes"), "our speed-up"] == ours.loc[(images, "process"), "speed-up"]
        assert table.loc[(images, "threads"), "our verdict"] == ours.loc[(images, "thread"), "verdict"]
        assert table.loc[(images, "serial"), "published CPU"] == f"{PUBLISHED.utilisation('serial'):.0%}"
        assert table.loc[(images, "threads"), "our CPU"] == "90%"
    assert table.loc[(6, "threads"), "published s"] == "0.0"
    assert table.loc[(6, "threads"), "published speed-up"].startswith("undefined")


def test_sizes_not_measured_here_say_so():
    table = side_by_side(study_runs(sizes=(184,))).set_index(["images", "mode"])
    assert table.loc[(6, "serial"), "our median s"] == "not measured"
    assert table.loc[(184, "serial"), "our median s"] != "not measured"


def test_zero_thread_time_is_tested_against_our_thread_runs():
    slow = zero_thread_claim(study_runs())
    assert "does not hold" in slow[0] and "0.0 s" in slow[0]
    fast = study_runs()
    fast.loc[fast["mode"] == "thread", "wall_s"] = [0.01, 0.012, 0.011] * len(PUBLISHED_SIZES)
    assert "holds here" in zero_thread_claim(fast)[0]


@pytest.mark.parametrize(
    "thread, process, spread, expected",
    [
        (0.3, 0.9, 0.01, ") holds: "),  # 7 runs a side: a 95% interval, so no 'min-max' caveat
        (0.9, 0.3, 0.01, "does not hold: processes are faster"),
        (0.6, 0.6, 0.5, "cannot be decided"),  # wide spread: the interval reaches across 1 +- 5%
    ],
)
def test_threads_winning_at_small_sizes_follows_the_verdict(thread, process, spread, expected):
    lines = threads_win_claim(study_runs(thread, process, repeats=7, spread=spread, startup=0.0))
    assert [int(line.split(" images")[0].split()[-1]) for line in lines] == list(PUBLISHED_SIZES[:-1])
    assert all(expected in line for line in lines)


def test_a_verdict_on_a_min_max_range_is_named_so():
    assert small_size_verdict("threads faster (min-max range only)") == "holds (read off a min-max range only)"
    assert small_size_verdict("inconclusive").startswith("cannot be decided")


def test_differences_read_hardware_and_work_from_the_inputs():
    lines = differences(study_runs(), METADATA)
    assert "AMD EPYC, 2 logical cores, 2 allowed, pools of 2 workers" in lines[0]
    assert "5,000 threads" in lines[1] and "32 px" in lines[2] and f"{1472 * 1471 // 2:,} pairs" in lines[2]
    serial_1472 = study_runs().query("mode == 'serial' and images == 1472")["wall_s"].median()
    assert f"ours {1000 * serial_1472 / 1472:.1f} ms" in lines[3]
    assert f"paper {1000 * 38.8 / 1472:.1f} ms" in lines[3]


def test_the_section_keeps_the_growth_and_variance_claims():
    runs = study_runs()
    section = "\n".join(published_section(runs, METADATA))
    assert PUBLISHED.title in section and PUBLISHED.cpu in section
    for line in growth_claims(runs) + variance_claims(runs):
        assert line in section


def test_the_report_renders_the_section(tmp_path):
    from dupbench.report.data import StudyInputs
    from dupbench.report.render import closing

    runs = study_runs().assign(status="ok", warmup=False)
    inputs = StudyInputs(runs=runs, metadata=METADATA, timelines=pd.DataFrame())
    parts = closing(inputs, runs, runs, tmp_path, "dupbench report seed.csv")
    start = parts.index("## Against the published study")
    assert parts[start + 1 : start + 1 + len(published_section(runs, METADATA))] == published_section(runs, METADATA)
    raw = interpreter_runs({"CPython 3.13.15": {"serial": 1.0, "thread": 0.9}, "CPython 3.13.15t (GIL off)": {"serial": 1.2, "thread": 0.7}})
    parts = closing(inputs, raw, runs, tmp_path, "dupbench report seed.csv")
    start = parts.index("### One variable at a time: the same CPython built with and without the GIL")
    assert parts[start + 1 : start + 1 + len(matched_interpreters(raw))] == matched_interpreters(raw)
    start = parts.index("## Beyond two cores, on paper")
    assert parts[start + 1 : start + 1 + len(beyond_two_cores(runs))] == beyond_two_cores(runs)


def amdahl_runs(fraction: float, workers: int = 2, startup: float = 0.0, one_core_workers=()) -> pd.DataFrame:
    """Serial load 3 s and compare 5 s (scan, cluster and start-up 0); the pool's stages each keep `fraction`
    serial: T(p) = T(1) (f + (1 - f) / p). Optional 1-core pool runs whose wall time grows by `startup` per worker."""
    base = dict(source="grid.csv", interpreter="A", profile="study", dataset_seed=1, thumb_size=32, images=1000, pairs="all", cores=workers)
    stages = {"scan_s": 0.0, "load_s": 3.0, "compare_s": 5.0, "cluster_s": 0.0}
    shrink = fraction + (1 - fraction) / workers
    rows = []
    for repeat in range(3):
        rows.append({**base, **stages, "mode": "serial", "workers": 1, "repeat": repeat, "wall_s": 8.0})
        for mode in ("thread", "process"):
            parallel = {k: v * shrink for k, v in stages.items()}
            rows.append({**base, **parallel, "mode": mode, "workers": workers, "repeat": repeat, "wall_s": 8.0 * shrink})
            for w in one_core_workers:
                rows.append({**base, **stages, "images": 10, "cores": 1, "mode": mode, "workers": w, "repeat": repeat, "wall_s": 1.0 + startup * w})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.35])
def test_predictions_match_amdahls_and_gustafsons_formulas(fraction):
    from dupbench.report.published import PREDICTED_CORES, prediction_table, stage_costs

    costs = stage_costs(amdahl_runs(fraction), "process")
    assert {c.stage: round(c.serial_fraction, 9) for c in costs if c.serial_s > 0} == {"load": fraction, "compare": fraction}
    table = prediction_table(amdahl_runs(fraction)).set_index(["mode", "law"])
    for n in PREDICTED_CORES:
        amdahl = 1 / (fraction + (1 - fraction) / n)
        gustafson = fraction + (1 - fraction) * n
        assert table.loc[("processes", "Amdahl (fixed size)"), f"{n} cores"] == f"{amdahl:.2f}x"
        assert table.loc[("threads", "Gustafson (scaled size)"), f"{n} cores"] == f"{gustafson:.2f}x"
    assert table.loc[("processes", "Amdahl (fixed size)"), "measured, 2 cores"] == table.loc[("processes", "Amdahl (fixed size)"), "model, 2 cores"]


def test_measured_pool_cost_per_worker_is_added_beyond_the_measured_workers():
    from dupbench.report.published import amdahl_speedup, prediction_assumptions, stage_costs, startup_per_worker

    runs = amdahl_runs(0.1, startup=0.05, one_core_workers=(1, 2, 4))
    like = runs[runs["mode"] == "process"].iloc[0]
    cost, where = startup_per_worker(runs, "process", like)
    assert cost == pytest.approx(0.05) and "1, 2, 4 workers at 10 images" in where
    costs = stage_costs(runs, "process")
    assert amdahl_speedup(costs, 64, cost) == pytest.approx(8.0 / (8.0 * (0.1 + 0.9 / 64) + 0.05 * 62))
    assert any("0.050 s per extra worker" in line for line in prediction_assumptions(runs))
    assert any("not measured at several worker counts" in line for line in prediction_assumptions(amdahl_runs(0.1)))


def test_a_stage_slower_in_parallel_counts_as_serial_and_no_runs_say_so():
    from dupbench.report.published import StageCost, beyond_two_cores

    assert StageCost("outside", 0.2, 0.3, 2).serial_fraction == 1.0
    assert StageCost("load", 1.0, 0.4, 2).serial_fraction == 0.0  # superlinear: clipped, never negative time
    assert beyond_two_cores(amdahl_runs(0.1).query("mode == 'serial'"))[0].startswith("_No parallel")
    section = beyond_two_cores(amdahl_runs(0.1))
    assert any("Predictions, not measurements" in part for part in section)
    from dupbench.report.published import MANYCORE_SWEEP

    assert (Path(__file__).resolve().parents[2] / MANYCORE_SWEEP).exists() and MANYCORE_SWEEP in section[-1]


def interpreter_runs(times: dict[str, dict[str, float]], source: str = "pythons.csv", repeats: int = 7) -> pd.DataFrame:
    """One cell (400 images, all pairs, 2 cores) per interpreter label, with the given median wall time per mode."""
    rows = []
    for interpreter, modes in times.items():
        for mode, wall in modes.items():
            for repeat in range(repeats):
                rows.append(
                    dict(
                        source=source,
                        interpreter=interpreter,
                        profile="study",
                        dataset_seed=1,
                        thumb_size=32,
                        images=400,
                        pairs="all",
                        cores=2,
                        mode=mode,
                        workers=1 if mode == "serial" else 2,
                        repeat=repeat,
                        wall_s=wall * (1 + 0.002 * (repeat - repeats // 2)),
                    )
                )
    return pd.DataFrame(rows)


def three_pythons() -> tuple[str, str, str]:
    from dupbench.report.data import interpreter_label

    system = interpreter_label({"implementation": "CPython", "version": "3.11.7", "gil_enabled": True, "py_gil_disabled_build": False})
    gil = interpreter_label({"implementation": "CPython", "version": "3.13.15", "gil_enabled": True, "py_gil_disabled_build": False})
    free = interpreter_label({"implementation": "CPython", "version": "3.13.15", "gil_enabled": False, "py_gil_disabled_build": True})
    return system, gil, free


def test_the_matched_pair_is_found_from_the_interpreter_labels():
    from dupbench.report.published import matched_pairs, parse_interpreter

    system, gil, free = three_pythons()
    assert parse_interpreter(free).free_threaded and not parse_interpreter(free).gil_enabled
    assert parse_interpreter(gil).version == parse_interpreter(free).version == "3.13.15"
    assert [(a.label, b.label) for a, b in matched_pairs([system, gil, free])] == [(gil, free)]
    assert matched_pairs([system, free]) == []


def test_matched_comparison_reports_cost_speedups_and_where_the_builds_differ():
    from dupbench.report.published import matched_cells, matched_findings, matched_table

    system, gil, free = three_pythons()
    runs = interpreter_runs(
        {
            system: {"serial": 0.8, "thread": 0.5, "process": 0.5},
            gil: {"serial": 1.0, "thread": 1.0, "process": 0.55},  # GIL held: threads gain nothing
            free: {"serial": 1.3, "thread": 0.7, "process": 0.72},  # 30% slower single-threaded, threads scale
        }
    )
    cells = matched_cells(runs)
    table = matched_table(cells).set_index("interpreter")
    assert table.loc[gil, "role"] == "GIL build (matched)" and table.loc[free, "role"] == "free-threaded build (matched)"
    assert table.loc[system, "role"].startswith("separate row")
    assert table.loc[free, "single-thread cost of free-threading"].startswith(f"{1.3:.2f}x the GIL build's serial time")
    assert "free-threaded slower" in table.loc[free, "single-thread cost of free-threading"]
    lines = matched_findings(cells)
    pair = next(line for line in lines if line.startswith("Matched pair"))
    assert f"{gil} / {free}" in pair and f"{1.0 / 0.55:.2f}x" in pair and f"{1.3 / 0.7:.2f}x" in pair
    differ = next(line for line in lines if line.startswith("Where the builds differ"))
    assert "threads over serial: 'same (within 5%)' with the GIL, 'faster' without" in differ
    assert "threads against processes: 'processes faster' with the GIL, 'same (within 5%)' without" in differ
    assert "processes over serial" not in differ  # both builds: faster
    assert any(line.startswith(f"{system} is a separate row") and "no 3.11.7 build with the GIL off" in line for line in lines)


def test_without_a_matched_pair_the_text_says_the_interpreters_differ_in_more_than_the_gil():
    from dupbench.report.published import matched_cells, matched_findings, matched_interpreters

    system, gil, free = three_pythons()
    lines = matched_findings(matched_cells(interpreter_runs({system: {"serial": 1.0, "thread": 0.6}, free: {"serial": 1.3, "thread": 0.7}})))
    assert len(lines) == 1 and lines[0].startswith("No matched pair here")
    unpaired = interpreter_runs({system: {"serial": 1.0, "thread": 0.6}, free: {"serial": 1.3, "thread": 0.7}})
    assert [part.startswith("|") for part in matched_interpreters(unpaired)] == [False]  # no table repeating the one above it
    split = pd.concat([interpreter_runs({system: {"serial": 1.0}, gil: {"serial": 1.0}}), interpreter_runs({free: {"serial": 1.3}}, source="other.csv")])
    assert not any(line.startswith("Matched pair") for line in matched_findings(matched_cells(split)))  # other files: not comparable
    assert matched_interpreters(interpreter_runs({gil: {"serial": 1.0}}))[0].startswith("- No results file here ran several interpreters")


def test_the_prediction_spread_follows_the_measured_interval():
    from dupbench.report.published import prediction_spread

    tight, loose = amdahl_runs(0.1), amdahl_runs(0.1)
    parallel = loose["mode"] != "serial"
    loose.loc[parallel, "wall_s"] *= np.tile([0.8, 1.0, 1.25], parallel.sum() // 3)

    def width(runs: pd.DataFrame) -> float:
        line = next(line for line in prediction_spread(runs) if line.startswith("Precision, processes"))
        low, high = (float(v) for v in re.search(r"spans ([\d.]+)x-([\d.]+)x", line).groups())
        assert low <= high
        return high - low

    assert width(tight) == pytest.approx(0.0) and width(loose) > 1.0
