"""The pipeline, written once: scan -> load/decode -> features -> compare -> cluster.

`find_duplicates` takes the detector settings and the execution settings separately: the second
only chooses which executor runs the stages, so every mode computes the same groups.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from dupbench.config import DetectorConfig, ExecutionConfig
from dupbench.detector.align import align_pairs, mutual_best
from dupbench.detector.cache import FeatureCache, file_keys
from dupbench.detector.cluster import Clusters, UnionFind, cluster
from dupbench.detector.compare import NearPairs, exact_edges, near_pairs, pixel_candidates
from dupbench.detector.decode import resolve_decoder
from dupbench.detector.distinct import distinct
from dupbench.detector.features import CONTENT_DIGEST, ImageFeatures
from dupbench.detector.frames import frame_failures
from dupbench.detector.load import load_task, pixel_digest_task
from dupbench.detector.pixel_checks import copy_classes, known_digests, to_decode, with_digests
from dupbench.detector.scan import ScanFilters, ScanResult, scan
from dupbench.detector.verify import REASONS, VerifyInputs, background, information, verify_pairs
from dupbench.execution import make_executor
from dupbench.execution.interface import Executor
from dupbench.execution.native import prepare_process
from dupbench.execution.tasks import RetryingExecutor, map_surviving_crashes, start_surviving_crashes, weighted_chunks
from dupbench.progress import progress_bar
from dupbench.result import DuplicateReport, FileInfo, Group, Skipped
from dupbench.runtime import gil_state


class StageClock:
    """Wall seconds per stage, plus each stage's start and end on the epoch clock.

    The epoch bounds let an outside monitor (the sweep harness) attribute its CPU samples to stages. A
    stage timed in two parts (the pixel checks: submitted, then waited for) adds up its parts, and its
    bounds span both.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.bounds: dict[str, list[float]] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start_epoch, start = time.time(), time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.bounds[name] = [self.bounds.get(name, [start_epoch])[0], time.time()]


T = TypeVar("T")
WORKER_DIED = "worker process died while loading this file (decoder crash or out of memory)"


def largest_first(items: Sequence[T], sizes: Mapping[T, int]) -> list[T]:
    """`items` (paths, or image indices) by file size, largest first (ties in their order): a pool that
    takes the longest decodes first ends with short ones, so the stage does not wait on one worker's last
    large file."""
    return sorted(items, key=lambda item: -sizes.get(item, 0))


def decode_tasks(items: Sequence[T], sizes: Mapping[T, int], workers: int) -> list[list[T]]:
    """`items` largest first, in tasks of about equal bytes (see `weighted_chunks`)."""
    scheduled = largest_first(items, sizes)
    return weighted_chunks(scheduled, [sizes.get(item, 0) for item in scheduled], workers)


def load_all(
    paths: Sequence[str], config: DetectorConfig, executor: Executor, workers: int, show: bool, sizes: Mapping[str, int] | None = None
) -> tuple[list[ImageFeatures], list[Skipped]]:
    """Features of `paths` (scan order), loaded in the executor in chunks, largest files first and in
    chunks of about equal bytes where `sizes` are known."""
    chunks = decode_tasks(paths, sizes, workers) if sizes else weighted_chunks(list(paths), [1] * len(paths), workers)
    loaded: dict[str, ImageFeatures | Skipped] = {}
    with progress_bar("load", len(paths), show, unit="img") as bar:

        def sink(results: list) -> None:
            loaded.update((item.path, item) for item in results)
            bar.update(len(results))

        map_surviving_crashes(executor, load_task(config), chunks, sink, on_crash=lambda path: Skipped(path, WORKER_DIED))
    ordered = [loaded[path] for path in paths]  # scan order, whatever order the tasks finished in
    return [i for i in ordered if not isinstance(i, Skipped)], [i for i in ordered if isinstance(i, Skipped)]


def start_pixel_digests(
    features: list[ImageFeatures], pairs: Sequence[tuple[int, int]], config: DetectorConfig, executor: Executor, workers: int
) -> Callable[[], tuple[list[ImageFeatures], int]]:
    """Begin the pixel checks: full decodes wherever a pair may be pixel-identical (see `pixel_checks`; the
    rest were digested at load or are known copies), scheduled as at load. What it returns waits for them
    and gives `features` with those pixel digests and how many files were decoded."""
    classes = copy_classes(features)
    known = known_digests(features, classes)
    chosen = to_decode(pairs, classes, known)
    tasks = decode_tasks(chosen, {i: features[i].size_bytes for i in chosen}, workers)
    items = [[(features[i].path, features[i].file_digest) for i in task] for task in tasks]
    pending = start_surviving_crashes(executor, pixel_digest_task(config.decoder, config.max_file_size), items, on_crash=lambda item: None)

    def finish() -> tuple[list[ImageFeatures], int]:
        digests: list[bytes | None] = pending()
        decoded = {classes.find(i): d for i, d in zip((i for task in tasks for i in task), digests) if d is not None}
        return with_digests(features, classes, {**known, **decoded}), len(chosen)

    return finish


def chunk_size(count: int, tasks: int, least: int, most: int | None = None) -> int:
    """Items per task that cut `count` items into about `tasks` tasks (a verification of a few dozen
    pairs in one task left the other workers idle), but no fewer than `least` per task (each task has a
    fixed cost) nor more than `most`."""
    size = max(least, -(-count // max(1, tasks)))
    return size if most is None else min(most, size)


def verify_inputs(features: Sequence[ImageFeatures], reps: np.ndarray, config: DetectorConfig) -> VerifyInputs:
    """The per-image arrays verification reads, for the images `reps` (those in a pair) in their order."""
    chosen = [features[i] for i in reps]
    side, detail_side = config.thumb_size, config.detail_size
    opaque_alpha = np.full((side, side), 255, np.uint8)
    details = np.stack([f.detail for f in chosen]) if chosen else np.empty((0, detail_side, detail_side), np.uint8)
    return VerifyInputs(
        aspect=np.array([np.log(f.content_size[0] / f.content_size[1]) for f in chosen], np.float64),
        colour=np.stack([f.colour for f in chosen]) if chosen else np.empty((0, 8, 8, 2), np.float32),
        alpha=np.stack([f.alpha if f.alpha is not None else opaque_alpha for f in chosen]) if chosen else np.empty((0, side, side), np.uint8),
        opaque=np.array([f.alpha is None for f in chosen], bool),
        detail=details,
        thumb=np.stack([f.thumb for f in chosen]) if chosen else np.empty((0, side, side), np.uint8),
        information=information(details).astype(np.float32) if chosen else np.empty(0, np.float32),
        background=background(details),
        short_side=np.array([min(f.content_size) for f in chosen], np.int64),
    )


def cache_settings_key(config: DetectorConfig) -> str:
    """What shapes cached features: the thumbnail size, the decoder actually used, the reduced JPEG decode
    and the hash of the pixel and coded-data digests."""
    return f"thumb{config.thumb_size}-{resolve_decoder(config.decoder)}-reduced-colour-borders-{CONTENT_DIGEST}"


def load_with_cache(
    paths: Sequence[str],
    config: DetectorConfig,
    executor: Executor,
    workers: int,
    show: bool,
    cache: FeatureCache | None,
    sizes: Mapping[str, int] | None = None,
) -> tuple[list[ImageFeatures], list[Skipped]]:
    """Cached features for unchanged files; the rest loaded in the executor and stored."""
    if cache is None:
        return load_all(paths, config, executor, workers, show, sizes)
    keys = file_keys(paths)
    cached = cache.lookup(paths, keys)
    fresh, skipped = load_all([p for p in paths if p not in cached], config, executor, workers, show, sizes)
    cache.store(fresh, keys)
    by_path = {**cached, **{f.path: f for f in fresh}}
    return [by_path[p] for p in paths if p in by_path], skipped


def find_duplicates(
    roots: Sequence[str | os.PathLike],
    config: DetectorConfig = DetectorConfig(),
    execution: ExecutionConfig = ExecutionConfig(),
    show_progress: bool = False,
    cache: FeatureCache | None = None,
    exclude: Mapping[str, str] | None = None,
) -> DuplicateReport:
    """`exclude`: folders and files never scanned (path -> the reason reported), see `scan`."""
    clock = StageClock()
    started = time.perf_counter()
    workers = execution.resolved_workers
    with make_executor(execution) as executor:
        executor.start()  # the workers start while the scan runs
        with clock.stage("scan"):
            found = scan(roots, config.extensions, config.follow_symlinks, exclude, ScanFilters(tuple(config.exclude), config.min_size, config.max_size))
        with clock.stage("load"):
            features, load_skipped = load_with_cache(found.files, config, executor, workers, show_progress, cache, found.sizes)
        with clock.stage("compare"):
            compared = compare_stage(features, config, executor, workers, show_progress, clock)
    with clock.stage("cluster"):
        clusters = cluster(compared.features, [(a, b) for a, b, _ in compared.exact], compared.near_edges())
    clock.seconds["total"] = time.perf_counter() - started
    return DuplicateReport(
        roots=[os.fspath(r) for r in roots],
        settings={**config.to_json(), "decoder_used": resolve_decoder(config.decoder), "execution": execution_settings(execution)},
        groups=clusters.groups,
        skipped=found.skipped + load_skipped,
        stages=clock.seconds,
        mode=execution.mode,
        workers=workers,
        counts=run_counts(found, load_skipped, compared, clusters, cache),
        stage_bounds=clock.bounds,
        left_out=clusters.left_out,
        files=group_file_info(compared.features, clusters.groups),
        file_digests={f.path: f.file_digest for f in compared.features},
    )


@dataclass(frozen=True)
class Compared:
    """What the compare stage found: the features (with the pixel digests it took), the compared
    representatives of the exact classes, the screened pairs and each one's verification verdict."""

    features: list[ImageFeatures]
    reps: np.ndarray
    near: NearPairs
    reasons: np.ndarray  # REASONS code per screened pair, 0 = kept
    exact: list[tuple[int, int, str]]
    decoded: int  # files decoded a second time by the pixel checks
    realigned: int  # pairs kept only once aligned on a small crop (align.py)

    def near_edges(self) -> Iterator[tuple[int, int, float]]:
        kept = self.reasons == 0
        left, right = self.reps[self.near.left[kept]].tolist(), self.reps[self.near.right[kept]].tolist()
        return zip(left, right, self.near.scores[kept].tolist())


def compare_stage(features: list[ImageFeatures], config: DetectorConfig, executor: Executor, workers: int, show_progress: bool, clock: StageClock) -> Compared:
    """Exact classes, then the screen over their representatives, verification, and the pixel checks."""
    classes = UnionFind(len(features))
    for a, b, _ in exact_edges(features):
        classes.union(a, b)
    reps = np.array(sorted({classes.find(i) for i in range(len(features))}), dtype=np.int64)
    thumbs = np.stack([features[i].thumb for i in reps]) if len(reps) else np.empty((0, config.thumb_size, config.thumb_size), np.uint8)
    with progress_bar("compare", None, show_progress, unit="pair") as bar:
        found = near_pairs(
            thumbs,
            executor.share,
            config.pairs,
            config.screen_floor,
            RetryingExecutor(executor),
            block=config.block_size,
            workers=workers,
            radius=config.prefilter_radius,
            on_total=lambda total: setattr(bar, "total", total),
            on_done=bar.update,
            orientations=config.orientations,
            candidates=config.candidates,
            cap=config.candidate_cap,
        )
    # Pixel identity is checked on every screened pair, verified or not: a reduced JPEG decode and a full
    # decode of the same pixels can differ enough to fail the detail check. A turned or mirrored match, or
    # a pair that matched only once aligned on a crop, cannot hold the same pixels. Their decodes start
    # first, so the pool works while this process gathers verification's inputs, and are waited for
    # before verification's tasks go out: each stage's clock then holds its own work alone (in a pool,
    # verification queued behind the decodes used to be timed with them), at no cost to the whole run.
    # Timed as the pixel checks: the submission (where tasks run at once, every decode) and the wait.
    screened = found.select(found.scores >= config.threshold)
    with clock.stage("pixel_checks"):
        as_stored = screened.select(screened.orientation == 0)
        candidates = pixel_candidates(features, reps[as_stored.left].tolist(), reps[as_stored.right].tolist())
        pixel_checks = start_pixel_digests(features, candidates, config, executor, workers)
    with clock.stage("verify"):  # inside compare, like the pixel checks; the alignment of small crops too
        # Verification reads only the images in a pair: numbered 0.. among themselves, then numbered back.
        involved = distinct(np.concatenate([found.left, found.right]))[0]
        local = np.full(len(reps), -1, np.int64)
        local[involved] = np.arange(len(involved))
        found, screened = found.renumbered(local), screened.renumbered(local)
        inputs = verify_inputs(features, reps[involved], config)
        shared = VerifyInputs(**{name: executor.share(getattr(inputs, name)) for name in inputs.__dataclass_fields__})
    with clock.stage("pixel_checks"):
        features, decoded = pixel_checks()
    with clock.stage("verify"):
        reasons = verify_pairs(
            shared,
            screened.left,
            screened.right,
            screened.orientation,
            screened.scores,
            config,
            RetryingExecutor(executor).map,
            per_task=chunk_size(len(screened.left), workers, 16, 2048),
        )
        reasons = frame_stage(screened, reasons, shared, config, executor, workers)
        near, reasons, realigned = align_stage(found, screened, reasons, shared, config, executor, workers)
        near = near.renumbered(involved)
    return Compared(features, reps, near, reasons, exact_edges(features), decoded, realigned)


def frame_stage(screened: NearPairs, reasons: np.ndarray, shared: VerifyInputs, config: DetectorConfig, executor: Executor, workers: int) -> np.ndarray:
    """The verdicts once the pairs verification kept are checked inside a frame both images share (frames.py)."""
    kept = np.flatnonzero(reasons == 0)
    pairs = (screened.left[kept], screened.right[kept], screened.orientation[kept])
    fails = frame_failures(shared, pairs, config, RetryingExecutor(executor).map, per_task=chunk_size(len(kept), workers, 16, 2048))
    reasons = reasons.copy()
    reasons[kept[fails]] = REASONS.index("frame")
    return reasons


RETRIED_REASONS = tuple(REASONS.index(reason) for reason in ("colour", "detail", "changed"))  # what a crop's shift can cause


def align_stage(
    found: NearPairs, near: NearPairs, reasons: np.ndarray, shared: VerifyInputs, config: DetectorConfig, executor: Executor, workers: int
) -> tuple[NearPairs, np.ndarray, int]:
    """The screened pairs and their verdicts after alignment (align.py): pairs verification rejected on
    the thumbnails' content, and pairs the screen scored between the floor and the threshold, kept where
    they match once aligned (at their aligned score); the second kind follow the first. Also how many
    pairs alignment kept."""
    if config.crop_margin <= 0:
        return near, reasons, 0
    retry = np.flatnonzero(np.isin(reasons, RETRIED_REASONS))
    misses = found.select(found.scores < config.threshold)
    tried = near.select(retry).extended(misses)
    searched = np.flatnonzero(mutual_best(tried.left, tried.right, tried.scores, config.crop_partners))
    per_task = chunk_size(len(searched), 4 * workers, 8)  # a search costs milliseconds a pair: spread them
    kept, aligned = np.zeros(len(tried.left), bool), np.full(len(tried.left), np.nan)
    kept[searched], aligned[searched] = align_pairs(
        shared, tried.left[searched], tried.right[searched], tried.orientation[searched], config, RetryingExecutor(executor).map, per_task
    )
    kept_near, kept_misses = kept[: len(retry)], kept[len(retry) :]
    reasons, scores = reasons.copy(), near.scores.copy()
    reasons[retry[kept_near]] = 0
    scores[retry[kept_near]] = aligned[: len(retry)][kept_near]
    caught = replace(misses.select(kept_misses), scores=aligned[len(retry) :][kept_misses])
    joined = replace(near, scores=scores).extended(caught)
    return joined, np.concatenate([reasons, np.zeros(len(caught.scores), np.int8)]), int(kept.sum())


def run_counts(found: ScanResult, load_skipped: list[Skipped], compared: Compared, clusters: Clusters, cache: FeatureCache | None) -> dict[str, int]:
    """The report's `counts`: what each stage saw, kept and refused."""
    near, reasons = compared.near, compared.reasons
    return {
        "files_found": len(found.files),
        "images": len(compared.features),
        "skipped": len(found.skipped) + len(load_skipped),
        "ignored_other_extensions": found.ignored_other_extensions,
        "ignored_excluded": found.ignored_excluded,
        "ignored_size": found.ignored_size,
        "distinct_images": len(compared.reps),
        "pair_candidates": near.candidates,
        "pairs_compared": near.compared,
        "near_pairs": len(near.scores),
        "verified_pairs": int((reasons == 0).sum()),
        **{f"rejected_{name}": int((reasons == code).sum()) for code, name in enumerate(REASONS) if code},
        "realigned_pairs": compared.realigned,
        "left_out_pairs": len(clusters.left_out),
        "pixel_checks": compared.decoded,
        "groups": len(clusters.groups),
        "cache_hits": cache.hits if cache else 0,
    }


def group_file_info(features: Sequence[ImageFeatures], groups: Sequence[Group]) -> dict[str, FileInfo]:
    """Size, resolution and digest of every file in a group, for the report (files in no group are left out)."""
    in_groups = {path for group in groups for path in group.paths}
    return {f.path: FileInfo(f.size_bytes, f.width, f.height, f.file_digest.hex()) for f in features if f.path in in_groups}


def execution_settings(execution: ExecutionConfig) -> dict:
    return {"interpreter": gil_state(), **execution.to_json(), "native_threads_per_worker": prepare_process()}
