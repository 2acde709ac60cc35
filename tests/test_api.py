"""dupbench.find_duplicates as a user calls it: `import dupbench`, a folder, keyword settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from planted import photo

import dupbench


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A photo, its exact copy, a re-encoded JPEG of it, a turned copy, and an unrelated picture."""
    picture = photo("astronaut", 160)
    cv2.imwrite(str(tmp_path / "a.png"), picture)
    (tmp_path / "a copy.png").write_bytes((tmp_path / "a.png").read_bytes())
    cv2.imwrite(str(tmp_path / "a.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
    cv2.imwrite(str(tmp_path / "a turned.png"), cv2.rotate(picture, cv2.ROTATE_90_CLOCKWISE))
    cv2.imwrite(str(tmp_path / "coffee.png"), photo("coffee", 160))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    return tmp_path


def test_import_dupbench_loads_no_image_library():
    code = "import sys, dupbench; print(sorted(m for m in ('cv2', 'numpy', 'PIL', 'dupbench.api') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_find_duplicates_on_a_folder(folder):
    report = dupbench.find_duplicates(folder)
    assert isinstance(report, dupbench.DuplicateReport)
    (group,) = report.groups
    assert group.kind == "near"  # one of its copies matched by pixels only
    assert group.paths == {str(folder / name) for name in ("a.png", "a copy.png", "a.jpg")}
    assert sorted(m.match for m in group.members) == ["bytes", "ssim"]  # the PNG copy by its bytes, the JPEG by SSIM
    assert next(m for m in group.members if m.match == "ssim").path == str(folder / "a.jpg")
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [("broken.jpg", "truncated JPEG (no end-of-image marker)")]
    info = report.files[str(folder / "a.jpg")]
    assert (info.width, info.height) == (160, 160) and info.size == (folder / "a.jpg").stat().st_size


def test_keyword_settings_reach_the_detector(folder):
    turned = str(folder / "a turned.png")
    assert not any(turned in g.paths for g in dupbench.find_duplicates(folder).groups)
    report = dupbench.find_duplicates([folder], orientations=4, threshold=0.9, extensions=["png"], mode="thread", workers=2)
    assert report.group_sets() == {frozenset(str(folder / n) for n in ("a.png", "a copy.png", "a turned.png"))}
    assert (report.settings["threshold"], report.settings["orientations"], report.mode, report.workers) == (0.9, 4, "thread", 2)


def test_the_same_groups_in_every_mode(folder, mode):
    assert dupbench.find_duplicates(folder, mode=mode, workers=2).group_sets() == dupbench.find_duplicates(folder).group_sets()


def test_keep_and_exclude(folder):
    report = dupbench.find_duplicates(str(folder), keep="path-prefix=" + str(folder / "a.jpg"), exclude=["*copy*"])
    (group,) = report.groups
    assert group.keeper == str(folder / "a.jpg")
    assert str(folder / "a copy.png") not in group.paths


def test_a_cache_file_is_written_only_when_asked(folder, tmp_path_factory):
    where = tmp_path_factory.mktemp("cache") / "features.sqlite"
    first = dupbench.find_duplicates(folder, cache=where)
    assert where.exists()
    assert dupbench.find_duplicates(folder, cache=where).group_sets() == first.group_sets()


def test_the_report_round_trips_through_its_json(folder):
    report = dupbench.find_duplicates(folder)
    again = dupbench.DuplicateReport.from_json(report.to_json())
    assert again.group_sets() == report.group_sets() and again.skipped == report.skipped


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"mode": "gpu"}, ValueError, "mode must be one of"),
        ({"keep": "prettiest"}, ValueError, "unknown keeper rule"),
    ],
)
def test_bad_settings_raise_before_any_work(folder, kwargs, error, message):
    with pytest.raises(error, match=message):
        dupbench.find_duplicates(folder, **kwargs)


def test_a_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        dupbench.find_duplicates(tmp_path / "no-such-folder")


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    for folder in ("photos", "phone-backup"):
        (tmp_path / folder).mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "a.png"), photo("astronaut", 160))
    cv2.imwrite(str(tmp_path / "phone-backup" / "a.jpg"), photo("astronaut", 160), [cv2.IMWRITE_JPEG_QUALITY, 85])
    (tmp_path / "photos" / "empty.jpg").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "near keep photos/a.png" in printed and "phone-backup/a.jpg ssim" in printed
    assert "skipped photos/empty.jpg empty file" in printed
