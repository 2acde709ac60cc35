"""Fixtures shared by the tests; the image builders live in planted.py (importable by name)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from planted import build_planted_folder

# Every execution mode, dask where its optional extra is installed: tests that take the `mode` fixture run
# once per mode, as CPython's executor tests run each test class over every executor.
EVERY_MODE = ["serial", "thread", "process"] + (["dask"] if importlib.util.find_spec("distributed") else [])

SESSION_PID = os.getpid()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    """A forked child whose code raised where the fork returned is in a copy of this session's stack:
    it must not carry on as a second session, running the rest of the suite beside this one while the
    pool that forked it waits for it to exit."""
    if os.getpid() != SESSION_PID:
        os._exit(70)


@pytest.fixture(params=EVERY_MODE)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def planted_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[set[str]]]:
    root = tmp_path_factory.mktemp("planted")
    return root, build_planted_folder(root)


@pytest.fixture(scope="session")
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xdg-state")


@pytest.fixture(autouse=True)
def private_manifest_key(state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Manifests are sealed with a key kept in $XDG_STATE_HOME: the tests' own, never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
