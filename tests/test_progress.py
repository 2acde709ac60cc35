"""Progress bars: on stderr only for a terminal, with integer counts."""

from __future__ import annotations

import io
import sys

from dupbench.progress import progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_counts_are_integers(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar("load", 60, True, unit="img") as bar:
        bar.update(40)
        bar.refresh()
    text = terminal.getvalue()
    assert "40/60" in text and "40.0" not in text


def test_no_bar_without_a_terminal(monkeypatch):
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    with progress_bar("load", 60, True, unit="img") as bar:
        bar.update(40)
    assert quiet.getvalue() == ""


def test_a_run_nobody_watches_does_not_import_tqdm(tmp_path):
    """tqdm's import is a share of a short run's start-up; without a terminal no bar is drawn, so none is built."""
    import subprocess

    code = "import sys; from dupbench.progress import progress_bar; b = progress_bar('load', 3, True); b.update(1); print('tqdm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    assert done.stdout.strip() == "False"
