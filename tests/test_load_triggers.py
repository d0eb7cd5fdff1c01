"""User triggers fire on a load as PostgreSQL fires them on COPY, in every strategy and mode.

A ``BEFORE INSERT ... FOR EACH ROW`` trigger fills columns the seed leaves
out or empty (one of them NOT NULL without a default: the catalog shows the
trigger assigns it), and an ``AFTER INSERT`` trigger writes an audit row;
the load never disables them, whether it rebuilds the table, writes it
incrementally, or stages and merges it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.facts.pull import pull
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings
from tests.load_helpers import execute, write_csv

SCHEMA = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}.author (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE {ns}.book (
    id integer PRIMARY KEY,
    author_id integer NOT NULL REFERENCES {ns}.author,
    title text NOT NULL,
    slug text,
    stamped text DEFAULT '' NOT NULL,
    code text NOT NULL
);
CREATE TABLE {ns}.audit (book_id integer NOT NULL, op text NOT NULL);
CREATE FUNCTION {ns}.book_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.slug := coalesce(NEW.slug, lower(replace(NEW.title, ' ', '-')));
    NEW.stamped := 'filled on ' || TG_OP;
    NEW.code := upper(left(NEW.title, 3)) || NEW.id;
    RETURN NEW;
END $$;
CREATE FUNCTION {ns}.book_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {ns}.audit VALUES (NEW.id, TG_OP);
    RETURN NULL;
END $$;
CREATE TRIGGER book_fill BEFORE INSERT ON {ns}.book
    FOR EACH ROW EXECUTE FUNCTION {ns}.book_fill();
CREATE TRIGGER book_audit AFTER INSERT ON {ns}.book
    FOR EACH ROW EXECUTE FUNCTION {ns}.book_audit();
"""


@pytest.fixture
def books(base_settings: Settings) -> Iterator[Settings]:
    settings = fresh_settings(base_settings, prefix="trig")
    ns = quote_ident(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA.format(ns=ns))
    yield settings
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {ns} CASCADE")


@pytest.fixture
def shelf(books: Settings) -> Engine:
    return get_engine(books)


def _seeds(folder: Path, slug_column: bool) -> Path:
    write_csv(folder / "author.csv", ["id", "name"], [["1", "Ursula"], ["2", "Italo"]])
    header = ["id", "author_id", "title"] + (["slug"] * slug_column)
    rows = [["1", "1", "The Dispossessed"], ["2", "2", "Invisible Cities"], ["3", "1", "Lavinia"]]
    if slug_column:  # empty (NULL) twice, given once
        rows = [rows[0] + [""], rows[1] + ["cities"], rows[2] + [""]]
    write_csv(folder / "book.csv", header, rows)
    return folder


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.exec_driver_sql(sql.format(ns=quote_ident(schema_of(engine))))
        ]


def _books(engine: Engine) -> list[tuple[object, ...]]:
    return _rows(engine, "SELECT id, slug, stamped FROM {ns}.book ORDER BY id")


def _audit(engine: Engine) -> list[tuple[object, ...]]:
    return _rows(engine, "SELECT book_id, op FROM {ns}.audit ORDER BY 1")


@pytest.mark.parametrize("strategy", ["rebuild", "incremental", "auto"])
@pytest.mark.parametrize("slug_column", [False, True], ids=["left-out", "empty"])
def test_triggers_fill_and_audit_in_every_strategy(shelf, tmp_path, strategy, slug_column):
    seeds = _seeds(tmp_path / "seeds", slug_column)
    result = seedbed.load(seeds, engine=shelf, models="database", strategy=strategy, progress=False)
    expected = "incremental" if strategy == "incremental" else "rebuild"
    assert {t.table: t.strategy for t in result.tables}["book"] == expected
    slug = "cities" if slug_column else "invisible-cities"
    assert _books(shelf) == [
        (1, "the-dispossessed", "filled on INSERT"),
        (2, slug, "filled on INSERT"),
        (3, "lavinia", "filled on INSERT"),
    ]
    assert _audit(shelf) == [(1, "INSERT"), (2, "INSERT"), (3, "INSERT")]


@pytest.mark.parametrize("mode", ["insert", "upsert", "skip-existing"])
def test_triggers_fire_for_the_rows_a_mode_inserts_into_a_table_with_rows(shelf, tmp_path, mode):
    execute(
        shelf,
        "INSERT INTO {schema}.author VALUES (1, 'Ursula'), (2, 'Italo');"
        "INSERT INTO {schema}.book (id, author_id, title) VALUES (9, 1, 'Earthsea')",
    )
    seeds = tmp_path / "seeds"
    if mode != "insert":  # the authors are there already: merged, not inserted again
        write_csv(seeds / "author.csv", ["id", "name"], [["1", "Ursula"], ["2", "Italo"]])
    write_csv(
        seeds / "book.csv",
        ["id", "author_id", "title"],
        [["1", "1", "The Dispossessed"], ["9", "1", "A Wizard of Earthsea"]]
        if mode != "insert"
        else [["1", "1", "The Dispossessed"]],
    )
    result = seedbed.load(seeds, engine=shelf, models="database", mode=mode, progress=False)
    assert {t.table: t.strategy for t in result.tables}["book"] == "incremental"
    books = _books(shelf)
    assert books[0] == (1, "the-dispossessed", "filled on INSERT")
    assert _audit(shelf) == [(1, "INSERT"), (9, "INSERT")]
    if mode == "upsert":
        assert result.updated["book"] == 1 and result.inserted["book"] == 1
    if mode == "skip-existing":
        assert result.skipped["book"] == 1 and result.inserted["book"] == 1


def test_a_not_null_column_a_trigger_fills_may_be_left_out_of_a_seed(books, shelf, tmp_path):
    seeds = _seeds(tmp_path / "seeds", slug_column=False)
    pull(books, tmp_path / "models")
    declared = (tmp_path / "models" / "book.py").read_text()
    assert "sa.Column('code', TEXT(), nullable=False, info={'filled_by_trigger': 'book_fill'})" in (
        declared
    )
    bad = write_csv(tmp_path / "bad" / "book.csv", ["id", "author_id", "title"], [["1", "1", ""]])
    write_csv(bad.parent / "author.csv", ["id", "name"], [["1", "Ursula"]])
    for models in ("database", str(tmp_path / "models")):
        assert seedbed.validate(seeds, engine=shelf, models=models).ok
        failures = seedbed.validate(bad.parent, engine=shelf, models=models).failures
        assert failures[["column", "rule"]].values.tolist() == [["title", "not_null"]]
    seedbed.load(seeds, engine=shelf, models="database", progress=False)
    codes = _rows(shelf, "SELECT code FROM {ns}.book ORDER BY id")
    assert codes == [("THE1",), ("INV2",), ("LAV3",)]


@pytest.mark.parametrize(
    ("body", "assigned"),
    [
        ("NEW.slug := lower(NEW.title); RETURN NEW;", ["slug"]),
        ('new."Stamped" = now(); OLD.x := 1; RETURN NEW;', ["Stamped"]),
        ("IF TG_OP = 'INSERT' THEN NEW.a := 1; ELSE NEW.b := 2; END IF; RETURN NEW;", ["a", "b"]),
        ("PERFORM pg_notify('x', NEW.id::text); RETURN NEW;", []),
    ],
)
def test_the_fields_a_trigger_function_assigns_are_read_from_its_parse_tree(body, assigned):
    from seedbed.facts.triggers import _assigned_fields

    definition = (
        f"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    {body}\nEND $$"
    )
    assert _assigned_fields(definition) == assigned
