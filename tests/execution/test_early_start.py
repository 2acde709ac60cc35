"""Which command lines start the process pool's forkserver before their own imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dupbench.execution.early_start import option_value, wants_forkserver_pool


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run"], True),
        (["run", "photos", "--mode", "process"], True),
        (["run", "--mode=process", "--start-method=forkserver"], True),
        (["run", "--mode", "thread"], False),
        (["run", "--mode=serial"], False),
        (["run", "--mode", "dask"], False),
        (["run", "--start-method", "spawn"], False),
        (["run", "--mode", "thread", "--mode", "process"], True),  # the last one counts, as for argparse
        (["review", "report.json"], False),
        ([], False),
    ],
)
def test_only_a_run_with_a_forkserver_pool_starts_it_early(argv, expected):
    assert wants_forkserver_pool(argv) is expected


def test_an_option_without_a_value_keeps_the_default():
    assert option_value(["run", "--mode"], "--mode", "process") == "process"


def test_the_early_start_imports_nothing_heavy():
    code = "import sys, dupbench.execution.early_start; print('numpy' in sys.modules, 'cv2' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["False", "False"]
