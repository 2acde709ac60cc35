"""Fixtures for the action tests: a private trash, a folder of duplicates, a second file system."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from action_helpers import exact, near, write

from dupbench.result import Group


@pytest.fixture(autouse=True)
def private_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The home trash lives in the test's folder, on the same filesystem as the test files."""
    data_home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    return data_home / "Trash"


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, list[Group]]:
    """A root with an exact group (nested dirs, awkward names) and a near group."""
    root = tmp_path / "photos"
    keeper = write(root / "2020" / "beach.jpg", b"A" * 300)
    copy1 = write(root / "backup" / "beach copy.jpg", b"A" * 300)
    copy2 = write(root / "backup" / "deep" / "stränd\nnewline.jpg", b"A" * 300)
    other = write(root / "2021" / "dog.jpg", b"dog-original" * 10)
    resized = write(root / "2021" / "small" / "dog.jpg", b"dog-resized")
    return root, [exact(keeper, copy1, copy2), near(other, resized)]


@pytest.fixture
def other_filesystem(tmp_path: Path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second filesystem at /dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm))
    yield folder
    shutil.rmtree(folder)
