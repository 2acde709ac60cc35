"""How close `dupbench run` gets to this machine's limits, measured on the same files and cores.

Usage: python benchmarks/limits.py DATASET [--workers N] [--speedup] [--repeats 3] [--out results/benchmarks]

Ceilings, each a bare loop with nothing of the detector around it:
- read: bytes/s reading every file once, page cache warm (one untimed pass first);
- decode: images/s of N processes (one per core, OpenCV pinned to one thread each) decoding the files'
  bytes already in memory: a full colour decode, and the load stage's own work without the read (header
  size, reduced JPEG luma decode, thumbnail, BLAKE2b of the bytes);
- compare: batched-SSIM pairs/s of N processes scoring 32 px thumbnails row by row against blocks of 64,
  exactly as a tile task does; and the prefilter's time on as many thumbnails as the dataset has.
Then `dupbench run --mode process --workers N` runs on the data (--pairs all and --pairs pruned) and each
stage's rate is printed as a fraction of its ceiling. The compare stage's rate excludes `pixel_checks`
(the full decodes confirming pixel-identical files), which the report times apart. `--speedup` also
runs serial and process end to end (--pairs all), interleaved, and prints the median ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from dupbench.config import DetectorConfig, available_cpus
from dupbench.scan import scan

GOAL_SHARE = 0.85
GOAL_SPEEDUP = 1.8
BLOCK = 64


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _full_decode(blobs: list[bytes]) -> int:
    for data in blobs:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return len(blobs)


def _load_work(blobs: list[bytes]) -> int:
    """The load stage's work on bytes already read: digest, header size, reduced luma decode, thumbnail."""
    from dupbench.decode import decode_gray
    from dupbench.features import thumbnail
    from dupbench.load import header_size

    size = DetectorConfig().thumb_size
    for data in blobs:
        hashlib.blake2b(data, digest_size=16).digest()
        thumbnail(decode_gray(data, "opencv", header_size(data), min_side=2 * size), size)
    return len(blobs)


def _ssim_rows(args: tuple[np.ndarray, int]) -> int:
    from dupbench.ssim import match_one_to_many, ssim_terms

    thumbs, rounds = args
    terms = ssim_terms(thumbs, np.float32)
    pairs = 0
    for _ in range(rounds):
        for i in range(len(thumbs)):
            pairs += len(match_one_to_many(terms.take(slice(i, i + 1)), terms.take(slice(0, len(thumbs)))))
    return pairs


def pool_rate(function, tasks: list, workers: int) -> float:
    """Items per second of `function` over `tasks` in a pool of `workers` processes (pool start not timed)."""
    with get_context("forkserver").Pool(workers, initializer=_init_worker) as pool:
        pool.map(_init_worker_noop, range(workers))  # workers started and imported before timing
        start = time.perf_counter()
        done = sum(pool.map(function, tasks, chunksize=1))
        return done / (time.perf_counter() - start)


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
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        subprocess.run([sys.executable, "-m", "dupbench", "run", str(dataset), "--mode", mode, "--workers", str(workers),
                        "--pairs", pairs, "--no-cache", "--quiet", "--output", str(out)], check=True)
        return json.loads(out.read_text())


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
    blobs = [Path(p).read_bytes() for p in paths]
    tasks = chunks(blobs, 8 * n)

    bytes_s, files_s = read_rate(paths)
    full_s = pool_rate(_full_decode, tasks, n)
    load_s = pool_rate(_load_work, tasks, n)
    rng = np.random.default_rng(0)
    thumbs = np.stack([cv2.resize(rng.random((6, 6), dtype=np.float32) * 255, (32, 32), interpolation=cv2.INTER_CUBIC)
                       for _ in range(BLOCK)]).clip(0, 255).astype(np.uint8)
    ssim_s = pool_rate(_ssim_rows, [(thumbs, 20)] * (4 * n), n)
    from dupbench.prefilter import candidate_pairs, signatures

    many = np.repeat(thumbs, -(-len(paths) // BLOCK), axis=0)[: len(paths)]
    candidate_pairs(signatures(thumbs), DetectorConfig().prefilter_radius)  # imports scipy: not timed
    start = time.perf_counter()
    candidate_pairs(signatures(many), DetectorConfig().prefilter_radius)
    prefilter_s = time.perf_counter() - start

    rows = [("read", f"{bytes_s / 2**20:,.0f} MiB/s, {files_s:,.0f} files/s (1 thread, page cache warm)", "", "")]
    rows.append(("decode ceiling, full colour", f"{full_s:,.0f} images/s on {n} processes", "", ""))
    rows.append(("load-stage work ceiling (no read)", f"{load_s:,.0f} images/s on {n} processes", "", ""))
    rows.append(("batched SSIM ceiling", f"{ssim_s:,.0f} pairs/s on {n} processes", "", ""))
    rows.append(("prefilter", f"{prefilter_s:.3f} s for {len(paths):,} thumbnails (signatures + k-d tree)", "", ""))
    goals = []
    for pairs in ("all", "pruned"):
        report = run_detector(args.dataset, "process", n, pairs)
        stages, counts = report["stages"], report["counts"]
        load_rate = counts["images"] / stages["load"]
        compare_only = stages["compare"] - stages.get("pixel_checks", 0.0)
        rows.append((f"dupbench load stage (--pairs {pairs})", f"{load_rate:,.0f} images/s", f"{load_rate / load_s:.0%}",
                     verdict(load_rate >= GOAL_SHARE * load_s)))
        goals.append(load_rate >= GOAL_SHARE * load_s)
        if pairs == "all" and counts["pairs_compared"]:
            rate = counts["pairs_compared"] / compare_only
            rows.append(("dupbench compare stage (--pairs all, without pixel checks)", f"{rate:,.0f} pairs/s "
                         f"(+{stages.get('pixel_checks', 0):.2f} s pixel checks of {counts.get('pixel_checks', 0)} files)",
                         f"{rate / ssim_s:.0%}", verdict(rate >= GOAL_SHARE * ssim_s)))
            goals.append(rate >= GOAL_SHARE * ssim_s)
    if args.speedup:
        times: dict[str, list[float]] = {"serial": [], "process": []}
        for _ in range(args.repeats):
            for mode in times:
                start = time.perf_counter()
                run_detector(args.dataset, mode, 1 if mode == "serial" else n, "all")
                times[mode].append(time.perf_counter() - start)
        ratio = statistics.median(times["serial"]) / statistics.median(times["process"])
        rows.append((f"end to end, process {n} workers vs serial (--pairs all, median of {args.repeats})",
                     f"serial {statistics.median(times['serial']):.2f} s, process {statistics.median(times['process']):.2f} s",
                     f"{ratio:.2f}x", verdict(ratio >= GOAL_SPEEDUP)))

    from dupbench.harness.metadata import collect_metadata, machine_name

    machine = machine_name()
    lines = [f"Limits on {machine}, {len(paths):,} files in `{args.dataset.name}`, {n} workers "
             f"(`python benchmarks/limits.py {' '.join(sys.argv[1:])}`):", "",
             "| what | measured | share of ceiling | goal |", "|---|---|---:|---|",
             *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"limits-{machine}-{stamp}"
    stem.with_suffix(".md").write_text(markdown)
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    meta.update(command="python benchmarks/limits.py " + " ".join(sys.argv[1:]), rows=rows)
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"wrote {stem}.md/.json")


if __name__ == "__main__":
    main()
