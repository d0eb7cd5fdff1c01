"""What ``seedbed load`` and ``validate`` say: hints, --json, --failures, --max-rows, --mode.

Each test runs the real command in a subprocess against the suite's server.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import ROOT, run_cli

SEEDS = str(ROOT / "data" / "seeds")
SEED_ROWS = sum(
    len(f.read_text().splitlines()) - 1 for f in (ROOT / "data" / "seeds").glob("*.csv")
)


def cli(settings: Settings, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**env, "SEEDBED_SCHEMA": settings.schema})


@pytest.fixture
def loaded(settings: Settings, db_env: dict[str, str]) -> Settings:
    """A migrated namespace holding data/seeds."""
    done = cli(settings, db_env, "load", SEEDS, "--quiet")
    assert done.returncode == 0, done.stderr
    return settings


def test_loading_twice_says_how_many_rows_exist_and_suggests_the_modes(
    loaded: Settings, db_env: dict[str, str]
) -> None:
    again = cli(loaded, db_env, "load", SEEDS)
    assert again.returncode == 1
    last = again.stderr.strip().splitlines()[-1]
    assert last.startswith("seedbed: error: ")
    assert f"{SEED_ROWS} rows are already in the database" in last
    assert "--mode upsert" in last and "--mode skip-existing" in last
    assert "nothing was loaded" in last


def test_the_suggested_mode_then_loads(loaded: Settings, db_env: dict[str, str]) -> None:
    done = cli(loaded, db_env, "load", SEEDS, "--mode", "skip-existing")
    assert done.returncode == 0, done.stderr
    assert f"{SEED_ROWS:,}" in done.stdout or "skipped" in done.stdout


def test_a_load_before_migrate_suggests_migrate(
    empty_settings: Settings, db_env: dict[str, str]
) -> None:
    done = cli(empty_settings, db_env, "load", SEEDS)
    assert done.returncode == 2
    assert "seedbed db migrate" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_table_suggests_migrate(settings: Settings, db_env: dict[str, str]) -> None:
    from seedbed.db import get_engine

    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f'DROP TABLE "{settings.schema}".post_tag')
    done = cli(settings, db_env, "validate", SEEDS, "--against-db")
    assert done.returncode == 2
    assert "no table post_tag" in done.stderr and "seedbed db migrate" in done.stderr


def test_failures_writes_every_row_as_csv_with_secrets_redacted(
    loaded: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "failures.csv"
    done = cli(loaded, db_env, "load", SEEDS, "--failures", str(out), "--max-rows", "2")
    assert done.returncode == 1
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"file", "line", "column", "rule", "value", "message"} <= set(rows[0])
    assert len(rows) > SEED_ROWS  # every problem, not the two shown
    tokens = [r for r in rows if r["rule"] == "uq_session_token"]
    assert tokens and {r["value"] for r in tokens} == {"[redacted]"}
    token_values = {
        line.split(",")[2] for line in (ROOT / "data/seeds/session.csv").read_text().splitlines()
    }
    text = out.read_text()
    assert not any(v and v in text for v in list(token_values)[1:])
    shown = [line for line in done.stderr.splitlines() if "already taken" in line]
    assert len(shown) == 2  # --max-rows caps the terminal, not the file
    assert f"wrote {len(rows):,} problem row(s) to {out}" in done.stderr


def test_validate_failures_and_json_agree(
    db_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "problems.csv"
    invalid = str(ROOT / "data" / "invalid")
    folders = sorted(p for p in Path(invalid).iterdir() if p.is_dir())
    done = cli(settings, db_env, "validate", str(folders[0]), "--json", "--failures", str(out))
    assert done.returncode == 1
    records = json.loads(done.stdout)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records) > 0
    assert [r["rule"] for r in rows] == [r["rule"] for r in records]


def test_load_json_prints_the_result(settings: Settings, db_env: dict[str, str]) -> None:
    done = cli(settings, db_env, "load", SEEDS, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["committed"] is True
    assert sum(t["inserted"] for t in result["tables"]) == SEED_ROWS


def test_load_json_prints_the_problems_on_failure(loaded: Settings, db_env: dict[str, str]) -> None:
    done = cli(loaded, db_env, "load", SEEDS, "--json")
    assert done.returncode == 1
    records = json.loads(done.stdout)
    assert len(records) > SEED_ROWS and all("the database has" in r["message"] for r in records)
    # every row's primary key is taken (upsert would update it); a partial key (the live
    # post slug) is refused without that advice, which its own conflicts would not follow
    taken = {(r["file"], r["line"]) for r in records if r["message"].startswith("already taken")}
    assert len(taken) == SEED_ROWS


@pytest.mark.parametrize(("mode", "code"), [("insert", 1), ("upsert", 0), ("skip-existing", 0)])
def test_validate_mode_gives_the_verdict_of_load_in_that_mode(
    loaded: Settings, db_env: dict[str, str], mode: str, code: int
) -> None:
    checked = cli(loaded, db_env, "validate", SEEDS, "--against-db", "--mode", mode)
    assert checked.returncode == code, checked.stdout + checked.stderr
    loading = cli(loaded, db_env, "load", SEEDS, "--mode", mode, "--dry-run", "--quiet")
    assert loading.returncode == code, loading.stderr
    if mode == "insert":
        assert "--mode upsert" in checked.stderr


def test_a_child_file_alone_validates_against_the_database_rows(
    loaded: Settings, db_env: dict[str, str]
) -> None:
    child = str(ROOT / "data" / "seeds" / "session.csv")
    upsert = cli(loaded, db_env, "validate", child, "--against-db", "--mode", "upsert")
    assert upsert.returncode == 0, upsert.stdout
    alone = cli(loaded, db_env, "validate", child)
    assert alone.returncode == 1  # without the database the users are unknown
    assert "fk_session_user_id_user" in alone.stdout


def test_every_database_command_names_its_database_first(
    settings: Settings, db_env: dict[str, str]
) -> None:
    line = f"(namespace {settings.schema})"
    for args in (
        ("db", "check"),
        ("load", SEEDS, "--dry-run"),
        ("validate", SEEDS, "--against-db"),
    ):
        done = cli(settings, db_env, *args)
        first = done.stderr.splitlines()[0]
        assert first.startswith("using ") and first.endswith(line), (args, done.stderr)
        if "DATABASE_URL" not in db_env:
            assert f"embedded PostgreSQL 18 in {Path(db_env['SEEDBED_HOME']).resolve()}" in first
    for quiet_args in (("-q", "db", "check"), ("db", "check", "-q"), ("db", "-q", "check")):
        quiet = cli(settings, db_env, *quiet_args)
        assert quiet.returncode == 0 and line not in quiet.stderr, (quiet_args, quiet.stderr)
    quiet_validate = cli(settings, db_env, "validate", SEEDS, "--against-db", "-q")
    assert quiet_validate.returncode == 0 and quiet_validate.stderr == ""
    quiet_load = cli(settings, db_env, "load", SEEDS, "--dry-run", "--quiet")
    assert quiet_load.stderr == "" and quiet_load.stdout == ""


def test_quiet_still_prints_the_failing_rows(loaded: Settings, db_env: dict[str, str]) -> None:
    done = cli(loaded, db_env, "load", SEEDS, "--quiet", "--max-rows", "5")
    assert done.returncode == 1
    assert "using " not in done.stderr
    assert done.stderr.count("already taken") == 5
    assert "seedbed: error:" in done.stderr


def test_a_valid_validate_names_files_rows_and_seconds(db_env: dict[str, str]) -> None:
    done = run_cli("validate", SEEDS, env=db_env)
    assert done.returncode == 0
    assert done.stdout.startswith(
        f"valid: no problems found (7 files, {SEED_ROWS:,} rows checked in "
    )
    assert done.stdout.rstrip().endswith(" s)")
    assert done.stderr == ""  # not a terminal: no progress, and no database was used


@pytest.mark.parametrize(
    ("args", "verb"), [(["db", "reset"], "drop"), (["db", "restore"], "replace")]
)
def test_a_destructive_command_without_yes_is_refused_on_stderr_in_one_line(
    args: list[str], verb: str, settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    if verb == "replace":
        args = [*args, str(tmp_path / "any.dump")]
    refused = cli(settings, db_env, *args)
    assert refused.returncode == 2 and refused.stdout == ""
    using, error = refused.stderr.splitlines()
    assert using.startswith("using ")
    assert (
        error == f"seedbed: error: refusing to {verb} namespace '{settings.schema}' without --yes"
    )
    assert "alembic_version" in _table_names(settings)  # nothing was dropped


@pytest.mark.parametrize("server", ["embedded", "url"])
def test_backup_and_restore_print_no_library_warning_without_xdg_runtime_dir(
    server: str, settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    """CI containers rarely set XDG_RUNTIME_DIR; platformdirs then warns, on import of the wheel."""
    from seedbed.db import database_url

    env = {k: v for k, v in db_env.items() if k != "XDG_RUNTIME_DIR"}
    if server == "url":
        env["DATABASE_URL"] = database_url(settings).replace("+psycopg", "")
    dump = str(tmp_path / "ci.dump")
    for args in (["db", "backup", "--out", dump], ["db", "restore", dump, "--yes"]):
        done = cli(settings, env, *args)
        assert done.returncode == 0, done.stderr
        assert [line.split()[0] for line in done.stderr.splitlines()] == ["using"], done.stderr


def test_an_embedded_server_that_cannot_start_is_one_line_naming_the_reason(
    tmp_path: Path,
) -> None:
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "PG_VERSION").write_text("9\n")  # looks made, is not
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    done = run_cli("db", "check", env={**env, "SEEDBED_HOME": str(tmp_path)})
    assert done.returncode == 2
    _, error = done.stderr.splitlines()
    assert error.startswith("seedbed: error: could not start the embedded PostgreSQL in ")
    assert "pg_ctl failed: postgres: could not access the server configuration file" in error


def _table_names(settings: Settings) -> list[str]:
    return sa.inspect(get_engine(settings)).get_table_names(schema=settings.schema)
