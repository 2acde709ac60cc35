"""A sweep is data: a TOML file expanded with itertools.product into grid cells, then into an ordered plan.

Example (experiments/smoke.toml)::

    name = "smoke"
    [dataset]
    profile = "study"
    sizes = [12]
    seed = 1
    # long_side = [3000, 4032]  # optional: image size range; the profile is then labelled "study:3000-4032"
    [grid]
    modes = ["serial", "thread", "process"]
    workers = ["cores"]        # ints, or "cores" (= the run's core count)
    cores = [1, "all"]         # ints, or "all" (= every core the harness may use)
    pairs = ["all"]
    thumb_sizes = [32]
    start_methods = ["fork"]   # used by process mode only
    pythons = ["current"]      # interpreters to run the child with: "current" (the harness's own) or paths
    [run]
    repeats = 2
    warmups = 1                # run and discarded: per cell, or per dataset with warmup_scope = "dataset"
    warmup_scope = "cell"
    timeout_s = 120
    order = "interleaved"      # or "random" or "sequential"
    order_seed = 0
    sample_interval_s = 0.1
    read_pass = true           # one untimed read of every dataset file before timing
    [[exclude]]                # cells to leave out: every key must match (a list matches any of its values)
    pairs = "all"
    images_over = 2000
"""

from __future__ import annotations

import itertools
import random
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MODES = ("serial", "thread", "process", "dask")
DEFAULT_MODES = ("serial", "thread", "process")  # dask needs the optional extra: a sweep names it explicitly
CURRENT_PYTHON = "current"
ORDERS = ("interleaved", "random", "sequential")
WARMUP_SCOPES = ("cell", "dataset")
NO_START_METHOD = "none"


# A Cell field's metadata key: the results schema that added its column. Columns added after schema 1 come
# last in a results row (in field order), so the columns of older files keep their places.
ADDED_IN_SCHEMA = "added_in_schema"


@dataclass(frozen=True)
class Cell:
    """One point of the grid: everything that defines a measured configuration.

    Its fields are the grid's columns in a results row and the summary's group keys (results.CELL_COLUMNS):
    a new axis is a new field here, marked with the schema that added it.
    """

    profile: str
    images: int
    dataset_seed: int
    mode: str
    workers: int
    cores: int
    pairs: str
    thumb_size: int
    start_method: str
    python: str = field(default=CURRENT_PYTHON, metadata={ADDED_IN_SCHEMA: 2})

    @property
    def cell_id(self) -> str:
        """Stable across versions: the interpreter appears only when it is not the harness's own."""
        interpreter = "" if self.python == CURRENT_PYTHON else f"-py:{self.python}"
        return (
            f"{self.profile}-n{self.images}-s{self.dataset_seed}-{self.mode}-w{self.workers}-c{self.cores}"
            f"-{self.pairs}-t{self.thumb_size}-{self.start_method}{interpreter}"
        )

    @property
    def oversubscribed(self) -> bool:
        return self.workers > self.cores

    def columns(self) -> dict[str, Any]:
        """The cell's values in a results row: its fields, and whether it oversubscribes its cores."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "oversubscribed": self.oversubscribed}


@dataclass(frozen=True)
class PlannedRun:
    """One child process to start: a cell, its repeat number, and whether it is a discarded warm-up."""

    cell: Cell
    repeat: int
    warmup: bool

    @property
    def run_id(self) -> str:
        return f"{self.cell.cell_id}-{'w' if self.warmup else 'r'}{self.repeat}"


@dataclass(frozen=True)
class SweepSpec:
    name: str
    description: str
    profile: str
    sizes: tuple[int, ...]
    dataset_seed: int
    modes: tuple[str, ...]
    workers: tuple[int | str, ...]
    cores: tuple[int | str, ...]
    pairs: tuple[str, ...]
    thumb_sizes: tuple[int, ...]
    start_methods: tuple[str, ...]
    pythons: tuple[str, ...] = (CURRENT_PYTHON,)
    repeats: int = 3
    warmups: int = 1
    warmup_scope: str = "cell"
    timeout_s: float = 600.0
    order: str = "interleaved"
    order_seed: int = 0
    sample_interval_s: float = 0.1
    read_pass: bool = True
    exclude: tuple[dict[str, Any], ...] = ()
    text: str = field(default="", compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("text")
        data["exclude"] = [dict(e) for e in self.exclude]
        return data


def _tuple(value: Any, name: str) -> tuple:
    if isinstance(value, list):
        return tuple(value)
    if value is None:
        raise ValueError(f"sweep: '{name}' is required")
    return (value,)


def parse_spec(text: str) -> SweepSpec:
    """Validate a sweep file's text; errors name the offending key."""
    data = tomllib.loads(text)
    dataset, grid, run = data.get("dataset", {}), data.get("grid", {}), data.get("run", {})
    profile = str(dataset.get("profile", "study"))
    if "long_side" in dataset:
        low, high = (int(v) for v in dataset["long_side"])
        profile = f"{profile}:{low}-{high}"
    unknown = set(data) - {"name", "description", "dataset", "grid", "run", "exclude"}
    if unknown:
        raise ValueError(f"sweep: unknown top-level keys {sorted(unknown)}")
    spec = SweepSpec(
        name=str(data.get("name", "sweep")),
        description=str(data.get("description", "")),
        profile=profile,
        sizes=tuple(int(n) for n in _tuple(dataset.get("sizes"), "dataset.sizes")),
        dataset_seed=int(dataset.get("seed", 0)),
        modes=_tuple(grid.get("modes", list(DEFAULT_MODES)), "grid.modes"),
        workers=_tuple(grid.get("workers", ["cores"]), "grid.workers"),
        cores=_tuple(grid.get("cores", ["all"]), "grid.cores"),
        pairs=_tuple(grid.get("pairs", ["pruned"]), "grid.pairs"),
        thumb_sizes=tuple(int(t) for t in _tuple(grid.get("thumb_sizes", [64]), "grid.thumb_sizes")),
        start_methods=_tuple(grid.get("start_methods", ["forkserver"]), "grid.start_methods"),
        pythons=tuple(str(p) for p in _tuple(grid.get("pythons", [CURRENT_PYTHON]), "grid.pythons")),
        repeats=int(run.get("repeats", 3)),
        warmups=int(run.get("warmups", 1)),
        warmup_scope=str(run.get("warmup_scope", "cell")),
        timeout_s=float(run.get("timeout_s", 600)),
        order=str(run.get("order", "interleaved")),
        order_seed=int(run.get("order_seed", 0)),
        sample_interval_s=float(run.get("sample_interval_s", 0.1)),
        read_pass=bool(run.get("read_pass", True)),
        exclude=tuple(dict(e) for e in data.get("exclude", [])),
        text=text,
    )
    _validate(spec)
    return spec


def _validate(spec: SweepSpec) -> None:
    if any(m not in MODES for m in spec.modes):
        raise ValueError(f"sweep: grid.modes must be among {MODES}, got {spec.modes}")
    if any(p not in ("all", "pruned") for p in spec.pairs):
        raise ValueError(f"sweep: grid.pairs must be 'all' or 'pruned', got {spec.pairs}")
    if any(m not in ("fork", "forkserver", "spawn") for m in spec.start_methods):
        raise ValueError(f"sweep: grid.start_methods must be fork, forkserver or spawn, got {spec.start_methods}")
    for name, values, token in (("workers", spec.workers, "cores"), ("cores", spec.cores, "all")):
        for v in values:
            if not (v == token or (isinstance(v, int) and v >= 1)):
                raise ValueError(f"sweep: grid.{name} takes integers >= 1 or {token!r}, got {v!r}")
    if spec.order not in ORDERS:
        raise ValueError(f"sweep: run.order must be one of {ORDERS}, got {spec.order!r}")
    if spec.warmup_scope not in WARMUP_SCOPES:
        raise ValueError(f"sweep: run.warmup_scope must be one of {WARMUP_SCOPES}, got {spec.warmup_scope!r}")
    if spec.repeats < 1 or spec.warmups < 0:
        raise ValueError("sweep: run.repeats must be >= 1 and run.warmups >= 0")
    if spec.timeout_s <= 0 or spec.sample_interval_s <= 0:
        raise ValueError("sweep: run.timeout_s and run.sample_interval_s must be positive")
    if any(n < 1 for n in spec.sizes):
        raise ValueError("sweep: dataset.sizes must be >= 1")


def load_spec(path: Path) -> SweepSpec:
    return parse_spec(Path(path).read_text(encoding="utf-8"))


def _excluded(cell: Cell, rules: Sequence[dict[str, Any]]) -> bool:
    def matches(key: str, want: Any) -> bool:
        if key == "images_over":
            return cell.images > int(want)
        if key == "images_under":
            return cell.images < int(want)
        have = getattr(cell, key)
        return have in want if isinstance(want, list) else have == want

    return any(rule and all(matches(k, v) for k, v in rule.items()) for rule in rules)


def expand_grid(spec: SweepSpec, available_cores: int) -> tuple[list[Cell], list[str]]:
    """The grid's cells, and notes on what was dropped (cores beyond the machine, excluded cells).

    Serial ignores workers and start method, and threads ignore the start method: those axes collapse to
    one cell instead of measuring the same configuration twice.
    """
    notes: list[str] = []
    cores: list[int] = []
    for c in spec.cores:
        resolved = available_cores if c == "all" else int(c)
        if resolved > available_cores:
            notes.append(f"cores={resolved} dropped: only {available_cores} allowed on this machine")
        elif resolved not in cores:
            cores.append(resolved)
    cells: list[Cell] = []
    excluded: list[Cell] = []
    for size, mode, workers, n_cores, pairs, thumb, method, python in itertools.product(
        spec.sizes, spec.modes, spec.workers, cores, spec.pairs, spec.thumb_sizes, spec.start_methods, spec.pythons
    ):
        resolved_workers = 1 if mode == "serial" else (n_cores if workers == "cores" else int(workers))
        cell = Cell(
            profile=spec.profile,
            images=size,
            dataset_seed=spec.dataset_seed,
            mode=mode,
            workers=resolved_workers,
            cores=n_cores,
            pairs=pairs,
            thumb_size=thumb,
            start_method=method if mode == "process" else NO_START_METHOD,
            python=python,
        )
        if cell in cells or cell in excluded:  # serial ignores workers: one cell for every worker count
            continue
        if _excluded(cell, spec.exclude):
            excluded.append(cell)
            notes.append(f"{cell.cell_id} excluded by the sweep file")
            continue
        cells.append(cell)
    return cells, notes


def plan_runs(cells: Sequence[Cell], repeats: int, warmups: int, order: str, seed: int, warmup_scope: str = "cell") -> list[PlannedRun]:
    """Order the runs so slow drift on a shared machine does not favour one configuration.

    - interleaved: round after round, every cell once per round, in a fresh shuffled order each round;
      rounds 0..warmups-1 are the warm-ups.
    - random: all runs shuffled together; each cell's first `warmups` occurrences are its warm-ups.
    - sequential: cell after cell (for debugging; drift then aliases with configuration).
    With warmup_scope "dataset", warm-ups are `warmups` runs of a randomly chosen cell per dataset, all
    first (cheaper for big grids: each child is fresh anyway, and the read pass warms the page cache).
    The same seed gives the same plan, which is what lets --resume skip runs by id.
    """
    rng = random.Random(seed)
    per_cell = warmups if warmup_scope == "cell" else 0
    total = per_cell + repeats

    def label(cell: Cell, index: int) -> PlannedRun:
        if index < per_cell:
            return PlannedRun(cell, index, True)
        return PlannedRun(cell, index - per_cell, False)

    runs: list[PlannedRun] = []
    if warmup_scope == "dataset" and warmups:
        datasets: dict[tuple[str, int, int], list[Cell]] = {}
        for cell in cells:
            datasets.setdefault((cell.profile, cell.images, cell.dataset_seed), []).append(cell)
        for group in datasets.values():
            runs.extend(PlannedRun(rng.choice(group), i, True) for i in range(warmups))
    if order == "sequential":
        return runs + [label(cell, i) for cell in cells for i in range(total)]
    if order == "interleaved":
        for i in range(total):
            round_cells = list(cells)
            rng.shuffle(round_cells)
            runs.extend(label(cell, i) for cell in round_cells)
        return runs
    if order == "random":
        slots = [cell for cell in cells for _ in range(total)]
        rng.shuffle(slots)
        seen: dict[Cell, int] = {}
        for cell in slots:
            index = seen.get(cell, 0)
            seen[cell] = index + 1
            runs.append(label(cell, index))
        return runs
    raise ValueError(f"unknown order {order!r}")


# A rough cost model, only for planning (--dry-run) and for weighting the progress bar's ETA. Constants
# measured on the 2-vCPU development machine with `dupbench run` on ~1 MP JPEGs at thumb size 64:
STARTUP_S = 0.6  # interpreter, imports and pool start of one child
LOAD_S_PER_IMAGE = 0.003  # read + decode + thumbnail + hashes, serial: fixed part ...
LOAD_S_PER_MEGAPIXEL = 0.016  # ... plus this per megapixel (0.4 MP study image: ~9 ms; 12 MP phone photo: ~0.2 s)
DEFAULT_LONG_SIDE = 720  # the middle of the datasets' default long-side range (480-960 px)
COMPARE_S_PER_PAIR = 45e-6  # batched SSIM at thumb size 64, serial (39-65 us measured)
PRUNED_PAIRS_PER_IMAGE = 20  # guess: the prefilter keeps a few neighbours per image
PARALLEL_GAIN_PER_CORE = 0.7  # each extra usable core adds ~70% of one (1.6-1.8x measured on 2 cores)


def _megapixels(profile: str) -> float:
    """Typical image size of a profile label ("study" or "study:3000-4032"), assuming 4:3 images."""
    _, _, sides = profile.partition(":")
    side = sum(int(v) for v in sides.split("-")) / 2 if sides else DEFAULT_LONG_SIDE
    return side * side * 0.75 / 1e6


def estimate_run_seconds(cell: Cell) -> float:
    """Expected wall seconds of one run of `cell` under the cost model above."""
    pairs = cell.images * (cell.images - 1) / 2 if cell.pairs == "all" else cell.images * PRUNED_PAIRS_PER_IMAGE
    work = cell.images * (LOAD_S_PER_IMAGE + LOAD_S_PER_MEGAPIXEL * _megapixels(cell.profile)) + pairs * COMPARE_S_PER_PAIR
    usable = 1 if cell.mode == "serial" else min(cell.workers, cell.cores)
    return STARTUP_S + work / (1 + PARALLEL_GAIN_PER_CORE * (usable - 1))
