"""The explanation follows the numbers it is given: invented measurements must flip the wording."""

from __future__ import annotations

from typing import Any

import pytest

from dupbench.gil.explain import (
    explain,
    explain_comparison,
    kernel_verdict,
    payload_sentence,
    released_fraction,
    stage_table,
    startup_sentence,
)


def summary(thread: dict[int, float], process: dict[int, float], serial_s: float = 1.0, serial_cores: float = 1.0) -> list[dict[str, Any]]:
    rows = [
        {"mode": "serial", "workers": 1, "median_wall_s": serial_s, "q1_wall_s": serial_s, "q3_wall_s": serial_s, "speedup": 1.0, "cpu_cores": serial_cores}
    ]
    for mode, speedups in (("thread", thread), ("process", process)):
        for workers, speedup in speedups.items():
            rows.append(
                {
                    "mode": mode,
                    "workers": workers,
                    "median_wall_s": serial_s / speedup,
                    "q1_wall_s": serial_s / speedup,
                    "q3_wall_s": serial_s / speedup,
                    "speedup": speedup,
                    "cpu_cores": min(speedup, 2.0) * serial_cores,
                }
            )
    return rows


def kernel(name: str, thread: dict[int, float], process: dict[int, float], serial_s: float = 1.0, serial_cores: float = 1.0) -> dict[str, Any]:
    return {
        "name": name,
        "label": f"{name} kernel",
        "stage": "test",
        "expected_gil": "holds",
        "tasks": 8,
        "backend": "cv2",
        "outputs_match_serial": True,
        "summary": summary(thread, process, serial_s, serial_cores),
    }


def results(kernels: list[dict[str, Any]], *, free_threaded: bool = False, gil_enabled: bool = True, overheads: dict[str, Any] | None = None) -> dict[str, Any]:
    name = "CPython 3.13.15t (GIL off)" if free_threaded else "CPython 3.11.7 (GIL on)"
    return {
        "interpreter": {
            "implementation": "CPython",
            "version": "3.13.15" if free_threaded else "3.11.7",
            "build_free_threaded": free_threaded,
            "gil_enabled": gil_enabled,
            "short_name": name,
        },
        "machine": {"usable_cpus": 2},
        "kernels": kernels,
        "overheads": overheads,
    }


GIL_BOUND = kernel("loop", {1: 0.98, 2: 1.01, 4: 0.99}, {1: 0.97, 2: 1.9, 4: 1.85})
SCALING = kernel("loop", {1: 0.99, 2: 1.85, 4: 1.8}, {1: 0.97, 2: 1.9, 4: 1.88})


def test_threads_that_do_not_scale_are_blamed_on_the_gil() -> None:
    text = explain(results([GIL_BOUND]))
    assert "threads gave 1.0x and processes 1.9x" in text
    assert "the GIL serialises this work" in text
    assert "scale as well as processes" not in text


def test_threads_that_scale_are_said_to_release_the_gil() -> None:
    text = explain(results([SCALING]))
    assert "threads gave 1.9x and processes 1.9x" in text
    assert "scale as well as processes" in text
    assert "GIL released" in text
    assert "serialises" not in text


def test_same_numbers_without_gil_give_a_different_reason() -> None:
    text = explain(results([SCALING], free_threaded=True, gil_enabled=False))
    assert "there is no GIL on this interpreter" in text
    assert "stayed off" in text


def test_no_scaling_without_gil_is_not_blamed_on_the_gil() -> None:
    text = explain(results([GIL_BOUND], free_threaded=True, gil_enabled=False))
    assert "even without a GIL" in text
    assert "the GIL serialises" not in text


def test_free_threaded_build_with_gil_back_on_is_a_warning() -> None:
    text = explain(results([SCALING], free_threaded=True, gil_enabled=True))
    assert text.startswith("WARNING")
    assert "ENABLED" in text


def test_partial_scaling_reports_a_released_share() -> None:
    partial = kernel("ssim", {2: 1.4}, {2: 1.9})
    text = explain(results([partial]))
    assert "threads fall short" in text
    expected = released_fraction(1.4, 1.9)
    assert expected is not None and f"{expected:.0%}" in text


def test_neither_mode_scaling_with_busy_cores_is_blamed_on_overhead() -> None:
    overhead = kernel("tiny", {2: 1.05}, {2: 1.1})
    for row in overhead["summary"]:
        if row["mode"] != "serial":
            row["cpu_cores"] = 1.8
    text = explain(results([overhead]))
    assert "neither scaled" in text and "overhead" in text


def test_waiting_is_recognised_by_idle_cpu_not_by_speedup() -> None:
    io = {**kernel("io", {1: 1.0, 2: 2.0, 4: 3.9}, {1: 1.0, 2: 1.95, 4: 3.7}, serial_cores=0.05), "expected_gil": "waits"}
    text = explain(results([io]))
    assert "kept only 0.05 cores busy" in text
    assert "4 threads on 2 cores reached 3.9x" in text
    # A compute kernel whose speed-up exceeds the cores by noise is not called waiting.
    noisy = kernel("resize", {1: 1.0, 2: 2.2, 4: 2.1}, {1: 1.0, 2: 1.9, 4: 1.8})
    assert "waiting" not in explain(results([noisy]))


def test_cpu_cores_busy_are_quoted() -> None:
    assert "keeping 1.0 and 1.9 cores busy" in explain(results([GIL_BOUND]))


def test_threads_beating_processes_is_noticed() -> None:
    slow_processes = kernel("decode", {2: 1.8}, {2: 1.2})
    for row in slow_processes["summary"]:
        if row["mode"] == "process":
            row["cpu_cores"] = 1.9  # busy moving data between interpreters
    text = explain(results([slow_processes]))
    assert "Threads even beat processes" in text


def test_reference_workers_are_the_cores_not_the_largest_pool() -> None:
    verdict = kernel_verdict(kernel("k", {1: 1.0, 2: 1.1, 4: 1.9}, {1: 1.0, 2: 1.9, 4: 1.9}), cores=2)
    assert verdict.workers == 2
    assert verdict.verdict == "gil"


@pytest.mark.parametrize(("thread", "process", "fraction"), [(1.0, 2.0, 0.0), (2.0, 2.0, 1.0), (1.5, 2.0, 2 / 3)])
def test_released_fraction_is_amdahl(thread: float, process: float, fraction: float) -> None:
    assert released_fraction(thread, process) == pytest.approx(fraction)


def test_released_fraction_is_undefined_when_processes_did_not_scale() -> None:
    assert released_fraction(1.0, 1.05) is None


def test_startup_sentence_orders_by_measured_cost() -> None:
    rows = [{"start_method": "fork", "workers": 2, "median_s": 0.5}, {"start_method": "spawn", "workers": 2, "median_s": 0.02}]
    text = startup_sentence(rows)
    assert text is not None
    assert text.index("spawn") < text.index("fork")
    assert "fork cost 25x spawn" in text


def test_payload_sentence_names_the_measured_winner() -> None:
    shm_wins = [{"payload_bytes": 10_000_000, "pickle_s": 0.05, "shared_memory_s": 0.005, "shared_memory_copy_s": 0.02}]
    pickle_wins = [{"payload_bytes": 10_000, "pickle_s": 0.0004, "shared_memory_s": 0.0008, "shared_memory_copy_s": 0.001}]
    assert "data kept in shared memory was 10.0x cheaper" in (payload_sentence(shm_wins) or "")
    assert "pickling was 2.0x cheaper" in (payload_sentence(pickle_wins) or "")


def test_comparison_says_the_gil_made_the_difference_only_when_it_did() -> None:
    gil_run = results([GIL_BOUND])
    free_run = results([kernel("loop", {1: 0.99, 2: 1.8, 4: 1.8}, {1: 1.0, 2: 1.9, 4: 1.9}, serial_s=2.0)], free_threaded=True, gil_enabled=False)
    text = explain_comparison([gil_run, free_run])
    assert "the GIL was what held them back" in text
    assert "2.0x slower" in text
    both_gil = explain_comparison([gil_run, gil_run])
    assert "held them back" not in both_gil


def test_stage_table_carries_the_verdicts() -> None:
    rows = stage_table(results([GIL_BOUND, kernel("ssim", {2: 1.4}, {2: 1.9})]))
    assert [r["verdict"] for r in rows] == ["gil", "partial"]
    assert rows[0]["released_fraction"] == pytest.approx(released_fraction(1.01, 1.9))


def test_comparison_names_equal_pace_and_backend_changes() -> None:
    gil_run = results([GIL_BOUND])
    other = results([kernel("loop", {2: 1.8}, {2: 1.9}, serial_s=1.05)], free_threaded=True, gil_enabled=False)
    other["kernels"][0]["backend"] = "pillow"
    text = explain_comparison([gil_run, other])
    assert "about as fast, with Pillow/numpy instead of OpenCV" in text
    assert "slower" not in text


def test_a_machine_with_no_spare_core_is_not_interpreted() -> None:
    starved = kernel("decode", {2: 1.3}, {2: 1.3})
    for row in starved["summary"]:
        row["cpu_cores"] = 1.0
    text = explain(results([starved]))
    assert "processes never kept two cores busy" in text
    assert "GIL released" not in text and "serialises" not in text


def test_thread_gain_on_one_core_is_called_a_slowed_baseline() -> None:
    skewed = kernel("loop", {2: 1.4}, {2: 1.6})
    for row in skewed["summary"]:
        row["cpu_cores"] = {"serial": 0.7, "thread": 1.0, "process": 1.9}[row["mode"]]
    text = explain(results([skewed]))
    assert "apparent gain came from a slowed serial run" in text
    assert "the GIL serialises this work" in text


def test_a_starved_serial_run_of_computing_work_is_called_busy_not_none() -> None:
    # Seen on a 2-core machine with 8 runnable programs: serial pure Python got 0.3 of a core, and "none" was printed.
    starved = kernel("loop", {2: 0.9}, {2: 0.85}, serial_cores=0.3)
    assert kernel_verdict(starved, 2).verdict == "busy"
    text = explain(results([starved]))
    assert "only 0.3 of a core" in text and "run it again" in text
