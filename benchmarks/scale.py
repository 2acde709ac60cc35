"""The compare stage at up to 1,000,000 images: time and peak memory for `--pairs pruned` (candidates from
the signature index, and from the exact scan where it is affordable) and `--pairs all`.

Usage: python benchmarks/scale.py [--sizes 1000,3000,10000,30000,100000] [--all-up-to 10000] [--exact-up-to 100000]
       [--out results/benchmarks]

Thumbnails are synthetic (smooth random 32x32 fields, 5% of them noisy near-copies of another, so the
prefilter has real candidates to pass on), because only the compare stage is measured. Each (n, pairs)
runs in a fresh child process, serially (`SerialExecutor`: one core, the plainest growth curve), which
reports the stage's wall time and its own peak RSS (`ru_maxrss`, so the whole process: interpreter,
thumbnails and the stage's working memory). Log-log slopes are fitted per pair strategy and candidate search.

Where a size runs with both candidate searches, the index's recall is measured against the exact scan:
the share of the exact run's near pairs (SSIM-verified) it keeps, and of its candidates by signature
distance (the far ones are where an approximate index loses pairs). Each child saves its pairs after its
timing and peak memory are taken.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

THUMB = 32
COPY_FRACTION = 0.05


def synthetic_thumbnails(n: int, seed: int = 0, chunk: int = 10_000) -> np.ndarray:
    """Smooth random fields (6x6 noise upsampled), plus near-copies (a little Gaussian noise) of some of them.

    Made chunk by chunk straight into uint8, so making them never needs more memory than the thumbnails
    themselves: the child's peak RSS is then the compare stage's, not the generator's.
    """
    rng = np.random.default_rng(seed)
    thumbs = np.empty((n, THUMB, THUMB), np.uint8)
    for start in range(0, n, chunk):
        coarse = rng.random((min(chunk, n - start), 6, 6), dtype=np.float32) * 255
        fields = np.stack([cv2.resize(c, (THUMB, THUMB), interpolation=cv2.INTER_CUBIC) for c in coarse])
        thumbs[start : start + len(fields)] = np.clip(np.rint(fields), 0, 255)
    copies = rng.choice(n, size=int(n * COPY_FRACTION), replace=False)
    sources = rng.integers(0, n, size=len(copies))
    for start in range(0, len(copies), chunk):
        to, of = copies[start : start + chunk], sources[start : start + chunk]
        noisy = thumbs[of].astype(np.float32) + rng.normal(0, 4, (len(to), THUMB, THUMB)).astype(np.float32)
        thumbs[to] = np.clip(np.rint(noisy), 0, 255)
    return thumbs


def measure_one(n: int, pairs: str, search: str, save: Path | None = None, cap: int | None = None) -> dict:
    """Run in a child: the detector's compare stage on n synthetic thumbnails (`cap`: the index's
    candidate_cap, None for the detector's default)."""
    from dupbench.config import DetectorConfig
    from dupbench.detector.compare import near_pairs, oriented_candidates
    from dupbench.execution.native import prepare_process
    from dupbench.execution.serial import SerialExecutor

    prepare_process()
    config = DetectorConfig(candidates=search if pairs == "pruned" else "auto")
    if cap is not None:
        config = dataclasses.replace(config, candidate_cap=cap)
    thumbs = synthetic_thumbnails(n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start, cpu = time.perf_counter(), time.process_time()
    near = near_pairs(
        thumbs,
        lambda a: a,
        pairs,
        config.threshold,
        SerialExecutor(),
        config.block_size,
        1,
        config.prefilter_radius,
        candidates=config.candidates,
        cap=config.candidate_cap,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if save is not None:
        left, right = oriented_candidates(thumbs, lambda a: a, SerialExecutor(), config.prefilter_radius, 1, config.candidates, config.candidate_cap)
        np.savez(save, near_left=near.left, near_right=near.right, left=left, right=right)
    return {
        "n": n,
        "pairs": pairs,
        "search": search if pairs == "pruned" else "-",
        "cap": config.candidate_cap if search == "index" else 0,
        "wall_s": wall,
        "cpu_s": cpu,
        "candidates": near.candidates,
        "pairs_compared": near.compared,
        "near_pairs": len(near.scores),
        "rss_before_bytes": before,
        "peak_rss_bytes": peak,
    }


BANDS = (0.0, 0.5, 0.8, 0.9)  # signature distance bands the candidate recall is given in (the radius is 0.9)


def kept(found: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    """For each reference pair, whether `found` has it too."""
    return np.isin(reference[0] * n + reference[1], found[0] * n + found[1])


def recall(n: int, index: Path, exact: Path) -> dict:
    """The index run's near pairs and candidates against the exact run's, by signature distance band."""
    from dupbench.detector.prefilter import signatures

    a, b = np.load(index), np.load(exact)
    out = {"near_kept": float(kept((a["near_left"], a["near_right"]), (b["near_left"], b["near_right"]), n).mean())}
    sig = signatures(synthetic_thumbnails(n))
    distance = np.linalg.norm(sig[b["left"]] - sig[b["right"]], axis=1)
    hit = kept((a["left"], a["right"]), (b["left"], b["right"]), n)
    for low, high in zip(BANDS, BANDS[1:]):
        band = (distance >= low) & (distance < high) if high < BANDS[-1] else distance >= low
        out[f"candidates_kept_{low}-{high}"] = float(hit[band].mean()) if band.any() else float("nan")
    return out


def growth_exponent(frame: pd.DataFrame, column: str = "wall_s") -> float:
    return float(np.polyfit(np.log(frame["n"]), np.log(frame[column]), 1)[0]) if len(frame) > 1 else float("nan")


def top_slope(frame: pd.DataFrame) -> float:
    """The log-log slope between the two largest sizes: the growth where it matters, free of fixed costs."""
    return growth_exponent(frame.nlargest(2, "n"))


def label(pairs: str, search: str) -> str:
    return f"`--pairs {pairs}`" + (f" `--candidates {search}`" if pairs == "pruned" else "")


def to_markdown(frame: pd.DataFrame, recalls: pd.DataFrame, slopes: dict[str, float], tops: dict[str, float], meta: dict, cpu: dict[str, float]) -> str:
    libraries = meta["libraries"]
    lines = [
        f"Compare stage, serial, synthetic 32 px thumbnails, on {meta['machine']} ({meta['cpu_model']}), commit "
        f"{meta['git']['short_commit']}{' (dirty)' if meta['git']['dirty'] else ''}, Python {meta['python']['version']}, "
        f"numpy {libraries['numpy']}, OpenCV {libraries.get('opencv_runtime')} "
        f"(`python benchmarks/scale.py {' '.join(sys.argv[1:])}`):",
        "",
        "| images | pairs | candidates from | cap | wall s | CPU s | candidates | pairs compared | near pairs | peak RSS MiB |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in frame.itertuples():
        lines.append(
            f"| {row.n:,} | {row.pairs} | {row.search} | {row.cap or '-'} | {row.wall_s:.2f} | {row.cpu_s:.2f} | {row.candidates:,} | {row.pairs_compared:,} | "
            f"{row.near_pairs:,} | {row.peak_rss_bytes / 2**20:.0f} |"
        )
    lines += [
        "",
        "Growth of wall time, log-log: "
        + ", ".join(f"{k} n^{s:.2f} fitted over all sizes, n^{tops[k]:.2f} between the two largest" for k, s in slopes.items())
        + ".",
        "",
        "Growth of CPU time (user + system of the child, all its threads; steadier than wall time on a shared machine), "
        "log-log over all sizes: " + ", ".join(f"{k} n^{s:.2f}" for k, s in cpu.items()) + ".",
    ]
    if len(recalls):
        bands = [c for c in recalls.columns if c.startswith("candidates_kept_")]
        lines += [
            "",
            "The index against the exact scan (share of the exact run's pairs the index run also has; candidates by signature distance):",
            "",
            "| images | near pairs kept | " + " | ".join(f"candidates at {c.removeprefix('candidates_kept_')}" for c in bands) + " |",
            "|---:|---:|" + "---:|" * len(bands),
        ]
        for values in recalls.to_dict("records"):
            lines.append(f"| {values['n']:,} | {values['near_kept']:.4f} | " + " | ".join(f"{values[c]:.4f}" for c in bands) + " |")
    return "\n".join(lines) + "\n"


def run_child(n: int, pairs: str, search: str, save: Path | None, cap: int | None = None) -> dict:
    command = [sys.executable, __file__, "--one", str(n), pairs, search] + (["--save", str(save)] if save else [])
    command += ["--cap", str(cap)] if cap is not None else []
    child = subprocess.run(command, capture_output=True, text=True, check=True)
    row = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"n={n:>9,} {label(pairs, search):<36} {row['wall_s']:8.2f} s  peak {row['peak_rss_bytes'] / 2**20:7.0f} MiB", flush=True)
    return row


def measure(sizes: list[int], all_up_to: int, exact_up_to: int, scratch: Path, cap: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every (n, strategy) in its own child, then the index's recall where the exact scan ran too."""
    runs = [(n, "pruned", "index") for n in sizes] + [(n, "pruned", "exact") for n in sizes if n <= exact_up_to]
    runs += [(n, "all", "-") for n in sizes if n <= all_up_to]
    rows, recalls = [], []
    for n, pairs, search in runs:
        save = scratch / f"{n}-{search}.npz" if pairs == "pruned" and n <= exact_up_to else None
        rows.append(run_child(n, pairs, search, save, cap))
        if search == "exact":
            recalls.append({"n": n, **recall(n, scratch / f"{n}-index.npz", scratch / f"{n}-exact.npz")})
    return pd.DataFrame(rows).sort_values(["pairs", "search", "n"]), pd.DataFrame(recalls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    parser.add_argument("--all-up-to", type=int, default=10000, help="largest n also run with --pairs all (quadratic)")
    parser.add_argument("--exact-up-to", type=int, default=100000, help="largest n also run with --candidates exact (quadratic), for the index's recall")
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    parser.add_argument("--one", nargs=3, metavar=("N", "PAIRS", "SEARCH"), help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cap", type=int, help="the index's candidate_cap (0: uncapped); default: DetectorConfig's")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1], args.one[2], args.save, args.cap)))
        return

    from dupbench.harness.metadata import collect_metadata, machine_name

    with tempfile.TemporaryDirectory(prefix="dupbench-scale-") as scratch:
        frame, recalls = measure([int(s) for s in args.sizes.split(",")], args.all_up_to, args.exact_up_to, Path(scratch), args.cap)
    groups = {label(p, s): part for (p, s), part in frame.groupby(["pairs", "search"], sort=False)}
    slopes = {k: growth_exponent(part) for k, part in groups.items()}
    tops = {k: top_slope(part) for k, part in groups.items()}
    cpu = {k: growth_exponent(part, "cpu_s") for k, part in groups.items()}
    machine = machine_name()
    meta = collect_metadata(Path(__file__).resolve().parents[1])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"scale-{machine}-{stamp}"
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    if len(recalls):
        recalls.to_csv(stem.parent / f"{stem.name}-recall.csv", index=False)
    markdown = to_markdown(frame, recalls, slopes, tops, meta, cpu)
    stem.with_suffix(".md").write_text(markdown)
    meta.update(
        command="python benchmarks/scale.py " + " ".join(sys.argv[1:]), slopes=slopes, top_slopes=tops, cpu_slopes=cpu, recall=recalls.to_dict("records")
    )
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(markdown)
    print(f"wrote {stem}.csv/.md/.json")


if __name__ == "__main__":
    main()
