"""execution/tasks.py: how stages cut their work into tasks."""

from dupbench.execution.tasks import chunk_size, weighted_chunks


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
