"""The figure is readable on a projector: one colour per mode, error bars from the repeats, fonts >= 12 pt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from dupbench.gil.demo import RunRow, summarise  # noqa: E402
from dupbench.gil.report import MODE_COLOURS, build_figure, plot_results, speedup_points  # noqa: E402


def kernel(name: str, serial: list[float], thread: list[float], process: list[float]) -> dict[str, Any]:
    rows = [RunRow(name, "serial", 1, r, w, w) for r, w in enumerate(serial)]
    rows += [RunRow(name, "thread", 2, r, w, w) for r, w in enumerate(thread)]
    rows += [RunRow(name, "process", 2, r, w, 2 * w) for r, w in enumerate(process)]
    return {"name": name, "label": name, "stage": name, "expected_gil": "holds", "summary": summarise(rows), "runs": [r.__dict__ for r in rows]}


def run() -> dict[str, Any]:
    return {
        "interpreter": {"short_name": "CPython test"},
        "machine": {"usable_cpus": 2},
        "kernels": [
            kernel("pure_python", [1.0, 1.1, 0.9], [1.0, 1.05, 1.2], [0.5, 0.55, 0.6]),
            kernel("hash", [1.0, 1.0, 1.0], [0.5, 0.6, 0.5], [0.5, 0.5, 0.5]),
        ],
        "overheads": None,
    }


def test_speedup_points_span_the_repeats() -> None:
    points = {(p.mode, p.workers): p for p in speedup_points(run()["kernels"][0])}
    process = points[("process", 2)]
    assert process.speedup == 1.0 / 0.55
    assert process.low == 0.9 / 0.6 and process.high == 1.1 / 0.5  # min-max at 3 repeats
    assert process.low < process.speedup < process.high


def test_figure_has_error_bars_mode_colours_and_large_fonts(tmp_path: Path) -> None:
    fig = build_figure([run()])
    try:
        for ax in fig.axes[:2]:
            bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
            assert bars, ax.get_title()
            colours = {matplotlib.colors.to_hex(c.lines[0].get_color()) for c in bars}
            assert colours == {c.lower() for c in MODE_COLOURS.values()}
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert sizes and min(sizes) >= 12
    finally:
        plt.close(fig)
    path = plot_results([run()], tmp_path / "gil.png")
    assert path.stat().st_size > 10_000
