"""CHECKs PostgreSQL judges: each value reaches it exactly, and each rule gets its own verdicts.

The evaluator sends only distinct values, grouped by the columns each rule
reads, as array literals; these tests give it the values that are easy to
get wrong on the way (quotes, backslashes, braces, the word NULL, ``-0.0``,
offsets, JSON) and check every verdict against what the CHECK means.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import load_settings
from seedbed.db import database_url, get_engine
from seedbed.facts import DatabaseEvaluator
from seedbed.models.rules import SqlCheck
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings, model_folder

AWKWARD = ["", "NULL", None, 'a"b', "a\\b", "{x}", "a,b", " ", "é", "'", '\\"', "null", "{}"]


@pytest.fixture(scope="module")
def evaluator(base_settings) -> DatabaseEvaluator:
    return DatabaseEvaluator(get_engine(base_settings))


def _check(evaluator, name, columns, expression, types):
    return SqlCheck(name, columns, "", expression, types, evaluator)


def test_awkward_text_reaches_postgresql_exactly(evaluator):
    frame = pd.DataFrame({"t": pd.Series(AWKWARD * 3, dtype=object)})
    listed = ["NULL", 'a"b', "a\\b", "{x}", "a,b", "'", '\\"', "{}"]
    literals = ", ".join("'" + v.replace("'", "''") + "'" for v in listed)
    rule = _check(evaluator, "not_listed", ("t",), f"t NOT IN ({literals})", ("text",))
    (refused,) = evaluator.refused([rule], frame)
    assert refused.tolist() == [v in listed for v in AWKWARD * 3]


def test_typed_values_reach_postgresql_as_they_read(evaluator):
    utc = dt.UTC
    frame = pd.DataFrame(
        {
            "f": [0.0, -0.0, 0.1, None],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "d": [dt.date(2020, 1, 1), None, dt.date(1999, 12, 31), dt.date(2020, 1, 1)],
            "ts": pd.Series(
                [
                    dt.datetime(2020, 1, 1, tzinfo=utc),
                    dt.datetime(2019, 12, 31, 23, tzinfo=utc),
                    None,
                    dt.datetime(2020, 1, 1, 0, 0, 0, 1, tzinfo=utc),
                ]
            ).astype(pd.DatetimeTZDtype("us", "UTC")),
            "p": [Decimal("1.50"), Decimal("1.5"), None, Decimal("2")],
            "j": [{"a": 1}, [1], None, '"x"'],  # text is JSON text
        }
    )
    rules = [
        _check(evaluator, "f_text", ("f",), "f::text <> '-0'", ("double precision",)),
        _check(evaluator, "n_odd", ("n",), "mod(n, 2) = 1", ("integer",)),
        _check(evaluator, "d_year", ("d",), "date_part('year', d) >= 2000", ("date",)),
        _check(
            evaluator,
            "ts_new_year",
            ("ts",),
            "ts <> '2020-01-01 00:00:00+00'",
            ("timestamp with time zone",),
        ),
        _check(evaluator, "p_scale", ("p",), "scale(p) = 2", ("numeric",)),
        _check(evaluator, "j_object", ("j",), "jsonb_typeof(j) = 'object'", ("jsonb",)),
        _check(evaluator, "n_and_f", ("n", "f"), "n + f < 3", ("integer", "double precision")),
        _check(evaluator, "nothing", (), "1 = 2", ()),
    ]
    found = evaluator.refused(rules, frame)
    verdicts = {rule.name: refused.tolist() for rule, refused in zip(rules, found, strict=True)}
    assert verdicts == {
        "f_text": [False, True, False, False],
        "n_odd": [False, False, False, True],
        "d_year": [False, False, True, False],
        "ts_new_year": [True, False, False, False],
        "p_scale": [False, True, False, True],
        "j_object": [False, True, False, True],
        "n_and_f": [False, False, True, False],
        "nothing": [True, True, True, True],
    }


def test_rules_reading_the_same_columns_keep_their_own_verdicts(evaluator):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 50, size=500)
    b = rng.integers(0, 50, size=500)
    frame = pd.DataFrame({"a": pd.array(a, dtype="Int64"), "b": pd.array(b, dtype="Int64")})
    rules = [
        _check(evaluator, "a_even", ("a",), "mod(a, 2) = 0", ("integer",)),
        _check(evaluator, "a_small", ("a",), "a * a < 900", ("integer",)),
        _check(evaluator, "sum", ("a", "b"), "a + b < 60", ("integer", "integer")),
        _check(evaluator, "b_first", ("b", "a"), "b - a < 10", ("integer", "integer")),
    ]
    found = [refused.tolist() for refused in evaluator.refused(rules, frame)]
    assert found == [
        list(a % 2 != 0),
        list(a * a >= 900),
        list(a + b >= 60),
        list(b - a >= 10),
    ]
    single = evaluator(rules[2], frame)
    assert single.tolist() == list(a + b < 60)


def test_an_empty_frame_asks_nothing(evaluator):
    rule = _check(evaluator, "n_odd", ("n",), "mod(n, 2) = 1", ("integer",))
    (refused,) = evaluator.refused([rule], pd.DataFrame({"n": pd.array([], dtype="Int64")}))
    assert refused.tolist() == []


def test_a_domain_of_a_domain_checks_both_and_postgresql_judges_what_it_must(
    base_settings, tmp_path
):
    settings = fresh_settings(base_settings, prefix="dom")
    ns = quote_ident(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE SCHEMA {ns}; CREATE DOMAIN {ns}.even_int AS integer CHECK (VALUE %% 2 = 0);"
            f" CREATE DOMAIN {ns}.small_even AS {ns}.even_int CHECK (VALUE < 10);"
            f' CREATE TABLE {ns}."T t" (id integer PRIMARY KEY, "My X" {ns}.small_even)'
        )
    try:
        (tmp_path / "T t.csv").write_text("id,My X\n1,4\n2,3\n3,12\n4,\n")
        report = seedbed.validate(tmp_path, engine=engine, models="database")
        found = [(r.line, r.column, r.rule, r.message) for r in report.failures.itertuples()]
        assert found == [
            (
                3,
                "My X",
                "even_int_check",
                'must satisfy CHECK "My X" % 2 = 0 (checked in the database)',
            ),
            (4, "My X", "small_even_check", "My X must be less than 10"),
        ]
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {ns} CASCADE")


DAYS = """
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, ENUM
from sqlalchemy.orm import mapped_column

from .base import Base


class Day(Base):
    __tablename__ = "day"

    id = mapped_column(sa.Integer, primary_key=True)
    span = mapped_column(sa.Interval)
    moods = mapped_column(ARRAY(ENUM("calm", "busy", name="mood", create_type=False)))
"""


def test_values_only_postgresql_reads_are_judged_in_the_database_each_call_names(
    base_settings, tmp_path, monkeypatch
):
    """In one process (a notebook) the settings may name another database from call to
    call: the values of types only PostgreSQL reads are judged in the one named now."""
    engine = get_engine(base_settings)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS seedbed_judge_other")
        conn.exec_driver_sql("CREATE DATABASE seedbed_judge_other")
    other = database_url(base_settings).replace("/postgres?", "/seedbed_judge_other?")
    try:
        made = sa.create_engine(other)
        with made.begin() as conn:
            conn.exec_driver_sql(
                "CREATE SCHEMA judged; CREATE TYPE judged.mood AS ENUM ('calm', 'busy')"
            )
        made.dispose()
        models = model_folder(tmp_path / "models", days=DAYS)
        seeds = tmp_path / "day.csv"
        monkeypatch.setenv("SEEDBED_HOME", str(base_settings.home))
        monkeypatch.setenv("SEEDBED_SCHEMA", "judged")
        seeds.write_text("id,span\n1,1 day\n")
        assert seedbed.validate(seeds, models=models).ok  # judged in the test server's database
        monkeypatch.setenv("DATABASE_URL", other)  # the type is there only
        seeds.write_text('id,moods\n1,"{calm,busy}"\n2,"{angry}"\n')
        report = seedbed.validate(seeds, models=models)
        assert [(r["line"], r["column"], r["rule"]) for r in report.to_records()] == [
            (3, "moods", "type")
        ]
    finally:
        get_engine(load_settings()).pool.dispose()  # the pool seedbed keeps for it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS seedbed_judge_other WITH (FORCE)")
