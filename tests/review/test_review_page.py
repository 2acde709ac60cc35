"""`dupbench review`: the page's files, its embedded data, and what it refuses (no browser needed here)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import pytest
from hostile import build_hostile_folder

from dupbench.cli import main
from dupbench.review.page import script_json


def scan(root: Path, report: Path) -> dict:
    assert main(["run", str(root), "--mode", "serial", "--no-cache", "--quiet", "--output", str(report)]) == 0
    return json.loads(report.read_text())


def embedded(index: Path) -> dict:
    html = index.read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="dupbench-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


@pytest.fixture
def reviewed(planted_folder, tmp_path: Path) -> tuple[Path, dict, Path]:
    root, _ = planted_folder
    report = tmp_path / "r.json"
    data = scan(root, report)
    out = tmp_path / "page"
    assert main(["review", str(report), "--out", str(out)]) == 0
    return report, data, out


def test_every_group_and_file_is_on_the_page_with_what_the_scan_saw(reviewed):
    report, data, out = reviewed
    page = embedded(out / "index.html")
    assert [g["keeper"] for g in page["groups"]] == [g["keeper"] for g in data["groups"]]
    for shown, group in zip(page["groups"], data["groups"]):
        paths = [f["path"] for f in shown["files"]]
        assert paths == [group["keeper"], *(m["path"] for m in group["members"])]
        assert shown["files"][0]["role"] == "keeper"
        for file in shown["files"]:
            scanned = data["files"][file["path"]]
            assert (file["width"], file["height"], file["size"], file["digest"]) == (scanned["width"], scanned["height"], scanned["size"], scanned["digest"])
            assert file["format"] in {"PNG", "BMP", "JPEG"} and file["mtime"].endswith("UTC")
            assert file["uri"] == Path(file["path"]).as_uri() and file["folder"] == str(Path(file["path"]).parent)
            assert file["problem"] is None
        assert shown["saved"] == sum(data["files"][m["path"]]["size"] for m in group["members"])
    assert page["report"]["path"] == str(report.resolve())


def test_thumbnails_are_small_and_never_copies_of_the_images(reviewed):
    report, data, out = reviewed
    page = embedded(out / "index.html")
    files = [f for g in page["groups"] for f in g["files"]]
    thumbs = sorted((out / "thumbs").iterdir())
    assert len(thumbs) == len(files) == len({f["thumb"] for f in files})
    sources = {Path(f["path"]).read_bytes() for f in files}
    for thumb in thumbs:
        image = cv2.imread(str(thumb))
        assert max(image.shape[:2]) <= 160 and thumb.read_bytes() not in sources
    assert {p.name for p in out.iterdir()} == {"index.html", "thumbs", ".dupbench-review"}


def test_hostile_file_names_stay_data(tmp_path):
    paths = build_hostile_folder(tmp_path / "hostile")
    report = tmp_path / "r.json"
    scan(tmp_path / "hostile", report)
    out = tmp_path / "page"
    assert main(["review", str(report), "--out", str(out)]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "onerror" not in html.split('id="dupbench-data">')[0]
    data_block = html.split('id="dupbench-data">')[1].split("</script>")[0]
    assert "<" not in data_block and ">" not in data_block and "&" not in data_block
    assert html.count("</script>") == 2  # the data block's and the script's: no file name closed one
    shown = {f["path"] for g in embedded(out / "index.html")["groups"] for f in g["files"]}
    assert shown == set(paths)


def test_script_json_round_trips_what_it_escapes():
    value = {"p": "</script><!-- & \u2028 caf\udce9"}
    text = script_json(value)
    assert not set("<>&") & set(text) and json.loads(text) == value


def test_a_folder_holding_other_files_is_refused_and_our_own_is_rewritten(reviewed, tmp_path, capsys):
    report, data, out = reviewed
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["review", str(report), "--out", str(mine)]) == 2
    assert "not empty and was not written by dupbench review" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    (out / "thumbs" / "999.jpg").write_bytes(b"stale")
    assert main(["review", str(report), "--out", str(out)]) == 0
    assert not (out / "thumbs" / "999.jpg").exists()


def test_default_folder_is_beside_the_report(reviewed):
    report, data, out = reviewed
    assert main(["review", str(report)]) == 0
    assert (report.parent / "r-review" / "index.html").exists()


def test_an_older_report_without_file_details_is_completed_from_the_files(reviewed, tmp_path):
    report, data, out = reviewed
    del data["files"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert main(["review", str(old), "--out", str(tmp_path / "old-page")]) == 0
    file = embedded(tmp_path / "old-page" / "index.html")["groups"][0]["files"][0]
    image = cv2.imread(file["path"])
    assert (file["width"], file["height"]) == (image.shape[1], image.shape[0])
    assert file["size"] == Path(file["path"]).stat().st_size and len(file["digest"]) == 32


def test_changed_missing_and_undecodable_files_are_marked_not_fatal(planted_folder, tmp_path, capsys):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    report = tmp_path / "r.json"
    data = scan(root, report)
    keeper, changed, gone = data["groups"][0]["keeper"], *[m["path"] for m in data["groups"][0]["members"][:2]]
    Path(changed).write_bytes(b"not an image any more")
    Path(gone).unlink()
    assert main(["review", str(report), "--out", str(tmp_path / "page")]) == 0
    assert "2 file(s) shown without a thumbnail or marked" in capsys.readouterr().out
    files = {f["path"]: f for f in embedded(tmp_path / "page" / "index.html")["groups"][0]["files"]}
    assert files[changed]["problem"].startswith("changed since the scan: apply will leave it alone; no preview")
    assert files[gone]["problem"].startswith("cannot read") and files[gone]["thumb"] is None
    assert files[keeper]["problem"] is None and files[keeper]["thumb"]


@pytest.mark.parametrize("content", ["{not json", '{"version": 99}', "[]"])
def test_a_bad_report_is_a_usage_error(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["review", str(bad), "--out", str(tmp_path / "page")]) == 2
    err = capsys.readouterr().err
    assert "cannot read report" in err and "Traceback" not in err


def test_a_page_inside_a_scanned_folder_is_pointed_out(planted_folder, tmp_path, capsys):
    source, _ = planted_folder
    root = tmp_path / "photos"
    shutil.copytree(source, root)
    report = tmp_path / "r.json"
    scan(root, report)
    capsys.readouterr()
    assert main(["review", str(report), "--out", str(tmp_path / "elsewhere")]) == 0
    assert "inside the scanned folder" not in capsys.readouterr().out
    assert main(["review", str(report), "--out", str(root / "review")]) == 0
    assert f"the page is inside the scanned folder {root}" in capsys.readouterr().out
