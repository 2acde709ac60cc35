import subprocess
import sys

import pytest

from dupbench.config import ExecutionConfig
from dupbench.execution.tasks import chunk_size


@pytest.mark.parametrize("bad", [0, -1])
def test_workers_must_be_positive(bad):
    with pytest.raises(ValueError):
        ExecutionConfig(mode="thread", workers=bad)


def test_chunk_size_gives_several_tasks_per_worker():
    assert chunk_size(10, 4) == 1
    assert chunk_size(10_000, 2) == 32
    assert 1 <= chunk_size(200, 2) <= 200 // 16


HEAP_PROBE = """
import resource, sys
import numpy as np
from dupbench.execution.native import keep_freed_heap
kept = keep_freed_heap() if sys.argv[1] == "kept" else None
keep = np.ones(1000)  # a live block above the temporaries, as in a real run
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):  # one row of pairs: several ~170 KB SSIM temporaries alive, then all freed
    temporaries = [np.ones((64, 26, 26), np.float32) for _ in range(4)]
    del temporaries
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_heap_stops_temporaries_from_faulting_in_again():
    """Page faults are counted by the kernel, not timed: without the setting every ~170 KB temporary
    is mmapped afresh and faults its ~43 pages in; with it, freed blocks are reused."""

    def faults(arg: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", HEAP_PROBE, arg], capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    kept, with_setting = faults("kept")
    _, without = faults("default")
    assert kept == "True"
    assert with_setting < 1_000 < 10_000 < without  # measured: ~150 vs ~27,000
