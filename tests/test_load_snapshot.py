"""``seedbed load`` of a kept model without SQLAlchemy: a load whose model's facts were kept
(``seedbed.facts.snapshot``) talks to the database with psycopg alone (``seedbed.db.Database``)
and loads, reports and refuses exactly what a load read from the declaration does."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import Engine

from seedbed import migrate
from seedbed.config import Settings
from seedbed.connections import ConnectionPool
from seedbed.db import database_url, get_engine, schema_of
from seedbed.loading import load
from tests.helpers import ROOT, counts, fresh_settings, pushed_models, snapshot
from tests.load_helpers import user_rows, write_csv

SEEDS = ROOT / "data" / "seeds"

#: ``seedbed ARGS`` in a fresh interpreter, then the names of the modules it imported.
RUNNER = """
import sys
from seedbed.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("\\n" + " ".join(sys.modules))
raise SystemExit(code)
"""


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    modules: frozenset[str]

    @property
    def sqlalchemy(self) -> list[str]:
        """The SQLAlchemy modules the run imported."""
        return sorted(m for m in self.modules if m.split(".")[0] == "sqlalchemy")


def _seedbed(env: dict[str, str], *args: str) -> Run:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    out, _, modules = done.stdout.rstrip("\n").rpartition("\n")
    return Run(done.returncode, out, done.stderr, frozenset(modules.split()))


def _env(db_env: dict[str, str], settings: Settings, cache: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in db_env.items() if k != "SEEDBED_MODELS"}
    return {**env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_CACHE": str(cache), **more}


def _kept(env: dict[str, str]) -> dict[str, str]:
    """``env`` once the model's snapshot is in its cache (a check of files stores it)."""
    first = _seedbed(env, "-q", "validate", str(SEEDS))
    assert first.code == 0, first.err
    assert first.sqlalchemy  # read from the declaration, and kept
    return env


def _summary(text: str) -> list[str]:
    """A load's printed summary without its times (nor the line that compares them)."""
    return [
        " ".join(re.sub(r"\d+\.\d+", "#", line).split())
        for line in text.splitlines()
        if "critical path" not in line
    ]


def counts_of(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f'SELECT count(*) FROM "{schema_of(engine)}"."{table}"')
        return int(rows.scalar_one())


def _tables(conn: sa.Connection, schema: str) -> list[str]:
    names = conn.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY 1"), {"s": schema}
    ).scalars()
    return [f'"{schema}"."{name}"' for name in names if name != "alembic_version"]


def _emptied(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = _tables(conn, schema_of(engine))
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")


def _contents(engine: Engine) -> dict[str, str]:
    """A digest of every table's rows, but for ``updated_at`` (the time of the load)."""
    row = "(to_jsonb(x) - 'updated_at')::text"
    with engine.connect() as conn:
        return {
            table.split(".")[1]: conn.exec_driver_sql(
                f"SELECT count(*) || ' ' || md5(coalesce(string_agg({row}, '|' "
                f"ORDER BY {row}), '')) FROM {table} AS x"
            ).scalar_one()
            for table in _tables(conn, schema_of(engine))
        }


@pytest.fixture
def populated_twice(base_settings: Settings) -> Iterator[tuple[Settings, Settings]]:
    """Two namespaces, each migrated and holding the project's seed set."""
    pair = (fresh_settings(base_settings), fresh_settings(base_settings))
    try:
        for settings in pair:
            migrate.upgrade_unchecked(settings)
            load(SEEDS, engine=get_engine(settings), progress=False)
        yield pair
    finally:
        for settings in pair:
            migrate.reset(settings)


@pytest.mark.parametrize("server", ["settings", "DATABASE_URL"])
def test_a_load_of_a_kept_model_imports_no_sqlalchemy_and_loads_what_the_declaration_loads(
    server: str, settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    more = {}
    if server == "DATABASE_URL":  # a URL as people paste it, the embedded server's too
        more["DATABASE_URL"] = database_url(settings).replace("+psycopg", "")
    env = _env(db_env, settings, tmp_path / "cache", **more)
    engine = get_engine(settings)
    declared = _seedbed({**env, "SEEDBED_CACHE": "off"}, "load", str(SEEDS))
    assert declared.code == 0, declared.err
    assert declared.sqlalchemy
    rows, loaded = _contents(engine), counts(engine)
    assert all(loaded.values())
    _emptied(engine)

    kept = _seedbed(_kept(env), "load", str(SEEDS))
    assert kept.code == 0, kept.err
    assert kept.sqlalchemy == []
    assert "rebuild" in kept.out
    assert _summary(kept.out) == _summary(declared.out)
    assert kept.err == declared.err  # the database line
    assert _contents(engine) == rows


@pytest.mark.parametrize("mode", ["insert", "upsert", "skip-existing"])
def test_a_load_into_tables_with_rows_looks_parents_up_and_merges_without_sqlalchemy(
    mode: str,
    populated_twice: tuple[Settings, Settings],
    db_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Sessions of users the database holds (each user looked up there), and for the merging
    modes users the database holds, one of them renamed: written incrementally."""
    seeds = tmp_path / "seeds"
    _write_sessions(seeds, _new_sessions(get_engine(populated_twice[0]), 40))
    if mode != "insert":
        header, rows = user_rows(SEEDS / "user.csv")
        rows[3][header.index("name")] = "Renamed"
        write_csv(seeds / "user.csv", header, rows)
    runs = []
    for settings, cache in zip(populated_twice, ("off", str(tmp_path / "cache")), strict=True):
        env = _env(db_env, settings, Path(cache))
        if cache != "off":
            _kept(env)
        runs.append(_seedbed(env, "load", "--mode", mode, str(seeds)))
    declared, kept = runs
    assert declared.code == kept.code == 0, kept.err
    assert declared.sqlalchemy and kept.sqlalchemy == []
    assert "incremental" in kept.out and " 40 " in kept.out
    assert _summary(kept.out) == _summary(declared.out)
    engines = [get_engine(settings) for settings in populated_twice]
    assert _contents(engines[1]) == _contents(engines[0])


def _new_sessions(engine: Engine, rows: int) -> list[list[str]]:
    """``rows`` new sessions of the users ``engine``'s namespace holds."""
    with engine.connect() as conn:
        ids = conn.exec_driver_sql(
            f'SELECT id FROM "{schema_of(engine)}"."user" ORDER BY id'
        ).scalars()
        users = list(ids)
    return [
        [
            str(uuid.UUID(int=n + 1, version=4)),
            users[n % len(users)],
            f"st_new_{n:04d}",
            "2030-01-01 00:00:00Z",
            "10.0.0.1",
            "test",
            "2024-09-03 21:42:14Z",
        ]
        for n in range(rows)
    ]


def _write_sessions(seeds: Path, rows: list[list[str]]) -> None:
    header = ["id", "user_id", "token", "expires_at", "ip_address", "user_agent", "created_at"]
    write_csv(seeds / "session.csv", header, rows)


def _write_user(seeds: Path, email: str) -> None:
    header = ["id", "email", "name", "email_verified", "image", "created_at"]
    row = [str(uuid.UUID(int=7, version=4)), email, "New", "false", "", "2024-09-03 21:42:14Z"]
    write_csv(seeds / "user.csv", header, [row])


def _taken_email(engine: Engine) -> str:
    with engine.connect() as conn:
        email = conn.exec_driver_sql(f'SELECT min(email) FROM "{schema_of(engine)}"."user"')
        return str(email.scalar_one())


def _report(text: str, settings: Settings) -> str:
    """What a failed load printed, without its namespace and times."""
    return re.sub(r"\d+\.\d+ s\b", "# s", text.replace(settings.schema, "NS"))


@pytest.mark.parametrize(
    "case", ["invalid row", "key the database holds", "parent the database lacks"]
)
def test_a_failing_load_reports_the_same_without_sqlalchemy_and_writes_nothing(
    case: str,
    populated_twice: tuple[Settings, Settings],
    db_env: dict[str, str],
    tmp_path: Path,
) -> None:
    engines = [get_engine(settings) for settings in populated_twice]
    seeds = tmp_path / "seeds"
    if case == "invalid row":  # validation refuses it
        seeds = ROOT / "data" / "invalid" / "bad_email"
    elif case == "key the database holds":  # the database refuses it, then it is looked up
        _write_user(seeds, _taken_email(engines[0]))
    else:
        sessions = _new_sessions(engines[0], 3)
        sessions[1][1] = str(uuid.UUID(int=99, version=4))  # no such user
        _write_sessions(seeds, sessions)
    before = [snapshot(engine) for engine in engines]
    runs = []
    for settings, cache in zip(populated_twice, ("off", str(tmp_path / "cache")), strict=True):
        env = _env(db_env, settings, Path(cache))
        if cache != "off":
            _kept(env)
        runs.append(_seedbed(env, "load", str(seeds)))
    declared, kept = runs
    assert declared.sqlalchemy and kept.sqlalchemy == []
    assert declared.code == kept.code == 1, kept.err
    assert kept.out == declared.out
    assert _report(kept.err, populated_twice[1]) == _report(declared.err, populated_twice[0])
    assert "nothing was loaded" in kept.err or "nothing was written" in kept.err
    assert [snapshot(engine) for engine in engines] == before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://me:s3cret@db.example:5433/app",
        "postgresql+psycopg://me:p%40ss%3Aw%2Fd@db.example/app?sslmode=require&connect_timeout=5",
        "postgresql+psycopg://postgres:@/postgres?host=/tmp/seedbed-socket",
        "postgresql+psycopg://me@/app?host=h1:5432&host=h2:5433&target_session_attrs=any",
        "postgresql+psycopg://me@/app?host=h1&host=h2",
        "postgresql+psycopg://me@/app?host=h1:5433",
        "postgresql+psycopg://me@/app?host=h1,h2&port=5432,5433",
        "postgresql+psycopg://me@[::1]:5432/app?application_name=loader&options=-c%20x%3Dy",
    ],
)
def test_connections_without_sqlalchemy_get_the_parameters_sqlalchemy_gives(url: str) -> None:
    """psycopg alone reads the URL (libpq parses it) into the parameters SQLAlchemy's
    engine hands psycopg."""
    parsed = sa.engine.make_url(url)
    _, given = parsed.get_dialect()().create_connect_args(parsed)
    given.pop("context", None)
    expected = {key: str(value) for key, value in given.items()}
    assert conninfo_to_dict(ConnectionPool(url).conninfo) == expected


def test_a_connection_given_back_is_rolled_back_and_a_broken_one_dropped(
    base_settings: Settings,
) -> None:
    pool = ConnectionPool(database_url(base_settings))
    first = pool.take()
    first.execute("CREATE TEMP TABLE seedbed_pool_probe (x int)")
    pool.give_back(first)
    assert pool.take() is first  # reused, its transaction rolled back
    assert first.execute("SELECT to_regclass('pg_temp.seedbed_pool_probe')").fetchone() == (None,)
    first.close()
    pool.give_back(first)
    assert pool.idle == []
    again = pool.take()
    assert again is not first and not again.closed
    assert isinstance(again, psycopg.Connection)
    pool.give_back(again)
    pool.close()
    assert again.closed


GADGET = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models import rules
from .base import Base


class Gadget(Base):
    __tablename__ = "gadget"
    __table_args__ = rules.checks(rules.length("label", 1, 10))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    label: Mapped[str] = mapped_column(sa.Text, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("gadget.id"))
"""


def test_a_load_of_a_kept_model_folder_imports_no_sqlalchemy(
    empty_settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    env = pushed_models(tmp_path / "models", db_env, empty_settings, gadget=GADGET)
    env = {**env, "SEEDBED_CACHE": str(tmp_path / "cache")}
    seeds = tmp_path / "seeds"
    write_csv(seeds / "gadget.csv", ["id", "label", "parent_id"], [["1", "lamp", ""]])
    first = _seedbed(env, "-q", "load", str(seeds))  # reads the declaration, keeps it
    assert first.code == 0, first.err
    assert first.sqlalchemy
    rows = [["2", "shade", "1"], ["3", "bulb", "2"], ["4", "a label far too long", "9"]]
    write_csv(seeds / "gadget.csv", ["id", "label", "parent_id"], rows)
    refused = _seedbed(env, "-q", "load", str(seeds))
    assert refused.code == 1
    assert (
        "[ck_gadget_label_length]" in refused.err and "[fk_gadget_parent_id_gadget]" in refused.err
    )
    write_csv(seeds / "gadget.csv", ["id", "label", "parent_id"], rows[:2])
    kept = _seedbed(env, "load", str(seeds))
    assert kept.code == 0, kept.err
    assert refused.sqlalchemy == kept.sqlalchemy == []
    assert "incremental" in kept.out and " 2 " in kept.out
    assert counts_of(get_engine(empty_settings), "gadget") == 3
