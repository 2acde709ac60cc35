"""Every kernel gives the serial outputs in every mode, on every available backend."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from dupbench.config import available_cpus
from dupbench.gil import kernels
from dupbench.gil.demo import DemoConfig, RunRow, SerialExecutor, calibrated_tasks, make_workloads, seconds_per_task, summarise, task_multiple

BACKENDS = [kernels.BACKEND_PILLOW] + ([kernels.BACKEND_CV2] if kernels.HAVE_CV2 else [])
TASKS = 4


@pytest.fixture(scope="module")
def io_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gil-io")
    kernels.write_io_files(directory, TASKS)
    return directory


def workload(name: str, backend: str, io_dir: Path) -> kernels.Workload:
    return kernels.Workload(name, TASKS, backend=backend, data_dir=str(io_dir) if name == "io_wait" else None)


@pytest.fixture(scope="module")
def process_pool() -> ProcessPoolExecutor:
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork")) as pool:
        yield pool


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(kernels.KERNELS))
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_parallel_modes_return_the_serial_outputs(name: str, backend: str, mode: str, io_dir: Path, process_pool: ProcessPoolExecutor) -> None:
    work = workload(name, backend, io_dir)
    indices = range(work.tasks)
    serial = list(SerialExecutor().map(kernels.run_task, [work] * work.tasks, indices))
    if mode == "thread":
        with ThreadPoolExecutor(max_workers=2) as pool:
            parallel = list(pool.map(kernels.run_task, [work] * work.tasks, indices))
    else:
        parallel = list(process_pool.map(kernels.run_task, [work] * work.tasks, indices))
    assert parallel == serial
    assert len(serial) == TASKS


@pytest.mark.skipif(not kernels.HAVE_CV2, reason="OpenCV not installed")
def test_pillow_and_opencv_decode_agree_up_to_channel_order() -> None:
    image = kernels.synthetic_photo(48, 64, seed=1)
    data = kernels.encode(image, "PNG")  # lossless: the decoders must agree exactly
    via_cv2 = kernels.decode_bytes(data, kernels.BACKEND_CV2)
    via_pillow = kernels.decode_bytes(data, kernels.BACKEND_PILLOW)
    np.testing.assert_array_equal(via_cv2[..., ::-1], via_pillow)


@pytest.mark.skipif(not kernels.HAVE_CV2, reason="OpenCV not installed")
def test_opencv_refuses_bytes_it_cannot_decode() -> None:
    with pytest.raises(ValueError, match="could not decode"):
        kernels.decode_bytes(b"not an image", kernels.BACKEND_CV2)


@pytest.mark.skipif(not kernels.HAVE_CV2, reason="OpenCV not installed")
def test_pillow_thumbnail_is_close_to_opencv() -> None:
    image = kernels.synthetic_photo(256, 320, seed=2)
    via_cv2 = kernels.gray_thumbnail(image[..., ::-1].copy(), 64, kernels.BACKEND_CV2).astype(int)
    via_pillow = kernels.gray_thumbnail(image, 64, kernels.BACKEND_PILLOW).astype(int)
    assert np.abs(via_cv2 - via_pillow).max() <= 2


def test_pure_python_kernel_matches_numpy() -> None:
    a, b = np.random.default_rng(0).integers(0, 256, size=(2, 500))
    assert kernels.python_mean_abs_diff(a.tolist(), b.tolist()) == pytest.approx(np.abs(a - b).mean())


def test_workloads_are_calibrated_to_the_seconds_asked_for(tmp_path: Path) -> None:
    config = DemoConfig(workers=(1, 2), kernels=("pure_python", "io_wait"), task_scale=0.05, fixed_tasks=(("io_wait", 6),))
    pure, io = make_workloads(config, str(tmp_path))
    assert io.tasks == 6 and io.data_dir == str(tmp_path)
    assert pure.tasks % 2 == 0
    per_task = seconds_per_task("pure_python", config.backend, str(tmp_path), 0.02)
    assert calibrated_tasks(per_task, 1.0, 2) > calibrated_tasks(per_task, 0.1, 2)
    assert calibrated_tasks(0.01, 1.0, 4) == 100 and calibrated_tasks(10.0, 1.0, 4) == 4
    assert task_multiple((1, 2, 4)) == 4 and task_multiple((3, 4)) == 12
    with pytest.raises(ValueError):
        DemoConfig(workers=(0,))
    with pytest.raises(ValueError):
        DemoConfig(kernels=("nope",))
    with pytest.raises(ValueError):
        DemoConfig(task_scale=0)


def test_default_workers_match_the_usable_cores() -> None:
    assert DemoConfig().workers == (max(2, available_cpus()),)


def test_summary_speedups_are_relative_to_the_serial_median() -> None:
    rows = [RunRow("k", "serial", 1, r, wall, wall) for r, wall in enumerate((1.0, 1.2, 0.8))]
    rows += [RunRow("k", "thread", 2, r, 0.5, 1.0) for r in range(3)]
    by_mode = {(s["mode"], s["workers"]): s for s in summarise(rows)}
    assert by_mode[("thread", 2)]["speedup"] == pytest.approx(2.0)
    assert by_mode[("thread", 2)]["cpu_cores"] == pytest.approx(2.0)
