"""Dask mode: same groups as serial, on a local cluster and on a scheduler with workers in separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dupbench.cli import main
from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.pipeline import find_duplicates

distributed = pytest.importorskip("distributed", reason="the optional dask extra is not installed (pip install -e '.[dask]')")


@pytest.fixture(scope="module")
def serial_groups(planted_folder):
    root, _ = planted_folder
    return {pairs: find_duplicates([str(root)], DetectorConfig(pairs=pairs), ExecutionConfig("serial")).groups for pairs in ("all", "pruned")}


def test_local_cluster_gives_the_serial_groups_for_both_pair_strategies(planted_folder, serial_groups):
    root, _ = planted_folder
    for pairs in ("all", "pruned"):
        report = find_duplicates([str(root)], DetectorConfig(pairs=pairs, block_size=5), ExecutionConfig("dask", workers=2))
        assert report.groups == serial_groups[pairs]
        assert report.settings["execution"]["scheduler"] == "local cluster"


def _dask(*args: str, log: Path) -> subprocess.Popen:
    tool = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(tool), *args], stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def test_a_separately_started_scheduler_and_two_workers_on_loopback(planted_folder, serial_groups, tmp_path):
    root, _ = planted_folder
    address_file = tmp_path / "scheduler.json"
    processes = [
        _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(address_file), log=tmp_path / "scheduler.log")
    ]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        processes += [_dask("worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", log=tmp_path / f"worker{i}.log") for i in range(2)]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "report.json"
        done = subprocess.run(
            [sys.executable, "-m", "dupbench", "run", str(root), "--mode", "dask", "--scheduler", address, "--no-cache", "--quiet", "--output", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(out.read_text())
        assert report["settings"]["execution"]["scheduler"] == address
        assert _group_sets(report["groups"]) == _group_sets(serial_groups["pruned"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _group_sets(groups: list) -> set[frozenset[str]]:
    def members(g):
        if isinstance(g, dict):
            return frozenset([g["keeper"], *(m["path"] for m in g["members"])])
        return frozenset([g.keeper, *(m.path for m in g.members)])

    return {members(g) for g in groups}


def test_without_the_extra_dask_mode_says_how_to_install_it(planted_folder, monkeypatch, capsys):
    import dupbench.execution.dask as dask_executor
    from dupbench.execution.dask import INSTALL_HINT, DaskUnavailable

    def missing():
        raise DaskUnavailable(INSTALL_HINT)

    monkeypatch.setattr(dask_executor, "_import_distributed", missing)
    root, _ = planted_folder
    assert main(["run", str(root), "--mode", "dask", "--no-cache", "--quiet"]) == 2
    assert "pip install -e '.[dask]'" in capsys.readouterr().err


def test_scheduler_without_dask_mode_is_a_usage_error(planted_folder, capsys):
    root, _ = planted_folder
    assert main(["run", str(root), "--mode", "process", "--scheduler", "tcp://127.0.0.1:1", "--quiet"]) == 2
    assert "--scheduler is for --mode dask" in capsys.readouterr().err
