"""Every resource a setting controls is bounded, with the reason in the error."""

from __future__ import annotations

import pytest

from dupbench.config import MAX_THUMB_SIZE, DetectorConfig, ExecutionConfig, available_cpus, worker_cap


@pytest.mark.parametrize("size", [8, MAX_THUMB_SIZE + 1, 100_000])
def test_thumb_size_is_bounded_and_the_error_says_why(size):
    with pytest.raises(ValueError, match=r"between 16 and 256.*n x size\^2"):
        DetectorConfig(thumb_size=size)


def test_thumb_size_at_the_bounds_is_accepted():
    assert DetectorConfig(thumb_size=16).thumb_size == 16
    assert DetectorConfig(thumb_size=MAX_THUMB_SIZE).thumb_size == MAX_THUMB_SIZE


def test_max_file_size_must_be_positive():
    with pytest.raises(ValueError, match="max file size"):
        DetectorConfig(max_file_size=0)


@pytest.mark.parametrize("mode", ["thread", "process", "dask"])
def test_workers_are_capped_with_a_note(mode):
    execution = ExecutionConfig(mode=mode, workers=10_000)
    assert execution.resolved_workers == worker_cap() >= 8 * available_cpus()
    assert "capped at" in execution.capped_note
    assert ExecutionConfig(mode=mode, workers=2).capped_note is None
    assert ExecutionConfig(mode=mode, workers=2).resolved_workers == 2
