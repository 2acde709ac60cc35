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
    assert "same groups (kinds, keepers, members, matches, scores) as the baseline: yes" in done.stdout
