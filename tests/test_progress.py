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
