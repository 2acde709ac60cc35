"""The pure parts of benchmarks/peers.py: a peer's pairs become the evaluator's groups; the table renders."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("peers", ROOT / "benchmarks" / "peers.py")
peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peers)


def test_pairs_merge_into_connected_groups_in_the_report_format(tmp_path):
    pairs = [["/d/b.jpg", "/d/a.jpg"], ["/d/c.jpg", "/d/b.jpg"], ["/d/x.png", "/d/y.png"]]
    report = peers.pairs_to_report(pairs, tmp_path, "difpy-similar")
    groups = {(g["keeper"], tuple(m["path"] for m in g["members"])) for g in report["groups"]}
    assert groups == {("/d/a.jpg", ("/d/b.jpg", "/d/c.jpg")), ("/d/x.png", ("/d/y.png",))}
    assert all(m["match"] == "ssim" for g in report["groups"] for m in g["members"])

    from dupbench.result import DuplicateReport

    assert len(DuplicateReport.from_json(report).groups) == 2  # what `dupbench evaluate` reads


def test_table_marks_kinds_a_peer_cannot_tell():
    row = dict(wall_s=1.234, peak_mib=100.0, any_p=1.0, any_r=0.5, any_f1=0.6667, exact_f1=1.0, near_f1=0.5)
    text = peers.table([dict(row, tool="dupbench-process"), dict(row, tool="imagededup-phash")])
    lines = text.splitlines()
    assert lines[2] == "| dupbench-process | 1.23 | 100 | 1.000 | 0.500 | 0.667 | 1.000 | 0.500 |"
    assert lines[3].endswith("| n/a | n/a |")
