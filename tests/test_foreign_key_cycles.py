"""Tables whose foreign keys form a cycle (``team.owner_id -> person`` and
``person.team_id -> team``; ``a -> c -> b -> a``) work end to end: one order that
tolerates the cycle, tables created before the keys that close it, every load
strategy and mode, synthetic rows, a model read from the catalog, and no
SQLAlchemy warning about the cycle on the way."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.sqltext import quote_ident
from tests.helpers import ROOT, adopted_namespace, model_folder, pushed_models, run_cli

TEAMS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.Text)
    owner_id = mapped_column(sa.Integer, sa.ForeignKey("person.id", name="fk_team_owner"))


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.Text)
    team_id = mapped_column(sa.Integer, sa.ForeignKey("team.id", name="fk_person_team"))
"""

# a -> c is the one nullable key of the cycle a -> c -> b -> a; c also points at itself,
# and d hangs off the cycle.
RING = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class A(Base):
    __tablename__ = "a"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    c_id = mapped_column(sa.Text, sa.ForeignKey("c.id"), nullable=True)


class B(Base):
    __tablename__ = "b"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    a_id = mapped_column(sa.Text, sa.ForeignKey("a.id"), nullable=False)


class C(Base):
    __tablename__ = "c"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    b_id = mapped_column(sa.Text, sa.ForeignKey("b.id"), nullable=False)
    parent_id = mapped_column(sa.Text, sa.ForeignKey("c.id"), nullable=True)


class D(Base):
    __tablename__ = "d"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    a_id = mapped_column(sa.Text, sa.ForeignKey("a.id"), nullable=False)
"""

LOCKSTEP = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class X(Base):
    __tablename__ = "x"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    y_id = mapped_column(sa.Integer, sa.ForeignKey("y.id"), nullable=False)


class Y(Base):
    __tablename__ = "y"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    x_id = mapped_column(sa.Integer, sa.ForeignKey("x.id"), nullable=False)
"""

CATALOG_TEAMS = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}.team (id integer PRIMARY KEY, name text NOT NULL, owner_id integer);
CREATE TABLE {ns}.person (
  id integer PRIMARY KEY, name text NOT NULL, team_id integer REFERENCES {ns}.team (id)
);
ALTER TABLE {ns}.team ADD FOREIGN KEY (owner_id) REFERENCES {ns}.person (id);
"""


def _seeds(folder: Path, **files: str) -> Path:
    folder.mkdir()
    for table, text in files.items():
        (folder / f"{table}.csv").write_text(text)
    return folder


def _rows(settings: Settings, table: str) -> list[tuple[object, ...]]:
    with get_engine(settings).connect() as conn:
        relation = f"{quote_ident(settings.schema)}.{quote_ident(table)}"
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {relation} ORDER BY 1")]


def _quiet(done: object) -> None:
    """A command that ran cleanly: exit 0, and no warning (SQLAlchemy's about a cycle) said."""
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    assert "Warning" not in done.stderr, done.stderr  # type: ignore[attr-defined]
    assert "cycle" not in done.stderr, done.stderr  # type: ignore[attr-defined]


# ---- the order, without a server ----------------------------------------------------------


def _metadata(tmp_path: Path, name: str, source: str) -> sa.MetaData:
    return facts.model_source(model_folder(tmp_path / name, tables=source)).declared_metadata()


def test_a_cycle_has_one_order_that_keeps_its_required_keys_and_says_which_key_comes_later(
    tmp_path: Path,
) -> None:
    ring = _metadata(tmp_path, "ring", RING)
    order = facts.table_order(ring)
    names = [t.name for t in order.tables]
    # b needs a, c needs b (NOT NULL); a -> c is nullable, so it is the key filled later
    assert names.index("a") < names.index("b") < names.index("c")
    assert names.index("a") < names.index("d")
    assert [sorted(t.name for t in cycle) for cycle in order.cycles] == [["a", "b", "c"]]
    assert [(k.table.name, k.key.columns, k.required) for k in order.later] == [
        ("a", ("c_id",), False)
    ]
    assert order.unbroken == ()
    assert [t.name for t in facts.ordered_tables(ring)] == names
    # the key that comes later is added after the tables, so SQLAlchemy sees no cycle
    owner = next(iter(ring.tables[f"{ring.schema}.a"].foreign_key_constraints))
    assert owner.use_alter is True
    assert all(not fk.use_alter for t in ("b", "c", "d") for fk in _keys(ring, t))
    assert {t.name for t in ring.sorted_tables} == set(names)  # no warning (warnings are errors)


def _keys(metadata: sa.MetaData, table: str) -> set[sa.ForeignKeyConstraint]:
    return set(metadata.tables[f"{metadata.schema}.{table}"].foreign_key_constraints)


def test_a_cycle_of_not_null_keys_is_unbroken(tmp_path: Path) -> None:
    order = facts.table_order(_metadata(tmp_path, "lockstep", LOCKSTEP))
    assert [sorted(t.name for t in cycle) for cycle in order.unbroken] == [["x", "y"]]
    assert order.describe(order.unbroken[0]) in (
        "x.y_id -> y, y.x_id -> x",
        "y.x_id -> x, x.y_id -> y",
    )


def test_a_unique_key_that_closes_a_cycle_gets_each_parent_once(tmp_path: Path) -> None:
    from seedbed.synthetic import generate_typed_tables

    one_to_one = TEAMS.replace(
        'sa.ForeignKey("person.id", name="fk_team_owner"))',
        'sa.ForeignKey("person.id", name="fk_team_owner"), unique=True)',
    )
    metadata = _metadata(tmp_path, "owners", one_to_one)
    assert [k.key.name for k in facts.table_order(metadata).later] == ["fk_team_owner"]
    tables = generate_typed_tables(30, seed=4, metadata=metadata, rows=30)
    owners = [v for v in tables["team"].column("owner_id").to_pylist() if v is not None]
    people = set(tables["person"].column("id").to_pylist())
    assert owners and len(owners) == len(set(owners)) and set(owners) <= people


# ---- DDL: push, check, generate, migrate, downgrade ------------------------------------------


def test_push_creates_a_cycle_and_check_finds_it_matching(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    models = model_folder(tmp_path / "ring_models", tables=RING)
    env = {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": empty_settings.schema}
    _quiet(run_cli("-q", "db", "push", env=env))
    _quiet(run_cli("-q", "db", "check", env=env))
    with get_engine(empty_settings).connect() as conn:
        keys = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = %(ns)s::regnamespace ORDER BY 1, 2",
            {"ns": quote_ident(empty_settings.schema)},
        ).all()
    assert [(child.rsplit(".", 1)[-1], parent.rsplit(".", 1)[-1]) for child, parent in keys] == [
        ("a", "c"),
        ("b", "a"),
        ("c", "b"),
        ("c", "c"),
        ("d", "a"),
    ]


def test_a_revision_of_a_cycle_migrates_checks_and_downgrades(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "migrations" / name, migrations / name)
    models = model_folder(tmp_path / "team_models", teams=TEAMS)
    env = {
        **db_env,
        "SEEDBED_MODELS": str(models),
        "SEEDBED_SCHEMA": empty_settings.schema,
        "SEEDBED_MIGRATIONS": str(migrations),
    }
    _quiet(run_cli("-q", "db", "generate", "-m", "teams", env=env))
    (revision,) = (migrations / "versions").glob("*.py")
    text = revision.read_text()
    assert empty_settings.schema not in text  # the namespace is not baked in
    assert "op.create_foreign_key(" in text
    _quiet(run_cli("-q", "db", "migrate", env=env))
    _quiet(run_cli("-q", "db", "check", env=env))
    _quiet(run_cli("-q", "db", "downgrade", "--to", "base", env=env))
    assert run_cli("-q", "db", "check", env=env).returncode == 1  # the tables are gone
    _quiet(run_cli("-q", "db", "migrate", env=env))


PEOPLE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.Text)
"""


@pytest.mark.parametrize("after", [LOCKSTEP, PEOPLE], ids=["both-dropped", "one-dropped"])
def test_push_drops_the_tables_of_a_cycle(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings, after: str
) -> None:
    env = pushed_models(tmp_path / "team_models", db_env, empty_settings, teams=TEAMS)
    # team goes in both; person goes too, or stays and loses its key to team
    env["SEEDBED_MODELS"] = str(model_folder(tmp_path / "after_models", tables=after))
    _quiet(run_cli("-q", "db", "push", env=env))
    _quiet(run_cli("-q", "db", "check", env=env))


# ---- validate and load ------------------------------------------------------------------------

FIRST = {
    "team": "id,name,owner_id\n1,red,10\n2,blue,11\n3,green,\n",
    "person": "id,name,team_id\n10,ann,1\n11,bob,2\n12,cy,\n",
}
# new rows that point at each other, and (for upsert) team 1 handed to a new person
SECOND = {
    "team": "id,name,owner_id\n1,red,20\n4,gold,20\n5,grey,21\n",
    "person": "id,name,team_id\n20,eve,4\n21,fay,5\n",
}


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
def test_a_cycle_loads_into_empty_tables(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings, strategy: str
) -> None:
    env = pushed_models(tmp_path / "team_models", db_env, empty_settings, teams=TEAMS)
    seeds = _seeds(tmp_path / "seeds", **FIRST)
    _quiet(run_cli("-q", "validate", str(seeds), env=env))
    _quiet(run_cli("-q", "load", "--strategy", strategy, str(seeds), env=env))
    assert _rows(empty_settings, "team") == [(1, "red", 10), (2, "blue", 11), (3, "green", None)]
    assert _rows(empty_settings, "person") == [(10, "ann", 1), (11, "bob", 2), (12, "cy", None)]


@pytest.mark.parametrize(
    ("mode", "team_one"),
    [("insert", None), ("upsert", (1, "red", 20)), ("skip-existing", (1, "red", 10))],
)
def test_a_cycle_loads_incrementally_in_every_mode(
    tmp_path: Path,
    db_env: dict[str, str],
    empty_settings: Settings,
    mode: str,
    team_one: tuple[object, ...] | None,
) -> None:
    env = pushed_models(tmp_path / "team_models", db_env, empty_settings, teams=TEAMS)
    _quiet(run_cli("-q", "load", str(_seeds(tmp_path / "first", **FIRST)), env=env))
    second = dict(SECOND)
    if mode == "insert":  # team 1 is taken: an insert brings only new rows
        second["team"] = "id,name,owner_id\n4,gold,20\n5,grey,21\n"
    seeds = _seeds(tmp_path / "second", **second)
    _quiet(run_cli("-q", "validate", str(seeds), env=env))
    done = run_cli("-q", "load", "--mode", mode, "--json", str(seeds), env=env)
    _quiet(done)
    written = {
        t["table"]: (t["inserted"], t["updated"], t["skipped"])
        for t in json.loads(done.stdout)["tables"]
    }
    assert written == {
        "team": (2, int(mode == "upsert"), int(mode == "skip-existing")),
        "person": (2, 0, 0),
    }
    teams = _rows(empty_settings, "team")
    assert teams[3:] == [(4, "gold", 20), (5, "grey", 21)]
    assert teams[0] == (team_one or (1, "red", 10))
    assert _rows(empty_settings, "person")[3:] == [(20, "eve", 4), (21, "fay", 5)]


def test_a_row_of_a_cycle_without_its_parent_is_refused_and_nothing_is_loaded(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    env = pushed_models(tmp_path / "team_models", db_env, empty_settings, teams=TEAMS)
    _quiet(run_cli("-q", "load", str(_seeds(tmp_path / "first", **FIRST)), env=env))
    seeds = _seeds(
        tmp_path / "broken",
        team="id,name,owner_id\n4,gold,99\n",
        person="id,name,team_id\n20,eve,4\n",
    )
    done = run_cli("-q", "load", "--strategy", "incremental", str(seeds), env=env)
    assert done.returncode == 1, done.stderr
    assert "fk_team_owner" in done.stdout + done.stderr
    assert len(_rows(empty_settings, "team")) == 3
    assert len(_rows(empty_settings, "person")) == 3


def test_a_cycle_of_not_null_keys_loads_but_is_not_generated(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    env = pushed_models(tmp_path / "lockstep_models", db_env, empty_settings, tables=LOCKSTEP)
    first = _seeds(tmp_path / "first", x="id,y_id\n1,1\n2,2\n", y="id,x_id\n1,2\n2,1\n")
    _quiet(run_cli("-q", "load", str(first), env=env))  # rebuilt: keys added back after COPY
    second = _seeds(tmp_path / "second", x="id,y_id\n3,3\n", y="id,x_id\n3,3\n")
    _quiet(run_cli("-q", "load", str(second), env=env))  # incremental: one statement
    assert _rows(empty_settings, "x") == [(1, 1), (2, 2), (3, 3)]
    made = run_cli("-q", "generate", "--rows", "5", str(tmp_path / "out"), env=env)
    assert made.returncode == 2
    (line,) = made.stderr.strip().splitlines()
    assert "cycle" in line and "NOT NULL" in line and "x.y_id -> y" in line, line
    assert not (tmp_path / "out").exists()


# ---- synthetic rows ---------------------------------------------------------------------------


def test_generated_rows_of_a_cycle_validate_and_load(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    env = pushed_models(tmp_path / "ring_models", db_env, empty_settings, tables=RING)
    out = tmp_path / "out"
    _quiet(run_cli("-q", "generate", "--rows", "40", str(out), "--seed", "3", env=env))
    with (out / "a.csv").open() as written:
        later = [row["c_id"] for row in csv.DictReader(written)]
    assert any(later), "the nullable key of the cycle is filled once its parent has rows"
    for table, key in (("b", "a_id"), ("c", "b_id")):
        with (out / f"{table}.csv").open() as written:
            assert all(row[key] for row in csv.DictReader(written))
    _quiet(run_cli("-q", "validate", str(out), env=env))
    _quiet(run_cli("-q", "load", str(out), env=env))
    assert len(_rows(empty_settings, "c")) > 0
    with get_engine(empty_settings).connect() as conn:  # and the database agrees on the keys
        filled = conn.exec_driver_sql(
            f"SELECT count(c_id) FROM {quote_ident(empty_settings.schema)}.a"
        ).scalar_one()
    assert filled == sum(1 for value in later if value)


# ---- a model read from the catalog ------------------------------------------------------------


def test_a_cycle_made_by_plain_sql_is_read_loaded_documented_and_pulled(
    tmp_path: Path, db_env: dict[str, str], base_settings: Settings
) -> None:
    with adopted_namespace(base_settings, CATALOG_TEAMS) as adopted:
        env = {**db_env, "SEEDBED_MODELS": "database", "SEEDBED_SCHEMA": adopted.schema}
        first = _seeds(tmp_path / "first", **FIRST)
        _quiet(run_cli("-q", "validate", str(first), env=env))
        _quiet(run_cli("-q", "load", str(first), env=env))
        second = _seeds(
            tmp_path / "second",
            team="id,name,owner_id\n4,gold,20\n5,grey,21\n",
            person=SECOND["person"],
        )
        _quiet(run_cli("-q", "load", "--strategy", "incremental", str(second), env=env))
        assert len(_rows(adopted, "team")) == 5
        _quiet(run_cli("-q", "db", "check", env=env))
        _quiet(run_cli("-q", "docs", "--out", str(tmp_path / "model.md"), env=env))
        document = (tmp_path / "model.md").read_text()
        assert "`team_owner_id_fkey`" in document
        assert "**A cycle of foreign keys**: `team`, `person` point at each other" in document
        _quiet(run_cli("-q", "generate", "--rows", "5", str(tmp_path / "out"), env=env))
        pulled = tmp_path / "pulled"
        _quiet(run_cli("-q", "db", "pull", "--out", str(pulled), env=env))
        # the pulled code is a model of its own: it checks clean here and pushes elsewhere
        _quiet(run_cli("-q", "db", "check", env={**env, "SEEDBED_MODELS": str(pulled)}))
        with adopted_namespace(base_settings, "SELECT 1") as elsewhere:
            code = {**env, "SEEDBED_MODELS": str(pulled), "SEEDBED_SCHEMA": elsewhere.schema}
            _quiet(run_cli("-q", "db", "push", env=code))
            _quiet(run_cli("-q", "load", str(first), env=code))
            assert len(_rows(elsewhere, "person")) == 3
