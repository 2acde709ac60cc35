"""Every figure reads at page width: one style, a legend on each panel, memory from 0, a colour per mode."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dupbench.report import figures
from dupbench.result import STAGES


def synthetic_runs(sizes=(10, 40, 160), repeats: int = 4, seed: int = 0) -> pd.DataFrame:
    """Runs of serial, thread and process on 1 and 2 cores, all pairs, one interpreter and results file."""
    rng = np.random.default_rng(seed)
    rows = []
    for images in sizes:
        for cores in (1, 2):
            for mode, workers in (("serial", 1), ("thread", cores), ("process", cores)):
                for repeat in range(repeats):
                    wall = images * 0.01 / (1 if mode == "serial" else 0.9 * cores) * rng.uniform(0.95, 1.05) + 0.2
                    rows.append(
                        {
                            "run_id": f"{mode}-{images}-{cores}-r{repeat}",
                            "mode": mode,
                            "images": images,
                            "workers": workers,
                            "cores": cores,
                            "pairs": "all",
                            "repeat": repeat,
                            "wall_s": wall,
                            "detector_total_s": wall - 0.15,
                            "cpu_utilization": (0.5 if mode == "serial" else 0.9) * rng.uniform(0.95, 1.0),
                            "peak_rss_bytes": (100 + images + (50 * workers if mode == "process" else 0)) * 2**20,
                            "load_images_per_s": images / (0.4 * wall),
                            "compare_pairs_per_s": images**2 / (0.5 * wall),
                            **{f"{stage}_s": wall * share for stage, share in zip(STAGES, (0.05, 0.35, 0.4, 0.05))},
                            "profile": "study",
                            "dataset_seed": 1,
                            "thumb_size": 32,
                            "interpreter": "CPython 3.11.7",
                            "source": "results/vm/a.csv",
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture
def kept_figures(monkeypatch) -> list[plt.Figure]:
    """The figures the functions draw, kept open (the module closes them after saving) to inspect their axes."""
    kept: list[plt.Figure] = []
    close = plt.close
    monkeypatch.setattr(figures.plt, "close", kept.append)
    yield kept
    for fig in list(kept):
        close(fig)


def assert_readable(drawn: figures.Drawn) -> None:
    width, _ = Image.open(drawn.png).size
    assert drawn.missing is None
    assert 700 <= width <= 900  # shown at about its own size at page width: labels stay ~11 pt


def data_axes(fig: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in fig.axes if ax.axison and (ax.lines or ax.patches or ax.collections)]


def assert_legend_on_every_panel(fig: plt.Figure) -> None:
    axes = data_axes(fig)
    assert axes
    assert all(ax.get_legend() is not None for ax in axes)


def test_every_runs_figure_is_page_width_with_a_legend_on_each_panel(tmp_path: Path, kept_figures):
    runs = synthetic_runs()
    drawn = [
        figures.time_vs_size(runs, tmp_path),
        figures.speedup_vs_workers(runs, tmp_path)[0],
        figures.stage_breakdown(runs, tmp_path),
        figures.memory_vs_size(runs, tmp_path),
        figures.throughput(runs, tmp_path),
    ]
    for item in drawn:
        assert_readable(item)
    assert len(kept_figures) == len(drawn)
    for fig in kept_figures:
        assert_legend_on_every_panel(fig)
        for ax in fig.axes:
            for label in ax.get_xticklabels() + ax.get_yticklabels():
                assert label.get_fontsize() >= 10


def test_memory_axes_start_at_zero(tmp_path: Path, kept_figures):
    figures.memory_vs_size(synthetic_runs(), tmp_path)
    scale = pd.DataFrame(
        {"n": [100, 1000, 100, 1000], "pairs": ["all", "all", "pruned", "pruned"], "wall_s": [1, 90, 0.1, 1.2], "peak_rss_bytes": [2e8, 3e8, 2e8, 2.5e8]}
    )
    figures.compare_scale(scale, tmp_path)
    memory_axes = [ax for fig in kept_figures for ax in fig.axes if "RSS" in ax.get_ylabel()]
    assert len(memory_axes) == 2
    assert all(ax.get_ylim()[0] == 0 and ax.get_yscale() == "linear" for ax in memory_axes)


def test_each_mode_has_one_colour_in_every_figure(tmp_path: Path, kept_figures):
    runs = synthetic_runs()
    figures.time_vs_size(runs, tmp_path)
    figures.memory_vs_size(runs, tmp_path)
    seen: dict[str, set[str]] = {}
    for fig in kept_figures:
        for ax in fig.axes:
            legend = ax.get_legend()
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                if text.get_text() in figures.MODE_COLORS:
                    seen.setdefault(text.get_text(), set()).add(str(handle.get_color()).lower())
    assert set(seen) == {"serial", "thread", "process"}
    assert all(colors == {figures.MODE_COLORS[mode].lower()} for mode, colors in seen.items())


def with_interpreters(runs: pd.DataFrame) -> pd.DataFrame:
    """The same grid on a second, free-threaded interpreter in a second results file, 1.4x slower serially."""
    free = runs.assign(interpreter="CPython 3.13.5t (GIL off)", source="results/vm/b.csv", wall_s=runs["wall_s"] * 1.4)
    return pd.concat([runs, free], ignore_index=True)


def with_dask(runs: pd.DataFrame) -> pd.DataFrame:
    dask = runs[runs["mode"] == "process"].assign(mode="dask", wall_s=lambda f: f["wall_s"] * 1.2)
    return pd.concat([runs, dask], ignore_index=True).assign(pairs="pruned", source="results/vm/dask.csv")


@pytest.mark.parametrize(
    ("draw", "frame"),
    [
        (figures.cpu_utilization_vs_size, synthetic_runs),
        (figures.speedup_vs_size, synthetic_runs),
        (figures.gil_vs_free_threaded, lambda: with_interpreters(synthetic_runs())),
        (figures.dask_vs_pools, lambda: with_dask(synthetic_runs())),
    ],
)
def test_new_figures_write_a_readable_png_with_legends(tmp_path: Path, kept_figures, draw, frame):
    drawn = draw(frame(), tmp_path)
    assert_readable(drawn)
    assert drawn.svg.exists()
    assert_legend_on_every_panel(kept_figures[-1])


def test_new_figures_say_why_they_are_empty(tmp_path: Path):
    one_interpreter = synthetic_runs()
    assert figures.gil_vs_free_threaded(one_interpreter, tmp_path).missing
    assert figures.dask_vs_pools(one_interpreter, tmp_path).missing
    assert figures.speedup_vs_size(synthetic_runs(sizes=(10,)), tmp_path).missing


def test_speedup_cells_use_the_fastest_serial_and_its_interval():
    runs = synthetic_runs(repeats=8)
    # serial on 2 cores made slower: the baseline must be serial on 1 core
    runs.loc[(runs["mode"] == "serial") & (runs["cores"] == 2), "wall_s"] *= 1.5
    parallel = figures.parallel_on_all_cores(runs)
    cells = figures.speedup_cells(runs, parallel)
    assert set(cells["baseline"]) == {"serial on 1 core"}
    for _, cell in cells.iterrows():
        serial = runs[(runs["mode"] == "serial") & (runs["cores"] == 1) & (runs["images"] == cell["images"])]["wall_s"]
        mode = parallel[(parallel["mode"] == cell["mode"]) & (parallel["images"] == cell["images"])]["wall_s"]
        assert cell["median"] == pytest.approx(serial.median() / mode.median())
        assert cell["low"] <= cell["median"] <= cell["high"]
        assert cell["runs"] == 8 and len(cell["points"]) == 8


def test_raw_points_are_drawn_only_for_small_cells(tmp_path: Path, kept_figures):
    def hollow_markers(fig: plt.Figure) -> int:
        return sum(1 for ax in fig.axes for line in ax.lines if line.get_linestyle() == "None" and line.get_markerfacecolor() == "none")

    figures.time_vs_size(synthetic_runs(repeats=3), tmp_path)
    figures.time_vs_size(synthetic_runs(repeats=figures.RAW_POINTS_BELOW), tmp_path)
    few, many = kept_figures
    assert hollow_markers(few) == 3 * 3  # one per (mode, size) cell on all cores
    assert hollow_markers(many) == 0


def timeline_for(runs: pd.DataFrame) -> pd.DataFrame:
    """Monitor samples every 0.1 s over each run, with two cores."""
    frames = []
    for _, run in runs.iterrows():
        t = np.arange(0, run["wall_s"], 0.1)
        frames.append(pd.DataFrame({"run_id": run["run_id"], "t": t, "epoch": 1e9 + t, "tree_cpu_pct": 100.0, "core0_pct": 100.0, "core1_pct": 10.0}))
    return pd.concat(frames, ignore_index=True)


def test_cpu_timeline_draws_the_median_run_with_its_stages_shaded(tmp_path: Path, kept_figures):
    runs = synthetic_runs(repeats=5)
    largest = runs[(runs["images"] == runs["images"].max()) & (runs["cores"] == 2)]
    drawn = figures.cpu_timeline(runs, timeline_for(runs), tmp_path)
    assert_readable(drawn)
    fig = kept_figures[-1]
    assert_legend_on_every_panel(fig)
    for ax, mode in zip(fig.axes, ("serial", "thread", "process")):
        walls = largest[largest["mode"] == mode]["wall_s"]
        tree = ax.lines[-1]
        assert max(tree.get_xdata()) == pytest.approx(np.arange(0, walls.median(), 0.1)[-1])  # the median run's samples
        shaded = [patch for patch in ax.patches if patch.get_label() in STAGES]
        assert [patch.get_label() for patch in shaded] == list(STAGES)


def test_median_run_is_the_middle_wall_time_not_repeat_zero():
    rows = pd.DataFrame({"repeat": [0, 1, 2, 3], "wall_s": [9.0, 1.0, 2.0, 3.0], "run_id": list("abcd")})
    assert figures.median_run(rows)["run_id"] == "c"


def test_run_samples_pick_the_run_of_that_start_when_files_share_run_ids():
    first = pd.DataFrame({"run_id": "r", "t": [0.0, 0.1], "epoch": [1000.0, 1000.1], "tree_cpu_pct": [1.0, 1.0]})
    second = first.assign(epoch=[5000.0, 5000.1], tree_cpu_pct=2.0)
    run = pd.Series({"run_id": "r", "started_utc": pd.Timestamp(5000, unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert set(figures.run_samples(pd.concat([first, second], ignore_index=True), run)["tree_cpu_pct"]) == {2.0}


def test_stage_spans_use_measured_starts_and_lay_older_files_end_to_end():
    from dupbench.report.figures import stage_spans

    older = pd.Series({"wall_s": 3.0, "detector_total_s": 2.5, "scan_s": 0.5, "load_s": 1.0, "compare_s": 1.0, "cluster_s": 0.0})
    assert stage_spans(older)[1] == ("load", 1.0, 2.0)  # from 0.5 s (wall - detector), laid end to end
    measured = older.copy()
    for stage, start in (("scan", 0.4), ("load", 0.95), ("compare", 1.9), ("cluster", 2.9)):
        measured[f"{stage}_start_s"] = start
    assert stage_spans(measured)[1] == ("load", 0.95, 1.95)
    mixed = older.copy()
    mixed["load_start_s"] = float("nan")  # a schema-3 row read beside schema-4 rows
    assert stage_spans(mixed) == stage_spans(older)
