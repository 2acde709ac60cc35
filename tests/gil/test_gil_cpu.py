"""CPU cores busy is CPU seconds over the timed interval: it cannot exceed the cores, and is never printed above them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psutil

from dupbench.config import available_cpus
from dupbench.gil import kernels
from dupbench.gil.demo import SerialExecutor, time_map, tree_cpu_seconds
from dupbench.gil.explain import KernelVerdict, kernel_sentence
from dupbench.gil.report import NOISE_MARK, cores_cell, format_kernel_table
from dupbench.harness.monitor import read_cpu_s

SHORT = kernels.Workload("pure_python", 2)  # ~10-30 ms a pass: where 10 ms clock ticks made 2.09 "cores" of 2


def test_short_passes_never_keep_more_cores_busy_than_they_can() -> None:
    process = psutil.Process()
    cores = available_cpus()
    kernels.prepared_inputs(SHORT)
    with ThreadPoolExecutor(max_workers=2) as pool:
        busy = []
        for _ in range(15):
            for executor, limit in ((SerialExecutor(), 1), (pool, min(2, cores))):
                wall, cpu, _ = time_map(executor, SHORT, process)
                busy.append((cpu / wall, limit))
    assert all(ratio <= limit * 1.02 for ratio, limit in busy), busy


def test_the_tree_clock_is_finer_than_clock_ticks() -> None:
    process = psutil.Process()
    before = tree_cpu_seconds(process)
    end = time.process_time() + 0.003
    while time.process_time() < end:
        pass
    spent = tree_cpu_seconds(process) - before
    assert 0.002 < spent < 0.009  # a 10 ms tick clock reads 0 or 10 ms here


def test_the_nanosecond_clock_the_demo_shares_with_the_monitor_reads_this_process() -> None:
    seconds = read_cpu_s(psutil.Process().pid)
    assert seconds is None or seconds > 0


def test_a_value_above_the_cores_is_marked_as_noise_not_printed() -> None:
    assert cores_cell(1.97, 2) == "1.97"
    assert cores_cell(2.09, 2) == f"2.00{NOISE_MARK}"
    row = {"mode": "process", "workers": 2, "median_wall_s": 0.1, "q1_wall_s": 0.1, "q3_wall_s": 0.1, "speedup": 1.9, "cpu_cores": 2.09}
    kernel = {"label": "k", "stage": "s", "expected_gil": "holds", "tasks": 2, "summary": [row]}
    table = format_kernel_table(kernel, cores=2)
    assert "2.09" not in table and "measurement noise" in table
    verdict = KernelVerdict("k", "k", 2, 1.0, 1.9, 1.0, 2, "gil", 0.0, 1.0, 2.09, 1.0)
    sentence = kernel_sentence(verdict, gil_enabled=True, cores=2)
    assert "2.1 cores" not in sentence and "measurement noise" in sentence
