"""execution/tasks.py: how stages cut their work into tasks, and go on when a worker dies."""

import os
from functools import partial

import pytest

from dupbench.config import ExecutionConfig
from dupbench.execution import make_executor
from dupbench.execution.tasks import chunk_size, map_retrying, start_surviving_crashes, weighted_chunks


def test_weighted_chunks_keep_order_and_cover_every_item():
    items = list(range(100))
    weights = [100 - i for i in items]
    chunks = weighted_chunks(items, weights, workers=2)
    assert [i for chunk in chunks for i in chunk] == items
    assert all(chunks)


def test_a_few_huge_files_among_many_small_ones_go_to_separate_tasks():
    """Cut by count, the four huge files would share the first task: one worker would decode them all."""
    weights = [50_000_000] * 4 + [100_000] * 400
    chunks = weighted_chunks(list(range(404)), weights, workers=2)
    assert [len(chunk) for chunk in chunks[:4]] == [1, 1, 1, 1]
    by_count = chunk_size(404, 2)
    assert by_count >= 4  # what a count-based cut would have put in the first task


def test_no_task_holds_more_items_than_a_count_cut_allows():
    chunks = weighted_chunks(list(range(1000)), [1.0] * 1000, workers=2)
    assert max(len(chunk) for chunk in chunks) <= chunk_size(1000, 2)
    assert weighted_chunks([], [], workers=4) == []
    assert weighted_chunks(["a"], [0.0], workers=4) == [["a"]]


def square_all_or_die(marker_dir, items):
    """Squares; an item -1 kills its worker every time, -2 only the first time (a marker file remembers)."""
    for x in items:
        if x == -1:
            os._exit(137)
        if x == -2:
            try:
                os.close(os.open(os.path.join(marker_dir, "died"), os.O_CREAT | os.O_EXCL))
                os._exit(137)
            except FileExistsError:
                pass
    return [x * x for x in items]


@pytest.mark.parametrize("mode", ["serial", "thread", "process"])
def test_started_tasks_give_their_results_in_order_while_other_work_shares_the_pool(mode):
    with make_executor(ExecutionConfig(mode=mode, workers=2, start_method="fork")) as executor:
        finish = start_surviving_crashes(executor, partial(square_all_or_die, ""), [[1, 2], [3], [4, 5, 6]], on_crash=lambda item: None)
        other = list(map_retrying(executor, partial(square_all_or_die, ""), [[7], [8]]))
        assert finish() == [1, 4, 9, 16, 25, 36]
    assert other == [[49], [64]]


def test_started_tasks_survive_a_worker_that_dies_while_another_stage_runs(tmp_path):
    """The pool breaks under tasks started early while a later stage maps its own: that stage recovers the
    pool (cancelling the started tasks), and the started tasks are run again; the item that kills its
    worker every time is pinned and gets its `on_crash` value, the one that killed it once its result."""
    task = partial(square_all_or_die, str(tmp_path))
    with make_executor(ExecutionConfig(mode="process", workers=2, start_method="fork")) as executor:
        finish = start_surviving_crashes(executor, task, [[1, 2], [3, -2], [4, -1, 5], [6]], on_crash=lambda item: "lost")
        other = list(map_retrying(executor, task, [[7], [8], [9]]))
        assert finish() == [1, 4, 9, 4, 16, "lost", 25, 36]
    assert other == [[49], [64], [81]]
    assert (tmp_path / "died").exists()
