"""Fixtures shared by the tests; the image builders live in planted.py (importable by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planted import build_planted_folder


@pytest.fixture(scope="session")
def planted_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[set[str]]]:
    root = tmp_path_factory.mktemp("planted")
    return root, build_planted_folder(root)
