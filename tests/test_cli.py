"""The command line imports only the module of the command it runs, and says when a command cannot run."""

import subprocess
import sys

import pytest

from dupbench import cli


def test_run_does_not_import_the_report_stack():
    code = ("import sys; from dupbench.cli import build_parser; build_parser(['run', '.']); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'dupbench.report.render') if m in sys.modules))")
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
