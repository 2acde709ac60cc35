"""The report renders from real sweep results, and its sentences follow the numbers they are given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dupbench.cli import main
from dupbench.harness.spec import load_spec
from dupbench.harness.sweep import run_sweep
from dupbench.report.data import load_inputs
from dupbench.report.render import build_report
from dupbench.report.text import PUBLISHED_SIZES, seed_table, stage_speedups

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "time_vs_size",
    "speedup",
    "stages",
    "cpu_timeline",
    "memory",
    "cpu_utilization",
    "speedup_vs_size",
    "gil_vs_free_threaded",
    "dask",
    "throughput",
    "accuracy",
    "compare_scale",
)


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
    sizes = set(PUBLISHED_SIZES) | set(runs["images"].unique())
    assert len(table) == 3 * len(sizes)
    assert set(table["mode"]) == {"serial", "thread", "process"}
    absent = table[~table["images"].isin(runs["images"].unique())]
    assert len(absent) == 3 * len(PUBLISHED_SIZES) and set(absent["median s"]) == {"not measured"}
    measured = table[table["images"].isin(runs["images"].unique())]
    assert (measured["runs"] == 2).all() and (measured[measured["mode"] == "serial"]["verdict"] == "baseline").all()
    stages = stage_speedups(runs)
    assert list(stages["stage"]) == ["load (read, digest, decode, thumbnail)", "compare (batched SSIM)", "whole run"]
    text = (rendered / "README.md").read_text()
    for heading in (
        "## The question",
        "## Machine and versions",
        "## Method",
        "## Results",
        "## Findings",
        "## Why: the GIL, measured",
        "## Threats to validity",
        "## How to reproduce",
    ):
        assert heading in text
    for heading in ("## Against the published study",):
        assert heading in text
    html = (rendered / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(FIGURES)
    assert "<img" in html and 'src="figures/' not in html  # self-contained: nothing to fetch


def test_missing_data_is_said_in_the_text_not_only_in_a_blank_figure(rendered):
    text = (rendered / "README.md").read_text()
    # the smoke sweep has one dataset size and no accuracy input
    assert "**Not drawn: fewer than two dataset sizes in these results.**" in text
    assert "**Not drawn: no threshold sweep given (--accuracy).**" in text
    assert "No accuracy input was given" in text
    assert "Only one dataset size was measured" in text
    assert "No `dupbench gil` results were given" in text
    for name in FIGURES:
        assert "`dupbench.report.figures." in text and f"figures/{name}.png" in text


def test_accuracy_input_is_used_when_given(smoke_results, tmp_path):
    sweep = tmp_path / "threshold-sweep.csv"
    pd.DataFrame(
        {
            "threshold": [0.5, 0.7, 0.9],
            "tp": [9, 8, 4],
            "fp": [6, 1, 0],
            "fn": [1, 2, 6],
            "precision": [0.6, 0.8889, 1.0],
            "recall": [0.9, 0.8, 0.4],
            "f1": [0.72, 0.8421, 0.5714],
        }
    ).to_csv(sweep, index=False)
    (tmp_path / "metadata.json").write_text('{"command": "bash experiments/accuracy.sh 20 1"}')
    out = tmp_path / "report"
    status = main(["report", str(smoke_results), "--out", str(out), "--accuracy", str(sweep)])
    assert status == 0
    text = (out / "README.md").read_text()
    assert "best F1 in the threshold sweep is 0.842 at threshold 0.70" in text
    assert "Not drawn: no threshold sweep" not in text
    assert "bash experiments/accuracy.sh 20 1" in text and f"--accuracy {sweep}" in text


def test_cli_refuses_missing_inputs(smoke_results, tmp_path, capsys):
    assert main(["report", str(smoke_results), "--out", str(tmp_path), "--accuracy", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
    assert not (tmp_path / "README.md").exists()


def test_index_html_renders_its_figures_in_headless_chromium(rendered, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it in CI)")
    script = tmp_path / "check.html"
    page = (rendered / "index.html").read_text()
    probe = (
        "<script>window.onload=()=>{const ok=[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length;"
        "document.title='figures:'+ok+'/'+document.images.length;}</script>"
    )
    script.write_text(page.replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            script.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"figures:{len(FIGURES)}/{len(FIGURES)}" in result.stdout


def test_scale_figure_fits_each_pair_strategys_growth(tmp_path):
    import pandas as pd

    from dupbench.report.figures import compare_scale

    n = [1000, 10000, 100000]
    scale = pd.DataFrame({"n": n * 2, "pairs": ["pruned"] * 3 + ["all"] * 3, "wall_s": [0.1, 1.0, 10.0, 0.5, 50.0, 5000.0], "peak_rss_bytes": [1e8] * 6})
    drawn = compare_scale(scale, tmp_path)
    assert drawn.missing is None and drawn.png.exists() and drawn.svg.exists()
    svg = drawn.svg.read_text()
    assert "slope 1.00" in svg and "slope 2.00" in svg
    assert compare_scale(None, tmp_path).missing
    # the exact scan beside the index: two algorithms, two curves (a median over both fitted neither)
    exact = pd.DataFrame({"n": n, "pairs": ["pruned"] * 3, "search": ["exact"] * 3, "wall_s": [0.2, 20.0, 2000.0], "peak_rss_bytes": [1e8] * 3})
    svg = compare_scale(pd.concat([scale.assign(search=["index"] * 3 + [""] * 3), exact]), tmp_path).svg.read_text()
    assert "index candidates (slope 1.00)" in svg and "exact candidates (slope 2.00)" in svg and "pairs all (slope 2.00)" in svg


def test_the_full_command_and_the_source_list_appear_once(smoke_results, tmp_path):
    out = tmp_path / "report"
    command = f"dupbench report {smoke_results} --out {out} --scale NOWHERE.csv"
    build_report(load_inputs([smoke_results]), out, command)
    text = (out / "README.md").read_text()
    assert text.count(command) == 1 and text.count(str(smoke_results)) == 2  # in the command and the list of inputs, both under How to reproduce
    assert text.index(command) > text.index("## How to reproduce")
    assert "[How to reproduce](#how-to-reproduce)" in text.split("\n## ")[0]
    captions = [line for line in text.splitlines() if "Drawn by `dupbench.report.figures." in line]
    assert len(captions) == len(FIGURES)
    assert all(len(line) < 400 and str(smoke_results) not in line for line in captions)


def test_the_report_opens_with_findings_that_cite_a_figure_or_table(rendered):
    import re

    from dupbench.report.render import heading_anchor

    text = (rendered / "README.md").read_text()
    assert text.index("## Findings") < min(text.index(h) for h in ("## The question", "## Machine and versions", "## Method", "## Results"))
    opening = text[text.index("## Findings") : text.index("## The question")]
    lines = [line for line in opening.splitlines() if line.startswith("- ")]
    assert 3 <= len(lines) <= 8  # the smoke sweep has one size, no accuracy, Dask or second interpreter
    assert all("table: [" in line for line in lines) and any("(figure: [" in line for line in lines)  # a figure where one was drawn
    assert "## Details" in text  # the long per-cell list, further down
    anchors = {heading_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    assert set(re.findall(r"\]\(#([^)]+)\)", text)) <= anchors
    for figure in re.findall(r"\]\(figures/([^)]+)\)", opening):
        assert (rendered / "figures" / figure).exists()
    html = (rendered / "index.html").read_text()
    assert '<a href="#cpu-utilisation-per-mode-and-size">' in html and '<h3 id="cpu-utilisation-per-mode-and-size">' in html
