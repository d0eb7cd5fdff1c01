"""One error boundary: odd inputs get one line and the documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.errors import (
    DatabaseError,
    QueryError,
    SeedbedError,
    SeedError,
    map_errors,
    reason,
)
from tests.helpers import ROOT, run_cli

INPUTS = ROOT / "data" / "invalid" / "inputs"
SEEDS = ROOT / "data" / "seeds"

#: case -> exit code, words the message must hold (the last line of stderr)
INPUT_CASES = {
    "cr_line_endings": (1, "nothing was loaded"),
    "csv_named_parquet": (2, "cannot read as Parquet"),
    "folder_named_like_seed": (2, "no part files"),
    "long_header_field": (1, "nothing was loaded"),
    "truncated_parquet": (2, "cannot read as Parquet"),
    "unknown_table": (2, "no table named 'users'"),
}


def assert_one_line(done: subprocess.CompletedProcess[str], code: int) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seedbed"), done.stderr
    assert ": error: " in lines[0]


def env_for(settings: Settings, db_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema, **extra}
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


# -- the helpers, without a server ------------------------------------------------------


def test_reason_is_the_first_line_or_the_os_reason() -> None:
    assert reason(FileNotFoundError(2, "No such file or directory", "x.csv")) == (
        "No such file or directory"
    )
    assert reason(ValueError("first\nsecond")) == "first"
    assert reason(ValueError("")) == "ValueError"


def test_map_errors_maps_the_first_matching_kind_and_keeps_the_cause() -> None:
    mapping = {FileNotFoundError: SeedError, OSError: DatabaseError}
    mapped = map_errors(mapping, "cannot read x")
    with pytest.raises(SeedError, match=r"^cannot read x: gone$") as caught, mapped:
        raise FileNotFoundError(2, "gone")
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    with pytest.raises(DatabaseError, match=r"^denied$"), map_errors(mapping):
        raise PermissionError(13, "denied")
    with pytest.raises(KeyError), map_errors(mapping, "x"):  # not mapped: unchanged
        raise KeyError("k")
    with pytest.raises(QueryError, match=r"^mine$"), map_errors(mapping, "x"):
        raise QueryError("mine")  # already a seedbed error


# -- the CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(INPUT_CASES))
def test_validate_gives_one_line_for_each_unusual_input(case: str) -> None:
    code, words = INPUT_CASES[case]
    done = run_cli("validate", str(INPUTS / case))
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    if code == 2:
        assert_one_line(done, 2)
        assert words in done.stderr


def test_every_unusual_input_is_listed() -> None:
    assert {p.name for p in INPUTS.iterdir()} == set(INPUT_CASES)
    readme = (INPUTS.parent / "README.md").read_text(encoding="utf-8")
    assert all(f"| {case} |" in readme for case in INPUT_CASES)


@pytest.mark.parametrize("case", ["cr_line_endings", "folder_named_like_seed", "truncated_parquet"])
def test_load_gives_one_line_for_each_unusual_input(
    case: str, settings: Settings, db_env: dict[str, str]
) -> None:
    code, words = INPUT_CASES[case]
    done = run_cli("load", "--quiet", str(INPUTS / case), env=env_for(settings, db_env))
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("seedbed: error: ") and words in last
    if code == 2:
        assert_one_line(done, 2)


@pytest.mark.parametrize(
    ("target", "words"),
    [("missing.csv", "No such file or directory"), ("user.csv", "Too many levels")],
    ids=["dangling", "looping"],
)
def test_a_broken_link_named_like_a_seed_is_one_line(
    tmp_path: Path, target: str, words: str
) -> None:
    (tmp_path / "user.csv").symlink_to(target)
    done = run_cli("validate", str(tmp_path))
    assert_one_line(done, 2)
    assert words in done.stderr


def test_a_fifo_named_like_a_seed_is_refused_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "user.csv")  # reading it would wait forever
    assert_one_line(run_cli("validate", str(tmp_path)), 2)
    done = run_cli("validate", str(tmp_path / "user.csv"))
    assert_one_line(done, 2)
    assert "not a regular file" in done.stderr


def test_an_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("validate", str(tmp_path))
    assert_one_line(done, 2)
    assert "no seed files in this folder" in done.stderr


def test_a_folder_name_that_is_not_utf8_is_printed_escaped(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/n\xe9"))
    folder.mkdir()
    bad = (ROOT / "data" / "invalid" / "bad_email" / "user.csv").read_bytes()
    (folder / "user.csv").write_bytes(bad)
    done = run_cli("validate", "--json", str(folder))
    assert done.returncode == 1, done.stderr
    assert "n\\\\xe9" in done.stdout  # JSON-escaped backslash
    assert done.stderr == ""


def test_generate_into_a_file_or_with_a_negative_count(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    done = run_cli("generate", str(afile), "--users", "3")
    assert_one_line(done, 2)
    assert "is a file" in done.stderr
    done = run_cli("generate", str(tmp_path / "out"), "--users", "-3")
    assert_one_line(done, 2)
    assert not (tmp_path / "out").exists()


def test_validate_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    lines = ["id,email", *(f"8b4ae5f1-a941-46a0-956a-{i:012d},bad{i}" for i in range(3000))]
    (tmp_path / "user.csv").write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "seedbed", "validate", "--json", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().strip() == b"["  # like `| head -1`
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 141
    assert stderr == ""


def test_the_console_script_flushes_its_output_and_lets_go_of_the_server(
    tmp_path: Path, settings: Settings, db_env: dict[str, str]
) -> None:
    """The quick exit (``seedbed.cli.run``) keeps output, exit code and the server handle right."""
    lines = ["id,email", *(f"8b4ae5f1-a941-46a0-956a-{i:012d},bad{i}" for i in range(3000))]
    (tmp_path / "user.csv").write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "seedbed", "validate", "--json", "--against-db"]
    process = subprocess.Popen(
        [*command, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env_for(settings, db_env),
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    problems = json.loads(stdout)  # every byte of a report far larger than a pipe's buffer
    assert len(problems) == 3000 and len(stdout) > 10 * 65536
    assert {p["line"] for p in problems if p["column"] == "email"} == set(range(2, 3002))
    if settings.embedded:
        handles = json.loads((settings.home / "pgdata" / ".handle_pids.json").read_text())
        assert process.pid not in handles and os.getpid() in handles


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("SEEDBED_SCHEMA", "pg_not_a_name", ["validate", str(SEEDS)]),
        ("SEEDBED_SCHEMA", "pg_not_a_name", ["docs", "--check"]),
        ("SEEDBED_SCHEMA", "pg_not_a_name", ["generate", "{tmp}", "--users", "1"]),
        ("DATABASE_URL", "postgresql://me:s3cret@localhost:abc/db", ["validate", str(SEEDS)]),
        ("DATABASE_URL", "mysql://localhost/db", ["db", "check"]),
        ("SEEDBED_HOME", str(ROOT / "README.md"), ["generate", "{tmp}", "--users", "1"]),
    ],
)
def test_every_command_refuses_bad_settings_first(
    variable: str, value: str, command: list[str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SEEDBED_SCHEMA")}
    env[variable] = value
    args = [a.replace("{tmp}", str(tmp_path / "out")) for a in command]
    done = run_cli(*args, env=env)
    assert_one_line(done, 2)
    assert "s3cret" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:s3cret@127.0.0.1:1/db",
        "postgresql://me@127.0.0.1:1/db?password=s3cret",
        "postgresql://me:s3@cret@127.0.0.1:1/db",
        "postgresql://me:s3/cret@127.0.0.1:1/db",
    ],
)
def test_a_password_never_shows_in_a_connection_error(url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    assert_one_line(run_cli("-q", "db", "check", env=env), 2)
    done = run_cli("db", "check", env=env)  # names the database first, then the error
    assert done.returncode == 2 and "127.0.0.1" in done.stderr
    for part in ("s3cret", "s3", "cret"):
        assert part not in done.stderr


# -- the Python API -----------------------------------------------------------------------


def _frames() -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(SEEDS / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for name in ("user", "post")
    }


@pytest.mark.parametrize("source", [[_frames()["user"], SEEDS / "post.csv"], 5, None, b"x"])
def test_sources_that_name_no_table_raise_a_seed_error(source: object) -> None:
    with pytest.raises(SeedError):
        seedbed.validate(source)  # type: ignore[arg-type]


def test_a_mapping_may_mix_frames_and_paths() -> None:
    report = seedbed.validate({"user": _frames()["user"], "post": SEEDS / "post.csv"})
    assert report.ok, str(report)


def _deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    "value",
    [_deep(10_000), {1, 2}, b"\xff\x00", object(), _Unprintable()],
    ids=["deep-dict", "set", "bytes", "object", "unprintable"],
)
@pytest.mark.parametrize("column", ["metadata", "title"])
def test_odd_python_objects_in_a_frame_get_a_report_row(value: object, column: str) -> None:
    frames = _frames()
    post = frames["post"].astype(object)
    post.at[0, column] = value
    report = seedbed.validate({"user": frames["user"], "post": post})
    assert not report.ok
    rows = report.failures
    assert list(rows["column"]) == [column], str(report)
    assert list(rows["line"]) == [0]
    str(report), report.to_json()  # renders, whatever the value


def test_driver_errors_never_escape_a_load(settings: Settings) -> None:
    engine = seedbed.get_engine(settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE "{settings.schema}".post_tag'))
    with pytest.raises(SeedbedError) as caught:
        seedbed.load(SEEDS, engine=engine, progress=False)
    assert not isinstance(caught.value, psycopg.Error | sa.exc.SQLAlchemyError)


def test_bare_cr_line_endings_are_named_as_such() -> None:
    report = seedbed.validate(INPUTS / "cr_line_endings")
    assert list(report.failures["rule"]) == ["line_endings"]
    assert "bare CR" in report.failures["message"].iloc[0]
