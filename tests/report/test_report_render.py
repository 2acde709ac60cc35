"""The report renders from real sweep results, and its sentences follow the numbers they are given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dupbench.harness.sweep import run_sweep
from dupbench.harness.spec import load_spec
from dupbench.report.data import amdahl_serial_fraction, growth_exponent, load_inputs
from dupbench.report.render import build_report
from dupbench.report.text import findings, seed_table, why_gil

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("time_vs_size", "speedup", "stages", "cpu_timeline", "memory", "throughput", "accuracy")


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    run_sweep(load_spec(ROOT / "experiments" / "smoke.toml"), out, dataset_cache=out / "datasets", progress=False, log=lambda line: None)
    return next(out.rglob("*.csv"))


@pytest.fixture(scope="session")
def rendered(smoke_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    build_report(load_inputs([smoke_results]), out, "dupbench report SMOKE")
    return out


def test_every_figure_is_written_as_png_and_svg(rendered):
    for name in FIGURES:
        assert (rendered / "figures" / f"{name}.png").stat().st_size > 1000
        assert (rendered / "figures" / f"{name}.svg").exists()


def test_tables_have_a_row_per_size_and_mode(smoke_results, rendered):
    runs = load_inputs([smoke_results]).runs
    table = seed_table(runs)
    assert len(table) == 3 * runs["images"].nunique()
    assert set(table["mode"]) == {"serial", "thread", "process"}
    text = (rendered / "README.md").read_text()
    for heading in ("## The question", "## Machine and versions", "## Method", "## Results", "## Findings",
                    "## Why: the GIL, measured", "## Threats to validity", "## How to reproduce"):
        assert heading in text
    html = (rendered / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(FIGURES)


def fake_runs(thread_compare: float, process_compare: float) -> pd.DataFrame:
    rows = []
    for images, scale in ((100, 1.0), (400, 10.0), (1600, 150.0)):
        for mode, compare in (("serial", 1.0), ("thread", thread_compare), ("process", process_compare)):
            for repeat in range(3):
                rows.append(dict(sweep="seed_study", images=images, mode=mode, pairs="all", cores=2,
                                 workers=1 if mode == "serial" else 2, repeat=repeat, wall_s=scale * (1 + compare),
                                 load_s=scale * 0.5, compare_s=scale * compare, scan_s=0.0, cluster_s=0.0))
    return pd.DataFrame(rows)


def test_wording_follows_the_numbers():
    def compare_line(runs):
        return next(line for line in why_gil(runs, None) if line.startswith("compare"))

    threads_win = compare_line(fake_runs(thread_compare=0.5, process_compare=0.6))
    threads_flat = compare_line(fake_runs(thread_compare=1.0, process_compare=0.5))
    assert "threads keep up with processes" in threads_win
    assert "holds the GIL" in threads_flat and "threads keep up" not in threads_flat
    assert any("threads lead" in line for line in findings(fake_runs(0.4, 0.6)))
    assert any("processes lead" in line for line in findings(fake_runs(0.8, 0.5)))


def test_growth_and_amdahl_fits():
    assert growth_exponent([100, 200, 400], [1.0, 4.0, 16.0]) == pytest.approx(2.0)
    assert amdahl_serial_fraction([1, 2, 4], [1.0, 2.0, 4.0]) == pytest.approx(0.0, abs=1e-9)
    assert amdahl_serial_fraction([2, 4], [1 / (0.5 + 0.25), 1 / (0.5 + 0.125)]) == pytest.approx(0.5)


def test_index_html_renders_its_figures_in_headless_chromium(rendered, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it in CI)")
    script = tmp_path / "check.html"
    page = (rendered / "index.html").read_text()
    probe = ("<script>window.onload=()=>{const ok=[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length;"
             "document.title='figures:'+ok+'/'+document.images.length;}</script>")
    script.write_text(page.replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", script.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert f"figures:{len(FIGURES)}/{len(FIGURES)}" in result.stdout
