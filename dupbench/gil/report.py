"""Tables and the figure for one or several interpreters' results (plain functions of the results)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple")
EXPECTATION = {"holds": "holds the GIL", "releases": "releases the GIL", "waits": "waits with the GIL released"}


def format_kernel_table(kernel: Mapping[str, Any]) -> str:
    lines = [
        f"{kernel['label']}  [stage: {kernel['stage']}; expected: {EXPECTATION.get(kernel['expected_gil'], kernel['expected_gil'])}; "
        f"{kernel['tasks']} tasks" + (f"; backend {kernel['backend']}]" if kernel.get("backend") else "]"),
        f"  {'mode':<8}{'workers':>8}{'median s':>11}{'IQR s':>16}{'speed-up':>10}{'CPU cores':>11}",
    ]
    for row in kernel["summary"]:
        iqr = f"{row['q1_wall_s']:.3f}-{row['q3_wall_s']:.3f}"
        lines.append(f"  {row['mode']:<8}{row['workers']:>8}{row['median_wall_s']:>11.3f}{iqr:>16}{row['speedup']:>9.2f}x{row['cpu_cores']:>11.2f}")
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
    blocks = [header] + [format_kernel_table(k) for k in results["kernels"]]
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
                cells.append("-" if match is None else f"{match['speedup']:.2f}x {match['median_wall_s']:.3f}s {match['cpu_cores']:.1f}cpu")
            lines.append(f"{kernel['name']:<14}{row['mode']:<8}{row['workers']:>7}  " + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def _summary_row(run: Mapping[str, Any], kernel: str, mode: str, workers: int) -> Mapping[str, Any] | None:
    for k in run["kernels"]:
        if k["name"] == kernel:
            return next((r for r in k["summary"] if r["mode"] == mode and r["workers"] == workers), None)
    return None


def plot_results(runs: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """One panel per kernel (speed-up vs workers: threads solid, processes dashed, one colour per
    interpreter), plus pool start-up and payload panels. Written with the agg backend."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    kernel_names = [k["name"] for k in runs[0]["kernels"]]
    panels = len(kernel_names) + 2
    columns = 4
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    flat = axes.ravel()
    cores = int(runs[0]["machine"]["usable_cpus"])
    for ax, name in zip(flat, kernel_names):
        label = next(k["label"] for k in runs[0]["kernels"] if k["name"] == name)
        workers: list[int] = []
        for colour, run in zip(COLOURS, runs):
            kernel = next((k for k in run["kernels"] if k["name"] == name), None)
            if kernel is None:
                continue
            for mode, style in (("thread", "-o"), ("process", "--s")):
                points = [(r["workers"], r["speedup"]) for r in kernel["summary"] if r["mode"] == mode]
                if points:
                    xs, ys = zip(*points)
                    workers = sorted(set(workers) | set(xs))
                    ax.plot(xs, ys, style, color=colour, label=f"{mode}, {run['interpreter']['short_name']}")
        if workers:
            ax.plot(workers, [min(w, cores) for w in workers], ":", color="grey", label=f"ideal on {cores} cores")
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("workers")
        ax.set_ylabel("speed-up vs serial")
        ax.set_xticks(workers)
    handles, labels = flat[0].get_legend_handles_labels()
    _plot_startup(flat[len(kernel_names)], runs)
    _plot_payload(flat[len(kernel_names) + 1], runs)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8)
    fig.suptitle("dupbench gil: the same work serial, in threads and in processes", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_startup(ax: Any, runs: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("process pool start-up + shut-down", fontsize=9)
    width = 0.8 / max(1, len(runs))
    for i, (colour, run) in enumerate(zip(COLOURS, runs)):
        rows = (run.get("overheads") or {}).get("startup", [])
        ax.bar([j + i * width for j in range(len(rows))], [r["median_s"] * 1000 for r in rows], width, color=colour, label=run["interpreter"]["short_name"])
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))], [r["start_method"] for r in rows])
    ax.set_ylabel("ms")


def _plot_payload(ax: Any, runs: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("sending one task a payload", fontsize=9)
    for colour, run in zip(COLOURS, runs):
        rows = (run.get("overheads") or {}).get("payload", [])
        if rows:
            sizes = [r["payload_bytes"] for r in rows]
            ax.plot(sizes, [r["pickle_s"] * 1000 for r in rows], "-o", color=colour, label="pickle")
            ax.plot(sizes, [r["shared_memory_s"] * 1000 for r in rows], "--s", color=colour, label="in shared memory")
            ax.plot(sizes, [r["shared_memory_copy_s"] * 1000 for r in rows], ":^", color=colour, label="copied to new shared memory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bytes (solid: pickle, dashed: in shm, dotted: new shm)", fontsize=8)
    ax.set_ylabel("ms per task")
