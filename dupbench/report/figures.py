"""One function per figure: (inputs, directory) -> `Drawn` (a PNG, an SVG beside it, and why it is empty).

Every figure shows medians with interquartile bars from the repeats. A figure whose data are missing is
still written (a placeholder saying why), and `Drawn.missing` carries the reason so the report text says
so too instead of showing an empty plot without comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("agg")
matplotlib.rcParams["svg.hashsalt"] = "dupbench"  # stable element ids in SVGs
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from cycler import cycler  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullFormatter, StrMethodFormatter  # noqa: E402

from dupbench.harness.stats import ratio_interval  # noqa: E402
from dupbench.report.data import amdahl_serial_fraction, cell_stats, fastest_serial, growth_exponent, karp_flatt, one_source_per_comparison  # noqa: E402
from dupbench.result import STAGES  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print. Each mode
# keeps its colour in every figure; the remaining colours go to stages, cores and other series.
MODE_COLORS = {"serial": "#000000", "thread": "#0072B2", "process": "#D55E00", "dask": "#009E73"}
OTHER_COLORS = ("#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#999999")
MODES = tuple(MODE_COLORS)
STAGE_COLORS = dict(zip(STAGES, OTHER_COLORS))

# The report is read at page width (~800 px): figures are 8 in wide at 100 dpi, so a PNG is shown at about its
# own size and an 11 pt label stays ~15 px tall; multi-panel figures wrap onto rows rather than shrink.
FIGURE_WIDTH_IN = 8.0
PNG_DPI = 100
matplotlib.rcParams.update(
    {
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "xtick.labelsize": 10.5,
        "ytick.labelsize": 10.5,
        "legend.fontsize": 10,
        "legend.framealpha": 0.85,
        "lines.linewidth": 1.8,
        "lines.markersize": 6,
        "axes.prop_cycle": cycler(color=list(OTHER_COLORS)),
        "axes.grid": True,
        "grid.alpha": 0.3,
    }
)


@dataclass(frozen=True)
class Drawn:
    """A written figure: `png` (the SVG has the same stem); `missing` says why it shows no data, else None."""

    png: Path
    missing: str | None = None

    @property
    def svg(self) -> Path:
        return self.png.with_suffix(".svg")


def median_iqr(ax: plt.Axes, stats: pd.DataFrame, x: str, **style) -> None:
    """Medians over repeats with interquartile bars: how every measured quantity is drawn."""
    ax.errorbar(stats[x], stats["median"], yerr=[stats["median"] - stats["q1"], stats["q3"] - stats["median"]], **style)


def panels(count: int, height_in: float = 3.6, sharex: bool = False) -> tuple[plt.Figure, list[plt.Axes]]:
    """`count` panels at page width, two per row (one if alone), unused cells removed."""
    cols = 1 if count == 1 else 2
    rows = -(-count // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(FIGURE_WIDTH_IN, height_in * rows), sharex=sharex, squeeze=False)
    axes = list(grid.ravel())
    for extra in axes[count:]:
        fig.delaxes(extra)
    return fig, axes[:count]


def add_legends(fig: plt.Figure) -> None:
    """A legend on every panel that draws labelled data (one shared legend makes the reader hunt)."""
    for ax in fig.axes:
        handles, _ = ax.get_legend_handles_labels()
        if ax.axison and handles and ax.get_legend() is None:
            ax.legend()


def _save(fig: plt.Figure, directory: Path, name: str, missing: str | None = None) -> Drawn:
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    add_legends(fig)
    fig.tight_layout()
    fig.savefig(png, dpi=PNG_DPI)
    fig.savefig(directory / f"{name}.svg", metadata={"Date": None})  # no timestamp: re-renders diff cleanly
    plt.close(fig)
    return Drawn(png, missing)


def _no_data(directory: Path, name: str, why: str) -> Drawn:
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    return _save(fig, directory, name, missing=why)


def all_pairs_on_all_cores(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs comparing every pair with one worker per allowed core (serial: one worker)."""
    cores = runs["cores"].max()
    keep = (runs["pairs"] == "all") & (runs["cores"] == cores) & ((runs["mode"] == "serial") | (runs["workers"] == cores))
    return runs[keep]


SOURCE_STYLES = ("-", "--", ":", "-.")


def by_source(data: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(legend suffix, line style, rows) per results file: a curve never joins points of two files, which
    ran at other times and commits (one file: no suffix)."""
    if "source" not in data or data["source"].nunique() <= 1:
        return [("", "-", data)]
    sources = sorted(data["source"].unique())
    return [(f" ({Path(source).stem})", SOURCE_STYLES[i % len(SOURCE_STYLES)], data[data["source"] == source]) for i, source in enumerate(sources)]


def mode_source_legend(ax: plt.Axes, data: pd.DataFrame, loc: Any = "best", extra: tuple = ()) -> None:
    """One legend entry per mode (its colour) and per results file (its line style), not one per pair:
    mode x file labels run wider than the panel."""
    present = set(data["mode"])
    handles = [Line2D([], [], color=color, marker="o", label=mode) for mode, color in MODE_COLORS.items() if mode in present]
    groups = by_source(data)
    if len(groups) > 1:
        handles += [Line2D([], [], color="#777777", ls=style, label=suffix.strip(" ()")) for suffix, style, _ in groups]
    ax.legend(handles=handles + list(extra), loc=loc)


def time_vs_size(runs: pd.DataFrame, directory: Path) -> Drawn:
    data = all_pairs_on_all_cores(runs)
    if data["images"].nunique() < 2:
        return _no_data(directory, "time_vs_size", "fewer than two dataset sizes in these results")
    stats = cell_stats(data, "wall_s", ["mode", "images"])
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 5.2))
    for _, style, rows in by_source(data):
        for mode, part in rows.groupby("mode"):
            cells_with_points(ax, part, "wall_s", "images", MODE_COLORS.get(mode), linestyle=style)
    serial = stats[stats["mode"] == "serial"].sort_values("images")
    if len(serial):
        n0, t0 = serial["images"].iloc[-1], serial["median"].iloc[-1]
        n = np.geomspace(stats["images"].min(), stats["images"].max(), 50)
        guides = (*ax.plot(n, t0 * n / n0, "k:", lw=1, label="O(n) guide"), *ax.plot(n, t0 * (n / n0) ** 2, "k--", lw=1, label="O(n²) guide"))
    else:
        guides = ()
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="dataset size (images)",
        ylabel="wall time (s)",
        title=f"Total time, all pairs, {int(data['cores'].max())} cores",
        ylim=(0.5 * stats["q1"].min(), 2 * stats["q3"].max()),
    )
    mode_source_legend(ax, data, "upper left", guides)
    return _save(fig, directory, "time_vs_size")


@dataclass(frozen=True)
class AmdahlFit:
    """Amdahl's-law serial fraction of one mode, and what it was fitted from (so the report can say how thin it is):
    only worker counts <= cores are fitted; Karp-Flatt per p and the oversubscribed runs are kept apart."""

    mode: str
    serial_fraction: float
    images: int
    cores: int
    workers: tuple[int, ...]  # worker counts fitted: workers <= cores
    baseline: str = ""  # the serial configuration speed-ups are taken against, e.g. "serial on 1 core (14.87 s)"
    karp_flatt: tuple[tuple[int, float], ...] = ()  # (p, e) for 2 <= p <= cores
    oversubscribed: tuple[tuple[int, float], ...] = ()  # (workers, median speed-up) for workers > cores


def amdahl_fits(data: pd.DataFrame) -> list[AmdahlFit]:
    """Per mode on the most cores of `data` (one dataset): Amdahl fit over workers <= cores only (more workers
    than cores measures oversubscription, not a serial fraction), Karp-Flatt per p, oversubscribed runs apart;
    speed-ups against the fastest serial configuration measured."""
    if data.empty:
        return []
    cores = int(data["cores"].max())
    baseline, label = fastest_serial(data, data.iloc[0])
    if not len(baseline):
        return []
    base = float(np.median(baseline))
    fits = []
    for mode in ("thread", "process"):
        part = data[(data["cores"] == cores) & (data["mode"] == mode)]
        if part.empty:
            continue
        speed = (base / part.groupby("workers")["wall_s"].median()).sort_index()
        inside = speed[speed.index <= cores]
        fraction = amdahl_serial_fraction(inside.index.to_numpy(), inside.to_numpy()) if len(inside) else float("nan")
        fits.append(
            AmdahlFit(
                mode,
                fraction,
                int(data["images"].max()),
                cores,
                tuple(int(w) for w in inside.index),
                f"{label} ({base:.2f} s)",
                tuple((int(p), karp_flatt(float(s), int(p))) for p, s in inside.items() if p >= 2),
                tuple((int(w), float(s)) for w, s in speed[speed.index > cores].items()),
            )
        )
    return fits


def speedup_vs_workers(runs: pd.DataFrame, directory: Path) -> tuple[Drawn, list[AmdahlFit]]:
    """Speed-up over the fastest serial configuration of the dataset vs workers and vs cores, with the ideal
    line and an Amdahl fit per mode (workers <= cores; oversubscription shaded); efficiency beside it."""
    data = runs[runs["pairs"] == "all"]
    size = int(data["images"].max()) if len(data) else 0
    data = data[data["images"] == size]
    if data.empty or data["workers"].nunique() < 2:
        return _no_data(directory, "speedup", "no worker-count sweep in these results"), []
    most_cores = int(data["cores"].max())
    baseline, label = fastest_serial(data, data.iloc[0])
    serial = float(np.median(baseline)) if len(baseline) else float("nan")
    fig, (ax, ax_cores, ax_eff, ax_text) = panels(4, height_in=3.8)
    for cores, by_cores in data.groupby("cores"):
        for mode in ("thread", "process"):
            part = by_cores[by_cores["mode"] == mode]
            if part.empty or np.isnan(serial):
                continue
            stats = cell_stats(part.assign(speedup=serial / part["wall_s"]), "speedup", ["workers"])
            style = "-" if cores == most_cores else ":"
            for workers, by_workers in part.groupby("workers"):
                raw_points(ax, workers, serial / by_workers["wall_s"], MODE_COLORS[mode])
            median_iqr(ax, stats, "workers", marker="o", capsize=3, ls=style, color=MODE_COLORS[mode], label=f"{mode}, {cores} core(s)")
            ax_eff.plot(
                stats["workers"],
                stats["median"] / np.minimum(stats["workers"], cores),
                marker="o",
                ls=style,
                color=MODE_COLORS[mode],
                label=f"{mode}, {cores} core(s)",
            )
    fits = amdahl_fits(data)
    by_cores = speedup_by_cores(data)
    for mode, part in by_cores.groupby("mode"):
        median_iqr(ax_cores, part, "cores", marker="o", capsize=3, color=MODE_COLORS[mode], label=mode)
    workers = np.array(sorted(data["workers"].unique()))
    ax.plot(workers, np.minimum(workers, most_cores), "k--", lw=1, label="ideal")
    if workers.max() > most_cores:
        for axis in (ax, ax_eff):
            axis.axvspan(most_cores + 0.5, workers.max() + 0.3, color="#eeeeee", zorder=0, label=f"oversubscribed (> {most_cores} cores)")
    core_counts = np.array(sorted(data["cores"].unique()))
    ax_cores.plot(core_counts, core_counts, "k--", lw=1, label="ideal")
    fit_text = "\n".join(f"{f.mode}: serial fraction {f.serial_fraction:.2f}" for f in fits)
    ax.set(xlabel="workers", ylabel=f"speed-up over {label or 'serial'} (x)", title=f"vs workers: {size} images, all pairs", xticks=workers)
    ax_text.axis("off")
    ax_text.text(0.05, 0.9, f"Amdahl fit, workers <= {most_cores} cores\n(baseline: {label or 'serial'}):\n{fit_text}", transform=ax_text.transAxes, va="top")
    ax_cores.set(xlabel="cores allowed (workers = cores)", ylabel="speed-up over serial on 1 core (x)", title="vs cores", xticks=core_counts)
    if by_cores.empty:
        ax_cores.text(0.5, 0.5, "no 1-core serial baseline", transform=ax_cores.transAxes, ha="center")
    ax_eff.set(xlabel="workers", ylabel="speed-up / min(workers, cores)", ylim=(0, 1.1), xticks=workers, title="Parallel efficiency")
    ax.legend(fontsize=9, loc="lower right")
    ax_cores.legend(loc="lower right")
    ax_eff.legend(fontsize=9, loc="lower left")
    return _save(fig, directory, "speedup"), fits


def speedup_by_cores(data: pd.DataFrame) -> pd.DataFrame:
    """Speed-up of each mode with workers = cores over serial on one core (strong scaling in cores)."""
    base = data[(data["mode"] == "serial") & (data["cores"] == 1)]["wall_s"].median()
    if np.isnan(base):
        return pd.DataFrame(columns=["mode", "cores", "median", "q1", "q3", "runs"])
    scaled = data[(data["mode"] == "serial") | (data["workers"] == data["cores"])]
    return cell_stats(scaled.assign(speedup=base / scaled["wall_s"]), "speedup", ["mode", "cores"])


def stage_breakdown(runs: pd.DataFrame, directory: Path) -> Drawn:
    data = all_pairs_on_all_cores(runs)
    if data.empty:
        return _no_data(directory, "stages", "no all-pairs runs in these results")
    size = data["images"].max()
    data = data[data["images"] == size]
    medians = data.groupby("mode")[[f"{s}_s" for s in STAGES] + ["wall_s"]].median().reindex(["serial", "thread", "process", "dask"]).dropna(how="all")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 4.5))
    bottom = np.zeros(len(medians))
    for stage in STAGES:
        values = medians[f"{stage}_s"].to_numpy()
        ax.bar(medians.index, values, bottom=bottom, label=stage, color=STAGE_COLORS[stage])
        bottom += values
    overhead = medians["wall_s"].to_numpy() - bottom
    ax.bar(medians.index, overhead, bottom=bottom, label="start-up, imports, pool", color="#cccccc")
    ax.set(ylabel="wall time (s, median)", title=f"Where the time goes: {size} images, all pairs")
    ax.legend()
    return _save(fig, directory, "stages")


def median_run(rows: pd.DataFrame) -> pd.Series:
    """The run whose wall time is the cell's median (the lower middle one for an even count): a typical run,
    where repeat 0 may be the one a slow spell of the machine hit."""
    ordered = rows.sort_values(["wall_s", "repeat"])
    return ordered.iloc[(len(ordered) - 1) // 2]


def run_samples(timelines: pd.DataFrame, run: pd.Series) -> pd.DataFrame:
    """The monitor samples of `run`. Files of other sweeps reuse run ids, so where one id holds several runs
    (t restarts), the one that started nearest the run's own start time is taken."""
    samples = timelines[timelines["run_id"] == run["run_id"]]
    starts = (samples["t"].diff() < 0).cumsum()
    if starts.nunique() <= 1 or "started_utc" not in run or "epoch" not in samples:
        return samples
    started = pd.Timestamp(run["started_utc"]).timestamp()
    nearest = (samples.groupby(starts)["epoch"].min() - started).abs().idxmin()
    return samples[starts == nearest]


def stage_spans(run: pd.Series) -> list[tuple[str, float, float]]:
    """(stage, start, end) in seconds since the run started. Measured starts (`<stage>_start_s`) where the
    results hold them; else the stage durations laid end to end from the detector's start, taken as wall time
    minus detector time (process exit after the detector is assumed short)."""
    spans, at = [], float(run["wall_s"]) - float(run.get("detector_total_s", np.nan))
    for stage in STAGES:
        duration = float(run.get(f"{stage}_s", np.nan))
        start = float(run.get(f"{stage}_start_s", np.nan))
        start = start if np.isfinite(start) else at  # files from before schema 4 hold no starts
        if np.isfinite(start) and np.isfinite(duration):
            spans.append((stage, start, start + duration))
            at = start + duration
    return spans


def cpu_timeline(runs: pd.DataFrame, timelines: pd.DataFrame, directory: Path) -> Drawn:
    """Per-core CPU and the process tree over the median run of each mode at the largest all-pairs size,
    the detector's stages shaded."""
    data = all_pairs_on_all_cores(runs)
    if timelines.empty or data.empty:
        return _no_data(directory, "cpu_timeline", "no monitor timelines in these results")
    size = data["images"].max()
    largest = data[data["images"] == size]
    chosen = [median_run(largest[largest["mode"] == mode]) for mode in MODES if (largest["mode"] == mode).any()]
    counts = largest["mode"].value_counts()
    core_columns = [c for c in timelines.columns if c.startswith("core") and c.endswith("_pct")]
    fig, axes = plt.subplots(len(chosen), 1, figsize=(FIGURE_WIDTH_IN, 2.8 * len(chosen)), sharex=True, squeeze=False)
    measured = all(pd.notna(run.get(f"{stage}_start_s")) for run in chosen for stage in STAGES)
    for ax, run in zip(axes[:, 0], chosen):
        samples = run_samples(timelines, run)
        for stage, start, end in stage_spans(run):
            ax.axvspan(start, end, color=STAGE_COLORS[stage], alpha=0.18, lw=0, label=stage)
        for column, color in zip(core_columns, ("#999999", "#56B4E9", "#E69F00", "#CC79A7")):
            ax.plot(samples["t"], samples[column], lw=0.9, color=color, label=column.replace("_pct", ""))
        ax.plot(samples["t"], samples["tree_cpu_pct"], color=MODE_COLORS[run["mode"]], lw=1.6, label="process tree")
        ax.set(
            ylabel="CPU % (100 = 1 core)",
            title=f"{run['mode']}, {run['workers']} worker(s): median of {counts[run['mode']]} runs, {run['wall_s']:.2f} s",
            ylim=(0, 100 * max(2, len(core_columns)) + 110),  # headroom for the legend above the data
        )
        ax.legend(ncol=4, loc="upper right", fontsize=9)
    axes[-1, 0].set_xlabel("time since start (s)" + ("" if measured else "; stages placed by their durations"))
    return _save(fig, directory, "cpu_timeline")


def memory_vs_size(runs: pd.DataFrame, directory: Path) -> Drawn:
    data = all_pairs_on_all_cores(runs).assign(peak_rss_mb=lambda f: f["peak_rss_bytes"] / 2**20)
    if data.empty:
        return _no_data(directory, "memory", "no all-pairs runs in these results")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 4.5))
    for suffix, style, rows in by_source(data):
        for mode, part in cell_stats(rows, "peak_rss_mb", ["mode", "images"]).groupby("mode"):
            median_iqr(ax, part, "images", marker="o", capsize=3, linestyle=style, label=mode + suffix, color=MODE_COLORS.get(mode))
    ax.set(xscale="log", xlabel="dataset size (images)", ylabel="peak RSS of the process tree (MiB)", title="Peak memory (process pools pay per worker)")
    ax.set_ylim(bottom=0)
    mode_source_legend(ax, data, "upper left")
    return _save(fig, directory, "memory")


def throughput(runs: pd.DataFrame, directory: Path) -> Drawn:
    data = all_pairs_on_all_cores(runs)
    if data.empty:
        return _no_data(directory, "throughput", "no all-pairs runs in these results")
    fig, (ax_load, ax_cmp) = panels(2, height_in=4.2)
    for suffix, style, rows in by_source(data):
        for mode, part in rows.groupby("mode"):
            for ax, column in ((ax_load, "load_images_per_s"), (ax_cmp, "compare_pairs_per_s")):
                stats = cell_stats(part, column, ["images"])
                median_iqr(ax, stats, "images", marker="o", capsize=3, linestyle=style, label=mode + suffix, color=MODE_COLORS.get(mode))
    ax_load.set(xscale="log", xlabel="dataset size (images)", ylabel="images / s", title="Load stage throughput")
    ax_cmp.set(xscale="log", yscale="log", xlabel="dataset size (images)", ylabel="SSIM pairs / s", title="Compare stage throughput")
    for ax in (ax_load, ax_cmp):
        mode_source_legend(ax, data, "upper left")
    return _save(fig, directory, "throughput")


def accuracy(sweep: pd.DataFrame | None, directory: Path) -> Drawn:
    if sweep is None or sweep.empty:
        return _no_data(directory, "accuracy", "no threshold sweep given (--accuracy)")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 4.2))
    for column, color in zip(("precision", "recall", "f1"), OTHER_COLORS):
        ax.plot(sweep["threshold"], sweep[column], marker=".", label=column, color=color)
    ax.set(xlabel="match-score threshold", ylabel="near-duplicate links", ylim=(0, 1.02), title="Accuracy vs threshold (study set)")
    ax.legend()
    return _save(fig, directory, "accuracy")


def compare_scale(scale: pd.DataFrame | None, directory: Path) -> Drawn:
    """Compare-stage time and peak memory vs images per pair strategy and, for `--pairs pruned`, candidate
    search (the signature index or the exact scan: two algorithms, never one median), with each curve's
    fitted log-log slope in its label: ~2 is quadratic, ~1 linear."""
    if scale is None or scale.empty:
        return _no_data(directory, "compare_scale", "no scale benchmark given (--scale CSV from benchmarks/scale.py)")
    fig, (ax_time, ax_mem) = panels(2, height_in=4.0)
    scale = scale.assign(search=scale["search"].fillna("")) if "search" in scale else scale.assign(search="")
    for colour, ((pairs, search), part) in enumerate(scale.groupby(["pairs", "search"], sort=True)):
        part = part.groupby("n", as_index=False)[["wall_s", "peak_rss_bytes"]].median()
        slope = growth_exponent(part["n"].to_numpy(float), part["wall_s"].to_numpy(float)) if len(part) > 1 else float("nan")
        name = f"--pairs {pairs}" + (f", {search} candidates" if pairs == "pruned" and search else "")
        style: dict[str, Any] = dict(marker="o", label=f"{name} (slope {slope:.2f})", color=OTHER_COLORS[colour % len(OTHER_COLORS)])
        ax_time.plot(part["n"], part["wall_s"], **style)
        ax_mem.plot(part["n"], part["peak_rss_bytes"] / 2**20, **style)
    ax_time.set(xscale="log", yscale="log", xlabel="images", ylabel="compare stage wall time (s)", title="Compare time vs images")
    ax_mem.set(xscale="log", xlabel="images", ylabel="peak RSS (MiB)", title="Peak memory vs images")
    ax_mem.set_ylim(bottom=0)
    return _save(fig, directory, "compare_scale")


RAW_POINTS_BELOW = 10  # a cell with fewer runs shows each run: a median and a bar of 3 runs hide how few they are


def raw_points(ax: plt.Axes, x: float, values: np.ndarray | pd.Series, color: str | None) -> None:
    """Each run of a small cell as a small hollow marker at its x (nothing drawn for n >= RAW_POINTS_BELOW)."""
    values = np.asarray(values, float)
    if 0 < len(values) < RAW_POINTS_BELOW:
        ax.plot(np.full(len(values), x), values, ls="none", marker="o", ms=3.5, mfc="none", mew=0.8, alpha=0.7, color=color, zorder=3)


def cells_with_points(ax: plt.Axes, rows: pd.DataFrame, value: str, x: str, color: str | None, **style) -> None:
    """Median and IQR per `x` of `value`, joined by a line, with every run drawn where a cell has few runs."""
    stats = cell_stats(rows, value, [x])
    median_iqr(ax, stats, x, marker="o", capsize=3, color=color, **style)
    for at, part in rows.groupby(x):
        raw_points(ax, at, part[value], color)


def speedup_cells(runs: pd.DataFrame, parallel: pd.DataFrame) -> pd.DataFrame:
    """Speed-up per (mode, images) of `parallel` over the fastest serial configuration in `runs` of the same
    dataset, interpreter and results file: median ratio, its interval (harness/stats.py) and each run's ratio."""
    rows = []
    for (mode, images), part in parallel.groupby(["mode", "images"]):
        base, label = fastest_serial(runs, part.iloc[0])
        if not len(base):
            continue
        interval = ratio_interval(base, part["wall_s"])
        median = float(np.median(base))
        rows.append(
            {
                "mode": mode,
                "images": images,
                "median": median / float(part["wall_s"].median()),
                "low": interval.low,
                "high": interval.high,
                "coverage": interval.coverage,
                "runs": len(part),
                "points": tuple(median / part["wall_s"]),
                "baseline": label,
            }
        )
    return pd.DataFrame(rows, columns=["mode", "images", "median", "low", "high", "coverage", "runs", "points", "baseline"])


def interval_bars(ax: plt.Axes, cells: pd.DataFrame, x: str, color: str | None, **style) -> None:
    """Median speed-ups with their intervals as bars (none where the interval is undefined), runs of small cells drawn."""
    low = (cells["median"] - cells["low"]).fillna(0).clip(lower=0)
    high = (cells["high"] - cells["median"]).fillna(0).clip(lower=0)
    ax.errorbar(cells[x], cells["median"], yerr=[low, high], marker="o", capsize=3, color=color, **style)
    for _, cell in cells.iterrows():
        raw_points(ax, cell[x], np.array(cell["points"]), color)


def parallel_on_all_cores(data: pd.DataFrame) -> pd.DataFrame:
    """Non-serial runs with one worker per core on the most cores measured."""
    cores = data["cores"].max()
    return data[(data["mode"] != "serial") & (data["cores"] == cores) & (data["workers"] == cores)]


def cpu_utilization_vs_size(runs: pd.DataFrame, directory: Path) -> Drawn:
    """CPU utilisation (tree CPU / (wall x cores allowed)) per mode vs dataset size: the published study's headline."""
    data = all_pairs_on_all_cores(runs).dropna(subset=["cpu_utilization"])
    if data.empty:
        return _no_data(directory, "cpu_utilization", "no all-pairs runs with CPU utilisation in these results")
    data = data.assign(cpu_pct=100 * data["cpu_utilization"])
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 4.5))
    for _, style, rows in by_source(data):
        for mode, part in rows.groupby("mode"):
            cells_with_points(ax, part, "cpu_pct", "images", MODE_COLORS.get(mode), linestyle=style)
    cores = int(data["cores"].max())
    ax.set(
        xscale="log",
        ylim=(0, 105),
        xlabel="dataset size (images)",
        ylabel=f"CPU utilisation (% of {cores} cores)",
        title=f"CPU utilisation of the process tree, all pairs, {cores} cores",
    )
    mode_source_legend(ax, data, "lower right")
    return _save(fig, directory, "cpu_utilization")


def speedup_vs_size(runs: pd.DataFrame, directory: Path) -> Drawn:
    """Speed-up of each parallel mode over the fastest serial configuration vs dataset size, with intervals."""
    data = runs[runs["pairs"] == "all"]
    parallel = parallel_on_all_cores(data) if len(data) else data
    if parallel["images"].nunique() < 2:
        return _no_data(directory, "speedup_vs_size", "fewer than two dataset sizes with parallel all-pairs runs")
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH_IN, 4.5))
    for _, style, rows in by_source(parallel):
        cells = speedup_cells(data, rows)
        for mode, part in cells.groupby("mode"):
            interval_bars(ax, part, "images", MODE_COLORS.get(mode), linestyle=style)
    cores = int(parallel["cores"].max())
    ax.axhline(1, color="#777777", lw=1, ls="--", zorder=0)
    ax.axhline(cores, color="#777777", lw=1, ls=":", zorder=0)
    ax.set(
        xscale="log",
        ylim=(0, cores + 0.4),
        xlabel="dataset size (images)",
        ylabel="speed-up over the fastest serial (x)",
        title=f"Speed-up vs dataset size, {cores} workers on {cores} cores, all pairs",
    )
    guides = (Line2D([], [], color="#777777", ls="--", label="1x (serial)"), Line2D([], [], color="#777777", ls=":", label=f"{cores}x (ideal)"))
    mode_source_legend(ax, parallel, "lower right", guides)
    return _save(fig, directory, "speedup_vs_size")


def _interpreter_tick(label: str) -> str:
    return label.replace(" (", "\n(")


def gil_vs_free_threaded(runs: pd.DataFrame, directory: Path) -> Drawn:
    """Per interpreter, the speed-up of threads and of processes over that interpreter's own fastest serial,
    side by side, one panel per dataset size that at least two interpreters measured (all pairs, all cores)."""
    if "interpreter" not in runs:
        return _no_data(directory, "gil_vs_free_threaded", "no interpreter labels in these results")
    data = one_source_per_comparison(runs[runs["pairs"] == "all"])
    parallel = parallel_on_all_cores(data[data["mode"].isin(["thread", "process"])]) if len(data) else data
    shared = parallel.groupby("images")["interpreter"].nunique()
    sizes = sorted(shared[shared >= 2].index)
    if not sizes:
        return _no_data(directory, "gil_vs_free_threaded", "no dataset size measured on two or more interpreters")
    fig, axes = panels(len(sizes), height_in=4.0)
    for ax, size in zip(axes, sizes):
        at_size = parallel[parallel["images"] == size]
        interpreters = sorted(at_size["interpreter"].unique())
        for i, interpreter in enumerate(interpreters):
            cells = speedup_cells(data, at_size[at_size["interpreter"] == interpreter])
            for offset, mode in ((-0.15, "thread"), (0.15, "process")):
                cell = cells[cells["mode"] == mode].assign(x=i + offset)
                if len(cell):
                    interval_bars(ax, cell, "x", MODE_COLORS[mode], ls="none", label=mode if i == 0 else None)
        ax.axhline(1, color="#777777", lw=1, ls="--", zorder=0, label="1x (serial)")
        ax.set_xticks(range(len(interpreters)), [_interpreter_tick(i) for i in interpreters], fontsize=9.5)
        ax.set(xlim=(-0.6, len(interpreters) - 0.4), ylim=(0, None), ylabel="speed-up over its own fastest serial (x)", title=f"{size} images")
    fig.suptitle(f"GIL vs free-threaded: {int(parallel['cores'].max())} workers on {int(parallel['cores'].max())} cores, all pairs")
    return _save(fig, directory, "gil_vs_free_threaded")


def dask_vs_pools(runs: pd.DataFrame, directory: Path) -> Drawn:
    """From the results files that ran Dask: wall time of serial, process pool and Dask vs size (left) and
    their speed-ups over the fastest serial of the same file (right). Reads those files alone, as the
    Dask sweep repeats cells of the scaling grid at another time and commit."""
    sources = runs.loc[runs["mode"] == "dask", "source"].unique() if "source" in runs else []
    data = runs[runs["source"].isin(sources)] if len(sources) else runs.iloc[0:0]
    data = data[data["mode"].isin(["serial", "process", "dask"])]
    if data.empty or data["images"].nunique() < 2:
        return _no_data(directory, "dask", "no Dask sweep with two or more dataset sizes in these results")
    cores = data["cores"].max()
    shown = data[(data["cores"] == cores) & ((data["mode"] == "serial") | (data["workers"] == cores))]
    fig, (ax_time, ax_speed) = panels(2, height_in=4.2)
    for _, style, rows in by_source(shown):
        for mode, part in rows.groupby("mode"):
            cells_with_points(ax_time, part, "wall_s", "images", MODE_COLORS.get(mode), linestyle=style)
        for mode, part in speedup_cells(data, parallel_on_all_cores(rows)).groupby("mode"):
            interval_bars(ax_speed, part, "images", MODE_COLORS.get(mode), linestyle=style)
    ax_speed.axhline(1, color="#777777", lw=1, ls="--", zorder=0)
    pairs = "/".join(sorted(data["pairs"].unique()))
    ax_time.set(xscale="log", yscale="log", xlabel="dataset size (images)", ylabel="wall time (s)", title=f"Wall time, pairs {pairs}")
    for axis in (ax_time.yaxis, ax_time.xaxis):  # plain numbers on log axes: "6" rather than "6 x 10^0"
        axis.set_major_formatter(StrMethodFormatter("{x:g}"))
        axis.set_minor_formatter(StrMethodFormatter("{x:g}") if axis is ax_time.yaxis else NullFormatter())
    ax_speed.set(xscale="log", ylim=(0, None), xlabel="dataset size (images)", ylabel="speed-up over the fastest serial (x)", title="Speed-up")
    mode_source_legend(ax_time, shown, "upper left")
    mode_source_legend(ax_speed, shown[shown["mode"] != "serial"], "lower right", (Line2D([], [], color="#777777", ls="--", label="1x (serial)"),))
    return _save(fig, directory, "dask")
