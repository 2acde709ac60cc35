"""One `dupbench run` as a fresh child process, its report read back: what the benchmarks time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def run_report(folder: str | os.PathLike, options: Sequence[str], env: Mapping[str, str] | None = None, output: Path | None = None) -> dict[str, Any]:
    """`dupbench run FOLDER OPTIONS --no-cache --quiet --output FILE` with this interpreter; the report's JSON.
    FILE is `output` if given (kept for the caller), else a temporary file. Raises CalledProcessError on failure."""
    with tempfile.TemporaryDirectory() as scratch:
        out = output or Path(scratch) / "report.json"
        command = [sys.executable, "-m", "dupbench", "run", os.fspath(folder), *options, "--no-cache", "--quiet", "--output", str(out)]
        subprocess.run(command, check=True, env=dict(env) if env is not None else None)
        return json.loads(out.read_text())
