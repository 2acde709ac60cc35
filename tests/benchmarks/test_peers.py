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


def evaluation(any_p=1.0, any_r=0.5, turned_pairs=0):
    metrics = lambda p, r, n=4: {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "true_pairs": n}  # noqa: E731
    return {
        "any": metrics(any_p, any_r),
        "exact": metrics(1.0, 1.0),
        "near": metrics(1.0, 0.5),
        "upright": metrics(any_p, 1.0),
        "orientation": metrics(1.0, 0.0, turned_pairs),
        "harm": {"false_pairs": 3, "largest_group": 7, "worst_group_originals": 4, "groups_joining_several": 1, "files_grouped_share": 0.25},
    }


def test_table_marks_kinds_a_peer_cannot_tell():
    ours = peers.score_row("dupbench-process", [1.234, 2.0, 1.0], [100 * 2**20], evaluation())
    theirs = peers.score_row("imagededup-phash", [1.234], [100 * 2**20], evaluation(turned_pairs=3))
    lines = peers.table([ours, theirs]).splitlines()
    assert lines[2] == ("| dupbench-process | 1.23 | 100 | 1.000 | 0.500 | 0.667 | 1.000 | 0.667 | 1.000 | 1.000 | n/a | 3 | 7 | 4 | 25.0% |")
    assert "| n/a | n/a | 1.000 | 1.000 | 0.000 | 3 |" in lines[3]  # peers cannot tell exact from near
