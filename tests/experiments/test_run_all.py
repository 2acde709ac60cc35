"""experiments/run_all.sh: one command names every step the report needs, each runnable from the tree."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "run_all.sh"


def dry_run(tmp_path: Path, **env: str) -> list[str]:
    environ = {**os.environ, "DRY_RUN": "1", "DUPBENCH_DATASET_CACHE": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split(": ", 2)[2] for line in done.stderr.splitlines() if line.startswith("== run_all: ")]


def test_every_step_names_files_that_exist(tmp_path):
    commands = dry_run(tmp_path)
    assert len(commands) == 12
    named = [word for command in commands for word in shlex.split(command) if word.endswith((".toml", ".sh", ".py"))]
    assert {"experiments/seed_study.toml", "experiments/gil_pythons.toml", "experiments/dask.toml", "benchmarks/limits.py"} <= set(named)
    assert all((ROOT / word).exists() for word in named), named
    assert commands[-1] == "dupbench report results/ --out report"
    assert not list(tmp_path.iterdir()), "a dry run makes no dataset"


def test_steps_picks_a_subset(tmp_path):
    assert dry_run(tmp_path, STEPS="seed report") == ["dupbench sweep experiments/seed_study.toml --out results/", "dupbench report results/ --out report"]
