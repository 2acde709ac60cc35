"""dupbench: exact and near-duplicate image detection, run serial, in threads or in processes.

    import dupbench
    report = dupbench.find_duplicates(["~/Pictures"], threshold=0.8)

The API's names are imported on first use, so `import dupbench` (and the CLI's start-up) loads no
image library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["DetectorConfig", "DuplicateReport", "ExecutionConfig", "FileInfo", "Group", "Member", "Skipped", "find_duplicates", "__version__"]

_HOMES = {
    "find_duplicates": "dupbench.api",
    "DuplicateReport": "dupbench.result",
    "Group": "dupbench.result",
    "Member": "dupbench.result",
    "FileInfo": "dupbench.result",
    "Skipped": "dupbench.result",
    "DetectorConfig": "dupbench.config",
    "ExecutionConfig": "dupbench.config",
}

if TYPE_CHECKING:
    from dupbench.api import find_duplicates
    from dupbench.config import DetectorConfig, ExecutionConfig
    from dupbench.result import DuplicateReport, FileInfo, Group, Member, Skipped


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'dupbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
