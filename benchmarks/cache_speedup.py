"""Second-run speed-up from the feature cache: the same folder, first with an empty cache, then warm.

Usage: python benchmarks/cache_speedup.py FOLDER [--mode process] [--repeats 3]
Prints the median wall time of `dupbench run` with an empty cache and with a warm one, and their ratio,
measured in the same run. The cache lives in a temporary file, so the user's cache is not touched.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(folder: str, mode: str, cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dupbench", "run", folder, "--mode", mode, "--cache", str(cache), "--quiet"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--mode", default="process")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            cache = Path(tmp) / f"cache{repeat}.sqlite"
            cold.append(timed_run(args.folder, args.mode, cache))
            warm.append(timed_run(args.folder, args.mode, cache))
    files = sum(1 for p in Path(args.folder).rglob("*") if p.is_file())
    print(f"# {platform.node()}, Python {platform.python_version()}, {files} files in {args.folder}, mode {args.mode}, {args.repeats} repeats")
    print(f"empty cache  median {statistics.median(cold):.2f} s  (min {min(cold):.2f}, max {max(cold):.2f})")
    print(f"warm cache   median {statistics.median(warm):.2f} s  (min {min(warm):.2f}, max {max(warm):.2f})")
    print(f"second-run speed-up {statistics.median(cold) / statistics.median(warm):.1f}x")


if __name__ == "__main__":
    main()
