"""The Python API: `dupbench.find_duplicates(paths, ...)`, what `dupbench run` does without the printing.

Keyword arguments name the common settings, as `dupbench run`'s options do, and are mapped onto
DetectorConfig (what is computed) and ExecutionConfig (how it runs); `detector=` and `execution=` take
whole configs for the rest. Nothing is moved or deleted: acting on the report is the CLI's job
(`dupbench apply`, `run --action`), where every safety check lives.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

from dupbench.config import DetectorConfig, ExecutionConfig, Mode
from dupbench.result import DuplicateReport

PathLike = str | os.PathLike[str]


def find_duplicates(
    paths: PathLike | Iterable[PathLike],
    *,
    threshold: float | None = None,
    mode: Mode = "serial",
    workers: int | None = None,
    orientations: int | None = None,
    extensions: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    min_size: int = 0,
    max_size: int | None = None,
    follow_symlinks: bool = False,
    keep: str | None = None,
    cache: bool | PathLike = False,
    progress: bool = False,
    detector: DetectorConfig | None = None,
    execution: ExecutionConfig | None = None,
) -> DuplicateReport:
    """Exact and near-duplicate groups among the images under `paths` (folders or files).

    threshold: SSIM at or above which two images are near duplicates (default 0.75).
    mode, workers: "serial", "thread", "process" or "dask", and the pool size (default: usable CPUs).
        "serial" is the default here (the CLI's is "process"): a pool of processes started from a
        script needs the script's work under `if __name__ == "__main__":`.
    orientations: 1 compares images as stored, 4 also turned by 90/180/270 degrees, 8 also mirrored.
    extensions, exclude, min_size, max_size, follow_symlinks: which files are looked at, as `dupbench run`'s
        --extensions (e.g. {".jpg", ".png"}), --exclude GLOB, --min-size, --max-size (bytes), --follow-symlinks.
    keep: which copy of a group is its keeper instead of the highest-resolution one: "largest",
        "oldest", "newest" or "path-prefix=DIR" (as --keep).
    cache: True for the CLI's feature cache, a path for another, False (the default) for none.
    progress: progress bars on stderr.
    detector, execution: whole configs; the keyword arguments given override their fields.

    Raises ValueError for a bad setting and FileNotFoundError for a path that does not exist; files
    that cannot be read or decoded are not errors but `report.skipped`, each with its reason.
    """
    roots = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    missing = [root for root in roots if not Path(root).exists()]
    if missing:
        raise FileNotFoundError(f"no such file or directory: {', '.join(missing)}")
    config = detector_config(detector or DetectorConfig(), threshold, orientations, extensions, tuple(exclude), min_size, max_size, follow_symlinks)
    base = execution or ExecutionConfig()
    runner = dataclasses.replace(base, mode=mode, workers=base.workers if workers is None else workers)
    return _run(roots, config, runner, keep, cache, progress)


def detector_config(
    base: DetectorConfig,
    threshold: float | None,
    orientations: int | None,
    extensions: Iterable[str] | None,
    exclude: tuple[str, ...],
    min_size: int,
    max_size: int | None,
    follow_symlinks: bool,
) -> DetectorConfig:
    """`base` with the given keyword settings in force (None and the empty defaults leave a field as it is)."""
    return dataclasses.replace(
        base,
        threshold=base.threshold if threshold is None else threshold,
        orientations=base.orientations if orientations is None else orientations,
        extensions=base.extensions if extensions is None else frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions),
        exclude=exclude or base.exclude,
        min_size=min_size or base.min_size,
        max_size=base.max_size if max_size is None else max_size,
        follow_symlinks=follow_symlinks or base.follow_symlinks,
    )


def _run(roots: list[str], config: DetectorConfig, execution: ExecutionConfig, keep: str | None, cache: bool | PathLike, progress: bool) -> DuplicateReport:
    from dupbench.actions.keep import check_keep_rule, rekey_groups
    from dupbench.detector.cache import FeatureCache, default_cache_path
    from dupbench.detector.pipeline import cache_settings_key
    from dupbench.detector.pipeline import find_duplicates as run_pipeline

    if keep is not None:
        check_keep_rule(keep)
    with ExitStack() as stack:
        store = None
        if cache is not False:
            where = default_cache_path() if cache is True else Path(os.fspath(cache))
            store = stack.enter_context(FeatureCache(where, cache_settings_key(config)))
        report = run_pipeline(roots, config, execution, show_progress=progress, cache=store)
    if keep is not None:
        report.groups = rekey_groups(report.groups, keep)
    return report
