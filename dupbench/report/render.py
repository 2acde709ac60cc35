"""Assemble the report: figures, then report/README.md (reads on a code host) and a self-contained
report/index.html (figures embedded, opens without a server)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from dupbench.report import figures
from dupbench.report.data import StudyInputs, interpreter_label, one_source_per_comparison, primary_interpreter
from dupbench.report.figures import AmdahlFit, Drawn
from dupbench.report.headline import (
    ALL_CELLS_SECTION,
    CPU_SECTION,
    DASK_SECTION,
    DETAILS_SECTION,
    INTERPRETER_SECTION,
    SEED_SECTION,
    STAGE_SECTION,
    Finding,
    headline_findings,
)
from dupbench.report.published import beyond_two_cores, matched_interpreters, published_section
from dupbench.report.real_accuracy import REAL_SECTION, real_accuracy_section
from dupbench.report.text import (
    all_cells,
    cpu_table,
    dask_overhead,
    findings,
    interpreter_findings,
    interpreter_table,
    interval_note,
    method_lines,
    reproduce_commands,
    seed_table,
    stage_speedups,
    thread_vs_process,
    to_markdown,
    validity,
    why_gil,
)


def machine_section(metadata: list[dict]) -> str:
    """The machine once (from the first results file), then interpreter, libraries and commit per file."""
    if not metadata:
        return "_no metadata found beside the results_"
    m = metadata[0]
    lines = [
        f"- CPU: {m.get('cpu_model')}, {m.get('logical_cores')} logical cores, {len(m.get('allowed_cores') or [])} allowed; "
        f"memory {m.get('memory_total_bytes', 0) / 2**30:.1f} GiB; {m.get('os')}",
    ]
    for meta in metadata:
        python: dict[str, Any] = meta["python"] if isinstance(meta.get("python"), dict) else {}
        libraries = meta.get("libraries", {})
        git = meta.get("git") or {}
        lines.append(
            f"- `{meta.get('sweep_path', '?')}` on {interpreter_label(python)}{' (GIL on)' if python.get('gil_enabled') and not python.get('py_gil_disabled_build') else ''}, "
            f"commit {git.get('short_commit', '?')}{' (dirty)' if git.get('dirty') else ''}, collected {meta.get('collected_utc', '?')}: "
            + ", ".join(f"{k} {v}" for k, v in libraries.items() if isinstance(v, (str, int, float)))
        )
    return "\n".join(lines)


def amdahl_sentence(fits: list[AmdahlFit]) -> str:
    """The Amdahl fit over workers <= cores, Karp-Flatt per p, and the oversubscribed runs named apart."""
    if not fits:
        return "Amdahl's law: not enough worker counts in these results to fit a serial fraction."
    basis = fits[0]
    fitted = "; ".join(f"{f.mode}: fitted serial fraction {f.serial_fraction:.2f}" for f in fits)
    thin = " With one worker count above 1 the fit rests on a single ratio: read it as a summary, not a law." if len(basis.workers) <= 2 else ""
    karp = "; ".join(f"{f.mode} " + ", ".join(f"e = {e:.2f} at p = {p}" for p, e in f.karp_flatt) for f in fits if f.karp_flatt)
    over = "; ".join(f"{f.mode} " + ", ".join(f"{s:.2f}x with {w} workers" for w, s in f.oversubscribed) for f in fits if f.oversubscribed)
    lines = [
        f"Amdahl's law S(p) = 1 / (f + (1 - f) / p), least squares over workers {', '.join(map(str, basis.workers))} (only workers <= cores) "
        f"at {basis.images} images on {basis.cores} cores, speed-ups against the fastest serial configuration measured, {basis.baseline}: {fitted}.{thin}"
    ]
    if karp:
        lines.append(f"Karp-Flatt experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p), per p <= cores: {karp}.")
    if over:
        lines.append(
            f"Oversubscribed (more workers than the {basis.cores} cores; not fitted, they measure the cost of oversubscription, not a serial fraction): {over}."
        )
    return " ".join(lines)


def scale_and_tables(inputs: StudyInputs, figure_dir: Path) -> list[str]:
    """The scale figure and the benchmark scripts' own tables, each under the file it came from."""
    drawn = figures.compare_scale(inputs.scale, figure_dir)
    caption = (
        "Compare stage on synthetic thumbnails, serially: wall time and peak memory per pair strategy and "
        "candidate search, fitted log-log slope in the legend (benchmarks/scale.py)."
    )
    note = f"**Not drawn: {drawn.missing}.** " if drawn.missing else ""
    parts = [f"![{caption}](figures/{drawn.png.name})", f"_{note}{caption} Drawn by `dupbench.report.figures.compare_scale`._"]
    for path, text in inputs.tables:
        parts += [f"From `{path}` (written by the benchmark script named in it):", text.strip()]
    return parts


def draw_figures(inputs: StudyInputs, figure_dir: Path, raw: pd.DataFrame | None = None) -> tuple[list[tuple[Drawn, str, str]], list[AmdahlFit]]:
    """Every results figure, as (what was drawn, the drawing function's name, caption), and the Amdahl fits;
    `raw` (every interpreter and file) feeds the interpreter and Dask figures."""
    raw = inputs.runs if raw is None else raw
    speedup, fits = figures.speedup_vs_workers(inputs.runs, figure_dir)
    made: list[tuple[Drawn, str, str]] = [
        (
            figures.time_vs_size(inputs.runs, figure_dir),
            "time_vs_size",
            "Total wall time vs dataset size per mode (log-log, all pairs, all cores), with O(n) and O(n²) guides through the largest serial point.",
        ),
        (
            speedup,
            "speedup_vs_workers",
            "Speed-up over serial vs workers (left; dotted: 1 core) and vs cores with workers = cores (middle), ideal lines dashed, "
            "Amdahl fit printed; parallel efficiency = speed-up / min(workers, cores) (right).",
        ),
        (
            figures.stage_breakdown(inputs.runs, figure_dir),
            "stage_breakdown",
            "Per-stage wall time (median) per mode at the largest all-pairs dataset; grey: time outside the stages.",
        ),
        (
            figures.cpu_timeline(inputs.runs, inputs.timelines, figure_dir),
            "cpu_timeline",
            "CPU use over one run per mode, sampled from outside the run: per core and the whole process tree (100% = one core).",
        ),
        (figures.memory_vs_size(inputs.runs, figure_dir), "memory_vs_size", "Peak resident memory of the process tree vs dataset size."),
        (
            figures.cpu_utilization_vs_size(inputs.runs, figure_dir),
            "cpu_utilization_vs_size",
            "CPU utilisation per mode vs dataset size; circles: each run where a cell has < 10.",
        ),
        (
            figures.speedup_vs_size(inputs.runs, figure_dir),
            "speedup_vs_size",
            "Speed-up over the fastest serial configuration vs dataset size, with intervals.",
        ),
        (figures.gil_vs_free_threaded(raw, figure_dir), "gil_vs_free_threaded", "Threads and processes per interpreter, each over its own fastest serial."),
        (figures.dask_vs_pools(raw, figure_dir), "dask_vs_pools", "Dask vs process pool vs serial, from the Dask sweep's own file."),
        (figures.throughput(inputs.runs, figure_dir), "throughput", "Throughput: images/s in the load stage, SSIM pairs/s in the compare stage."),
        (
            figures.accuracy(inputs.accuracy, figure_dir),
            "accuracy",
            "Near-duplicate precision, recall and F1 vs match-score threshold (from `dupbench evaluate --threshold-sweep`).",
        ),
    ]
    return made, fits


def cite(finding: Finding, drawn: dict[str, str]) -> str:
    """A finding as an opening line: the first figure drawn among those that show it, and its table's heading."""
    figure = next((drawn[name] for name in finding.figures if name in drawn), None)
    table = f"[{finding.section}](#{heading_anchor(finding.section)})"
    return f"- {finding.text} (figure: [{figure}](figures/{figure}); table: {table})" if figure else f"- {finding.text} (table: {table})"


def opening(inputs: StudyInputs, headline: list[str]) -> list[str]:
    """Title, provenance (the full command is given once, under How to reproduce), the findings, then the
    question, the machine and the method."""
    files = len(inputs.sources)
    return [
        "# dupbench study: serial vs thread pool vs process pool",
        f"_Generated by `dupbench report` from {files} results file{'s' if files != 1 else ''}. Do not edit; "
        "to regenerate: see [How to reproduce](#how-to-reproduce)._",
        "## Findings",
        *(headline or ["_No speed-up could be computed from these results._"]),
        "Intervals: distribution-free order-statistic intervals for a median or a ratio of medians, with the coverage they guarantee at each "
        "cell's number of runs ('min-max': too few runs for 95%; see the note under "
        f"[{SEED_SECTION}](#{heading_anchor(SEED_SECTION)})). Every cell, one by one: [{DETAILS_SECTION}](#{heading_anchor(DETAILS_SECTION)}) "
        f"and [{ALL_CELLS_SECTION}](#{heading_anchor(ALL_CELLS_SECTION)}).",
        "## The question",
        "How much faster is one duplicate-image detector, run unchanged in a thread pool or a process pool, than "
        "run serially; for which stages; and why (what the GIL serialises and what it does not)?",
        "## Machine and versions",
        machine_section(inputs.metadata),
        "## Method",
        "Each measured run is a fresh `dupbench run` child process pinned with `sched_setaffinity` to the given "
        "number of cores; datasets are generated and read once before timing; warm-up runs are discarded; "
        "repeats are kept; the run order is interleaved across modes so that slow spells of the shared machine "
        "hit every mode alike. A monitor in the harness samples the child's whole process tree (pool workers and "
        "forkserver grandchildren included). CPU utilisation = CPU seconds of the process tree / (wall seconds x "
        "cores allowed). Medians with interquartile ranges throughout; speed-ups are taken against the fastest "
        "serial configuration measured for the dataset and interpreter; a mode is called faster or slower only "
        "when an interval valid for its number of runs clears the harness's threshold (its real coverage is "
        "printed beside it), and 'inconclusive' where it does not. Where "
        "several results files measured the same comparison (dataset, pair strategy, cores, interpreter), only "
        "the file with the most runs of it is used, so no median or speed-up mixes sweeps run at other times "
        "and commits (the Dask and interpreter sections read their own files).",
        *[f"- {line}" for line in method_lines(inputs.metadata)],
    ]


def closing(inputs: StudyInputs, raw: pd.DataFrame, everything: pd.DataFrame, figure_dir: Path, command: str) -> list[str]:
    """Findings, the published study, performance, Dask, the GIL, threats to validity and how to reproduce."""
    parts = [f"## {DETAILS_SECTION}", *[f"- {line}" for line in findings(everything, inputs.accuracy)]]
    parts += [f"## {REAL_SECTION}", *real_accuracy_section(inputs.real_accuracy)]
    parts += ["## Against the published study", *published_section(everything, inputs.metadata)]
    parts += ["## Performance: scale, limits and peers", *scale_and_tables(inputs, figure_dir)]
    parts += ["## Beyond two cores, on paper", *beyond_two_cores(inputs.runs)]
    parts += [f"## {DASK_SECTION}", *[f"- {line}" for line in dask_overhead(raw)]]
    parts += ["## Why: the GIL, measured", *[f"- {line}" for line in why_gil(everything, inputs.gil)]]
    side_by_side = interpreter_table(raw)
    parts += [
        f"### {INTERPRETER_SECTION}",
        to_markdown(side_by_side)
        if not side_by_side.empty
        else "_No results file here ran several interpreters (`grid.pythons` in a sweep file, e.g. experiments/gil_pythons.toml)._",
        *[f"- {line}" for line in interpreter_findings(side_by_side)],
        "### One variable at a time: the same CPython built with and without the GIL",
        *matched_interpreters(raw),
    ]
    parts += ["## Threats to validity", *[f"- {line}" for line in validity(everything, inputs.metadata)]]
    cells = all_cells(raw)
    parts += [
        f"## {ALL_CELLS_SECTION}",
        f"Every run measured in the results files read, {len(raw)} runs in {len(cells)} cells, one row per cell (including cells "
        "no figure or table above shows); speed-ups against the fastest serial configuration of the same file, interpreter and dataset.",
        to_markdown(cells),
    ]
    commands = reproduce_commands(inputs.metadata, inputs.accuracy_metadata, inputs.gil, command, inputs.real_accuracy)
    inputs_used = (
        "Results files read: "
        + ", ".join(f"`{s}`" for s in inputs.sources)
        + ". The commands that made the inputs, then (last line) the one that made this report from them:"
    )
    return parts + ["## How to reproduce", inputs_used, '```bash\npip install -e ".[test,dask]"\n' + "\n".join(commands) + "\n```"]


def build_report(inputs: StudyInputs, out: Path, command: str) -> Path:
    """Write figures, README.md and index.html under `out`; returns the README path."""
    figure_dir = out / "figures"
    raw = inputs.runs
    everything = one_source_per_comparison(raw)
    inputs = replace(inputs, runs=primary_interpreter(everything))
    shown = inputs.runs["interpreter"].iloc[0] if "interpreter" in inputs.runs and len(inputs.runs) else "one interpreter"
    made, fits = draw_figures(inputs, figure_dir, raw)
    figure_names = {function: figure.png.name for figure, function, _ in made if not figure.missing}
    parts = [
        *opening(inputs, [cite(finding, figure_names) for finding in headline_findings(everything, raw, inputs.accuracy, inputs.real_accuracy)]),
        "## Results",
        f"### {SEED_SECTION}",
        to_markdown(seed_table(everything)),
        interval_note(seed_table(everything)),
        "Threads against processes in the same cells (above 1: threads faster):",
        to_markdown(thread_vs_process(everything)),
        f"Figures and the per-stage table below show {shown}.",
        f"### {STAGE_SECTION}",
        to_markdown(stage_speedups(inputs.runs)),
        amdahl_sentence(fits),
        f"### {CPU_SECTION}",
        "CPU seconds of the whole process tree / (wall seconds x cores allowed), on all cores with one worker per core "
        "(on one core every mode keeps that core busy):",
        to_markdown(cpu_table(everything)),
    ]
    for drawn, function, caption in made:
        parts.append(f"![{caption}](figures/{drawn.png.name})")
        note = f"**Not drawn: {drawn.missing}.** " if drawn.missing else ""
        parts.append(f"_{note}{caption} Drawn by `dupbench.report.figures.{function}` (PNG and SVG)._")
    parts += closing(inputs, raw, everything, figure_dir, command)
    markdown = "\n\n".join(parts) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    readme = out / "README.md"
    readme.write_text(markdown, encoding="utf-8")
    (out / "index.html").write_text(markdown_to_html(markdown, out), encoding="utf-8")
    return readme


def markdown_to_html(markdown: str, base: Path) -> str:
    """A small converter for the report's own Markdown (headings, lists, tables, images, code)."""
    body: list[str] = []
    code: list[str] | None = None  # lines of an open fenced block, joined with newlines so <pre> keeps them
    in_table = in_list = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            if code is not None:
                body.append("<pre>" + "\n".join(code) + "</pre>")
            code = [] if code is None else None
            continue
        if code is not None:
            code.append(html.escape(line))
            continue
        if in_list and not line.startswith("- "):
            body.append("</ul>")
            in_list = False
        if in_table and not line.startswith("|"):
            body.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = line[level:].strip()
            body.append(f'<h{level} id="{heading_anchor(title)}">{_inline(title)}</h{level}>')
        elif line.startswith("!["):
            body.append(_figure(line, base))
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue  # the alignment row under a header (---, :---, ---:, :---:)
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
        elif line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    body += ["</ul>"] if in_list else []
    body += ["</table>"] if in_table else []
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "img{max-width:100%}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:0.5em}"
    )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>dupbench study</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"


def heading_anchor(title: str) -> str:
    """The anchor a code host gives a Markdown heading (lower case, punctuation dropped, spaces to dashes),
    so one `[text](#anchor)` link works in README.md and in index.html."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _figure(line: str, base: Path) -> str:
    image = re.match(r"!\[(.*)\]\((.*)\)", line)
    if image is None:
        raise ValueError(f"report line is not a Markdown image: {line[:80]}")
    alt, src = image.groups()
    data = base64.b64encode((base / src).read_bytes()).decode()
    return f'<figure id="{html.escape(Path(src).stem)}"><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _inline(text: str) -> str:
    """Markdown spans used by the report: `code` (kept verbatim), **bold**, [links](#to-a-heading) and a line wrapped in _..._."""
    pieces = re.split(r"(`[^`]+`)", text)
    out = []
    for piece in pieces:
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
        else:
            span = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html.escape(piece))
            span = re.sub(r"\[([^\]]+)\]\(figures/([^)\s/]+)\.png\)", r'<a href="#\2">\1</a>', span)  # the figure is embedded below
            out.append(re.sub(r"\[([^\]]+)\]\((#[^)\s]*)\)", r'<a href="\2">\1</a>', span))
    joined = "".join(out)
    if joined.startswith("_") and joined.endswith("_") and len(joined) > 1:
        joined = f"<em>{joined[1:-1]}</em>"
    return joined
