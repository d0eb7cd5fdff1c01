"""What ``read_table`` gives back, ``seedbed.load`` loads again as exactly the same rows.

A table with a column of every type seedbed reads (and of the types it leaves to
PostgreSQL: arrays, ranges, multiranges, intervals, times of day, bytea...) holds
edge values inserted with SQL: ``infinity``, ``-infinity``, years BC and past 9999,
also inside arrays and ranges, quotes and backslashes inside arrays, empty ranges.
It is read with :func:`seedbed.explore.read_table` in sessions of several
``DateStyle`` and ``TimeZone`` settings, the frame is loaded into an empty copy of
the table, and the two tables are compared in SQL (``EXCEPT ALL`` both ways, on
each row's text). A value a DataFrame cannot hold is a one-line error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import seedbed
from seedbed import explore
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import QueryError
from seedbed.facts import model_source, using_models
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings, model_folder

#: column -> (type, one SQL literal per row: ordinary, infinite, BC, far years, odd or NULL)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "flag": ("boolean", ("true", "false", "NULL", "true", "NULL")),
    "at": (
        "timestamptz",
        (
            "'2024-05-01 12:00:00.5+05:30'",
            "'infinity'",
            "'0044-03-15 12:00:00Z BC'",
            "'10000-01-01 00:00:00Z'",
            "'-infinity'",
        ),
    ),
    "local_at": (
        "timestamp",
        (
            "'2024-05-01 12:00:00.25'",
            "'-infinity'",
            "'0044-03-15 12:00:00 BC'",
            "'294246-12-31 23:59:59.999999'",
            "'epoch'",
        ),
    ),
    "day": ("date", ("'2024-02-29'", "'infinity'", "'4714-11-24 BC'", "'294246-01-01'", "NULL")),
    "tm": ("time", ("'23:59:59.999999'", "'00:00'", "NULL", "'12:00'", "NULL")),
    "tmz": ("timetz", ("'10:00:00+02'", "'00:00:00-03:30'", "NULL", "NULL", "NULL")),
    "span": ("interval", ("'1 day 02:00:00'", "'-3 days 00:00:01.5'", "NULL", "'0'", "NULL")),
    "raw": ("bytea", ("'\\x0102'", "'\\x'", "NULL", "'\\xff00'", "NULL")),
    "ints": ("integer[]", ("'{1,NULL,3}'", "'{}'", "NULL", "'{-2147483648}'", "NULL")),
    "texts": (
        "text[]",
        (
            '\'{"a b",NULL,"q\\"uote","c,d","NULL","","back\\\\slash"}\'',
            "'{}'",
            "'{\"{x}\"}'",
            "NULL",
            "'{\" lead\"}'",
        ),
    ),
    "grid": ("integer[]", ("'{{1,2},{3,4}}'", "NULL", "NULL", "NULL", "NULL")),
    "uuids": (
        "uuid[]",
        ("'{0b0c1c2e-1f0a-4a9a-9a1a-0a0a0a0a0a0a}'", "NULL", "NULL", "NULL", "NULL"),
    ),
    "flags": ("boolean[]", ("'{t,f,NULL}'", "NULL", "NULL", "NULL", "NULL")),
    "nums": ("numeric[]", ("'{1.50,NaN,-0.001}'", "NULL", "NULL", "NULL", "NULL")),
    "floats": ("float8[]", ("'{1.5,-0,Infinity,NaN}'", "NULL", "NULL", "NULL", "NULL")),
    "jbs": (
        "jsonb[]",
        ("ARRAY['{\"k\": [1, null]}'::jsonb, NULL]", "NULL", "NULL", "NULL", "NULL"),
    ),
    "code": ("char(5)", ("'ab'", "NULL", "NULL", "NULL", "NULL")),
    "label": ("varchar(12)", ("'x,y'", "''", "NULL", "NULL", "NULL")),
    "amount": ("numeric(12, 2)", ("12.5", "-0.01", "NULL", "NULL", "NULL")),
    "ratio": ("numeric", ("'NaN'", "'Infinity'", "'-1.5e-7'", "NULL", "NULL")),
    "real_v": ("double precision", ("'Infinity'", "'-0'", "'1e-300'", "'NaN'", "NULL")),
    "small": ("smallint", ("-32768", "NULL", "NULL", "NULL", "NULL")),
    "big": ("bigint", ("9223372036854775807", "NULL", "NULL", "NULL", "NULL")),
    "js": ("json", ("'[1, {\"a\": null}]'", "'{}'", "' null'", "'\"{}\"'", "NULL")),
    "jb": ("jsonb", ('\'{"k": "v", "n": 1.5}\'', "'[]'", "'null'", "'\"x\"'", "NULL")),
    "u": ("uuid", ("'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF'", "NULL", "NULL", "NULL", "NULL")),
    "mood": ("{ns}.mood", ("'a b'", "'calm'", "NULL", "NULL", "NULL")),
    "moods": ("{ns}.mood[]", ("'{calm,\"a b\"}'", "'{}'", "NULL", "NULL", "NULL")),
    "ip": ("inet", ("'::1/128'", "'10.1.2.3'", "NULL", "NULL", "NULL")),
    "net": ("cidr", ("'10.0.0.0/8'", "NULL", "NULL", "NULL", "NULL")),
    "body": ("text", ("E'line one\\nline \"two\", with comma'", "''", "NULL", "NULL", "NULL")),
    "doc": ("tsvector", ("'a fat:1 cat''s:2'", "NULL", "NULL", "NULL", "NULL")),
    "ats": (
        "timestamptz[]",
        (
            "'{\"2024-01-01 00:00:00Z\",NULL}'",
            "'{infinity,-infinity}'",
            "'{\"0044-03-15 12:00:00Z BC\"}'",
            "'{\"10000-01-01 00:00:00Z\"}'",
            "'{}'",
        ),
    ),
    "locals": (
        "timestamp[]",
        (
            "'{\"2024-01-01 10:00:00.5\"}'",
            "'{infinity}'",
            "'{\"0001-01-01 00:00:00 BC\"}'",
            "'{\"12345-06-07 08:09:10\"}'",
            "NULL",
        ),
    ),
    "days": (
        "date[]",
        (
            "'{2024-02-29,NULL}'",
            "'{-infinity,infinity}'",
            "'{\"0044-03-15 BC\"}'",
            "'{10000-01-01}'",
            "NULL",
        ),
    ),
    "tzr": (
        "tstzrange",
        (
            "'[2024-01-01Z,2024-02-01Z)'",
            "'[-infinity,infinity]'",
            "'[\"0044-03-15 00:00Z BC\",2024-01-01Z)'",
            "'(,\"10000-01-01 00:00Z\"]'",
            "'empty'",
        ),
    ),
    "tsr": (
        "tsrange",
        (
            "'[2024-01-01,2024-01-02)'",
            "'[2024-01-01,infinity)'",
            "'[\"0044-03-15 BC\",)'",
            "NULL",
            "'empty'",
        ),
    ),
    "dr": (
        "daterange",
        (
            "'[2024-01-01,2024-02-01)'",
            "'[-infinity,infinity)'",
            "'[\"0044-03-15 BC\",)'",
            "'[2024-01-01,10000-01-01)'",
            "NULL",
        ),
    ),
    "tzm": (
        "tstzmultirange",
        ("'{[2024-01-01Z,2024-02-01Z)}'", "'{[2024-01-01Z,infinity)}'", "'{}'", "NULL", "NULL"),
    ),
    "dm": (
        "datemultirange",
        (
            "'{[2024-01-01,2024-02-01),[2024-03-01,)}'",
            "'{[-infinity,2024-01-01)}'",
            "'{[\"0044-03-15 BC\",2024-01-01)}'",
            "NULL",
            "NULL",
        ),
    ),
    "ir": ("int4range", ("'[1,5)'", "'empty'", "'(,3]'", "NULL", "NULL")),
    "spans": ("interval[]", ("'{\"1 day\",NULL}'", "NULL", "NULL", "NULL", "NULL")),
    "p": ("point", ("'(1.5,-2)'", "NULL", "NULL", "NULL", "NULL")),
    "mac": ("macaddr", ("'08:00:2b:01:02:03'", "NULL", "NULL", "NULL", "NULL")),
    "bits": ("bit(3)", ("'101'", "NULL", "NULL", "NULL", "NULL")),
}
ROWS = 5


def _create(settings: Settings, *, rows: bool) -> None:
    ns = quote_ident(settings.schema)
    columns = ", ".join(f"{name} {kind.format(ns=ns)}" for name, (kind, _) in COLUMNS.items())
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {ns}")
        conn.exec_driver_sql(f"CREATE TYPE {ns}.mood AS ENUM ('calm', 'busy', 'a b')")
        conn.exec_driver_sql(f"CREATE TABLE {ns}.kinds (id integer PRIMARY KEY, {columns})")
        for row in range(ROWS if rows else 0):
            values = ", ".join(
                f"CAST({values[row]} AS {kind.format(ns=ns)})" for kind, values in COLUMNS.values()
            )
            conn.exec_driver_sql(f"INSERT INTO {ns}.kinds VALUES ({row + 1}, {values})")


def _drop(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")


@pytest.fixture(scope="module")
def source(base_settings: Settings) -> Iterator[Settings]:
    """The table of every type, holding the edge values."""
    settings = fresh_settings(base_settings, prefix="rt")
    _create(settings, rows=True)
    yield settings
    _drop(settings)


@pytest.fixture
def target(base_settings: Settings) -> Iterator[Settings]:
    """The same table, empty."""
    settings = fresh_settings(base_settings, prefix="rtt")
    _create(settings, rows=False)
    yield settings
    _drop(settings)


def differences(source: Settings, target: Settings) -> list[str]:
    """Rows (as their text) in one table and not the other, each way."""
    a, b = (f"{quote_ident(s.schema)}.kinds" for s in (source, target))
    with get_engine(source).connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        one = f"SELECT 's ' || t::text FROM {a} t EXCEPT ALL SELECT 's ' || t::text FROM {b} t"
        two = f"SELECT 't ' || t::text FROM {b} t EXCEPT ALL SELECT 't ' || t::text FROM {a} t"
        found = sorted(conn.exec_driver_sql(f"{one} UNION ALL ({two})").scalars())
        if not found:
            return []
        # which cells differ, by id and column, to say what went wrong
        tests = " UNION ALL ".join(
            f"SELECT s.id, '{name}', s.{name}::text, t.{name}::text FROM {a} s JOIN {b} t "
            f"USING (id) WHERE s.{name}::text IS DISTINCT FROM t.{name}::text"
            for name in COLUMNS
        )
        return [str(tuple(row)) for row in conn.exec_driver_sql(tests)] or found


@pytest.mark.parametrize(
    ("date_style", "zone"),
    [
        ("ISO, MDY", "UTC"),
        ("ISO, DMY", "Asia/Kolkata"),
        ("German", "UTC"),
        ("SQL, DMY", "UTC"),
        ("Postgres, MDY", "America/New_York"),
    ],
)
def test_read_table_then_load_gives_back_the_same_rows(
    source: Settings, target: Settings, date_style: str, zone: str
) -> None:
    engine = get_engine(source)
    with using_models("database", engine=engine), engine.connect() as conn:
        conn.exec_driver_sql(f"SET DateStyle = '{date_style}'")
        conn.exec_driver_sql(f"SET TimeZone = '{zone}'")
        frame = explore.read_table(conn, "kinds")
        assert conn.exec_driver_sql("SHOW DateStyle").scalar_one() == date_style.replace(
            "German", "German, DMY"
        )
    assert len(frame) == ROWS
    try:
        seedbed.load({"kinds": frame}, engine=get_engine(target), models="database", progress=False)
    except seedbed.DataError as exc:
        raise AssertionError(
            exc.report.failures[["line", "column", "value", "message"]].to_string()
        ) from None
    found = differences(source, target)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("kind", "literal", "expected"),
    [
        ("interval", "'1 mon 2 days'", "months or years"),
        ("interval[]", "'{\"1 year\"}'", "months or years"),
        ("time", "'24:00:00'", "24:00:00"),
        ("integer[]", "'[0:1]={1,2}'", "bounds"),
        ("timestamp", "'294276-12-31 23:59:59'", "294276"),
        ("date[]", "'{5874897-12-31}'", "5874897"),
    ],
)
def test_a_value_a_frame_cannot_hold_is_a_one_line_error(
    base_settings: Settings, kind: str, literal: str, expected: str
) -> None:
    engine = get_engine(base_settings)
    with pytest.raises(QueryError) as caught:
        explore.read_query(engine, f"SELECT CAST({literal} AS {kind}) AS v")
    assert "\n" not in str(caught.value)
    assert expected in str(caught.value)


DECLARED = """
import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Kind(Base):
    __tablename__ = "kinds"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    flag = mapped_column(sa.Boolean)
    at = mapped_column(sa.DateTime(timezone=True))
    local_at = mapped_column(sa.DateTime)
    day = mapped_column(sa.Date)
    qty = mapped_column(sa.Integer)
    big = mapped_column(sa.BigInteger)
    amount = mapped_column(sa.Numeric(12, 2))
    ratio = mapped_column(sa.Numeric)
    real_v = mapped_column(sa.Float)
    u = mapped_column(sa.Uuid)
    ip = mapped_column(postgresql.INET)
    mood = mapped_column(sa.Enum("calm", "busy", "a b", name="mood"))
    doc = mapped_column(postgresql.JSONB)
    body = mapped_column(sa.Text)
    label = mapped_column(sa.String(12))
"""

#: one row per line: the declared kinds' edge values
DECLARED_ROWS = [
    "1, true, 'infinity', '-infinity', 'infinity', NULL, 9223372036854775807, 12.5, 'NaN',"
    " 'NaN', 'ffffffff-ffff-4fff-bfff-ffffffffffff', '::1/128', 'a b', 'null', '', 'x,y'",
    "2, NULL, '0044-03-15 12:00:00Z BC', '10000-01-01 00:00:00', '0044-03-15 BC', -1,"
    " NULL, NULL, 'Infinity', NULL, NULL, '10.0.0.1', NULL, '\"x\"', NULL, NULL",
    "3, false, '2024-05-01 12:00:00.5+05:30', 'epoch', '2024-02-29', 2147483647, -1,"
    " -0.01, '-1.5e-7', '-Infinity', NULL, NULL, 'calm', '{\"n\": [1, null]}', E'a\\nb', ''",
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_a_declared_model_reads_back_and_loads_the_same_rows(
    base_settings: Settings, tmp_path: Path, zone: str
) -> None:
    folder = model_folder(tmp_path / "declared", kinds=DECLARED)
    made = [fresh_settings(base_settings, prefix=p) for p in ("rtd", "rtdt")]
    try:
        for settings in made:
            with get_engine(settings).begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(settings.schema)}")
                model_source(folder).metadata(settings.schema).create_all(conn)
        source, target = made
        ns = quote_ident(source.schema)
        with get_engine(source).begin() as conn:
            for row in DECLARED_ROWS:
                conn.exec_driver_sql(f"INSERT INTO {ns}.kinds VALUES ({row})")
        engine = get_engine(source)
        with using_models(folder), engine.connect() as conn:
            conn.exec_driver_sql(f"SET TimeZone = '{zone}'")
            frame = explore.read_table(conn, "kinds")
        assert str(frame["qty"].dtype) == "Int64"
        seedbed.load({"kinds": frame}, engine=get_engine(target), models=folder, progress=False)
        a, b = (f"{quote_ident(s.schema)}.kinds" for s in made)
        with engine.connect() as conn:
            rows = f"SELECT t::text FROM {a} t EXCEPT ALL SELECT t::text FROM {b} t"
            back = f"SELECT t::text FROM {b} t EXCEPT ALL SELECT t::text FROM {a} t"
            assert conn.exec_driver_sql(f"{rows} UNION ALL ({back})").scalars().all() == []
    finally:
        for settings in made:
            _drop(settings)


def test_a_query_psycopg_cannot_read_in_the_sessions_date_style_is_a_one_line_error(
    base_settings: Settings,
) -> None:
    engine = get_engine(base_settings)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET DateStyle = 'German'")
        with pytest.raises(QueryError) as caught:
            explore.read_query(conn, "SELECT timestamptz '2024-01-01 00:00Z' AS v")
    assert "\n" not in str(caught.value)
    assert "DateStyle" in str(caught.value)
