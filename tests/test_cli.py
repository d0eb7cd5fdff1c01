"""Every CLI command has help text and a row in the README."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seedbed.cli import build_parser, main
from tests.helpers import ROOT, modules_after


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


def _summaries(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(choice.dest, choice.help) for choice in action._choices_actions]


@pytest.mark.parametrize("argv", [[], ["--help"], ["-q", "validate", "x.csv"], ["load", "-h"]])
def test_the_parser_for_some_arguments_lists_every_command_as_the_full_one_does(
    argv: list[str],
) -> None:
    assert _summaries(build_parser(argv)) == _summaries(build_parser())


def test_help_imports_no_command_and_no_database_library(tmp_path: Path) -> None:
    code = "from seedbed.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    loaded = modules_after(code, cwd=tmp_path)
    commands = {"seedbed.cli.data", "seedbed.cli.db", "seedbed.cli.docs", "seedbed.cli.validate"}
    assert not loaded & {*commands, "sqlalchemy", "psycopg", "pandas", "importlib.metadata"}


def test_validating_a_file_imports_neither_the_driver_nor_other_commands(tmp_path: Path) -> None:
    seed = tmp_path / "tag.csv"
    seed.write_text("id,name\n2b6c9a38-4f43-4b5e-8a49-0d3c9f0e6d1a,sql\n", encoding="utf-8")
    code = f"from seedbed.cli import main\nassert main(['-q', 'validate', {str(seed)!r}]) == 0"
    loaded = modules_after(code, cwd=tmp_path)
    assert "seedbed.validation.validator" in loaded
    assert not loaded & {"psycopg", "seedbed.cli.db", "seedbed.cli.docs", "seedbed.docs"}


USERS = (
    "id,email,name,email_verified,image,created_at\n"
    "d0d4808f-f4e5-4b75-8b20-10d8edefc2f2,a@example.com,A,true,,2024-08-20 11:47:03Z\n"
    "52bfb6b7-f58c-46a0-bf43-3d5eca44fde3,b@example.com,B,false,https://example.com/b.png,"
    "2024-04-08 11:19:53.805257Z\n"
)


@pytest.mark.parametrize(("email", "code"), [("b@example.com", 0), ("not-an-email", 1)])
def test_a_valid_file_is_checked_without_pandera_and_an_invalid_one_with_it(
    tmp_path: Path, email: str, code: int
) -> None:
    seed = tmp_path / "user.csv"
    seed.write_text(USERS.replace("b@example.com", email), encoding="utf-8")
    run = f"from seedbed.cli import main\nassert main(['-q', 'validate', {str(seed)!r}]) == {code}"
    loaded = modules_after(run, cwd=tmp_path)
    assert "seedbed.validation.rowchecks" in loaded
    assert ("pandera" in loaded) is (code == 1)  # the report of a failing chunk uses Pandera
    assert ("pandas" in loaded) is (code == 1)


def _csv(rows: list[list[str]], sep: str = ",", end: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator=end).writerows(rows)
    return out.getvalue()


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _unusual_seeds(folder: Path) -> None:
    """The shipped seeds (every column kind the model has), written to take the reader's
    and the typing's less common roads: a TSV with left-out defaulted columns, ``t``/``f``,
    text that is not ASCII and a quoted newline; CRLF line endings with IPv6 addresses and
    more timestamp layouts than are read from the bytes; a gzipped file and part files."""
    seeds = ROOT / "data" / "seeds"
    user = _read(seeds / "user.csv")
    keep = [i for i, name in enumerate(user[0]) if name not in ("created_at", "updated_at")]
    user = [[row[i] for i in keep] for row in user]
    flag, name = user[0].index("email_verified"), user[0].index("name")
    for row in user[1:]:
        row[flag] = row[flag][0]
    user[1][name], user[2][name] = "Zoë Ångström\nline two", "名前"
    (folder / "user.tsv").write_text(_csv(user, sep="\t"), encoding="utf-8")
    session = _read(seeds / "session.csv")
    ip, stamps = session[0].index("ip_address"), ("expires_at", "created_at")
    layouts = ["{} {}Z", "{}T{}Z", "{} {}.5Z", "{} {}+00", "{} {}+00:00", "{}T{}.12-0000"]
    for i, row in enumerate(session[1:]):
        row[ip] = f"2001:db8::{i + 1:x}" if i % 2 else "fe80::1/64"
        for column in stamps:
            at = session[0].index(column)
            row[at] = layouts[i % len(layouts)].format(row[at][:10], row[at][11:19])
    (folder / "session.csv").write_text(_csv(session, end="\r\n"), encoding="utf-8")
    (folder / "post.csv.gz").write_bytes(gzip.compress((seeds / "post.csv").read_bytes()))
    tag = _read(seeds / "tag.csv")
    (folder / "tag").mkdir()
    (folder / "tag" / "part-0000.csv").write_text(_csv(tag[:3]), encoding="utf-8")
    (folder / "tag" / "part-0001.csv").write_text(_csv(tag[:1] + tag[3:]), encoding="utf-8")
    for table in ("account", "verification", "post_tag"):
        shutil.copy(seeds / f"{table}.csv", folder / f"{table}.csv")


@pytest.mark.parametrize("seeds", ["shipped", "unusual"])
def test_a_valid_seed_folder_is_checked_without_pandas(tmp_path: Path, seeds: str) -> None:
    folder = ROOT / "data" / "seeds"
    if seeds == "unusual":
        folder = tmp_path / "seeds"
        folder.mkdir()
        _unusual_seeds(folder)
    output = ["--json"] if seeds == "shipped" else []  # [] printed, with no frame built
    command = ["-q", "validate", *output, str(folder)]
    run = f"from seedbed.cli import main\nassert main({command!r}) == 0"
    loaded = modules_after(run, cwd=tmp_path)
    assert {"seedbed.validation.rowchecks", "polars", "pyarrow"} <= loaded
    assert "pandas" not in loaded  # pyarrow imports it for any value it converts


def test_a_failing_seed_folder_on_those_roads_is_reported_as_before(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    folder.mkdir()
    _unusual_seeds(folder)
    session = (folder / "session.csv").read_text(encoding="utf-8")
    session = session.replace("fe80::1/64", "fe80::1/129", 1).replace("+00:00", "+16:00", 1)
    (folder / "session.csv").write_text(session, encoding="utf-8")
    user = (folder / "user.tsv").read_text(encoding="utf-8")
    (folder / "user.tsv").write_text(user.replace("\tt\t", "\tyes\t", 1), encoding="utf-8")
    failures = tmp_path / "failures.csv"
    assert main(["-q", "validate", str(folder), "--failures", str(failures)]) == 1
    found = [row[2:6] for row in _read(failures)[1:]]
    assert found == [
        ["2", "ip_address", "type", "fe80::1/129"],
        ["6", "expires_at", "type", "2024-04-14 17:14:15+16:00"],
        ["2", "email_verified", "type", "yes"],
    ]


def test_the_seedbed_process_returns_freed_memory_but_keeps_settings_given(monkeypatch):
    from seedbed import cli

    monkeypatch.delenv("_RJEM_MALLOC_CONF", raising=False)
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    cli.lean_allocators()
    assert os.environ["_RJEM_MALLOC_CONF"] == cli.LEAN_ALLOCATORS["_RJEM_MALLOC_CONF"]
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250"


def test_the_seedbed_process_runs_without_the_cycle_collector_and_importers_keep_it(tmp_path):
    probe = (
        "import atexit, gc, sys\n"
        "import seedbed, seedbed.cli\n"
        "print('imported', gc.isenabled(), flush=True)\n"
        "atexit.register(lambda: print('command', gc.isenabled(), flush=True))\n"
        "sys.argv = ['seedbed', '--version']\n"
        "seedbed.cli.run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "imported True"  # a notebook that imports seedbed keeps its collector
    assert lines[-1] == "command False"
