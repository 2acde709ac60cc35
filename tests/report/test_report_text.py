"""The report's sentences follow the numbers they are given: invented frames flip the wording."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from seed_frames import seed_frame

from dupbench.report.data import amdahl_serial_fraction, growth_exponent
from dupbench.report.text import (
    PUBLISHED_SIZES,
    compare_modes,
    findings,
    growth_claims,
    seed_table,
    speed_verdict,
    stage_speedups,
    validity,
    variance_claims,
    why_gil,
)

ROOT = Path(__file__).resolve().parents[2]
SIZES = (100, 400, 1600)


def fake_runs(
    thread_compare: float, process_compare: float, sizes=SIZES, repeats: int = 3, thread_load: float = 0.5, process_load: float = 0.5
) -> pd.DataFrame:
    """Serial spends 0.5 units loading and 1 comparing, times n/100 squared; the pools take the given fractions."""
    shares = {"serial": (1.0, 1.0), "thread": (thread_load, thread_compare), "process": (process_load, process_compare)}

    def times(images: int, mode: str, repeat: int) -> dict:
        load, compare = shares[mode]
        scale, jitter = (images / 100) ** 2, 1 + 0.01 * repeat
        return dict(
            wall_s=scale * (0.5 * load + compare) * jitter + 0.2,
            load_s=scale * 0.5 * load * jitter,
            compare_s=scale * compare * jitter,
            scan_s=0.0,
            cluster_s=0.0,
        )

    return seed_frame(sizes, repeats, times)


def line_starting(lines: list[str], prefix: str) -> str:
    return next(line for line in lines if line.startswith(prefix))


def test_stage_wording_flips_with_the_numbers():
    threads_win = line_starting(why_gil(fake_runs(thread_compare=0.5, process_compare=0.6), None), "compare")
    threads_flat = line_starting(why_gil(fake_runs(thread_compare=1.0, process_compare=0.5), None), "compare")
    partial = line_starting(why_gil(fake_runs(thread_compare=0.75, process_compare=0.5), None), "compare")
    neither = line_starting(why_gil(fake_runs(thread_compare=1.0, process_compare=1.0), None), "compare")
    assert "threads keep up with processes" in threads_win
    assert "holds the GIL" in threads_flat and "threads keep up" not in threads_flat
    assert "releases the GIL for part of its time" in partial
    assert "cannot show whether it holds the GIL" in neither and "holds the GIL:" not in neither


def test_findings_say_who_leads_and_call_a_tie_a_tie():
    assert "threads lead" in line_starting(findings(fake_runs(0.4, 0.6)), "compare")
    assert "processes lead" in line_starting(findings(fake_runs(0.8, 0.5)), "compare")
    assert "about even" in line_starting(findings(fake_runs(0.5, 0.51)), "compare")
    assert compare_modes(1.97, 1.99).startswith("about even")
    assert compare_modes(1.5, 1.9) == "processes lead" and compare_modes(1.9, 1.5) == "threads lead"


def test_speed_verdict_uses_the_harness_threshold():
    assert speed_verdict(1.2, 1.5) == "faster"
    assert speed_verdict(0.5, 0.8) == "slower"
    assert speed_verdict(0.9, 1.3) == "inconclusive"
    assert speed_verdict(0.97, 1.04) == "same (within 5%)"
    assert speed_verdict(1.2, 1.5, reaches=False) == "faster (min-max range only)"
    assert speed_verdict(float("nan"), float("nan")).startswith("n/a")


def test_ideal_gap_and_startup_cost_follow_the_numbers():
    lines = findings(fake_runs(0.5, 0.5))
    gap = line_starting(lines, "Against the ideal 2x")
    assert "parallel efficiency" in gap
    slow_processes = fake_runs(0.5, 0.5).assign(wall_s=lambda f: f["wall_s"] + np.where(f["mode"] == "process", 5.0, 0.0))
    start = line_starting(findings(slow_processes), "At 100 images")
    assert "the process pool took" in start and "longer than serial" in start
    assert "the thread pool still saved" in start
    memory = fake_runs(0.5, 0.5).assign(peak_rss_bytes=lambda f: np.where(f["mode"] == "process", 3, 1) * 100 * 2**20)
    assert "processes 300 MiB (3.0x serial)" in line_starting(findings(memory), "Peak memory")


def test_growth_is_fitted_and_an_exponential_is_refuted():
    lines = growth_claims(fake_runs(0.5, 0.5))
    slope = line_starting(lines, "Serial time vs images")
    assert "compare stage n^2.00" in slope and "load stage n^2.00" in slope
    assert "not exponential" in line_starting(lines, "The published study calls")
    single = growth_claims(fake_runs(0.5, 0.5, sizes=(100,)))
    assert single == ["Only one dataset size was measured, so how time grows with the number of images cannot be fitted here."]


def test_variance_is_reported_and_single_runs_are_called_out():
    assert "ran 3 times" in variance_claims(fake_runs(0.5, 0.5))[0]
    assert "carry no variance" in variance_claims(fake_runs(0.5, 0.5, repeats=1))[0]


def test_seed_table_has_the_published_shape_with_absent_rows_marked():
    table = seed_table(fake_runs(0.5, 0.5))
    assert len(table) == 3 * len(set(PUBLISHED_SIZES) | set(SIZES))
    assert (table[table["images"].isin(PUBLISHED_SIZES)]["median s"] == "not measured").all()
    assert set(table[(table["images"] == 1600) & (table["mode"] != "serial")]["verdict"]) == {"faster (min-max range only)"}


def test_published_sizes_match_the_committed_seed_study():
    spec = tomllib.loads((ROOT / "experiments" / "seed_study.toml").read_text())
    assert tuple(spec["dataset"]["sizes"]) == PUBLISHED_SIZES


def test_validity_counts_disturbed_runs():
    runs = fake_runs(0.5, 0.5).assign(disturbed=False, foreign_cpu_fraction=0.02)
    runs.loc[:3, "disturbed"] = True
    lines = validity(runs, [{"allowed_cores": [0, 1], "sessions": [{"control_drift": 0.25}]}])
    assert lines[0].startswith(f"4 of {len(runs)} measured runs were flagged as disturbed")
    assert "+25%" in lines[-1]


def test_validity_names_each_core_count_once_and_skips_files_without_one():
    runs = fake_runs(0.5, 0.5).assign(disturbed=False, foreign_cpu_fraction=0.02)
    metadata = [{"allowed_cores": [0, 1]}, {"allowed_cores": 4}, {"allowed_cores": [0, 1]}, {}]
    assert any("The machine has 2, 4 allowed core(s)" in line for line in validity(runs, metadata))
    assert any("The machine has ? allowed core(s)" in line for line in validity(runs, [{}]))


def test_growth_and_amdahl_fits():
    assert growth_exponent([100, 200, 400], [1.0, 4.0, 16.0]) == pytest.approx(2.0)
    assert amdahl_serial_fraction([1, 2, 4], [1.0, 2.0, 4.0]) == pytest.approx(0.0, abs=1e-9)
    assert amdahl_serial_fraction([2, 4], [1 / (0.5 + 0.25), 1 / (0.5 + 0.125)]) == pytest.approx(0.5)


def test_dask_overhead_follows_the_numbers_and_says_when_dask_is_absent():
    from dupbench.report.text import dask_overhead

    runs = fake_runs(0.6, 0.5)
    assert "No Dask runs" in dask_overhead(runs)[0]
    process = runs[runs["mode"] == "process"]
    slower = pd.concat([runs, process.assign(mode="dask", wall_s=process["wall_s"] + 1.5, thumb_size=32)])
    slower["thumb_size"] = 32
    line = dask_overhead(slower)[0]
    assert line.startswith("100 images, 2 workers on 2 cores, all pairs: Dask") and "+1.50 s" in line
    faster = pd.concat([runs, process.assign(mode="dask", wall_s=process["wall_s"] - 0.1)]).assign(thumb_size=32)
    assert "-0.10 s" in dask_overhead(faster)[0]


def test_dask_overhead_never_takes_its_baseline_from_another_results_file():
    from dupbench.report.text import dask_overhead

    runs = fake_runs(0.6, 0.5).assign(thumb_size=32, source="a.csv")
    process = runs[runs["mode"] == "process"]
    other_sweep = process.assign(source="b.csv", wall_s=process["wall_s"] * 10)
    with_dask = pd.concat([runs, other_sweep, process.assign(mode="dask", wall_s=process["wall_s"] + 1.5)])
    lines = dask_overhead(with_dask)
    cells = [line for line in lines if "vs process pool" in line]
    assert cells and all("+1.50 s" in line for line in cells)  # against a.csv's own process cells only
    assert len(cells) == len(process.groupby(["images", "workers", "cores", "pairs"]))


def test_a_comparison_measured_in_two_files_uses_one_of_them_only():
    from dupbench.report.data import one_source_per_comparison

    big = fake_runs(0.6, 0.5, repeats=5).assign(source="grid.csv", profile="study", dataset_seed=1, thumb_size=32, interpreter="A")
    small = fake_runs(0.9, 0.9, sizes=[100], repeats=3).assign(source="other.csv", profile="study", dataset_seed=1, thumb_size=32, interpreter="A", wall_s=99.0)
    kept = one_source_per_comparison(pd.concat([big, small]))
    assert set(kept["source"]) == {"grid.csv"} and len(kept) == len(big)
    other_interpreter = small.assign(interpreter="B")
    kept = one_source_per_comparison(pd.concat([big, other_interpreter]))
    assert set(kept[kept["interpreter"] == "B"]["source"]) == {"other.csv"}  # nothing else measured B


def test_interpreter_table_puts_each_interpreter_against_its_own_serial_runs():
    from dupbench.report.text import interpreter_findings, interpreter_table

    gil = fake_runs(1.0, 0.5, sizes=[400]).assign(interpreter="CPython 3.11.7")
    free = fake_runs(0.5, 0.5, sizes=[400]).assign(interpreter="CPython 3.13t (GIL off)")
    free["wall_s"] *= 2  # a slower interpreter: speed-ups are still against its own serial time
    table = interpreter_table(pd.concat([gil, free]).assign(source="pythons.csv"))
    thread = table[table["mode"] == "thread"].set_index("interpreter")["speed-up"]
    process = table[table["mode"] == "process"].set_index("interpreter")["speed-up"]
    assert thread["CPython 3.13t (GIL off)"] == process["CPython 3.13t (GIL off)"]
    assert float(thread["CPython 3.11.7"].rstrip("x")) < float(process["CPython 3.11.7"].rstrip("x"))
    lines = interpreter_findings(table)
    assert any("GIL off" in line and "about even" in line for line in lines)
    assert any("3.11.7" in line and "processes lead" in line for line in lines)
    assert interpreter_table(gil.assign(source="one.csv")).empty  # one interpreter per file: no side-by-side


def test_validity_names_cells_whose_serial_baseline_drifted_between_core_counts():
    from dupbench.report.text import baseline_drift

    runs = fake_runs(0.6, 0.5)
    one_core = runs[runs["mode"] == "serial"].assign(cores=1)
    assert "no cell slower by more than 5%" in baseline_drift(pd.concat([runs, one_core]))[0]
    slow_two_core = pd.concat([runs.assign(wall_s=runs["wall_s"] * 1.2), one_core])
    line = baseline_drift(slow_two_core)[0]
    assert "100 images (all pairs) +20%" in line and "does not inflate" in line


def test_serial_core_drift_is_compared_within_one_interpreter():
    from dupbench.report.text import baseline_drift

    serial = fake_runs(0.6, 0.5, sizes=(400,)).query("mode == 'serial'")
    fast, slow = serial.assign(interpreter="CPython 3.11.7"), serial.assign(interpreter="CPython 3.13.15t (GIL off)", wall_s=serial["wall_s"] * 2)
    # each interpreter: the same time on 1 and on 2 cores; pooled, 2 cores would look slower (more 3.13t runs there)
    runs = pd.concat([fast.assign(cores=1), fast.assign(cores=2), slow.assign(cores=2), slow.assign(cores=2), slow.assign(cores=1)])
    assert "no cell slower by more than 5%" in baseline_drift(runs)[0]


def test_stage_table_reads_each_results_file_on_its_own_and_names_it():
    old = fake_runs(1.0, 0.5, sizes=[100, 1600]).assign(source="results/vm/20261122T000000Z-aaa.csv")
    new = fake_runs(0.5, 0.5, sizes=[100, 1472]).assign(source="results/vm/20261201T000000Z-bbb.csv")
    table = stage_speedups(pd.concat([old, new]))
    compare = table[table["stage"].str.startswith("compare")].set_index("results")
    assert compare.loc["20261122T000000Z-aaa", "images"] == 1600 and compare.loc["20261201T000000Z-bbb", "images"] == 1472
    assert compare.loc["20261122T000000Z-aaa", "thread speed-up"] == pytest.approx(1.0, abs=0.05)
    assert compare.loc["20261201T000000Z-bbb", "thread speed-up"] == pytest.approx(2.0, abs=0.1)
    assert any("20261201T000000Z-bbb" in line for line in why_gil(pd.concat([old, new]), None))


def test_growth_is_fitted_within_one_results_file():
    seed = fake_runs(0.6, 0.5, sizes=[6, 184, 1472]).assign(source="results/vm/new-seed.csv")
    grid = fake_runs(0.6, 0.5, sizes=[100, 400, 1600]).assign(source="results/vm/old-grid.csv")
    grid["wall_s"] *= 3  # another day, another commit: mixing it in would bend the fit
    line = growth_claims(pd.concat([seed, grid]))[0]
    assert "(6-1472 images, 3 sizes, `new-seed`)" in line


def with_cpu(runs: pd.DataFrame) -> pd.DataFrame:
    """Serial keeps one of two cores busy, the pools nearly both; a little spread per repeat."""
    busy = np.where(runs["mode"] == "serial", 0.5, 0.95) - 0.01 * runs["repeat"]
    return runs.assign(cpu_utilization=np.where(runs["cores"] == 1, 0.99, busy), interpreter="CPython 3.11.7")


def test_the_opening_findings_give_a_number_an_interval_and_a_figure_each():
    from dupbench.report.headline import headline_findings

    runs = with_cpu(fake_runs(0.6, 0.5, repeats=7))
    accuracy = pd.DataFrame({"threshold": [0.5, 0.8], "precision": [0.7, 0.9], "recall": [0.9, 0.8], "f1": [0.79, 0.85]})
    found = headline_findings(runs, accuracy=accuracy)
    assert 5 <= len(found) <= 8
    assert all(f.figures and f.section for f in found)
    largest = found[0].text
    assert largest.startswith("At 1,600 images (the largest seed size") and "%: faster)" in largest and "min-max" not in largest  # 7 runs a side: 95%
    smallest = found[1].text
    assert smallest.startswith("At 100 images (the smallest seed size")
    cpu = next(f.text for f in found if f.text.startswith("CPU utilisation"))
    assert "serial 47% (44%-50%, 98%)" in cpu and "processes 92% (" in cpu  # median of 0.50, 0.49, ... 0.44
    assert found[-1].text.startswith("Accuracy on the generated study set") and "best F1 0.850 at 0.80" in found[-1].text
    few = headline_findings(with_cpu(fake_runs(0.6, 0.5, repeats=3)))
    assert "min-max, coverage >=56%: faster)" in few[0].text


def test_the_opening_names_the_slower_pool_only_where_it_is_slower():
    from dupbench.report.headline import headline_findings

    runs = fake_runs(0.5, 0.5).assign(wall_s=lambda f: f["wall_s"] + np.where((f["mode"] == "process") & (f["images"] == 100), 5.0, 0.0))
    smallest = headline_findings(runs)[1].text
    assert "the process pool's start-up is not repaid" in smallest and "thread pool" not in smallest
    assert "not repaid" not in headline_findings(fake_runs(0.5, 0.5))[1].text


def test_cpu_table_has_a_row_per_interpreter_size_pairs_and_mode_on_all_cores():
    from dupbench.report.text import cpu_table

    runs = with_cpu(fake_runs(0.6, 0.5))
    runs = pd.concat([runs, runs.assign(cores=1, workers=1)])
    table = cpu_table(runs)
    assert list(table.columns) == ["interpreter", "images", "pairs", "cores", "mode", "runs", "median CPU utilisation", "IQR"]
    assert len(table) == len(SIZES) * 3 and set(table["cores"]) == {2}
    serial = table[(table["mode"] == "serial") & (table["images"] == 400)].iloc[0]
    assert serial["median CPU utilisation"] == "49%" and serial["IQR"] == "48%-50%" and serial["runs"] == 3
    assert list(table["mode"][:3]) == ["serial", "thread", "process"]
    assert cpu_table(runs.drop(columns="cpu_utilization")).empty


def test_each_result_is_also_given_without_its_flagged_runs():
    from dupbench.report.text import interpreter_table

    runs = fake_runs(0.5, 0.5).assign(disturbed=False)
    slow = (runs["mode"] == "thread") & (runs["images"] == 1600) & (runs["repeat"] == 2)
    runs.loc[slow, "wall_s"] *= 3  # one disturbed run drags the median up
    runs.loc[slow, "disturbed"] = True
    runs.loc[(runs["mode"] == "process") & (runs["images"] == 100), "disturbed"] = True
    table = seed_table(runs).set_index(["images", "mode"])
    thread = table.loc[(1600, "thread")]
    assert thread["unflagged runs"] == 2 and thread["runs"] == 3
    assert float(thread["speed-up without flagged"].rstrip("x")) > float(thread["speed-up"].rstrip("x"))
    assert table.loc[(100, "process"), "speed-up without flagged"] == "no unflagged runs" and table.loc[(100, "process"), "unflagged runs"] == 0
    assert table.loc[(400, "process"), "speed-up without flagged"] == table.loc[(400, "process"), "speed-up"]
    assert table.loc[(6, "thread"), "speed-up without flagged"] == ""  # not measured
    side = interpreter_table(pd.concat([runs.assign(interpreter="A"), runs.assign(interpreter="B")]).assign(source="pythons.csv"))
    cell = side[(side["interpreter"] == "B") & (side["images"] == 100) & (side["mode"] == "process")].iloc[0]
    assert cell["speed-up without flagged"] == "no unflagged runs"
    all_serial_flagged = runs.assign(disturbed=runs["mode"] == "serial")
    assert set(seed_table(all_serial_flagged).query("mode == 'thread' and runs > 0")["speed-up without flagged"]) == {"no unflagged serial runs"}


def test_every_measured_cell_has_a_row_in_all_cells():
    from dupbench.report.text import all_cells

    grid = fake_runs(0.6, 0.5, sizes=(100, 400)).assign(source="results/vm/grid.csv", interpreter="CPython 3.11.7", disturbed=False, start_method="forkserver")
    pruned = grid[grid["images"] == 400].assign(pairs="pruned", wall_s=lambda f: f["wall_s"] / 4)
    large = grid[grid["images"] == 400].assign(images=5000, wall_s=lambda f: f["wall_s"] * 100)
    large.loc[large["mode"] == "process", "disturbed"] = True
    oversubscribed = grid[(grid["mode"] == "thread") & (grid["images"] == 100)].assign(workers=8)
    runs = pd.concat([grid, pruned, large, oversubscribed], ignore_index=True)
    table = all_cells(runs)
    assert table["runs"].sum() == len(runs)  # every run in exactly one row
    assert len(table) == 3 * 4 + 1
    assert "start_method" not in table and set(table["results"]) == {"grid"}
    cell = table[(table["pairs"] == "pruned") & (table["mode"] == "process")].iloc[0]
    assert cell["images"] == 400 and cell["runs"] == 3 and cell["speed-up"] == all_cells(grid).query("images == 400 and mode == 'process'").iloc[0]["speed-up"]
    big = table[(table["images"] == 5000) & (table["mode"] == "process")].iloc[0]
    assert big["flagged"] == 3 and big["median s"] == f"{large[large['mode'] == 'process']['wall_s'].median():.2f}"
    assert list(table[(table["images"] == 100) & (table["pairs"] == "all")]["mode"]) == ["serial", "thread", "process", "thread"]  # by workers, then mode
    assert table[table["workers"] == 8].iloc[0]["speed-up"].endswith("x")


def test_validity_reports_the_monitors_own_cpu_or_says_it_is_missing():
    runs = fake_runs(0.5, 0.5).assign(disturbed=False, foreign_cpu_fraction=0.02)
    measured = runs.assign(monitor_overhead=np.linspace(0.004, 0.013, len(runs)))
    line = line_starting(validity(measured, [{}]), "Monitor overhead")
    assert f"median {np.median(measured['monitor_overhead']):.2%} of one core (max 1.30%) over {len(runs)} runs" in line
    assert any("was not recorded" in line for line in validity(runs, [{}]))


def test_reproduce_starts_with_the_one_command_that_reruns_everything():
    from dupbench.report.text import reproduce_commands

    commands = reproduce_commands([{"sweep_path": "experiments/seed_study.toml", "python": {}}], None, None, "dupbench report results/ --out report")
    assert commands[0].startswith("bash experiments/run_all.sh")
    assert "dupbench sweep experiments/seed_study.toml --out results/" in commands and commands[-1] == "dupbench report results/ --out report"


def test_interpreter_finding_leads_with_the_matched_pair_and_names_other_builds_apart():
    from dupbench.report.headline import interpreter_finding

    older = fake_runs(0.6, 0.5, sizes=[400]).assign(interpreter="CPython 3.11.7")
    gil = fake_runs(0.6, 0.5, sizes=[400]).assign(interpreter="CPython 3.13.15")
    free = fake_runs(0.6, 0.6, sizes=[400]).assign(interpreter="CPython 3.13.15t (GIL off)")
    free["wall_s"] *= 1.5
    text = interpreter_finding(pd.concat([older, gil, free]).assign(source="pythons.csv")).text
    matched = text.index("matched pair")
    assert matched < text.index("3.11.7"), "the matched pair's cost comes first, before any other build"
    assert "CPython 3.13.15t (GIL off) took 1.50x" in text[matched:] and "of CPython 3.13.15" in text[matched:]
    assert "apart from the pair" in text
    unmatched = interpreter_finding(pd.concat([older, free]).assign(source="pythons.csv")).text
    assert "matched pair" not in unmatched and "the time of CPython 3.11.7" in unmatched


def real_rows() -> pd.DataFrame:
    base = dict(images=200, precision=1.0, recall=0.95, false_pairs=0, largest_group=4, worst_group_originals=1, files_grouped_share=0.6, commit="abc")
    return pd.DataFrame(
        [
            dict(
                base,
                **{
                    "class": "photos",
                    "split": "holdout",
                    "orientations": "1",
                    "true_pairs": 130,
                    "command": "bash experiments/accuracy_real.sh 1 (class photos, split holdout)",
                },
            ),
            dict(
                base,
                **{
                    "class": "photos",
                    "split": "tune",
                    "orientations": "1",
                    "true_pairs": 182,
                    "recall": 0.99,
                    "command": "bash experiments/accuracy_real.sh 1 (class photos, split tune)",
                },
            ),
            dict(base, **{"class": "astro", "split": "holdout", "orientations": "1", "true_pairs": 0, "precision": 0.0, "false_pairs": 6, "command": ""}),
        ]
    )


def test_real_accuracy_finding_reads_the_holdout_split_and_counts_false_pairs_where_all_images_are_distinct():
    from dupbench.report.headline import real_accuracy_finding
    from dupbench.report.real_accuracy import real_accuracy_table
    from dupbench.report.text import reproduce_commands

    text = real_accuracy_finding(real_rows()).text
    assert "photos precision 1.000, recall 0.950" in text and "0.990" not in text  # the tune split is not the headline
    assert "astro (distinct images only) 6 false pairs in 200 images" in text
    table = real_accuracy_table(real_rows()).set_index(["class", "split"])
    assert table.loc[("astro", "holdout"), "precision"] == "-" and table.loc[("photos", "holdout"), "precision"] == "1.000"
    assert reproduce_commands([], None, None, "dupbench report", real_rows()).count("bash experiments/accuracy_real.sh 1") == 1
    assert real_accuracy_finding(pd.DataFrame()) is None


def test_generated_set_accuracy_is_named_as_such_and_read_at_the_default_threshold():
    from dupbench.report.headline import accuracy_finding

    sweep = pd.DataFrame({"threshold": [0.7, 0.75, 0.8], "precision": [0.9, 0.95, 0.99], "recall": [0.99, 0.97, 0.9], "f1": [0.943, 0.960, 0.943]})
    sweep.loc[2, "f1"] = 0.97  # the best F1 is not at the default
    text = accuracy_finding(sweep).text
    assert "generated study set" in text and "F1 0.960 at the default threshold 0.75" in text and "best F1 0.970 at 0.80" in text
