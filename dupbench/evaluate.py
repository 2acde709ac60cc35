"""Score a detector report against a dataset's ground truth, and sweep the SSIM threshold.

Pairs, not groups, are the unit: a report's groups (exact and near alike) are merged into clusters by
shared paths, and every two files in one cluster are a predicted duplicate pair. A predicted pair is
*exact* when the detector linked the two by equal bytes or pixels (a member whose ``match`` is "bytes" or
"pixels"), possibly through other files; every other predicted pair is *near*. The ground truth says
which pairs are truly exact (equal decoded pixels) or near (see `dupbench.datasets.ground_truth`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from dupbench.config import DetectorConfig, available_cpus
from dupbench.datasets.ground_truth import FILENAME, GroundTruth, read_ground_truth
from dupbench.detector.load import load_features
from dupbench.detector.ssim import match_one_to_many, ssim_matrix, ssim_terms
from dupbench.json_output import add_json_options, json_file, json_to_stdout
from dupbench.result import DuplicateReport, Skipped, json_text, load_report, write_json_atomic

Pair = tuple[str, str]
OTHER = "(originals and copies)"
DEFAULT_THRESHOLDS = np.round(np.arange(0.30, 1.0, 0.01), 2)


@dataclass(frozen=True)
class PairMetrics:
    kind: str
    true_pairs: int
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class TransformRow:
    """Recall of one transformation: its copies found in the same cluster as their original."""

    transform: str
    copies: int
    found: int
    recall: float


@dataclass(frozen=True)
class NegativeRow:
    """False positives by hard-negative kind: files wrongly grouped, and false pairs they are in."""

    kind: str
    files: int
    flagged: int
    flagged_share: float
    false_pairs: int


@dataclass(frozen=True)
class GroupHarm:
    """What the report's groups would do to a collection if acted on: how big they get, how many distinct
    pictures they join (an original with its copies counts once; every other file is its own picture)."""

    predicted_groups: int
    files_grouped: int
    files_grouped_share: float
    largest_group: int
    worst_group_originals: int  # distinct pictures joined by the group that joins the most
    groups_joining_several: int  # groups that join more than one distinct picture
    false_pairs: int


@dataclass(frozen=True)
class Evaluation:
    exact: PairMetrics
    near: PairMetrics
    any: PairMetrics
    upright: PairMetrics  # pairs with no turned or mirrored copy in them (the ground truth's orientation kinds)
    orientation: PairMetrics  # pairs with a turned or mirrored copy in them
    harm: GroupHarm
    adjusted_rand_index: float
    true_groups: int
    groups_found_exactly: int
    transforms: tuple[TransformRow, ...]
    negatives: tuple[NegativeRow, ...]
    skipped: tuple[str, ...]
    unknown_paths: tuple[str, ...]

    @property
    def groups_found_share(self) -> float:
        return self.groups_found_exactly / self.true_groups if self.true_groups else 1.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["groups_found_share"] = self.groups_found_share
        return data


def ordered(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def pairs_within(clusters: Iterable[Iterable[str]]) -> set[Pair]:
    return {ordered(a, b) for cluster in clusters for a, b in combinations(sorted(cluster), 2)}


def connected_clusters(edges: Iterable[Pair]) -> list[set[str]]:
    """Connected components of an undirected graph given by its edges (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    clusters: dict[str, set[str]] = defaultdict(set)
    for x in parent:
        clusters[find(x)].add(x)
    return list(clusters.values())


def relative_path(path: str, root: Path) -> str | None:
    """The report path relative to the dataset root (both resolved), or None if outside it."""
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def report_edges(report: DuplicateReport, root: Path) -> tuple[list[Pair], list[Pair], list[str]]:
    """All keeper-member links, the exact (bytes/pixels) ones, and report paths not under the root."""
    root = root.resolve()
    unknown: list[str] = []

    def rel(path: str) -> str | None:
        found = relative_path(path, root)
        if found is None:
            unknown.append(path)
        return found

    links: list[Pair] = []
    exact_links: list[Pair] = []
    for group in report.groups:
        keeper = rel(group.keeper)
        for member in group.members:
            other = rel(member.path)
            if keeper is None or other is None:
                continue
            links.append((keeper, other))
            if member.match in ("bytes", "pixels"):
                same_as = rel(member.same_as) if member.same_as else keeper
                if same_as is not None:
                    exact_links.append((same_as, other))
    return links, exact_links, unknown


def pair_metrics(kind: str, truth: set[Pair], predicted: set[Pair]) -> PairMetrics:
    tp = len(truth & predicted)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairMetrics(kind, len(truth), len(predicted), tp, precision, recall, f1)


def adjusted_rand_index(labels_true: list[int], labels_pred: list[int]) -> float:
    """Hubert-Arabie adjusted Rand index from the contingency table (1.0 = identical partitions)."""
    n = len(labels_true)
    if n < 2:
        return 1.0
    joint = Counter(zip(labels_true, labels_pred))
    index = sum(comb(c, 2) for c in joint.values())
    sum_true = sum(comb(c, 2) for c in Counter(labels_true).values())
    sum_pred = sum(comb(c, 2) for c in Counter(labels_pred).values())
    expected = sum_true * sum_pred / comb(n, 2)
    maximum = (sum_true + sum_pred) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def cluster_labels(paths: list[str], clusters: list[set[str]]) -> list[int]:
    """A label per path: its cluster's number, or a fresh one for a path in no cluster (a singleton)."""
    label_of = {p: k for k, cluster in enumerate(clusters) for p in cluster}
    fresh = iter(range(len(clusters), len(clusters) + len(paths)))
    return [label_of[p] if p in label_of else next(fresh) for p in paths]


def picture_of(truth: GroundTruth) -> dict[str, str]:
    """Each file's picture: its ground-truth group, or the file itself when it is in no group."""
    return {e.path: f"group {e.group}" if e.group is not None else e.path for e in truth.images}


def group_harm(truth: GroundTruth, report: DuplicateReport, root: Path, false_pairs: int) -> GroupHarm:
    root = root.resolve()
    picture = picture_of(truth)
    sizes, joined, grouped = [], [], set()
    for g in report.groups:
        members = {r for p in (g.keeper, *(m.path for m in g.members)) if (r := relative_path(p, root)) is not None}
        sizes.append(len(members))
        joined.append(len({picture.get(p, p) for p in members}))
        grouped |= members
    return GroupHarm(
        predicted_groups=len(report.groups),
        files_grouped=len(grouped),
        files_grouped_share=len(grouped) / max(1, len(truth.images)),
        largest_group=max(sizes, default=0),
        worst_group_originals=max(joined, default=0),
        groups_joining_several=sum(j > 1 for j in joined),
        false_pairs=false_pairs,
    )


def orientation_paths(truth: GroundTruth) -> set[str]:
    kinds = set(truth.settings.get("orientation_kinds", ()))
    return {e.path for e in truth.images if e.role == "copy" and e.kind in kinds}


def evaluate(truth: GroundTruth, report: DuplicateReport, root: Path) -> Evaluation:
    """Pair-, group-, transformation- and hard-negative-level scores of one report."""
    links, exact_links, unknown = report_edges(report, root)
    known = truth.by_path()
    unknown += [p for p in {x for edge in links for x in edge} if p not in known]
    clusters = connected_clusters(links)
    predicted = pairs_within(clusters)
    predicted_exact = pairs_within(connected_clusters(exact_links))
    true_pairs = truth.true_pairs()
    true_exact = {p for p, kind in true_pairs.items() if kind == "exact"}
    true_near = set(true_pairs) - true_exact

    cluster_of = {p: k for k, cluster in enumerate(clusters) for p in cluster}
    per_transform: dict[str, list[bool]] = defaultdict(list)
    for entry in truth.images:
        if entry.role == "copy":
            found = entry.path in cluster_of and entry.derived_from is not None and cluster_of[entry.path] == cluster_of.get(entry.derived_from)
            per_transform[entry.kind].append(found)
    transforms = tuple(TransformRow(kind, len(v), sum(v), sum(v) / len(v)) for kind, v in sorted(per_transform.items()))

    false_pairs = predicted - set(true_pairs)
    negatives_by_kind: dict[str, list[str]] = defaultdict(list)
    for entry in truth.images:
        if entry.role == "hard_negative":
            negatives_by_kind[entry.kind].append(entry.path)
    rows = []
    for kind, paths in sorted(negatives_by_kind.items()):
        flagged = sum(p in cluster_of for p in paths)
        pairs = sum(1 for a, b in false_pairs if known.get(a) and known[a].kind == kind or known.get(b) and known[b].kind == kind)
        rows.append(NegativeRow(kind, len(paths), flagged, flagged / len(paths), pairs))
    other = [pair for pair in false_pairs if all(known.get(p) is None or known[p].role != "hard_negative" for p in pair)]
    flagged_other = {p for pair in other for p in pair}
    n_other = sum(1 for e in truth.images if e.role != "hard_negative")
    rows.append(NegativeRow(OTHER, n_other, len(flagged_other), len(flagged_other) / max(1, n_other), len(other)))

    paths = sorted(known)
    true_groups = [{e.path for e in members} for members in truth.groups().values()]
    ari = adjusted_rand_index(cluster_labels(paths, true_groups), cluster_labels(paths, clusters))
    predicted_sets = {frozenset(c) for c in clusters}
    found_exactly = sum(frozenset(g) in predicted_sets for g in true_groups)
    turned = orientation_paths(truth)
    with_turn = {pair for pair in set(true_pairs) | predicted if pair[0] in turned or pair[1] in turned}
    return Evaluation(
        exact=pair_metrics("exact", true_exact, predicted_exact),
        near=pair_metrics("near", true_near, predicted - predicted_exact),
        any=pair_metrics("any", set(true_pairs), predicted),
        upright=pair_metrics("upright", set(true_pairs) - with_turn, predicted - with_turn),
        orientation=pair_metrics("orientation", set(true_pairs) & with_turn, predicted & with_turn),
        harm=group_harm(truth, report, root, len(false_pairs)),
        adjusted_rand_index=ari,
        true_groups=len(true_groups),
        groups_found_exactly=found_exactly,
        transforms=transforms,
        negatives=tuple(rows),
        skipped=tuple(f"{s.path}: {s.reason}" for s in report.skipped),
        unknown_paths=tuple(sorted(set(unknown))),
    )


def format_evaluation(result: Evaluation) -> str:
    """Plain-text tables for a terminal or a README."""
    rows = [result.exact, result.near, result.any]
    if result.orientation.true_pairs or result.orientation.predicted_pairs:
        rows += [result.upright, result.orientation]
    pairs = pd.DataFrame([asdict(m) for m in rows]).set_index("kind")
    harm = result.harm
    lines = [
        "pair-level scores" + (" (upright: no turned or mirrored copy in the pair; orientation: one in it)" if len(rows) > 3 else ""),
        pairs.to_string(float_format=lambda x: f"{x:.4f}"),
        "",
        f"predicted groups: {harm.predicted_groups} with {harm.files_grouped} files ({harm.files_grouped_share:.1%} of "
        f"the set); largest {harm.largest_group} files; the worst joins {harm.worst_group_originals} distinct "
        f"pictures; {harm.groups_joining_several} groups join more than one; {harm.false_pairs} false pairs",
        "",
        f"groups: {result.groups_found_exactly} of {result.true_groups} true groups found exactly "
        f"({result.groups_found_share:.1%}); adjusted Rand index {result.adjusted_rand_index:.4f}",
        "",
        "recall per transformation (copy in the same cluster as its original)",
        pd.DataFrame([asdict(r) for r in result.transforms]).to_string(index=False, float_format=lambda x: f"{x:.3f}"),
        "",
        "false positives by hard-negative kind (files wrongly grouped; false pairs they are in)",
        pd.DataFrame([asdict(r) for r in result.negatives]).to_string(index=False, float_format=lambda x: f"{x:.3f}"),
    ]
    if result.skipped:
        lines += ["", f"{len(result.skipped)} files skipped by the detector:", *result.skipped[:20]]
    if result.unknown_paths:
        lines += ["", f"{len(result.unknown_paths)} report paths not in the ground truth:", *result.unknown_paths[:20]]
    return "\n".join(lines)


# --- threshold sweep ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepScores:
    """SSIM of every original-to-near-copy link, and of every non-duplicate pair above ``floor``.

    Links to the original (not copy-to-copy pairs) are the positives because a detector that groups by
    connected components finds a whole group once each copy reaches its original. Exact pairs are left
    out: they are found by digests, not by the threshold.
    """

    thumb_size: int
    floor: float
    positive_scores: np.ndarray
    positive_kinds: tuple[str, ...]
    negative_scores: np.ndarray
    negative_kinds: tuple[str, ...]  # the hard-negative kind in the pair, or OTHER
    negative_pairs: tuple[Pair, ...]


def load_thumbnails(truth: GroundTruth, root: Path, thumb_size: int, jobs: int | None = None, progress: bool = False) -> np.ndarray:
    """Every file's thumbnail made by the detector's own load path (`load.load_features`: the same reduced
    JPEG decode, colour handling and resize), so a threshold chosen here is the one the detector applies.
    Threads suffice (OpenCV drops the GIL)."""
    config = DetectorConfig(thumb_size=thumb_size)

    def one(path: str) -> np.ndarray:
        loaded = load_features(str(root / path), config)
        if isinstance(loaded, Skipped):
            raise ValueError(f"{path} in the ground truth cannot be loaded: {loaded.reason}")
        return loaded.thumb

    with ThreadPoolExecutor(jobs or available_cpus()) as pool:
        results = pool.map(one, [e.path for e in truth.images])
        bar = tqdm(
            results, total=len(truth.images), desc="thumbnails", unit="img", file=sys.stderr, disable=not (progress and sys.stderr.isatty()), leave=False
        )
        return np.stack(list(bar))


def pair_scores(truth: GroundTruth, thumbs: np.ndarray, floor: float = 0.3, block: int = 32, progress: bool = False) -> SweepScores:
    """All-pairs match scores, kept as labelled pairs.

    The score is the detector's (`ssim.match_one_to_many`: the lower of SSIM and structure-weighted
    SSIM), so the sweep chooses the threshold the detector applies. float32 terms, as the detector.
    """
    entries = truth.images
    n = len(entries)
    index = {e.path: i for i, e in enumerate(entries)}
    group = np.array([e.group if e.group is not None else -1 - i for i, e in enumerate(entries)])
    hard_kind = [e.kind if e.role == "hard_negative" else None for e in entries]
    digest = [e.pixel_digest for e in entries]
    positives = {}
    for e in entries:
        if e.role == "copy" and e.derived_from is not None and e.pixel_digest != entries[index[e.derived_from]].pixel_digest:
            positives[ordered(e.path, e.derived_from)] = e.kind
    terms = ssim_terms(thumbs, np.float32)
    pos_scores, pos_kinds, neg_scores, neg_kinds, neg_pairs = [], [], [], [], []
    bar = tqdm(total=n, desc="all-pairs SSIM", unit="img", file=sys.stderr, disable=not (progress and sys.stderr.isatty()), leave=False)
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = ssim_matrix(terms.take(slice(start, stop)), terms.take(slice(start, n)), score=match_one_to_many)
        for i in range(start, stop):
            row = scores[i - start, i - start + 1 :]
            js = np.arange(i + 1, n)
            different = group[js] != group[i]
            for j, s in zip(js[different & (row >= floor)], row[different & (row >= floor)]):
                neg_scores.append(float(s))
                neg_kinds.append(hard_kind[i] or hard_kind[j] or OTHER)
                neg_pairs.append(ordered(entries[i].path, entries[j].path))
            for j in js[~different]:
                key = ordered(entries[i].path, entries[j].path)
                if key in positives and digest[i] != digest[j]:
                    pos_scores.append(float(row[j - i - 1]))
                    pos_kinds.append(positives[key])
        bar.update(stop - start)
    bar.close()
    return SweepScores(thumbs.shape[1], floor, np.array(pos_scores), tuple(pos_kinds), np.array(neg_scores), tuple(neg_kinds), tuple(neg_pairs))


def threshold_sweep(scores: SweepScores, thresholds: np.ndarray = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Near-duplicate link precision, recall and F1 at each threshold (a pair matches at SSIM >= t)."""
    rows = []
    total = len(scores.positive_scores)
    for t in thresholds:
        if t < scores.floor:
            raise ValueError(f"threshold {t} is below the recorded floor {scores.floor}")
        tp = int((scores.positive_scores >= t).sum())
        fp = int((scores.negative_scores >= t).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / total if total else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"threshold": float(t), "tp": tp, "fp": fp, "fn": total - tp, "precision": precision, "recall": recall, "f1": f1})
    return pd.DataFrame(rows)


def best_threshold(sweep: pd.DataFrame) -> pd.Series:
    """The F1-maximising row; ties go to the highest threshold (fewest false merges)."""
    best = sweep["f1"].max()
    return sweep[sweep["f1"] == best].iloc[-1]


def sweep_by_kind(scores: SweepScores, threshold: float) -> pd.DataFrame:
    """Per transformation: link SSIM quantiles and recall at ``threshold``; per hard-negative kind: FPs."""
    rows = []
    kinds = np.array(scores.positive_kinds)
    for kind in sorted(set(scores.positive_kinds)):
        s = scores.positive_scores[kinds == kind]
        rows.append(
            {"kind": kind, "pairs": len(s), "min_ssim": s.min(), "median_ssim": float(np.median(s)), "recall": float((s >= threshold).mean()), "false_pairs": 0}
        )
    neg_kinds = np.array(scores.negative_kinds)
    for kind in sorted(set(scores.negative_kinds)):
        s = scores.negative_scores[neg_kinds == kind]
        rows.append(
            {
                "kind": f"negative: {kind}",
                "pairs": len(s),
                "min_ssim": np.nan,
                "median_ssim": np.nan,
                "recall": np.nan,
                "false_pairs": int((s >= threshold).sum()),
            }
        )
    return pd.DataFrame(rows)


def plot_sweep(sweep: pd.DataFrame, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    best = best_threshold(sweep)
    fig, ax = plt.subplots(figsize=(6, 4))
    for column in ("precision", "recall", "f1"):
        ax.plot(sweep["threshold"], sweep[column], label=column)
    ax.axvline(best["threshold"], color="grey", linestyle="--", linewidth=1, label=f"best F1 {best['f1']:.3f} at {best['threshold']:.2f}")
    ax.set_xlabel("SSIM threshold")
    ax.set_ylabel("near-duplicate links")
    ax.set_ylim(0, 1.02)
    ax.set_title(title or "threshold sweep")
    ax.legend(loc="lower left")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- command line ------------------------------------------------------------------------------------


def dataset_root(ground_truth: Path) -> Path:
    return ground_truth if ground_truth.is_dir() else ground_truth.parent


def run_evaluate(args: argparse.Namespace) -> int:
    truth = read_ground_truth(args.ground_truth)
    root = dataset_root(args.ground_truth)
    if args.report is None and not args.threshold_sweep:
        print("dupbench evaluate: give a REPORT, --threshold-sweep, or both", file=sys.stderr)
        return 2
    human = sys.stderr if json_to_stdout(args) else sys.stdout  # stdout holds the JSON and nothing else
    output: dict = {}
    if args.report is not None:
        result = evaluate(truth, load_report(args.report), root)
        print(format_evaluation(result), file=human)
        output["evaluation"] = result.to_json()
    if args.threshold_sweep:
        prefix = args.sweep_prefix or (args.report.with_suffix("") if args.report else root / "sweep")
        output["sweeps"] = []
        for size in args.thumb_sizes:
            thumbs = load_thumbnails(truth, root, size, progress=not args.quiet)
            scores = pair_scores(truth, thumbs, progress=not args.quiet)
            sweep = threshold_sweep(scores)
            best = best_threshold(sweep)
            table = sweep_by_kind(scores, float(best["threshold"]))
            stem = Path(f"{prefix}-sweep-{size}px")
            sweep.to_csv(stem.with_suffix(".csv"), index=False)
            table.to_csv(Path(f"{stem}-by-kind.csv"), index=False)
            plot_sweep(sweep, stem.with_suffix(".png"), f"{truth.profile}, {truth.n_images} images, {size}px thumbnails")
            print(
                f"\nthreshold sweep, {size}px thumbnails: best near-duplicate F1 {best['f1']:.4f} at SSIM "
                f">= {best['threshold']:.2f} (precision {best['precision']:.4f}, recall {best['recall']:.4f})",
                file=human,
            )
            print(sweep.iloc[::5].to_string(index=False, float_format=lambda x: f"{x:.4f}"), file=human)
            print(f"\nat {best['threshold']:.2f}:", file=human)
            print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"), file=human)
            print(f"wrote {stem}.csv, {stem}-by-kind.csv and {stem}.png", file=human)
            output["sweeps"].append({"thumb_size": size, "best": {k: float(v) for k, v in best.items()}, "sweep": sweep.to_dict(orient="records")})
    if json_to_stdout(args):
        sys.stdout.write(json_text(output))
    target = json_file(args)
    if target is not None:
        write_json_atomic(output, target)
    return 0


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 32,64, got {text!r}") from None
    if not sizes or min(sizes) < 16:
        raise argparse.ArgumentTypeError("thumbnail sizes must be >= 16")
    return sizes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a detector report against a dataset's ground truth",
        description=(
            "Score `dupbench run --output` JSON against a generated dataset: pair-level precision, recall and "
            "F1 for exact and near duplicates, group agreement (adjusted Rand index, share of groups found "
            "exactly), recall per transformation and false positives per hard-negative kind. With "
            "--threshold-sweep, compute all-pairs SSIM of the thumbnails once and report precision/recall of "
            "near-duplicate links at every threshold, the F1-maximising one, a CSV and a plot."
        ),
    )
    parser.add_argument("ground_truth", metavar="GROUND_TRUTH", type=Path, help=f"the dataset folder or its {FILENAME}")
    parser.add_argument(
        "report",
        metavar="REPORT.json",
        type=Path,
        nargs="?",
        default=None,
        help="detector report from `dupbench run --output` (optional with --threshold-sweep)",
    )
    parser.add_argument("--threshold-sweep", action="store_true", help="also sweep the SSIM threshold")
    parser.add_argument(
        "--thumb-sizes",
        type=parse_sizes,
        default=[DetectorConfig().thumb_size],
        metavar="N,N",
        help=f"thumbnail sizes to sweep (default: {DetectorConfig().thumb_size})",
    )
    parser.add_argument("--sweep-prefix", type=Path, default=None, help="path prefix for the sweep CSV and PNG (default: beside the report)")
    add_json_options(parser, "the scores")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_evaluate)
