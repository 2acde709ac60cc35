from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dupbench.harness.spec import expand_grid, load_spec, parse_spec, plan_runs

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

BASE = """
name = "t"
[dataset]
sizes = [10, 20]
seed = 3
[grid]
modes = ["serial", "thread", "process"]
workers = [1, 2, "cores"]
cores = [1, "all", 8]
pairs = ["all"]
thumb_sizes = [32]
start_methods = ["fork", "spawn"]
[run]
repeats = 2
warmups = 1
"""


def test_grid_collapses_axes_a_mode_ignores_and_drops_missing_cores():
    spec = parse_spec(BASE)
    cells, notes = expand_grid(spec, available_cores=2)
    assert any("cores=8 dropped" in n for n in notes)
    serial = [c for c in cells if c.mode == "serial"]
    assert {(c.workers, c.cores, c.start_method) for c in serial} == {(1, 1, "none"), (1, 2, "none")}
    threads = [c for c in cells if c.mode == "thread" and c.images == 10]
    assert {(c.workers, c.cores) for c in threads} == {(1, 1), (2, 1), (1, 2), (2, 2)}
    assert all(c.start_method == "none" for c in threads)
    process = [c for c in cells if c.mode == "process" and c.images == 10]
    assert {c.start_method for c in process} == {"fork", "spawn"}
    assert len(cells) == len(set(cells))
    assert any(c.oversubscribed for c in cells)


def test_exclude_rules_match_every_key():
    spec = parse_spec(BASE + '\n[[exclude]]\nmode = ["process", "serial"]\nimages_over = 15\n[[exclude]]\nmode = ["thread"]\ncores = 1\n')
    cells, notes = expand_grid(spec, available_cores=2)
    assert not [c for c in cells if c.mode == "serial" and c.images > 15]
    assert len(notes) == len(set(notes)), "each excluded cell is named once (serial ignores the worker counts)"
    assert not [c for c in cells if c.mode == "process" and c.images > 15]
    assert [c for c in cells if c.mode == "process" and c.images == 10]
    assert not [c for c in cells if c.mode == "thread" and c.cores == 1]


@pytest.mark.parametrize(
    "bad",
    [
        'modes = ["gpu"]',
        "workers = [0]",
        'cores = ["some"]',
        'pairs = ["half"]',
        'start_methods = ["vfork"]',
    ],
)
def test_invalid_values_are_rejected(bad):
    key = bad.split(" = ")[0]
    text = "\n".join(line for line in BASE.splitlines() if not line.startswith(f"{key} ="))
    text = text.replace("[grid]", f"[grid]\n{bad}")
    with pytest.raises(ValueError, match=key):
        parse_spec(text)


def test_interleaved_plan_runs_every_cell_once_per_round_warmups_first():
    cells, _ = expand_grid(parse_spec(BASE), available_cores=2)
    plan = plan_runs(cells, repeats=2, warmups=1, order="interleaved", seed=0)
    assert len(plan) == 3 * len(cells)
    rounds = [plan[i * len(cells) : (i + 1) * len(cells)] for i in range(3)]
    for r in rounds:
        assert {run.cell for run in r} == set(cells)
    assert all(run.warmup for run in rounds[0]) and not any(run.warmup for run in rounds[1] + rounds[2])
    assert [run.cell for run in rounds[1]] != [run.cell for run in rounds[2]]  # reshuffled each round
    assert plan == plan_runs(cells, 2, 1, "interleaved", 0)  # same seed, same plan: what --resume relies on
    assert len({run.run_id for run in plan}) == len(plan)


def test_random_plan_puts_each_cells_warmups_before_its_repeats():
    cells, _ = expand_grid(parse_spec(BASE), available_cores=2)
    plan = plan_runs(cells, repeats=2, warmups=1, order="random", seed=1)
    assert Counter(run.cell for run in plan) == {cell: 3 for cell in cells}
    for cell in cells:
        kinds = [run.warmup for run in plan if run.cell == cell]
        assert kinds == [True, False, False]


@pytest.mark.parametrize("name", ["smoke", "seed_study", "scaling"])
def test_committed_experiments_parse(name):
    spec = load_spec(EXPERIMENTS / f"{name}.toml")
    cells, _ = expand_grid(spec, available_cores=2)
    assert spec.name == name and cells


def test_long_side_labels_the_profile():
    spec = parse_spec(BASE.replace("sizes = [10, 20]", "sizes = [10, 20]\nlong_side = [3000, 4032]"))
    cells, _ = expand_grid(spec, available_cores=2)
    assert {c.profile for c in cells} == {"study:3000-4032"}
    assert ":" not in cells[0].cell_id or cells[0].cell_id.startswith("study:3000-4032")


def test_pythons_default_to_the_harness_interpreter_and_keep_cell_ids_stable():
    spec = parse_spec(BASE)
    cells, _ = expand_grid(spec, available_cores=2)
    assert spec.pythons == ("current",) and {c.python for c in cells} == {"current"}
    assert all("-py:" not in c.cell_id for c in cells)


def test_each_python_is_a_grid_dimension_named_in_the_cell_id():
    spec = parse_spec(BASE.replace("[run]", 'pythons = ["current", "/opt/py313t/bin/python"]\n[run]'))
    cells, _ = expand_grid(spec, available_cores=2)
    plain, other = ([c for c in cells if c.python == p] for p in spec.pythons)
    assert len(plain) == len(other) > 0
    assert all(c.cell_id.endswith("-py:/opt/py313t/bin/python") for c in other)
