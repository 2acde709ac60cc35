"""One meaning of --json across commands: a flag (no value) that puts the JSON result on stdout instead of
the human text; where a command writes its result to a file, that is --output FILE."""

from __future__ import annotations

import argparse

from dupbench.cli import build_parser


def commands_with_json() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: p for name, p in sub.choices.items() if any("--json" in a.option_strings for a in p._actions)}


def option(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    return next((a for a in parser._actions if name in a.option_strings), None)


def test_every_json_option_is_a_flag_that_prints_json_on_stdout_instead_of_the_human_text():
    found = commands_with_json()
    assert {"run", "evaluate", "gil"} <= set(found)
    for name, parser in found.items():
        flag = option(parser, "--json")
        assert flag.nargs == 0, f"{name} --json takes a value"
        assert "as JSON on stdout instead of the human text" in flag.help, name


def test_every_output_option_next_to_json_writes_the_json_to_a_file_or_stdout():
    for name, parser in commands_with_json().items():
        output = option(parser, "--output")
        if output is None:  # gil writes a folder of results (--out DIR), not one JSON file
            assert option(parser, "--out") is not None, name
            continue
        assert output.metavar == "FILE" and "'-' writes it to stdout, as --json does" in output.help, name
