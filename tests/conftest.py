"""Fixtures shared by the tests; the image builders live in planted.py (importable by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planted import build_planted_folder


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
