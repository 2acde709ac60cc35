"""The command line imports only the module of the command it runs, and says when a command cannot run."""

import io
import subprocess
import sys

import pytest

from dupbench import cli
from dupbench.cli import main


def test_run_does_not_import_the_report_stack():
    code = (
        "import sys; from dupbench.cli import build_parser; build_parser(['run', '.']); "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'dupbench.report.render') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_still_lists_every_command():
    choices = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    assert set(cli.SUBCOMMANDS) <= set(choices)


def test_a_command_whose_module_cannot_be_imported_says_so(monkeypatch, capsys):
    monkeypatch.setitem(cli.SUBCOMMANDS, "report", "dupbench._no_such_module")
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser(["report", "x.csv"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "not available on this interpreter" in capsys.readouterr().err


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dupbench {version('dupbench')}"


def help_text(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "review", "apply"])
def test_help_gives_examples_or_exit_status_and_each_default_once(command, capsys):
    import re

    text = help_text([command], capsys)
    assert "exit status: 0" in text
    options = text.split("options:")[1].split("\n\n")[0]
    # one option's help is its line plus its indented continuation lines
    for entry in re.split(r"\n(?=  -)", options):
        assert entry.count("default") <= 1, entry
        assert "(default: None)" not in entry and "(default: False)" not in entry
    if command in ("run", "apply"):
        assert "examples:\n  dupbench " + command in text


def test_top_level_help_lists_exit_status(capsys):
    assert "130 interrupted" in help_text([], capsys)


def test_a_reader_that_leaves_the_pipe_early_is_not_a_traceback(monkeypatch, capsys):
    """`dupbench ... | head`: once the reader is gone, writing raises BrokenPipeError; exit quietly with 141."""

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["dataset", "profiles"]) == 141
    assert "Traceback" not in capsys.readouterr().err
