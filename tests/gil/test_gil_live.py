"""The live view: per-core bars as text, and a `--live` run that works without a terminal."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from dupbench.gil.__main__ import main
from dupbench.gil.live import LiveView, render_bars, render_frame, render_line


def test_bars_fill_in_proportion_and_clamp() -> None:
    idle, half, full = render_bars([0.0, 50.0, 130.0], width=10)
    assert idle == "cpu0  [----------]   0%"
    assert half.count("#") == 5 and half.endswith(" 50%")
    assert full.count("#") == 10 and full.endswith("100%")
    frame = render_frame([100.0, 0.0], "pure_python: 2 threads", own_cores=0.96, width=10)
    assert frame[0] == "now: pure_python: 2 threads" and len(frame) == 4
    assert "1.0 of 2 cores busy" in frame[-1] and "this run: 1.0 cores" in frame[-1]
    assert render_line([12.0, 97.0], "hash: serial") == "cpu0  12% cpu1  97%  | hash: serial"
    assert render_line([12.0, 97.0], "hash: serial", 1.04) == "cpu0  12% cpu1  97% ours 1.0  | hash: serial"


def wait_for_samples(live: LiveView, count: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while live.samples < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_pipe_gets_one_line_per_sample_and_no_cursor_moves() -> None:
    stream = io.StringIO()
    with LiveView(stream, rate=50) as live:
        live.show("kernel: serial")
        wait_for_samples(live, 2)
        live.show("kernel: 2 processes")
        wait_for_samples(live, live.samples + 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 5 and "\x1b" not in stream.getvalue()
    assert lines[0] == "now: kernel: serial" and lines[-1].endswith("| kernel: 2 processes")
    assert "now: kernel: 2 processes" in lines
    samples = [line for line in lines if not line.startswith("now: ")]
    assert len(samples) >= 4 and all(" ours " in line for line in samples)


def test_live_run_at_a_tiny_scale_without_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--live", "--scale", "0.2", "--repeats", "1", "--kernels", "pure_python", "--no-overheads", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| pure_python (holds the GIL): " in out and "cpu0" in out
    assert (tmp_path / "results.json").exists()


def test_a_run_shorter_than_one_interval_still_ends_with_a_sample() -> None:
    """On a quick machine a tiny kernel ends before the first sample: the last state is drawn at exit."""
    stream = io.StringIO()
    with LiveView(stream, rate=0.01) as live:  # one sample per 100 s
        live.show("kernel: 2 processes")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "now: kernel: 2 processes" and lines[-1].endswith("| kernel: 2 processes") and live.samples == 1
