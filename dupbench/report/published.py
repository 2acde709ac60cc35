"""The published study this project reproduces, quoted once, and what the measurements here say about it;
what they predict beyond two cores; and the matched GIL / free-threaded interpreter pair.

Only `PUBLISHED` is typed in: it is quoted from the paper, not measured here. Everything else is a pure
function of the results it is given, so each sentence follows its numbers (tests feed invented frames).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dupbench.harness.stats import median_interval, ratio_interval
from dupbench.report.data import fastest_serial, fastest_serial_rows, karp_flatt, primary_interpreter
from dupbench.report.figures import all_pairs_on_all_cores
from dupbench.report.text import (
    INTERVAL,
    MODE_NAMES,
    STUDY_MODES,
    _seed_runs,
    growth_claims,
    interpreter_table,
    interval_verdict,
    seed_table,
    thread_vs_process,
    to_markdown,
    variance_claims,
)
from dupbench.result import STAGES


@dataclass(frozen=True)
class PublishedStudy:
    """A published benchmark as its paper states it: machine, pool sizes, one timing per cell, CPU use."""

    title: str
    institution: str
    cpu: str
    physical_cores: int
    hardware_threads: int
    processes: int
    threads_in_code: int
    threads_in_note: int
    seconds: tuple[tuple[int, str, float], ...]  # (images, mode, seconds), one run each
    cpu_utilisation: tuple[tuple[str, float], ...]  # ("serial" or "parallel", share of the machine)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(sorted({images for images, _, _ in self.seconds}))

    def time(self, images: int, mode: str) -> float | None:
        return next((s for n, m, s in self.seconds if n == images and m == mode), None)

    def utilisation(self, mode: str) -> float:
        return dict(self.cpu_utilisation)["serial" if mode == "serial" else "parallel"]


# Quoted from the paper (its table and text), not measured here.
PUBLISHED = PublishedStudy(
    title="Duplicate Image Detection using Python Multithreading and Multiprocessing",
    institution="VIT",
    cpu="Intel i5-8250U",
    physical_cores=4,
    hardware_threads=8,
    processes=8,
    threads_in_code=5000,
    threads_in_note=100,
    seconds=(
        (6, "serial", 0.255),
        (184, "serial", 4.63),
        (1472, "serial", 38.8),
        (6, "process", 0.523),
        (184, "process", 2.06),
        (1472, "process", 11.8),
        (6, "thread", 0.0),
        (184, "thread", 1.06),
        (1472, "thread", 10.8),
    ),
    cpu_utilisation=(("serial", 0.26), ("parallel", 0.88)),
)
ZERO_READS_AS = 0.05  # the paper prints seconds to 0.1 s at best for its 0.0: anything below this prints as 0.0


def quoted_seconds(seconds: float) -> str:
    """A published time as the paper prints it (its 0.0 stays 0.0)."""
    return f"{seconds:.3g}" if seconds else f"{seconds:.1f}"


def citation(study: PublishedStudy = PUBLISHED) -> str:
    return (
        f'"{study.title}" ({study.institution}): {study.cpu}, {study.physical_cores} cores / {study.hardware_threads} threads, '
        f"{study.processes} processes; its code starts {study.threads_in_code:,} threads, its note mentions {study.threads_in_note}; "
        "one timing per cell, threads unsynchronised."
    )


def published_speedup(images: int, mode: str, study: PublishedStudy = PUBLISHED) -> str:
    serial, time = study.time(images, "serial"), study.time(images, mode)
    if serial is None or time is None:
        return ""
    return f"{serial / time:.2f}x" if time > 0 else f"undefined ({time:.1f} s)"


def our_cpu_utilisation(runs: pd.DataFrame) -> dict[tuple[int, str], float]:
    """Median CPU utilisation (CPU s / (wall s x cores allowed)) of the seed cells of the primary interpreter."""
    data = _seed_runs(primary_interpreter(runs))
    if data.empty or "cpu_utilization" not in data:
        return {}
    medians = data.groupby(["images", "mode"])["cpu_utilization"].median()
    return {(int(n), str(m)): float(v) for (n, m), v in medians.items()}


def side_by_side(runs: pd.DataFrame, study: PublishedStudy = PUBLISHED) -> pd.DataFrame:
    """Per published size and mode: the paper's seconds and speed-up beside ours (median, speed-up over the
    fastest serial configuration with its interval and verdict, as in the seed table) and CPU utilisation."""
    ours = seed_table(primary_interpreter(runs)).set_index(["images", "mode"])
    cpu = our_cpu_utilisation(runs)
    rows = []
    for images in study.sizes:
        for mode in STUDY_MODES:
            published = study.time(images, mode)
            mine = ours.loc[(images, mode)] if (images, mode) in ours.index else None
            measured = cpu.get((images, mode))
            rows.append(
                {
                    "images": images,
                    "mode": MODE_NAMES[mode],
                    "published s": "" if published is None else quoted_seconds(published),
                    "published speed-up": published_speedup(images, mode, study),
                    "our runs": 0 if mine is None else int(mine["runs"]),
                    "our median s": "not measured" if mine is None else mine["median s"],
                    "our speed-up": "" if mine is None else mine["speed-up"],
                    f"our {INTERVAL}": "" if mine is None else mine[INTERVAL],
                    "our verdict": "" if mine is None else mine["verdict"],
                    "published CPU": f"{study.utilisation(mode):.0%}",
                    "our CPU": "" if measured is None else f"{measured:.0%}",
                }
            )
    return pd.DataFrame(rows)


def table_note(runs: pd.DataFrame, study: PublishedStudy = PUBLISHED) -> str:
    data = _seed_runs(primary_interpreter(runs))
    interpreter = data["interpreter"].iloc[0] if "interpreter" in data and len(data) and data["interpreter"].iloc[0] else "the interpreter shown"
    baselines = sorted({b for b in seed_table(primary_interpreter(runs))["baseline"] if b})
    return (
        f"Ours: {interpreter}, all pairs, one worker per allowed core; speed-ups over the fastest serial configuration measured "
        f"({', '.join(baselines) or 'none'}). Published: one run per cell, speed-up = its serial / its parallel time. "
        f"The paper gives CPU utilisation once for serial ({study.utilisation('serial'):.0%}) and once for parallel "
        f"({study.utilisation('thread'):.0%}), not per size; ours is CPU seconds / (wall seconds x cores allowed), per cell."
    )


def differences(runs: pd.DataFrame, metadata: list[dict], study: PublishedStudy = PUBLISHED) -> list[str]:
    """What differs between the paper's runs and ours: hardware, pools, algorithm and work per image."""
    data = _seed_runs(primary_interpreter(runs))
    machine = metadata[0] if metadata else {}
    allowed = machine.get("allowed_cores")
    allowed_n = len(allowed) if isinstance(allowed, list) else allowed
    workers = sorted({int(w) for w in data.loc[data["mode"] != "serial", "workers"]}) if len(data) else []
    pools = f"pools of {', '.join(map(str, workers))} workers" if workers else "no parallel runs"
    lines = [
        f"Hardware: the paper ran on an {study.cpu} ({study.physical_cores} cores / {study.hardware_threads} hardware threads) "
        f"with {study.processes} processes; here {machine.get('cpu_model', 'an unrecorded CPU')}, {machine.get('logical_cores', '?')} logical "
        f"cores, {allowed_n if allowed_n is not None else '?'} allowed, {pools} (one per allowed core). Speed-ups above "
        f"{allowed_n or '?'}x cannot show here.{beyond_physical_cores(study)}",
        f"Threads: the paper's code starts {study.threads_in_code:,} threads (its note mentions {study.threads_in_note}), unsynchronised; "
        "here a pool of one thread per allowed core, and a run ends only when every task's result is back.",
    ]
    if len(data):
        thumb = ", ".join(f"{int(t)} px" for t in sorted(data["thumb_size"].unique())) if "thumb_size" in data else "?"
        largest = data[data["images"] == data["images"].max()]
        pairs = f", {int(largest['pairs_compared'].median()):,} pairs at {int(largest['images'].iloc[0]):,} images" if "pairs_compared" in largest else ""
        lines.append(
            "Algorithm: the paper's comparison method is not restated here. Ours reads each file once, groups exact copies "
            f"by digest (BLAKE2b), and compares every pair of {thumb} grayscale thumbnails with batched SSIM{pairs}."
        )
    lines += work_per_image(data, study)
    return lines


def beyond_physical_cores(study: PublishedStudy = PUBLISHED) -> str:
    """The paper's speed-ups above its physical core count: they need its hardware threads, cache effects or a timer that did not wait."""
    above = []
    for images, mode, time in study.seconds:
        serial = study.time(images, "serial")
        if mode != "serial" and time > 0 and serial is not None and serial / time > study.physical_cores:
            above.append(f"{MODE_NAMES[mode]} {serial / time:.2f}x at {images:,} images")
    if not above:
        return ""
    return f" The paper's {', '.join(above)} exceed{'s' if len(above) == 1 else ''} its {study.physical_cores} physical cores."


def work_per_image(data: pd.DataFrame, study: PublishedStudy = PUBLISHED) -> list[str]:
    """Serial milliseconds per image on each side, per published size: the only work measure both have."""
    serial = data[data["mode"] == "serial"] if len(data) else data
    parts = []
    for images in study.sizes:
        theirs = study.time(images, "serial")
        mine = serial[serial["images"] == images]["wall_s"]
        if theirs is None or mine.empty:
            continue
        parts.append(f"{images:,} images: paper {1000 * theirs / images:.1f} ms, ours {1000 * mine.median() / images:.1f} ms")
    if not parts:
        return []
    ours = ""
    if "dataset_bytes" in serial and "profile" in serial and len(serial):
        per_file = (serial["dataset_bytes"] / serial["images"]).median()
        ours = f" Our images: profile `{serial['profile'].iloc[0]}`, {per_file / 1e3:.0f} kB per file on average."
    return [
        "Work per image (serial wall time / images, start-up included): "
        + "; ".join(parts)
        + f".{ours} The paper's image sizes are not quoted here, so the per-image work may differ by its pixels as well as its method."
    ]


def zero_thread_claim(runs: pd.DataFrame, study: PublishedStudy = PUBLISHED) -> list[str]:
    """The paper's 0.0 s for threads at its smallest size, against our thread runs there with an interval."""
    images = min(study.sizes)
    data = _seed_runs(primary_interpreter(runs))
    threads = data[(data["mode"] == "thread") & (data["images"] == images)] if len(data) else data
    published = study.time(images, "thread")
    if threads.empty or published is None:
        return [f"The paper's {published} s for threads at {images} images: no thread runs at {images} images here to test it."]
    interval = median_interval(threads["wall_s"].to_numpy(float))
    load = f"; the load stage (reading and decoding the files) alone took a median {threads['load_s'].median():.3f} s" if "load_s" in threads else ""
    measured = (
        f"our {len(threads)} thread runs at {images} images took a median {threads['wall_s'].median():.3f} s "
        f"(interval {interval.label(' s')}), the fastest {threads['wall_s'].min():.3f} s{load}"
    )
    if interval.high < ZERO_READS_AS:
        return [f"The paper's {published:.1f} s for threads at {images} images holds here at its precision: {measured}."]
    return [
        f"The paper's {published:.1f} s for threads at {images} images does not hold here: {measured}. Work that reads files "
        "takes measurable time; the paper's threads were unsynchronised, so its timer need not have waited for them."
    ]


def small_size_verdict(verdict: str) -> str:
    """What a threads-versus-processes verdict says about the claim that threads win."""
    where = " (read off a min-max range only)" if "min-max" in verdict else ""
    if verdict.startswith("threads faster"):
        return f"holds{where}"
    if verdict.startswith("processes faster"):
        return f"does not hold: processes are faster here{where}"
    if verdict.startswith("same"):
        return f"does not hold: threads and processes take the same time here{where}"
    return "cannot be decided from these runs (inconclusive)"


def threads_win_claim(runs: pd.DataFrame, study: PublishedStudy = PUBLISHED) -> list[str]:
    """The paper's threads beat its processes at the small sizes: our thread-versus-process verdict there."""
    versus = thread_vs_process(primary_interpreter(runs)).set_index("images")
    lines = []
    for images in study.sizes[:-1]:
        thread, process = study.time(images, "thread"), study.time(images, "process")
        if thread is None or process is None:
            continue
        paper = f"paper: threads {quoted_seconds(thread)} s, processes {quoted_seconds(process)} s"
        if images not in versus.index:
            lines.append(f"Threads winning at {images} images ({paper}): not measured here.")
            continue
        row = versus.loc[images]
        lines.append(
            f"Threads winning at {images} images ({paper}) {small_size_verdict(str(row['verdict']))}: "
            f"our process / thread time {row['process / thread time']} ({row[INTERVAL]}), verdict '{row['verdict']}'."
        )
    return lines


def published_section(runs: pd.DataFrame, metadata: list[dict], study: PublishedStudy = PUBLISHED) -> list[str]:
    """The report's section on the published study: citation, its table beside ours, what differs, which claims hold."""
    return [
        f"The study this project reproduces: {citation(study)} Its numbers below are quoted from the paper; ours are measured.",
        to_markdown(side_by_side(runs, study)),
        table_note(runs, study),
        "### What differs",
        *[f"- {line}" for line in differences(runs, metadata, study)],
        "### Which of its claims hold here",
        *[f"- {line}" for line in growth_claims(runs) + zero_thread_claim(runs, study) + threads_win_claim(runs, study) + variance_claims(runs)],
    ]


# Beyond two cores, on paper: per-stage serial fractions from the measured runs, projected with Amdahl and Gustafson.
PREDICTED_CORES = (4, 8, 16, 64)
MANYCORE_SWEEP = "experiments/manycore.toml"  # the sweep that measures what these predict
OUTSIDE_STAGES = "outside"  # wall time outside the timed stages: interpreter start, imports, pool shutdown


@dataclass(frozen=True)
class StageCost:
    """A stage's median serial and parallel seconds at one size, and the workers (= cores) of the parallel runs."""

    stage: str
    serial_s: float
    parallel_s: float
    workers: int

    @property
    def speedup(self) -> float:
        return self.serial_s / self.parallel_s if self.parallel_s > 0 else float("nan")

    @property
    def serial_fraction(self) -> float:
        """Karp-Flatt's e at the measured workers, clipped to [0, 1] (Amdahl cannot model a stage that is
        superlinear, e < 0, or slower in parallel, e > 1); a stage that takes no time counts as parallel."""
        if self.serial_s <= 0:
            return 0.0
        e = karp_flatt(self.speedup, self.workers)
        return 1.0 if np.isnan(e) else float(np.clip(e, 0.0, 1.0))


def stage_medians(rows: pd.DataFrame) -> dict[str, float]:
    """Median seconds per stage (result.STAGES), and the median wall time outside them."""
    columns = [f"{stage}_s" for stage in STAGES if f"{stage}_s" in rows]
    medians = {column[:-2]: float(rows[column].fillna(0).median()) for column in columns}
    medians[OUTSIDE_STAGES] = float((rows["wall_s"] - rows[columns].fillna(0).sum(axis=1)).median())
    return medians


def largest_all_pairs(runs: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Runs of `mode` at the largest all-pairs size with one worker per core, on the most cores measured."""
    data = all_pairs_on_all_cores(runs)
    data = data[data["mode"] == mode]
    return data[data["images"] == data["images"].max()] if len(data) else data


def stage_costs(runs: pd.DataFrame, mode: str) -> list[StageCost]:
    """Each stage's serial (fastest serial configuration) and parallel median at the largest all-pairs size."""
    parallel = largest_all_pairs(runs, mode)
    if parallel.empty:
        return []
    serial = fastest_serial_rows(runs, parallel.iloc[0])
    if serial.empty:
        return []
    before, after = stage_medians(serial), stage_medians(parallel)
    workers = int(parallel["workers"].iloc[0])
    return [StageCost(stage, max(before[stage], 0.0), max(after[stage], 0.0), workers) for stage in before]


def startup_per_worker(runs: pd.DataFrame, mode: str, like: pd.Series) -> tuple[float, str] | None:
    """Extra wall seconds per extra worker, fitted on 1-core runs of `mode` at the smallest all-pairs size of
    the same results file and interpreter (one core: more workers add start-up, not parallelism)."""
    mask = (runs["mode"] == mode) & (runs["cores"] == 1) & (runs["pairs"] == "all")
    for key in ("source", "interpreter"):
        if key in runs and key in like:
            mask &= runs[key] == like[key]
    one_core = runs[mask]
    if one_core.empty:
        return None
    one_core = one_core[one_core["images"] == one_core["images"].min()]
    medians = one_core.groupby("workers")["wall_s"].median()
    if len(medians) < 2:
        return None
    slope = float(np.polyfit(medians.index.to_numpy(float), medians.to_numpy(float), 1)[0])
    workers = ", ".join(str(int(w)) for w in medians.index)
    return max(slope, 0.0), f"1-core {MODE_NAMES[mode]} runs with {workers} workers at {int(one_core['images'].iloc[0]):,} images"


def amdahl_speedup(costs: list[StageCost], cores: int, startup: float = 0.0) -> float:
    """Fixed size: each stage's serial part stays, its parallel part divides by `cores`; start-up per extra worker added."""
    serial = sum(c.serial_s for c in costs)
    extra = startup * max(cores - costs[0].workers, 0)
    return serial / (sum(c.serial_s * (c.serial_fraction + (1 - c.serial_fraction) / cores) for c in costs) + extra)


def gustafson_speedup(costs: list[StageCost], cores: int, startup: float = 0.0) -> float:
    """Scaled size: the parallel work grows with `cores` so the run keeps its single-core time (plus start-up);
    the speed-up is the single-core time of that bigger work over it."""
    fixed = sum(c.serial_s * c.serial_fraction for c in costs)
    shared = sum(c.serial_s * (1 - c.serial_fraction) for c in costs)
    return (fixed + cores * shared) / (fixed + shared + startup * max(cores - costs[0].workers, 0))


def stage_fraction_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: serial and parallel medians, speed-up and Karp-Flatt serial fraction, for threads and processes."""
    by_mode = {mode: {c.stage: c for c in stage_costs(runs, mode)} for mode in ("thread", "process")}
    stages = next((list(costs) for costs in by_mode.values() if costs), [])
    rows = []
    for stage in stages:
        row: dict = {"stage": stage}
        for mode, costs in by_mode.items():
            if stage not in costs:
                continue
            cost = costs[stage]
            row["serial s"] = round(cost.serial_s, 3)
            row[f"{mode} s"] = round(cost.parallel_s, 3)
            row[f"{mode} speed-up"] = f"{cost.speedup:.2f}x" if np.isfinite(cost.speedup) else ""
            row[f"{mode} serial fraction"] = f"{cost.serial_fraction:.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def prediction_table(runs: pd.DataFrame, cores: tuple[int, ...] = PREDICTED_CORES) -> pd.DataFrame:
    """Predicted whole-run speed-up over the fastest serial configuration at more cores: Amdahl (fixed size)
    and Gustafson (scaled size) from the per-stage serial fractions, beside the measured speed-up."""
    rows = []
    for mode in ("thread", "process"):
        costs = stage_costs(runs, mode)
        if not costs:
            continue
        parallel = largest_all_pairs(runs, mode)
        serial, _ = fastest_serial(runs, parallel.iloc[0])
        measured = f"{np.median(serial) / parallel['wall_s'].median():.2f}x"
        fitted = startup_per_worker(runs, mode, parallel.iloc[0])
        startup = fitted[0] if fitted else 0.0
        p = costs[0].workers
        for law, predict in (("Amdahl (fixed size)", amdahl_speedup), ("Gustafson (scaled size)", gustafson_speedup)):
            row = {"mode": MODE_NAMES[mode], "law": law, f"measured, {p} cores": measured if predict is amdahl_speedup else ""}
            row[f"model, {p} cores"] = f"{predict(costs, p, startup):.2f}x"
            row.update({f"{n} cores": f"{predict(costs, n, startup):.2f}x" for n in cores})
            rows.append(row)
    return pd.DataFrame(rows)


def prediction_assumptions(runs: pd.DataFrame) -> list[str]:
    """What the predictions assume, with the measured numbers they rest on."""
    parallel = largest_all_pairs(runs, "process")
    parallel = parallel if len(parallel) else largest_all_pairs(runs, "thread")
    if parallel.empty:
        return []
    like = parallel.iloc[0]
    _, baseline = fastest_serial(runs, like)
    where = f", `{Path(str(like['source'])).stem}`" if "source" in like else ""
    lines = [
        f"Stage costs measured at the largest all-pairs size: {int(like['images']):,} images on {int(like['cores'])} cores{where}, "
        f"against the fastest serial configuration ({baseline}).",
        f"Each stage's serial fraction is its Karp-Flatt value at {int(like['workers'])} workers and stays constant at every core count "
        "(from one worker count there is no telling whether it grows); values outside [0, 1] are clipped (Amdahl cannot model "
        "a superlinear stage or one slower in parallel).",
        "No memory-bandwidth, cache or I/O limit; every core as fast as these; no hardware threads (SMT) counted as cores.",
        "Gustafson: the parallel part of the work grows with the cores while the serial parts stay (comparing all pairs, "
        "that work grows as images squared, so the dataset grows more slowly than the cores).",
    ]
    for mode in ("thread", "process"):
        rows = largest_all_pairs(runs, mode)
        fitted = startup_per_worker(runs, mode, rows.iloc[0]) if len(rows) else None
        if fitted:
            lines.append(
                f"Pool cost for {MODE_NAMES[mode]}: {fitted[0]:.3f} s per extra worker, the slope of wall time on workers in {fitted[1]} "
                "(on one core more workers add start-up and switching, not parallelism; on many cores they may start in parallel, "
                "so this may overstate it), added for every worker beyond the measured ones."
            )
        elif len(rows):
            lines.append(f"Pool cost for {MODE_NAMES[mode]}: not measured at several worker counts on one core here; taken as not growing with workers.")
    return (
        lines
        + [
            "Threads under a GIL: the share of the work that holds it is inside each stage's serial fraction; contention that grows with the number of threads is not modelled."
        ]
        + prediction_spread(runs)
    )


def prediction_spread(runs: pd.DataFrame, cores: int = max(PREDICTED_CORES)) -> list[str]:
    """How far the measured speed-up's interval alone moves a prediction: its ends through Amdahl with one serial fraction."""
    lines = []
    for mode in ("thread", "process"):
        parallel = largest_all_pairs(runs, mode)
        if parallel.empty:
            continue
        serial, _ = fastest_serial(runs, parallel.iloc[0])
        interval = ratio_interval(serial, parallel["wall_s"].to_numpy(float))
        if not len(serial) or np.isnan(interval.low):
            continue
        p = int(parallel["workers"].iloc[0])
        low, high = sorted(1 / (e + (1 - e) / cores) for e in (float(np.clip(karp_flatt(s, p), 0.0, 1.0)) for s in (interval.low, interval.high)))
        lines.append(
            f"Precision, {MODE_NAMES[mode]}: the measured {p}-core speed-up's interval {interval.label()} alone spans "
            f"{low:.1f}x-{high:.1f}x at {cores} cores by Amdahl (one serial fraction, no pool cost): the predictions are no more precise than that."
        )
    return lines


def beyond_two_cores(runs: pd.DataFrame) -> list[str]:
    """The report's section: per-stage serial fractions, predictions at more cores (not measurements), assumptions."""
    stages = stage_fraction_table(runs)
    if stages.empty:
        return ["_No parallel and serial runs comparing all pairs at one size here: nothing to project from._"]
    return [
        "Per-stage medians at the largest all-pairs size, and each stage's experimentally determined serial fraction "
        "(Karp-Flatt, e = (1/S - 1/p) / (1 - 1/p)); 'outside' is the wall time outside the timed stages (interpreter start, imports):",
        to_markdown(stages),
        "**Predictions, not measurements**: whole-run speed-up over the fastest serial configuration, from the stage "
        "costs and serial fractions above (Amdahl: the same work on more cores; Gustafson: work grown with the cores).",
        to_markdown(prediction_table(runs)),
        "Assumptions:",
        *[f"- {line}" for line in prediction_assumptions(runs)],
        f"To measure these instead: `dupbench sweep {MANYCORE_SWEEP} --out results/` on a machine with more cores (the file says how long it takes).",
    ]


# The interpreter comparison with one variable changed: the same CPython version built with and without the GIL.
LABEL = re.compile(r"^(?P<implementation>\S+) (?P<version>\d+\.\d+\.\d+\S*?)(?P<free>t?)(?: \((?P<gil>GIL off|GIL back ON)\))?$")


@dataclass(frozen=True)
class InterpreterBuild:
    """What `data.interpreter_label` encodes: implementation, version, free-threaded build, GIL at run time."""

    label: str
    implementation: str
    version: str
    free_threaded: bool
    gil_enabled: bool


def parse_interpreter(label: str) -> InterpreterBuild | None:
    match = LABEL.match(str(label))
    if match is None:
        return None
    free = bool(match["free"])
    return InterpreterBuild(label, match["implementation"], match["version"], free, not free or match["gil"] != "GIL off")


def matched_pairs(labels: list[str]) -> list[tuple[InterpreterBuild, InterpreterBuild]]:
    """(GIL build, free-threaded build with the GIL off) pairs of the same implementation and version."""
    builds = [b for b in (parse_interpreter(label) for label in labels) if b is not None]
    pairs = []
    for gil in (b for b in builds if not b.free_threaded):
        free = next((b for b in builds if b.free_threaded and not b.gil_enabled and (b.implementation, b.version) == (gil.implementation, gil.version)), None)
        if free is not None:
            pairs.append((gil, free))
    return pairs


def single_thread_cost(gil: pd.DataFrame, free: pd.DataFrame) -> str:
    """Serial median of the free-threaded build over the GIL build's, with the ratio's interval and verdict."""
    a = free[free["mode"] == "serial"]["wall_s"].to_numpy(float)
    b = gil[gil["mode"] == "serial"]["wall_s"].to_numpy(float)
    if not len(a) or not len(b):
        return "not measured (no serial runs of both builds)"
    interval = ratio_interval(a, b)
    verdict = interval_verdict(interval, above="free-threaded slower", below="free-threaded faster")
    return f"{np.median(a) / np.median(b):.2f}x the GIL build's serial time ({interval.label()}): {verdict}"


CELL = ["images", "pairs", "cores"]
SEPARATE = "separate row: not part of the matched pair"


@dataclass(frozen=True)
class BuildCell:
    """One interpreter in one cell of a multi-interpreter sweep: its role, serial time, the single-thread cost
    of free-threading (free-threaded build of a pair only), and its speed-ups and verdicts as (text, verdict)."""

    interpreter: str
    role: str
    key: tuple
    serial_s: float
    cost: str
    thread: tuple[str, str]
    process: tuple[str, str]
    versus: tuple[str, str]
    reason: str = ""


def multi_interpreter_sources(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Results files that ran several interpreters in one sweep (`grid.pythons`): only within one are they comparable."""
    if "interpreter" not in runs or "source" not in runs:
        return []
    return [(str(source), part) for source, part in runs.groupby("source") if part["interpreter"].nunique() >= 2]


def mode_speedup(speedups: pd.DataFrame, interpreter: str, key: tuple, mode: str) -> tuple[str, str]:
    """An interpreter's speed-up over its own serial runs in one cell of `text.interpreter_table`, and its verdict."""
    mask = (speedups["interpreter"] == interpreter) & (speedups["mode"] == mode)
    for column, value in zip(CELL, key):
        mask &= speedups[column] == value
    rows = speedups[mask]
    if rows.empty:
        return "", ""
    row = rows.iloc[0]
    return f"{row['speed-up']} ({row['verdict']}, {row[INTERVAL]})", str(row["verdict"])


def modes_verdict(cell: pd.DataFrame) -> tuple[str, str]:
    """Threads against processes within one interpreter's cell: process / thread time with its interval, and the verdict."""
    thread = cell[cell["mode"] == "thread"]["wall_s"].to_numpy(float)
    process = cell[cell["mode"] == "process"]["wall_s"].to_numpy(float)
    if not len(thread) or not len(process):
        return "", ""
    interval = ratio_interval(process, thread)
    verdict = interval_verdict(interval, above="threads faster", below="processes faster")
    return f"{verdict} (process / thread time {np.median(process) / np.median(thread):.2f}, {interval.label('')})", verdict


def unmatched_reason(label: str) -> str:
    build = parse_interpreter(label)
    if build is None:
        return "its build is not known"
    return f"no {build.version} build with the GIL {'on' if build.free_threaded else 'off'} ran in the same sweep"


def matched_cells(runs: pd.DataFrame) -> list[BuildCell]:
    """Every interpreter of every multi-interpreter results file, per cell, with its role in the matched pair."""
    out = []
    for _, part in multi_interpreter_sources(runs):
        pairs = matched_pairs(sorted(part["interpreter"].unique()))
        roles = {b.label: "GIL build (matched)" for b, _ in pairs} | {f.label: "free-threaded build (matched)" for _, f in pairs}
        partner = {f.label: b.label for b, f in pairs}
        speedups = interpreter_table(part)
        for key, cell in part.groupby(CELL):
            for interpreter, mine in cell.groupby("interpreter"):
                label = str(interpreter)
                cost = single_thread_cost(cell[cell["interpreter"] == partner[label]], mine) if label in partner else ""
                out.append(
                    BuildCell(
                        interpreter=label,
                        role=roles.get(label, SEPARATE),
                        key=tuple(key),
                        serial_s=float(mine[mine["mode"] == "serial"]["wall_s"].median()),
                        cost=cost,
                        thread=mode_speedup(speedups, label, tuple(key), "thread"),
                        process=mode_speedup(speedups, label, tuple(key), "process"),
                        versus=modes_verdict(mine),
                        reason="" if label in roles else unmatched_reason(label),
                    )
                )
    return out


def matched_table(cells: list[BuildCell]) -> pd.DataFrame:
    """One row per interpreter and cell: role, serial time, the single-thread cost, speed-ups, threads against processes."""
    rows = [
        {
            "interpreter": c.interpreter,
            "role": c.role,
            **dict(zip(CELL, c.key)),
            "serial median s": "" if np.isnan(c.serial_s) else f"{c.serial_s:.2f}",
            "single-thread cost of free-threading": c.cost,
            "thread speed-up": c.thread[0],
            "process speed-up": c.process[0],
            "threads vs processes": c.versus[0],
        }
        for c in cells
    ]
    return pd.DataFrame(rows)


def matched_findings(cells: list[BuildCell]) -> list[str]:
    """Sentences for the matched pair (single-thread cost, each build's speed-ups, where the builds' verdicts
    differ), then each interpreter outside the pair, named as a separate row."""
    if not cells:
        return ["No results file here ran several interpreters in one sweep (`grid.pythons`, e.g. experiments/gil_pythons.toml)."]
    if all(c.role == SEPARATE for c in cells):
        return [
            "No matched pair here (one CPython version built with and without the GIL, run in one sweep): the interpreters measured together "
            f"({', '.join(sorted({c.interpreter for c in cells}))}) differ in more than the GIL, so their difference is not the GIL's alone."
        ]
    lines = []
    for key in sorted({c.key for c in cells if c.role != SEPARATE}):
        gil = next(c for c in cells if c.key == key and c.role.startswith("GIL build"))
        free = next(c for c in cells if c.key == key and c.role.startswith("free-threaded"))
        where = f"{key[0]} images ({key[1]} pairs) on {key[2]} cores"
        lines.append(
            f"Matched pair {gil.interpreter} / {free.interpreter}, {where}: single-threaded, free-threading costs {free.cost}. "
            f"Threads: {gil.thread[0]} with the GIL, {free.thread[0]} without; processes: {gil.process[0]} with, {free.process[0]} without."
        )
        lines.append(builds_differ(gil, free, where))
    for c in cells:
        if c.role == SEPARATE:
            lines.append(
                f"{c.interpreter} is a separate row, not part of the matched comparison ({c.reason}): at {c.key[0]} images on {c.key[2]} cores, "
                f"threads {c.thread[0]}, processes {c.process[0]} over its own serial runs."
            )
    return lines


def builds_differ(gil: BuildCell, free: BuildCell, where: str) -> str:
    """Where the two builds' verdicts differ (threads, processes, threads against processes), or that they agree."""
    differ = [
        f"{name}: '{a[1]}' with the GIL, '{b[1]}' without"
        for name, a, b in (
            ("threads over serial", gil.thread, free.thread),
            ("processes over serial", gil.process, free.process),
            ("threads against processes", gil.versus, free.versus),
        )
        if a[1] != b[1]
    ]
    if not differ:
        return f"At {where} the two builds' verdicts agree (threads, processes, and threads against processes)."
    return f"Where the builds differ at {where}: " + "; ".join(differ) + "."


def matched_interpreters(runs: pd.DataFrame) -> list[str]:
    """The report's part on the matched interpreter pair: its table, then its sentences (without a pair, only
    that there is none: the side-by-side table above already shows every interpreter)."""
    cells = matched_cells(runs)
    paired = any(c.role != SEPARATE for c in cells)
    return ([to_markdown(matched_table(cells))] if paired else []) + [f"- {line}" for line in matched_findings(cells)]
