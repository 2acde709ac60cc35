"""The RAM files behind shared arrays never outlive their run, and stale ones of dead runs are removed."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

import dupbench.execution.shared_arrays
from dupbench.execution.shared_arrays import SharedArray, remove_stale_files, shared_directory


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def dupbench_files(pid: int) -> list[str]:
    folder = shared_directory() or "/tmp"
    return [n for n in os.listdir(folder) if n.startswith(f"dupbench-{pid}-")]


def test_array_is_shared_and_removed_after_the_block():
    with SharedArray(np.arange(12, dtype=np.uint8).reshape(3, 4)) as shared:
        assert os.path.exists(shared.path)
        assert np.array_equal(np.memmap(shared.path, np.uint8, "r", shape=(3, 4)), shared.array)
    assert not os.path.exists(shared.path)


def test_an_interrupt_while_the_file_is_written_leaves_no_file(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dupbench.execution.shared_arrays.np, "memmap", interrupted)
    before = dupbench_files(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        SharedArray(np.ones((4, 4), np.uint8))
    assert dupbench_files(os.getpid()) == before


def test_only_exact_names_of_dead_runs_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    stale = f"dupbench-{dead}-a1b2_c3d.npy"
    kept = [
        f"dupbench-{alive}-a1b2c3d4.npy",  # a live run's
        f"dupbench-{dead}-a1b2c3d.npy",  # 7 characters: not a name mkstemp makes
        f"dupbench-{dead}-A1B2C3D4.npy",  # capitals: not mkstemp's alphabet
        f"dupbench-{dead}-a1b2c3d4.npy.bak",
        f"xdupbench-{dead}-a1b2c3d4.npy",
        f"dupbench-{dead}-a1b2c3d4.txt",
    ]
    for name in [stale, *kept]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / f"dupbench-{dead}-dir12345.npy").mkdir()  # a directory: not ours either
    os.symlink(tmp_path / kept[0], tmp_path / f"dupbench-{dead}-link1234.npy")
    assert remove_stale_files(str(tmp_path)) == [str(tmp_path / stale)]
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, f"dupbench-{dead}-dir12345.npy", f"dupbench-{dead}-link1234.npy"])


def test_the_next_run_removes_a_dead_runs_file_from_shared_memory(monkeypatch):
    folder = shared_directory() or "/tmp"
    leftover = os.path.join(folder, f"dupbench-{dead_pid()}-zz9_test.npy")
    open(leftover, "wb").close()  # what a kill -9 between mkstemp and the end of the run leaves
    try:
        monkeypatch.setattr(dupbench.execution.shared_arrays, "_swept", set())
        with SharedArray(np.ones(3, np.uint8)):
            assert not os.path.exists(leftover)
    finally:
        if os.path.exists(leftover):
            os.unlink(leftover)
