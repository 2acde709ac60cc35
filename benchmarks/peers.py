"""dupbench against the duplicate finders people use today, on one generated dataset with ground truth.

Usage: python benchmarks/peers.py DATASET [--repeats 3] [--out results/peers]
       python benchmarks/peers.py --setup      (makes benchmarks/.peers-venv with the peers, once)

DATASET is any folder with a dupbench ground_truth.json: `dupbench dataset make DIR --images N --seed S`
(generated) or `dupbench dataset real DIR --class CLASS --split SPLIT` (real images). Every tool runs on the same folder as a fresh child process, `--repeats` times;
wall time is the median, peak memory the largest sum of RSS over the child's process tree, sampled by
psutil every 20 ms. Peers run in their own venv (benchmarks/peer_runner.py), so their dependencies never
meet ours. All groups are scored by `dupbench evaluate`. Peers do not say whether a match is exact or
near, so the table's common ground is the "any duplicate" pair precision/recall/F1; dupbench's exact
and near scores are shown too.
Tools and their settings (defaults unless said): dupbench --mode serial|thread|process (SSIM >= 0.75 on
32 px thumbnails, pruned pairs); difPy 4 `similarity="duplicates"` (its default: 50x50 grey, MSE 0) and
`"similar"` (MSE <= 5); imagededup PHash (64-bit DCT hash, Hamming distance <= 10). imagededup's CNN
method needs pretrained weights from the internet, which this machine cannot reach: not run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
VENV = HERE / ".peers-venv"
PEER_PYTHON = VENV / "bin" / "python"
TOOLS = ("dupbench-serial", "dupbench-thread", "dupbench-process", "difpy-duplicates", "difpy-similar", "imagededup-phash")
SETUP = [  # pinned; torch is the CPU wheel (the default PyPI one pulls gigabytes of CUDA libraries); no
    # torchvision: PyPI has only CUDA builds of it, and only imagededup's CNN method (not run) needs it
    ["-m", "pip", "install", "-q", "torch==2.13.0+cpu"],
    ["-m", "pip", "install", "-q", "--no-deps", "imagededup==0.3.3.post2"],
    ["-m", "pip", "install", "-q", "difPy==4.2.1", "Pillow", "tqdm", "scikit-learn", "PyWavelets", "matplotlib", "numpy"],
]


def setup() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    for step in SETUP:
        subprocess.run([str(PEER_PYTHON), *step], check=True)


def peer_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
        "('difPy', 'imagededup', 'torch', 'numpy', 'Pillow', 'PyWavelets', 'scipy')}))"
    )
    return json.loads(subprocess.run([str(PEER_PYTHON), "-c", code], capture_output=True, text=True, check=True).stdout)


def command_for(tool: str, dataset: Path, report: Path) -> list[str]:
    if tool.startswith("dupbench-"):
        return [sys.executable, "-m", "dupbench", "run", str(dataset), "--mode", tool.split("-", 1)[1], "--no-cache", "--quiet", "--output", str(report)]
    return [str(PEER_PYTHON), str(HERE / "peer_runner.py"), tool, str(dataset)]


def run_measured(command: list[str], interval: float = 0.02) -> tuple[float, int, str]:
    """Wall seconds, peak summed RSS of the process tree, and stdout of one child run."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(child.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {err.strip()[-500:]}")
    return wall, peak, out


def pairs_to_report(pairs: list[list[str]], dataset: Path, tool: str) -> dict:
    """A dupbench report (the evaluator's input) from a peer's duplicate pairs: connected components, each
    with its first path as keeper; members matched "ssim", since peers do not say exact or near."""
    from dupbench.evaluate import connected_clusters

    members = [sorted(c) for c in connected_clusters(pairs) if len(c) > 1]
    return {
        "version": 1,
        "roots": [str(dataset)],
        "settings": {"tool": tool},
        "mode": tool,
        "workers": 1,
        "skipped": [],
        "stages": {},
        "counts": {},
        "groups": [
            {"kind": "near", "keeper": g[0], "members": [{"path": p, "ssim": 0.0, "match": "ssim", "same_as": None} for p in g[1:]]} for g in sorted(members)
        ],
    }


def evaluate(dataset: Path, report: dict, scratch: Path) -> dict:
    report_path, scores_path = scratch / "report.json", scratch / "scores.json"
    report_path.write_text(json.dumps(report))
    subprocess.run(
        [sys.executable, "-m", "dupbench", "evaluate", str(dataset), str(report_path), "--output", str(scores_path), "--quiet"], check=True, capture_output=True
    )
    return json.loads(scores_path.read_text())["evaluation"]


def table(rows: list[dict]) -> str:
    lines = [
        "| tool | wall s (median) | peak MiB | any P | any R | any F1 | exact F1 | near F1 | upright P | upright R "
        "| turned R | false pairs | largest group | worst group joins | files grouped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kinds = f"{r['exact_f1']:.3f} | {r['near_f1']:.3f}" if r["tool"].startswith("dupbench") else "n/a | n/a"
        turned = f"{r['orientation_r']:.3f}" if r["orientation_pairs"] else "n/a"
        lines.append(
            f"| {r['tool']} | {r['wall_s']:.2f} | {r['peak_mib']:.0f} | {r['any_p']:.3f} | {r['any_r']:.3f} | "
            f"{r['any_f1']:.3f} | {kinds} | {r['upright_p']:.3f} | {r['upright_r']:.3f} | {turned} | "
            f"{r['false_pairs']} | {r['largest_group']} | {r['worst_group_originals']} | "
            f"{r['files_grouped_share']:.1%} |"
        )
    return "\n".join(lines)


def score_row(tool: str, walls: list[float], peaks: list[int], scores: dict) -> dict:
    harm = scores["harm"]
    return {
        "tool": tool,
        "wall_s": statistics.median(walls),
        "walls": walls,
        "peak_mib": max(peaks) / 2**20,
        "any_p": scores["any"]["precision"],
        "any_r": scores["any"]["recall"],
        "any_f1": scores["any"]["f1"],
        "exact_f1": scores["exact"]["f1"],
        "near_f1": scores["near"]["f1"],
        "upright_p": scores["upright"]["precision"],
        "upright_r": scores["upright"]["recall"],
        "orientation_r": scores["orientation"]["recall"],
        "orientation_pairs": scores["orientation"]["true_pairs"],
        "false_pairs": harm["false_pairs"],
        "largest_group": harm["largest_group"],
        "worst_group_originals": harm["worst_group_originals"],
        "groups_joining_several": harm["groups_joining_several"],
        "files_grouped_share": harm["files_grouped_share"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--setup", action="store_true", help="create benchmarks/.peers-venv with the pinned peers")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--out", type=Path, default=Path("results/peers"))
    parser.add_argument("--name", default=None, help="write into OUT/MACHINE/NAME/ (e.g. real-photos-holdout) instead of OUT/MACHINE/")
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if args.dataset is None or not (args.dataset / "ground_truth.json").exists():
        parser.error("DATASET must be a folder with ground_truth.json (`dupbench dataset make` or `dataset real`)")
    if not PEER_PYTHON.exists():
        parser.error(f"no peers venv: run `python {Path(__file__).name} --setup` first")
    tools = args.tools.split(",")
    walls: dict[str, list[float]] = {tool: [] for tool in tools}
    peaks: dict[str, list[int]] = {tool: [] for tool in tools}
    outs: dict[str, str] = {}
    rows = []
    evaluations: dict[str, dict] = {}
    reports: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        # Repeats are interleaved (every tool once, then again), so a slow spell of a shared machine hits
        # every tool alike instead of the one that happened to be running.
        for repeat in range(args.repeats):
            for tool in tools:
                wall, peak, outs[tool] = run_measured(command_for(tool, args.dataset, scratch / f"{tool}.json"))
                walls[tool].append(wall)
                peaks[tool].append(peak)
                print(f"[{repeat + 1}/{args.repeats}] {tool}: {wall:.2f} s", flush=True)
        for tool in tools:
            if tool.startswith("dupbench-"):
                report = json.loads((scratch / f"{tool}.json").read_text())
            else:
                report = pairs_to_report(json.loads(outs[tool].strip().splitlines()[-1])["pairs"], args.dataset, tool)
            scores = evaluate(args.dataset, report, scratch)
            evaluations[tool] = scores
            reports[tool] = report
            rows.append(score_row(tool, walls[tool], peaks[tool], scores))
            print(f"{tool}: {rows[-1]['wall_s']:.2f} s, any F1 {rows[-1]['any_f1']:.3f}", flush=True)

    from dupbench.harness.metadata import collect_metadata, machine_name

    truth = json.loads((args.dataset / "ground_truth.json").read_text())
    machine = machine_name()
    meta = collect_metadata(HERE.parent)
    versions = peer_versions()
    ours = meta["libraries"]
    markdown = (
        f"Peers on {machine} ({meta['cpu_model']}, {len(meta['allowed_cores'])} cores), "
        f"`{args.dataset.name}` ({truth['n_images']} images), median of "
        f"{args.repeats} interleaved runs each (`python benchmarks/peers.py {' '.join(sys.argv[1:])}`, "
        f"commit {meta['git']['short_commit']}). Versions: dupbench on Python {meta['python']['version']} "
        f"with numpy {ours.get('numpy')}, OpenCV {ours.get('opencv')}; peers' venv: difPy {versions['difPy']}, "
        f"imagededup {versions['imagededup']}, numpy {versions['numpy']}, Pillow {versions['Pillow']}.\n\n"
        f"{table(rows)}\n"
    )
    print(markdown)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    directory = args.out / machine / args.name if args.name else args.out / machine
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"{stamp}-{meta['git']['short_commit']}"
    stem.with_suffix(".md").write_text(markdown)
    # Every tool's groups and full scores beside the table, so a merged group can be looked at later.
    Path(f"{stem}-reports.json").write_text(json.dumps({"reports": reports, "evaluations": evaluations}) + "\n")
    meta.update(
        command="python benchmarks/peers.py " + " ".join(sys.argv[1:]),
        peers=versions,
        rows=rows,
        dataset=str(args.dataset),
        dataset_settings=truth.get("settings", {}),
        dataset_sources=truth.get("sources"),
        dataset_profile=truth.get("profile"),
    )
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"wrote {stem}.md/.json")


if __name__ == "__main__":
    main()
