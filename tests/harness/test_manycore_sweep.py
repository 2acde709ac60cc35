"""experiments/manycore.toml is valid here (2 cores) and on a many-core machine, and its serial cells stay few."""

from __future__ import annotations

from pathlib import Path

import pytest

from dupbench.harness.spec import expand_grid, load_spec, plan_runs

MANYCORE = Path(__file__).resolve().parents[2] / "experiments" / "manycore.toml"


def test_manycore_sweep_expands_on_this_two_core_machine():
    spec = load_spec(MANYCORE)
    cells, notes = expand_grid(spec, available_cores=2)
    assert spec.name == "manycore" and {c.cores for c in cells} == {1, 2}
    assert all(c.workers == c.cores for c in cells if c.mode != "serial")  # one worker per core
    assert any("cores=64 dropped" in note for note in notes)
    assert plan_runs(cells, spec.repeats, spec.warmups, spec.order, spec.order_seed, spec.warmup_scope)


@pytest.mark.parametrize("machine", [64, 128])
def test_manycore_sweep_covers_every_core_count_on_a_big_machine(machine):
    spec = load_spec(MANYCORE)
    cells, _ = expand_grid(spec, available_cores=machine)
    parallel = {c.cores for c in cells if c.mode != "serial"}
    assert parallel == {1, 2, 4, 8, 16, 32, 64, machine}
    assert {c.cores for c in cells if c.mode == "serial"} == {1, 2, machine} - ({64} if machine == 64 else set())
    assert spec.repeats >= 7  # a 95% interval for a ratio of two medians needs 7 runs a side (harness/stats.py)


def test_manycore_sweep_says_what_it_is_for_and_how_long_it_takes():
    head = MANYCORE.read_text(encoding="utf-8").split("name =")[0]
    assert "many-core" in head and "How long" in head and "--dry-run" in head
