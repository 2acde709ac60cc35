"""A stand-in for `dupbench run` in harness tests: CPU-bound pure-Python work in a pool, and a report JSON.

usage: standin_child.py MODE WORKERS START_METHOD LOOPS REPORT_JSON [--exit CODE] [--sleep S] [--affinity-file F]
Each of 2 x WORKERS tasks spins LOOPS iterations; the report is a real DuplicateReport (no groups) with the
detector's stages, counts, stage_bounds and settings.execution.
"""

import json
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dupbench.result import DuplicateReport


def burn(loops: int) -> tuple[list[int], float]:
    """Spin; return the affinity the task ran with and the CPU seconds it used (its own ground truth)."""
    started = time.thread_time()
    total = 0
    for i in range(loops):
        total += i & 7
    return sorted(os.sched_getaffinity(0)), time.thread_time() - started


def main() -> int:
    mode, workers, method, loops, report = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    options = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    if "--sleep" in options:
        time.sleep(float(options["--sleep"]))
    if "--exit" in options:
        print("stand-in child failing on purpose", file=sys.stderr)
        return int(options["--exit"])
    t0 = time.time()
    tasks = [loops] * (2 * workers)
    if mode == "serial":
        results = [burn(n) for n in tasks]
    elif mode == "thread":
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(burn, tasks))
    else:
        with mp.get_context(method if method != "none" else "fork").Pool(workers) as pool:
            results = pool.map(burn, tasks)
    t1 = time.time()
    if "--affinity-file" in options:
        with open(options["--affinity-file"], "w") as fh:
            json.dump({"affinities": [a for a, _ in results], "task_cpu_s": [c for _, c in results]}, fh)
    execution = {"mode": mode, "workers": workers, "start_method": method}
    report_data = DuplicateReport(
        roots=[],
        settings={"execution": execution},
        groups=[],
        skipped=[],
        stages={"scan": 0.0, "load": t1 - t0, "compare": 0.0, "cluster": 0.0, "total": t1 - t0},
        mode=mode,
        workers=workers,
        counts={"images": len(tasks), "pairs_compared": 0},
        stage_bounds={"load": [t0, t1]},
    )
    with open(report, "w") as fh:
        json.dump(report_data.to_json(), fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
