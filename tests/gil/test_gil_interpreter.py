"""Every result records which interpreter ran it and whether its GIL was really on."""

from __future__ import annotations

import platform
import sys
import sysconfig
from dataclasses import replace

from dupbench.gil.interpreter import (
    gil_enabled,
    gil_warning,
    interpreter_info,
    interpreter_record,
    machine_info,
    machine_slug,
)


def test_record_is_complete_and_matches_this_interpreter() -> None:
    record = interpreter_record()
    for key in (
        "executable",
        "version",
        "implementation",
        "build_free_threaded",
        "py_gil_disabled_config",
        "gil_enabled",
        "python_gil_env",
        "cv2_available",
        "short_name",
        "libraries",
    ):
        assert key in record, key
    assert record["version"] == platform.python_version()
    assert record["implementation"] == platform.python_implementation()
    assert record["build_free_threaded"] == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    expected_gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    assert record["gil_enabled"] is expected_gil is gil_enabled()
    assert record["libraries"]["numpy"]


def test_warning_only_for_free_threaded_build_with_gil_on() -> None:
    info = interpreter_info()
    assert gil_warning(replace(info, build_free_threaded=False, gil_enabled=True), "now") is None
    assert gil_warning(replace(info, build_free_threaded=True, gil_enabled=False), "now") is None
    message = gil_warning(replace(info, build_free_threaded=True, gil_enabled=True), "after imports")
    assert message is not None and "ENABLED after imports" in message and "PYTHON_GIL=0" in message


def test_short_name_marks_free_threaded_builds() -> None:
    info = interpreter_info()
    assert replace(info, build_free_threaded=True, gil_enabled=False).short_name.endswith("t (GIL off)")
    assert replace(info, build_free_threaded=False, gil_enabled=True).short_name.endswith("(GIL on)")


def test_machine_slug_is_a_safe_directory_name() -> None:
    slug = machine_slug({"cpu_model": "AMD EPYC 7B13 (64-Core)", "usable_cpus": 2})
    assert slug == "amd-epyc-7b13-64-core-2cpu"
    assert machine_info()["usable_cpus"] >= 1
