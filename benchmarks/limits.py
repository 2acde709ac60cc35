"""How close `dupbench run` gets to this machine's limits, measured on the same files and cores.

Usage: python benchmarks/limits.py DATASET [--workers N] [--speedup] [--repeats 3] [--out results/benchmarks]

Ceilings, each a bare loop with nothing of the detector around it, run in N processes set up as the
detector's workers are (one native thread, the kept heap: `dupbench.execution.native.prepare_process`). Each
task times only its own loop, after its inputs are in the worker; a ceiling is N x (items / seconds)
over the tasks. (An earlier version timed whole `Pool.map` calls over pickled bytes, and the detector
"beat" its ceilings by 1.1-2.5x: those were not ceilings.)
- read: bytes/s reading every file once, page cache warm (one untimed pass first);
- decode: images/s of N processes (one per core, OpenCV pinned to one thread each) decoding the files'
  bytes already in memory: a full colour decode, and the load stage's own work without the read
  (`load.features_of`: header, reduced JPEG decode, every thumbnail, grid and digest the stage takes);
- compare: batched-SSIM pairs/s of N processes running the compare stage's own tile task
  (`compare.score_tile`) on 64 x 64 tiles of 32 px thumbnails; and the prefilter's time on as many
  thumbnails as the dataset has.
Each ceiling is the median of --repeats measurements. Then `dupbench run --mode process --workers N` runs on the data (--pairs all and --pairs pruned) and each
stage's rate (median of --repeats runs) is printed as a fraction of its ceiling. The compare stage's
rate excludes `verify` and `pixel_checks` (timed inside compare, reported apart), since its ceiling is SSIM
alone. `--speedup` also runs serial end to end (--pairs all), interleaved with the process runs, and
prints the ratio of medians; beside it, the load-stage work on N processes against 1 (what the machine's
cores give when nothing else is in the way), the ratio of the stages alone, the time outside them, and
what end to end would be if every stage scaled as that load-stage work does: the bound for today's
start-up and exit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from dupbench.config import DetectorConfig, available_cpus
from dupbench.detector.scan import scan
from dupbench.harness.child import run_report

GOAL_SHARE = 0.85
GOAL_SPEEDUP = 1.9  # issue 15: process mode on 2 cores at least 1.9x the serial run end to end
PIXEL_CHECK_SHARE = 0.15  # issue 15: the pixel checks at most 15% of a run
BLOCK = 64


def _init_worker() -> None:
    from dupbench.execution.native import prepare_process

    prepare_process()  # the detector's own per-process settings: one native thread, a kept heap


def _read_all(paths: list[str]) -> list[bytes]:
    return [Path(p).read_bytes() for p in paths]


def _full_decode(paths: list[str]) -> tuple[int, float]:
    blobs = _read_all(paths)
    start = time.perf_counter()
    for data in blobs:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return len(blobs), time.perf_counter() - start


def _load_work(paths: list[str]) -> tuple[int, float]:
    """The load stage's own work on bytes already read (`load.features_of`: header, decode, every feature
    and digest the stage takes), so the ceiling is the stage minus only the read and the pool."""
    from dupbench.detector.load import features_of

    config = DetectorConfig()
    blobs = _read_all(paths)
    start = time.perf_counter()
    for path, data in zip(paths, blobs):
        features_of(path, data, config)
    return len(blobs), time.perf_counter() - start


def _ssim_tiles(args: tuple[np.ndarray, int]) -> tuple[int, float]:
    """The compare stage's own task, `compare.score_tile`, on an off-diagonal tile of 64 x 64 thumbnails
    (what nearly all of an all-pairs run is), `rounds` times; threshold 2 so nothing is collected."""
    from dupbench.detector.compare import score_tile

    thumbs, rounds = args
    start = time.perf_counter()
    pairs = sum(score_tile(thumbs, (0, BLOCK, BLOCK, 2 * BLOCK), 2.0)[3] for _ in range(rounds))
    return pairs, time.perf_counter() - start


def pool_rate(function, tasks: list, workers: int) -> float:
    """Items per second of `workers` processes running `function` over `tasks` at once.

    Each task times its own loop after its inputs are in the worker, so neither pickling nor the
    imbalance of the last tasks counts: the rate is `workers` x (items / seconds) summed over tasks,
    i.e. each process's rate while all of them are busy, times the number of processes.
    """
    with get_context("forkserver").Pool(workers, initializer=_init_worker) as pool:
        pool.map(_init_worker_noop, range(workers))  # workers started and imported before timing
        results = pool.map(function, tasks, chunksize=1)
    return workers * sum(n for n, _ in results) / sum(t for _, t in results)


def median_rate(function, tasks: list, workers: int, repeats: int) -> float:
    """The median of `repeats` measurements of `pool_rate`: one measurement of a ceiling moved by ~10% between
    runs on this shared machine, enough to put a stage above its own ceiling."""
    return statistics.median(pool_rate(function, tasks, workers) for _ in range(max(1, repeats)))


def _init_worker_noop(_: int) -> None:
    return None


def read_rate(paths: list[str]) -> tuple[float, float]:
    for path in paths:
        Path(path).read_bytes()
    start = time.perf_counter()
    total = sum(len(Path(p).read_bytes()) for p in paths)
    seconds = time.perf_counter() - start
    return total / seconds, len(paths) / seconds


def chunks(items: list, pieces: int) -> list[list]:
    size = max(1, -(-len(items) // pieces))
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_detector(dataset: Path, mode: str, workers: int, pairs: str) -> dict:
    return run_report(dataset, ["--mode", mode, "--workers", str(workers), "--pairs", pairs])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "GAP"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--workers", type=int, default=available_cpus())
    parser.add_argument("--speedup", action="store_true", help="also serial vs process end to end, --pairs all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args()
    n = args.workers
    paths = scan([args.dataset], DetectorConfig().extensions).files
    tasks = chunks([str(p) for p in paths], 8 * n)

    bytes_s, files_s = read_rate(paths)
    full_s = median_rate(_full_decode, tasks, n, args.repeats)
    load_s = median_rate(_load_work, tasks, n, args.repeats)
    load_one = median_rate(_load_work, tasks, 1, args.repeats) if args.speedup and n > 1 else None
    rng = np.random.default_rng(0)
    thumbs = (
        np.stack([cv2.resize(rng.random((6, 6), dtype=np.float32) * 255, (32, 32), interpolation=cv2.INTER_CUBIC) for _ in range(2 * BLOCK)])
        .clip(0, 255)
        .astype(np.uint8)
    )
    ssim_s = median_rate(_ssim_tiles, [(thumbs, 20)] * (4 * n), n, args.repeats)
    from dupbench.detector.prefilter import candidate_pairs, signatures

    many = np.repeat(thumbs, -(-len(paths) // BLOCK), axis=0)[: len(paths)]
    candidate_pairs(signatures(thumbs), DetectorConfig().prefilter_radius)  # first call: not timed
    start = time.perf_counter()
    candidate_pairs(signatures(many), DetectorConfig().prefilter_radius)
    prefilter_s = time.perf_counter() - start

    rows = [("read", f"{bytes_s / 2**20:,.0f} MiB/s, {files_s:,.0f} files/s (1 thread, page cache warm)", "", "")]
    rows.append(("decode ceiling, full colour", f"{full_s:,.0f} images/s on {n} processes", "", ""))
    rows.append(("load-stage work ceiling (no read)", f"{load_s:,.0f} images/s on {n} processes", "", ""))
    if load_one is not None:  # the machine's own parallel scaling: cores that share caches, memory and clock
        rows.append(
            (f"load-stage work, {n} processes vs 1 (the machine's scaling)", f"{load_s / load_one:.3f}x ({load_one:,.0f} images/s on 1 process)", "", "")
        )
    rows.append(("batched SSIM ceiling", f"{ssim_s:,.0f} pairs/s on {n} processes", "", ""))
    rows.append(("prefilter", f"{prefilter_s:.3f} s for {len(paths):,} thumbnails (signatures + blocked distance scan, in this process)", "", ""))
    # The detector, `--repeats` times, interleaved (serial all pairs only with --speedup): stage rates are
    # medians over the repeats, so one slow spell of the shared machine does not decide a verdict.
    runs: dict[str, list[tuple[float, dict]]] = {"serial all": [], "process all": [], "process pruned": []}
    for _ in range(args.repeats):
        for key in runs:
            mode, pairs = key.split()
            if mode == "serial" and not args.speedup:
                continue
            start = time.perf_counter()
            report = run_detector(args.dataset, mode, 1 if mode == "serial" else n, pairs)
            runs[key].append((time.perf_counter() - start, report))

    def median_of(key: str, value) -> float:
        return statistics.median(value(wall, report) for wall, report in runs[key])

    for pairs in ("all", "pruned"):
        key = f"process {pairs}"
        load_rate = median_of(key, lambda w, r: r["counts"]["images"] / r["stages"]["load"])
        rows.append(
            (f"dupbench load stage (--pairs {pairs})", f"{load_rate:,.0f} images/s", f"{load_rate / load_s:.0%}", verdict(load_rate >= GOAL_SHARE * load_s))
        )
    # The SSIM ceiling is SSIM alone: verification and the pixel checks, both timed inside compare, are left out.
    rate = median_of(
        "process all",
        lambda w, r: r["counts"]["pairs_compared"] / (r["stages"]["compare"] - r["stages"].get("pixel_checks", 0.0) - r["stages"].get("verify", 0.0)),
    )
    verify_s = median_of("process all", lambda w, r: r["stages"].get("verify", 0.0))
    pixel_s = median_of("process all", lambda w, r: r["stages"].get("pixel_checks", 0.0))
    pixel_files = runs["process all"][0][1]["counts"].get("pixel_checks", 0)
    rows.append(
        (
            "dupbench compare stage (--pairs all, without verification and pixel checks)",
            f"{rate:,.0f} pairs/s (+{verify_s:.2f} s verification, +{pixel_s:.2f} s pixel checks of {pixel_files} files)",
            f"{rate / ssim_s:.0%}",
            verdict(rate >= GOAL_SHARE * ssim_s),
        )
    )
    pixel_share = median_of("process all", lambda w, r: r["stages"].get("pixel_checks", 0.0) / r["stages"]["total"])
    rows.append(
        (
            "pixel checks (process, --pairs all): share of the run's stages",
            f"{pixel_s:.2f} s, {pixel_files} files decoded a second time",
            f"{pixel_share:.1%}",
            verdict(pixel_share <= PIXEL_CHECK_SHARE),
        )
    )
    scan_s = median_of("process all", lambda w, r: r["stages"]["scan"])
    rows.append(("scan (process, --pairs all), while the pool's workers start", f"{scan_s:.3f} s", "", ""))
    outside = median_of("process all", lambda w, r: w - r["stages"]["total"])
    rows.append(
        (
            "start-up and exit outside the stages (process, --pairs all)",
            f"{outside:.2f} s (interpreter, imports, report; the stages' total includes pool start)",
            "",
            "",
        )
    )
    if args.speedup:
        serial_s, process_s = median_of("serial all", lambda w, r: w), median_of("process all", lambda w, r: w)
        ratio = serial_s / process_s
        serial_stages = median_of("serial all", lambda w, r: r["stages"]["total"])
        process_stages = median_of("process all", lambda w, r: r["stages"]["total"])
        serial_outside = median_of("serial all", lambda w, r: w - r["stages"]["total"])
        rows.append(
            (
                "stages only, process vs serial (--pairs all)",
                f"serial {serial_stages:.2f} s, process {process_stages:.2f} s; outside them serial {serial_outside:.2f} s, process {outside:.2f} s",
                f"{serial_stages / process_stages:.3f}x",
                "",
            )
        )
        if load_one is not None:
            # What end to end would be if every stage scaled as the machine does, with this run's start-up and exit.
            bound = serial_s / (outside + serial_stages * load_one / load_s)
            rows.append(("end to end if the stages scaled as the machine (computed from the rows above)", "", f"{bound:.3f}x", ""))
        rows.append(
            (
                f"end to end, process {n} workers vs serial (--pairs all, median of {args.repeats})",
                f"serial {serial_s:.2f} s, process {process_s:.2f} s",
                f"{ratio:.3f}x",
                verdict(ratio >= GOAL_SPEEDUP),
            )
        )

    from dupbench.harness.metadata import collect_metadata, machine_name

    machine = machine_name()
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    libraries = meta["libraries"]
    lines = [
        f"Limits on {machine} ({meta['cpu_model']}, {len(meta['allowed_cores'])} cores allowed), "
        f"{len(paths):,} files in `{args.dataset.name}`, {n} workers, commit {meta['git']['short_commit']}"
        f"{' (dirty)' if meta['git']['dirty'] else ''}; Python {meta['python']['version']}, numpy {libraries['numpy']}, "
        f"OpenCV {libraries.get('opencv_runtime')} (`python benchmarks/limits.py {' '.join(sys.argv[1:])}`):",
        "",
        "| what | measured | share of ceiling | goal |",
        "|---|---|---:|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"limits-{machine}-{stamp}"
    stem.with_suffix(".md").write_text(markdown)
    meta.update(command="python benchmarks/limits.py " + " ".join(sys.argv[1:]), rows=rows)
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"wrote {stem}.md/.json")


if __name__ == "__main__":
    main()
