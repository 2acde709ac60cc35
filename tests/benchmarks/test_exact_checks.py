"""benchmarks/exact_checks.py runs end to end on a small folder and prints its table."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_prints_the_pixel_check_share_and_compares_groups_with_a_baseline(planted_folder):
    root, _ = planted_folder
    command = [sys.executable, str(ROOT / "benchmarks" / "exact_checks.py"), str(root), "--mode", "serial", "--repeats", "1", "--baseline", str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| this tree", "| baseline"))]
    assert len(rows) == 2
    cells = rows[0].split("|")
    assert cells[6].strip().endswith("%") and cells[-2].strip() == "n/a", "share printed; no ground truth, no recall"
    assert "same groups (kinds, keepers, members, matches) as the baseline: yes" in done.stdout
    assert "same scores too: yes (largest SSIM change 0.0000)" in done.stdout


def test_a_score_change_is_told_apart_from_a_group_change():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("exact_checks", ROOT / "benchmarks" / "exact_checks.py")
    bench = module_from_spec(spec)
    spec.loader.exec_module(bench)
    group = {"kind": "near", "keeper": "a.png", "members": [{"path": "b.png", "ssim": 0.91, "match": "ssim"}]}
    rescored = {"groups": [{**group, "members": [{**group["members"][0], "ssim": 0.93}]}]}
    regrouped = {"groups": [{**group, "keeper": "b.png", "members": [{**group["members"][0], "path": "a.png"}]}]}
    ours = {"groups": [group]}
    assert bench.canonical_groups(ours, scores=False) == bench.canonical_groups(rescored, scores=False)
    assert bench.canonical_groups(ours) != bench.canonical_groups(rescored)
    assert abs(bench.largest_score_change(ours, rescored) - 0.02) < 1e-9
    assert bench.canonical_groups(ours, scores=False) != bench.canonical_groups(regrouped, scores=False)
