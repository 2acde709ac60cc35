import pandas as pd

from dupbench.report.data import with_interpreter_labels


def test_runs_are_labelled_with_the_interpreter_that_ran_them():
    meta = {
        "python": {"implementation": "CPython", "version": "3.11.2", "py_gil_disabled_build": False},
        "pythons": {"/ft/bin/python": {"implementation": "CPython", "version": "3.13.5", "free_threaded_build": True, "gil_enabled": False}},
    }
    frame = pd.DataFrame({"python": ["current", "/ft/bin/python", "/gone/python"]})
    labels = with_interpreter_labels(frame, meta)["interpreter"].tolist()
    assert labels == ["CPython 3.11.2", "CPython 3.13.5t (GIL off)", "unknown interpreter /gone/python"]
