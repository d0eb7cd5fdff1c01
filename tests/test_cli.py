"""Every CLI command has help text and a row in the README."""

from __future__ import annotations

import argparse

import pytest

from seedbed.cli import build_parser, main
from tests.helpers import ROOT


def commands() -> list[tuple[str, argparse.ArgumentParser, str]]:
    """(full command, its parser, its one-line help) for every leaf command."""
    found = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                        walk(sub, f"{prefix} {name}")
                    else:
                        found.append((f"{prefix} {name}", sub, helps.get(name) or ""))

    walk(build_parser(), "seedbed")
    return found


COMMANDS = commands()


def test_the_cli_has_the_documented_commands() -> None:
    names = {name for name, _, _ in COMMANDS}
    assert {
        "seedbed db generate",
        "seedbed db push",
        "seedbed db migrate",
        "seedbed db check",
        "seedbed db reset",
        "seedbed validate",
        "seedbed load",
        "seedbed generate",
        "seedbed docs",
    } <= names


@pytest.mark.parametrize(("name", "parser", "summary"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_has_help_and_a_readme_row(
    name: str, parser: argparse.ArgumentParser, summary: str
) -> None:
    assert summary.strip(), f"{name} has no help text"
    assert parser.format_help().startswith("usage: ")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"| `{name}" in readme, f"{name} is missing from the README's CLI table"


def test_bare_seedbed_prints_help_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: seedbed") and "validate" in out and "db" in out


def test_version_names_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    import seedbed

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"seedbed {seedbed.__version__}"
    assert seedbed.__version__[0].isdigit()


def test_a_usage_error_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["validate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("seedbed validate: error:") and "seedbed validate --help" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "parser"), [(n, p) for n, p, _ in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_every_command_has_a_description(name: str, parser: argparse.ArgumentParser) -> None:
    assert (parser.description or "").strip(), f"{name} --help has no description"


@pytest.mark.parametrize("command", ["load", "validate"])
def test_the_help_names_every_registered_seed_format(command: str) -> None:
    from seedbed.validation.formats import known_suffixes

    parser = next(p for name, p, _ in COMMANDS if name == f"seedbed {command}")
    shown = " ".join(parser.format_help().split())
    assert [s for s in known_suffixes() if s not in shown] == []
