"""Tables and the figure for one or several interpreters' results (plain functions of the results)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dupbench.harness.stats import NO_INTERVAL, ratio_interval

# Okabe-Ito colours (safe for the common colour blindnesses): one per mode, the same in every panel and run.
MODE_COLOURS = {"serial": "#000000", "thread": "#E69F00", "process": "#0072B2"}
COLOURS = ("#009E73", "#CC79A7", "#56B4E9", "#D55E00")  # per interpreter, in the overhead panels
DODGE = {"thread": -0.02, "process": 0.02}  # shift in workers (x the largest pool) so the two bars at one x both show
INTERPRETER_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"))
FONT_SIZES = {
    "font.size": 14,
    "axes.titlesize": 14,
    "axes.labelsize": 14,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 13,
    "figure.titlesize": 16,
}
EXPECTATION = {"holds": "holds the GIL", "releases": "releases the GIL", "waits": "waits with the GIL released"}


NOISE_MARK = "!"
NOISE_NOTE = f"{NOISE_MARK} measured above the usable cores: measurement noise (the counters bracket the timed interval), shown as the core count"


def cores_cell(value: float, cores: int | None) -> str:
    """CPU cores busy, never above the cores this process may use: a value above them is measurement
    noise (CPU / wall cannot exceed the cores), shown as the core count and marked, not clipped silently."""
    if cores is not None and value > cores + 0.005:
        return f"{cores:.2f}{NOISE_MARK}"
    return f"{value:.2f}"


def format_kernel_table(kernel: Mapping[str, Any], cores: int | None = None) -> str:
    lines = [
        f"{kernel['label']}  [stage: {kernel['stage']}; expected: {EXPECTATION.get(kernel['expected_gil'], kernel['expected_gil'])}; "
        f"{kernel['tasks']} tasks" + (f"; backend {kernel['backend']}]" if kernel.get("backend") else "]"),
        f"  {'mode':<8}{'workers':>8}{'median s':>11}{'IQR s':>16}{'speed-up':>10}{'CPU cores':>11}",
    ]
    for row in kernel["summary"]:
        iqr = f"{row['q1_wall_s']:.3f}-{row['q3_wall_s']:.3f}"
        busy = cores_cell(row["cpu_cores"], cores)
        lines.append(f"  {row['mode']:<8}{row['workers']:>8}{row['median_wall_s']:>11.3f}{iqr:>16}{row['speedup']:>9.2f}x{busy:>11}")
    if any(NOISE_MARK in cores_cell(row["cpu_cores"], cores) for row in kernel["summary"]):
        lines.append("  " + NOISE_NOTE)
    if not kernel.get("outputs_match_serial", True):
        lines.append("  WARNING: outputs differ from the serial run")
    return "\n".join(lines)


def format_overheads(overheads: Mapping[str, Any] | None) -> str:
    if not overheads:
        return ""
    lines = ["Process pool start-up + shut-down (median):"]
    lines += [f"  {r['start_method']:<11} {r['workers']} workers  {r['median_s'] * 1000:8.1f} ms" for r in overheads["startup"]]
    lines.append("Sending one task a payload (median round trip):")
    lines.append(f"  {'bytes':>12}{'pickle ms':>12}{'in shm ms':>12}{'copy to new shm ms':>20}")
    lines += [
        f"  {r['payload_bytes']:>12}{r['pickle_s'] * 1000:>12.2f}{r['shared_memory_s'] * 1000:>12.2f}{r['shared_memory_copy_s'] * 1000:>20.2f}"
        for r in overheads["payload"]
    ]
    return "\n".join(lines)


def format_stages(stages: Sequence[Mapping[str, Any]]) -> str:
    """Thread vs process per detector stage, with the Amdahl estimate of the GIL-released share."""
    lines = [
        "Per stage, at the core count (threads/processes; share of time threads ran in parallel):",
        f"  {'kernel':<13}{'stage':<24}{'threads':>9}{'processes':>11}{'ratio':>8}{'parallel share':>16}  verdict",
    ]
    for row in stages:
        ratio = row["thread_speedup"] / row["process_speedup"] if row["process_speedup"] else float("nan")
        share = "-" if row["released_fraction"] is None else f"{row['released_fraction']:.0%}"
        lines.append(
            f"  {row['kernel']:<13}{row['stage']:<24}{row['thread_speedup']:>8.2f}x{row['process_speedup']:>10.2f}x{ratio:>8.2f}{share:>16}  {row['verdict']}"
        )
    return "\n".join(lines)


def format_run(results: Mapping[str, Any]) -> str:
    interpreter = results["interpreter"]
    settings = results["settings"]
    header = (
        f"Interpreter: {interpreter['short_name']}  ({interpreter['executable']})\n"
        f"cores usable: {results['machine']['usable_cpus']}; process start method: {settings['start_method']} "
        f"(pool start-up not in these times); library threads: {settings['thread_limits']}; "
        f"repeats: {settings['repeats']}"
    )
    if not interpreter["cv2_available"]:
        header += "\nOpenCV is not installed here: decode and resize use Pillow, SSIM uses the numpy box filter."
    warnings = [c["warning"] for c in results.get("gil_checks", ()) if c.get("warning")]
    if warnings:
        banner = "!" * 100
        header = "\n".join([banner, *warnings, banner, header])
    cores = int(results["machine"]["usable_cpus"])
    blocks = [header] + [format_kernel_table(k, cores) for k in results["kernels"]]
    if results.get("stages"):
        blocks.append(format_stages(results["stages"]))
    overheads = format_overheads(results.get("overheads"))
    if overheads:
        blocks.append(overheads)
    return "\n\n".join(blocks)


def format_side_by_side(runs: Sequence[Mapping[str, Any]]) -> str:
    """Speed-up (and CPU cores busy) per kernel, mode and workers, one column per interpreter."""
    names = [r["interpreter"]["short_name"] for r in runs]
    width = max(26, *(len(n) + 2 for n in names))
    lines = [f"{'kernel':<14}{'mode':<8}{'workers':>7}  " + "".join(f"{n:>{width}}" for n in names)]
    base = runs[0]
    for kernel in base["kernels"]:
        for row in kernel["summary"]:
            cells = []
            for run in runs:
                match = _summary_row(run, kernel["name"], row["mode"], row["workers"])
                busy = cores_cell(match["cpu_cores"], int(run["machine"]["usable_cpus"])) if match else ""
                cells.append("-" if match is None else f"{match['speedup']:.2f}x {match['median_wall_s']:.3f}s {busy}cpu")
            lines.append(f"{kernel['name']:<14}{row['mode']:<8}{row['workers']:>7}  " + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def _summary_row(run: Mapping[str, Any], kernel: str, mode: str, workers: int) -> Mapping[str, Any] | None:
    for k in run["kernels"]:
        if k["name"] == kernel:
            return next((r for r in k["summary"] if r["mode"] == mode and r["workers"] == workers), None)
    return None


@dataclass(frozen=True)
class SpeedupPoint:
    """One marker of the figure: the speed-up of medians and its order-statistic interval over the repeats."""

    mode: str
    workers: int
    speedup: float
    low: float
    high: float
    coverage: float


def speedup_points(kernel: Mapping[str, Any]) -> list[SpeedupPoint]:
    """Serial (at 1 worker, 1.0 by definition, no bar) and every pool's speed-up with its interval, from the raw runs.

    The interval is `harness.stats.ratio_interval`: a min-max range at the few repeats a lesson has,
    labelled with the coverage it really has, so a wide bar says "run it again" on a busy machine.
    """
    walls: dict[tuple[str, int], list[float]] = {}
    for run in kernel.get("runs", ()):
        walls.setdefault((run["mode"], int(run["workers"])), []).append(float(run["wall_s"]))
    serial = walls.get(("serial", 1), [])
    points = []
    for row in kernel["summary"]:
        own = walls.get((row["mode"], int(row["workers"])), [])
        # Serial is the reference (1.0 by definition); its spread is inside every other point's interval.
        interval = ratio_interval(serial, own) if serial and own and row["mode"] != "serial" else NO_INTERVAL
        low, high = (interval.low, interval.high) if interval is not NO_INTERVAL else (row["speedup"], row["speedup"])
        points.append(SpeedupPoint(row["mode"], int(row["workers"]), float(row["speedup"]), low, high, interval.coverage))
    return points


def _plot_kernel(ax: Any, name: str, runs: Sequence[Mapping[str, Any]], cores: int) -> None:
    """Speed-up against workers, one colour per mode, one line style per interpreter, with intervals."""
    workers: set[int] = {1}
    for (line, marker), run in zip(INTERPRETER_STYLES, runs):
        kernel = next((k for k in run["kernels"] if k["name"] == name), None)
        if kernel is None:
            continue
        points = speedup_points(kernel)
        base = next((p for p in points if p.mode == "serial"), None)
        for mode in MODE_COLOURS:
            own = sorted((p for p in points if p.mode == mode), key=lambda p: p.workers)
            if mode != "serial" and base is not None:
                own = [base, *own]
            if not own or (mode != "serial" and len(own) < 2):
                continue
            workers |= {p.workers for p in own}
            ys = [p.speedup for p in own]
            errors = [[max(0.0, p.speedup - p.low) for p in own], [max(0.0, p.high - p.speedup) for p in own]]
            label = f"{mode}, {run['interpreter']['short_name']}" if len(runs) > 1 else mode
            ax.errorbar(
                [p.workers + (DODGE.get(p.mode, 0.0) * max(workers)) for p in own],
                ys,
                yerr=errors,
                color=MODE_COLOURS[mode],
                linestyle=line,
                marker=marker,
                markersize=10 if mode == "serial" else 8,
                zorder=4 if mode == "serial" else 2,
                linewidth=2.5,
                capsize=5,
                label=label,
            )
    ticks = sorted(workers)
    ax.plot(ticks, [min(w, cores) for w in ticks], ":", color="grey", linewidth=2, label=f"ideal on {cores} cores")
    ax.axhline(1.0, color="black", linewidth=0.8)
    expected = next(k["expected_gil"] for k in runs[0]["kernels"] if k["name"] == name)
    ax.set_title(f"{name} ({EXPECTATION.get(expected, expected)})")
    ax.set_xlabel("workers")
    ax.set_ylabel("speed-up vs serial")
    ax.set_xticks(ticks)
    ax.set_ylim(bottom=0)


def build_figure(runs: Sequence[Mapping[str, Any]]) -> Any:
    """The figure, for a projector: fonts of 12 pt and more, one colour-blind-safe colour per mode, bars
    spanning each speed-up's interval over the repeats; pool start-up and payload panels at the end."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    kernel_names = [k["name"] for k in runs[0]["kernels"]]
    panels = len(kernel_names) + 2
    columns = 3
    rows = -(-panels // columns)
    cores = int(runs[0]["machine"]["usable_cpus"])
    fonts: Any = FONT_SIZES  # matplotlib types rc keys as literals
    with plt.rc_context(fonts):
        fig, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 5.0 * rows), squeeze=False)
        flat = axes.ravel()
        for ax, name in zip(flat, kernel_names):
            _plot_kernel(ax, name, runs, cores)
        handles, labels = flat[0].get_legend_handles_labels()
        _plot_startup(flat[len(kernel_names)], runs)
        _plot_payload(flat[len(kernel_names) + 1], runs)
        for ax in flat[panels:]:
            ax.axis("off")
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)))
        fig.suptitle(
            "dupbench gil: the same work serial, in threads and in processes (bars: min-max over the repeats)", fontsize=FONT_SIZES["figure.titlesize"]
        )
        # Fixed margins: tight_layout measured every label and took most of a short run's time.
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.1 + 0.04 * (len(labels) > 4), top=0.92, wspace=0.28, hspace=0.5)
    return fig


def plot_results(runs: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Write `build_figure` to `path` (agg backend)."""
    import matplotlib.pyplot as plt

    fig = build_figure(runs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_startup(ax: Any, runs: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("process pool start-up + shut-down")
    width = 0.8 / max(1, len(runs))
    for i, (colour, run) in enumerate(zip(COLOURS, runs)):
        rows = (run.get("overheads") or {}).get("startup", [])
        ax.bar([j + i * width for j in range(len(rows))], [r["median_s"] * 1000 for r in rows], width, color=colour, label=run["interpreter"]["short_name"])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))], [r["start_method"] for r in rows])
    ax.set_ylabel("ms")
    if len(runs) > 1:
        ax.legend(fontsize=12)


def _plot_payload(ax: Any, runs: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("sending one task a payload")
    for colour, run in zip(COLOURS, runs):
        rows = (run.get("overheads") or {}).get("payload", [])
        if rows:
            sizes = [r["payload_bytes"] for r in rows]
            ax.plot(sizes, [r["pickle_s"] * 1000 for r in rows], "-o", color=colour, label="pickle")
            ax.plot(sizes, [r["shared_memory_s"] * 1000 for r in rows], "--s", color=colour, label="in shared memory")
            ax.plot(sizes, [r["shared_memory_copy_s"] * 1000 for r in rows], ":^", color=colour, label="copied to new shared memory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bytes per task")
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=12)
    ax.set_ylabel("ms per task")
