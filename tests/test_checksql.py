"""CHECK expressions become rules, and the rules agree with PostgreSQL on every value.

Each CHECK of the corpus is created on a real table, read back as
``pg_get_constraintdef`` prints it (PostgreSQL's rewritten form), translated,
and judged on values around its boundaries by both the translated rule's
frame check and PostgreSQL (one query per CHECK over a VALUES list).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import GenerateError
from seedbed.facts import declaration
from seedbed.facts.checksql import rounds_first, rules_from_check, type_family
from seedbed.models import predicates, rules
from seedbed.sqltext import escaped, quote_ident, quote_literal
from seedbed.synthetic import fills, generate_typed_tables
from tests.helpers import fresh_settings

INTS = [
    None,
    "-2147483648",
    "-1",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "9",
    "10",
    "11",
    "100",
    "2147483647",
]
NUMERICS = [None, "-0.01", "0", "0.49", "0.50", "0.51", "1", "99.99", "100.00", "100.01"]
FLOATS = [None, "-1", "0", "0.1", "0.5", "1e-300", "0.30000000000000004", "100", "1e300"]
REALS = [None, "-1", "0", "0.1", "0.10000001", "0.5", "100", "1e30"]
TEXTS = [
    None,
    "",
    " ",
    "a",
    "A",
    "b",
    "B",
    "ab",
    "AB",
    "Ab",
    "abc",
    "ABC",
    "abcd",
    "abcde",
    "abcdefghijk",
    "x",
    "xyz",
    "a b",
    " a ",
    "a\n",
    "\na",
    "ä",
    "Ä",
    "é",
    "É",
    "ß",
    "straße",
    "STRASSE",
    "İ",
    "\u0131",
    "Σ",
    "σς",
    "日本",
    "😀",
    "a%",
    "a_b",
    "a.b",
    "a-b",
    "draft",
    "Draft",
    "DRAFT",
    "published",
    "archived",
    "ada@example.com",
    "Ada@Example.com",
    "a@b",
    "abc123",
    "123",
    "0",
    "_",
    "%",
    "a\\b",
    "ab ",
    "ab  ",
    "a\tb",
    "\u00a0",
    "a\u2003b",
    "\u3000",
    "\x1c",
    "\u0085",
    "\u2007",
    "https://a.example/x?y",
    "http://h-1:8080",
    "https://a_b/x",
]
CHARS = [None, "", "a", "ab", "ab ", "cd", "abc", "ABC", "a b"]
DATES = [
    None,
    "0001-01-01",
    "2019-12-31",
    "2020-01-01",
    "2020-01-02",
    "2029-12-31",
    "2030-01-01",
    "9999-12-31",
]
STAMPS = [
    None,
    "2019-12-31 21:59:59.999999",
    "2019-12-31 22:00:00",
    "2019-12-31 22:00:00.000001",
    "2020-01-01 00:00:00",
    "2001-02-03 04:05:06",
    "0001-01-01 00:00:00",
]
STAMPTZ = [
    None,
    "2019-12-31 21:59:59.999999+00",
    "2019-12-31 22:00:00+00",
    "2020-01-01 00:00:00+02",
    "2020-01-01 00:00:00.000001+02",
    "2019-12-31 23:59:59-01",
    "2030-01-01 00:00:00+00",
    "2030-01-01 00:00:00.000001+00",
]
BOOLS = [None, "true", "false"]

EDGES = {
    "integer": INTS,
    "bigint": INTS,
    "smallint": ["-32768", "0", "1", "5", "32767", None],
    "numeric(10,2)": NUMERICS,
    "numeric": NUMERICS,
    "double precision": FLOATS,
    "real": REALS,
    "text": TEXTS,
    "varchar(20)": TEXTS,
    "char(3)": CHARS,
    "date": DATES,
    "timestamp": STAMPS,
    "timestamptz": STAMPTZ,
    "boolean": BOOLS,
    "mood": [None, "sad", "ok", "happy"],
}

# (column definitions, CHECK expression as written)
CORPUS: list[tuple[str, str]] = [
    ("n integer", "n > 0"),
    ("n integer", "n >= 0 AND n <= 100"),
    ("n integer", "n BETWEEN 1 AND 10"),
    ("n integer", "n NOT BETWEEN 1 AND 10"),
    ("n integer", "n IN (1, 2, 3)"),
    ("n integer", "n NOT IN (4, 5)"),
    ("n integer", "NOT (n = 3)"),
    ("n integer", "n <> 0 OR n IS NULL"),
    ("n integer", "0 < n"),
    ("n integer", "n > -1 AND n < 2147483647"),
    ("n bigint", "n::numeric >= 2.5"),
    ("n smallint", "n <> ALL (ARRAY[0, 1])"),
    ("n integer", "n > ANY (ARRAY[3, 9])"),
    ("p numeric(10,2)", "p > 0.5 AND p < 100"),
    ("p numeric(10,2)", "p BETWEEN 0 AND 99.99"),
    ("p numeric", "p >= 0.50"),
    ("f double precision", "f > 0.1"),
    ("f double precision", "f BETWEEN 0 AND 100"),
    ("f real", "f > 0.1"),
    ("t text", "t <> ''"),
    ("t text", "char_length(t) BETWEEN 1 AND 5"),
    ("t text", "length(t) >= 3"),
    ("t text", "octet_length(t) <= 3"),
    ("t text", "length(btrim(t)) > 0"),
    ("t text", "ltrim(t) = t"),
    ("t text", "rtrim(t) <> t"),
    ("t text", "length(trim(both ' ' from t)) > 0"),
    ("t text", "trim(leading from t) LIKE 'a%'"),
    ("t text", "rtrim(t, 'x') = t"),
    ("t text", "split_part(t, '.', 2) <> ''"),
    ("t text", "split_part(t, 'a', 2) = ''"),
    ("t text", "split_part(t, '@', -1) LIKE 'ex%'"),
    ("t text", "split_part(upper(t), 'B', 1) = 'A'"),
    ("t text", "char_length(split_part(t, ' ', 1)) = 1"),
    ("t text", "split_part(t, '', -1) = 'a'"),
    ("c char(3)", "split_part(c, 'b', 1) = 'a'"),
    (
        "t text",
        "(t LIKE 'http://%' OR t LIKE 'https://%') AND t ~ '^[!-~]+$'"
        " AND split_part(t, '/', 3) ~ '^[A-Za-z0-9.-]+(:[0-9]{1,5})?([?#]|$)'",
    ),
    ("t text", "t = lower(t)"),
    ("t text", "upper(t) = t"),
    ("t text", "lower(t) IN ('draft', 'published')"),
    ("t text", "t IN ('draft', 'published', 'archived')"),
    ("s varchar(20)", "s IN ('draft', 'published', 'archived')"),
    ("s varchar(20)", "s NOT IN ('draft', 'x')"),
    ("s varchar(20)", "s::text = 'draft' OR s::text = 'published'"),
    ("t text", "t ~ '^[a-z]+$'"),
    ("t text", "t ~* '^[a-z]+$'"),
    ("t text", "t !~ '[0-9]'"),
    ("t text", "t !~* 'a'"),
    ("t text", "t ~ '^[[:digit:]]{1,3}$'"),
    ("t text", "t ~ '^[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$'"),
    ("t text", "t ~ 'b$'"),
    ("t text", "t ~ '^a.b$'"),
    ("t text", "t ~ '^[^@\\s]+@[^@\\s]+$'"),
    ("t text", "t !~ '\\s'"),
    ("t text", "t ~ '^[[:space:]]*$'"),
    ("t text", "t ~ '\\S'"),
    ("t text", "t LIKE 'a%'"),
    ("t text", "t NOT LIKE '%b%'"),
    ("t text", "t LIKE 'a_b'"),
    ("t text", "t LIKE 'a\\%'"),
    ("t text", "t ILIKE 'a%'"),
    ("t text", "t NOT ILIKE '%B'"),
    ("t text", "t SIMILAR TO '(a|b)%'"),
    ("t text", "t SIMILAR TO '[a-c]+'"),
    ("t text", "t NOT SIMILAR TO 'a#%' ESCAPE '#'"),
    ("t text", "t IS NOT NULL"),
    ("t text", "t IS NULL OR t <> ''"),
    ("t text", "t < 'b'"),
    ("t text", "t >= 'B' AND t <= 'b'"),
    ("c char(3)", "c IN ('ab', 'cd')"),
    ("c char(3)", "c = 'ab'"),
    ("c char(3)", "char_length(c) = 2"),
    ("d date", "d >= '2020-01-01' AND d < DATE '2030-01-01'"),
    ("d date", "d BETWEEN '2020-01-01' AND '2029-12-31'"),
    ("d date", "d::timestamp > '2019-12-31 12:00:00'"),
    ("ts timestamptz", "ts > '2020-01-01 00:00:00+02'"),
    ("ts timestamptz", "ts <= '2030-01-01 00:00:00+00'"),
    ("ts timestamp", "ts >= '2019-12-31 22:00:00'"),
    ("m mood", "m IN ('ok', 'happy')"),
    ("m mood", "m <> 'sad'"),
    ("m mood", "m > 'sad'"),
    ("b boolean", "b"),
    ("b boolean", "NOT b"),
    ("b boolean", "b = true OR b IS NULL"),
    ("a integer, b integer", "a >= b"),
    ("a integer, b integer", "a > b OR b IS NULL"),
    ("a integer, b integer", "NOT (a = b)"),
    ("a integer, b integer", "a IS NULL OR (b IS NOT NULL AND a < b)"),
    ("a date, b date", "b >= a"),
    ("a timestamptz, b timestamptz", "b > a"),
    ("a text, b text", "lower(a) <> lower(b)"),
    ("a integer, t text", "(a > 0 AND t IS NOT NULL) OR (a <= 0 AND t IS NULL)"),
    ("a integer, t text", "NOT (a > 5 OR t LIKE 'x%')"),
    ("a integer, t text", "a IS NULL = (t IS NULL)"),
    ("a integer, t text", "(a > 0) <> (t LIKE 'a%')"),
    ("a integer, b integer", "(a + b = 2) = (a IS NULL)"),
    ("b boolean", "b IS NOT FALSE"),
    ("b boolean", "b IS TRUE"),
    ("n integer", "(n > 0) IS NOT TRUE"),
    ("n integer", "(n > 0) IS FALSE"),
    ("n integer", "(n > 0) IS UNKNOWN"),
    ("n integer", "(n > 0) IS NOT UNKNOWN"),
    ("a integer, b integer", "a IS DISTINCT FROM b"),
    ("a integer, b integer", "a IS NOT DISTINCT FROM b"),
    ("n integer", "n IS DISTINCT FROM 3"),
    ("t text", "t IS NOT DISTINCT FROM 'a'"),
    ("a integer, b integer", "num_nonnulls(a, b) = 1"),
    ("a integer, b integer", "num_nulls(a, b) < 2"),
    ("a integer, t text", "1 <= num_nonnulls(a, t)"),
    ("n integer", "n BETWEEN SYMMETRIC 5 AND 1"),
    ("n integer", "n NOT BETWEEN SYMMETRIC 5 AND 1"),
    ("n integer", "coalesce(n, 0) <= 5"),
    ("n integer", "COALESCE(n, 10) < 5"),
    ("n integer", "3 < coalesce(n, 4)"),
    ("p numeric(10,2)", "coalesce(p, 0.5) > 0.50"),
    ("t text", "coalesce(t, '') <> ''"),
    ("d date", "coalesce(d, '2019-12-31') >= '2020-01-01'"),
    ("n integer", "abs(n) < 5"),
    ("a integer, b integer", "a + b > 10"),
    ("n integer", "n % 2 = 0"),
    ("t text", "t ~ '^\\w+$'"),
    ("t text", "t ~ '[[:alpha:]]'"),
    ("t text", "t IS DISTINCT FROM 'x'"),
    ("d date", "date_part('year', d) > 2000"),
    ("t text", "t COLLATE \"C\" > 'a'"),
    ("a integer, b integer", "coalesce(a, b) > 0"),
]
UNKNOWN = {
    "abs(n) < 5",
    "a + b > 10",
    "(a + b = 2) = (a IS NULL)",
    "n % 2 = 0",
    "t ~ '^\\w+$'",
    "t ~ '[[:alpha:]]'",
    "date_part('year', d) > 2000",
    "t COLLATE \"C\" > 'a'",
    "coalesce(a, b) > 0",
    "rtrim(t, 'x') = t",
    "m > 'sad'",  # enum order is the declaration's, not the labels'
}


ORDERED_TEXT = {"t < 'b'", "t >= 'B' AND t <= 'b'"}


@pytest.fixture(scope="module")
def namespace(base_settings: Settings) -> Iterator[Settings]:
    settings = fresh_settings(base_settings, prefix="ck")
    with get_engine(settings).begin() as connection:
        schema = quote_ident(settings.schema)
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
        connection.execute(sa.text(f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'ok', 'happy')"))
    yield settings
    migrate.reset(settings)


def _frame_values(type_name: str, values: list[str | None]) -> pd.Series:
    """Values typed as seedbed's reader types them."""
    family = type_family(type_name)
    if family == predicates.NUMBER and "numeric" not in type_name:
        return pd.Series(pd.array([None if v is None else int(v) for v in values], dtype="Int64"))
    if family in (predicates.FLOAT, predicates.FLOAT4):
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")
    if family == predicates.DATE:
        return pd.Series(
            [None if v is None else dt.date.fromisoformat(v) for v in values], dtype=object
        )
    if family == predicates.TIMESTAMP:
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")).astype(
            "datetime64[us]"
        )
    if family == predicates.TIMESTAMPTZ:
        parsed = [None if v is None else pd.Timestamp(v).tz_convert("UTC") for v in values]
        return pd.Series(parsed, dtype=object).astype(pd.DatetimeTZDtype("us", "UTC"))
    if family == predicates.BOOLEAN:
        return pd.Series(
            pd.array([None if v is None else v == "true" for v in values], dtype="boolean")
        )
    return pd.Series(values, dtype=object)


def _constants(rule: rules.Rule) -> Iterator[tuple[predicates.Column, predicates.Constant]]:
    """Every (column term, constant) pair the rule compares."""
    if isinstance(rule, predicates.Compare | predicates.OneOf):
        term = rule.left if isinstance(rule, predicates.Compare) else rule.term
        values = [rule.right] if isinstance(rule, predicates.Compare) else list(rule.values)
        for value in values:
            if isinstance(term, predicates.Column) and isinstance(value, predicates.Constant):
                yield term, value
    for part in getattr(rule, "parts", ()):
        yield from _constants(part)
    if isinstance(rule, predicates.Not):
        yield from _constants(rule.part)


def _around(term: predicates.Column, constant: predicates.Constant, kind: str) -> list[str]:
    """Values of a column of type ``kind`` on and either side of ``constant``."""
    value = constant.value
    if term.functions and term.functions[-1] in ("char_length", "octet_length"):
        size = int(value)
        return [c * n for n in (size - 1, size, size + 1) if n >= 0 for c in ("x", "é", "😀")]
    if constant.family == predicates.NUMBER:
        if "int" in kind:
            bits = {"smallint": 15, "integer": 31, "bigint": 63}[kind]
            near = {int(value) + d for d in (-1, 0, 1)} if value == int(value) else set()
            return [str(v) for v in sorted(near) if -(2**bits) <= v < 2**bits]
        return [str(value + d) for step in (Decimal("0.01"), 1) for d in (-step, 0, step)]
    if constant.family in (predicates.FLOAT, predicates.FLOAT4):
        number = float(value)
        return [repr(float(np.nextafter(number, d))) for d in (-np.inf, np.inf)] + [repr(number)]
    if constant.family in (predicates.DATE, predicates.TIMESTAMP, predicates.TIMESTAMPTZ):
        unit = 86_400_000_000 if kind == "date" else 1
        stamps = [np.datetime64(int(value) + d * unit, "us") for d in (-1, 0, 1)]
        if kind == "date":
            return [str(t.astype("datetime64[D]")) for t in stamps]
        return [str(t).replace("T", " ") + ("+00" if kind == "timestamptz" else "") for t in stamps]
    if isinstance(value, str) and kind in ("text", "varchar(20)", "char(3)"):
        return [
            value,
            value.upper(),
            value.lower(),
            value + " ",
            " " + value,
            value + "x",
            value[:-1],
        ]
    return []


def _rows(
    columns: list[tuple[str, str]], rule: rules.Rule | None = None
) -> list[tuple[str | None, ...]]:
    lists = [list(EDGES[kind]) for _, kind in columns]
    for term, constant in _constants(rule) if rule is not None else ():
        for (name, kind), values in zip(columns, lists, strict=True):
            limit = int(kind.partition("(")[2].rstrip(")") or 0) if "char" in kind else 0
            extra = _around(term, constant, kind) if name == term.name else []
            values.extend(v for v in extra if v not in values and (not limit or len(v) <= limit))
    if len(lists) == 1:
        return [(v,) for v in lists[0]]
    small = [[*values[:: max(1, len(values) // 12)], None] for values in lists]
    return list(itertools.product(*small))


def _columns(definition: str) -> list[tuple[str, str]]:
    """``"a integer, p numeric(10,2)"`` as ``[("a", "integer"), ("p", "numeric(10,2)")]``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(definition + ","):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            name, kind = definition[start:i].strip().split(" ", 1)
            parts.append((name, kind))
            start = i + 1
    return parts


def _columnar_verdicts(rule, frame: pd.DataFrame) -> list[bool] | None:
    import polars as pl

    from seedbed.validation.columnar import passes_expr

    polars = pl.from_pandas(frame)
    expr = passes_expr(rule, dict(polars.schema))
    return None if expr is None else polars.select(expr).to_series().to_list()


@pytest.mark.parametrize(("definition", "check"), CORPUS, ids=[c for _, c in CORPUS])
def test_a_translated_check_agrees_with_postgresql_on_every_value(namespace, definition, check):
    columns = _columns(definition)
    table = f"{quote_ident(namespace.schema)}.t{CORPUS.index((definition, check))}"
    with get_engine(namespace).begin() as connection:
        connection.execute(sa.text(f"SET LOCAL search_path TO {quote_ident(namespace.schema)}"))
        connection.execute(
            sa.text(escaped(f"CREATE TABLE {table} ({definition}, CHECK ({check}))"))
        )
        printed, expression, bytewise = connection.execute(
            sa.text(
                "SELECT pg_get_constraintdef(c.oid), pg_get_expr(c.conbin, c.conrelid),"
                " d.datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')"
                " FROM pg_constraint c, pg_database d"
                " WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'c'"
                " AND d.datname = current_database()"
            ),
            {"t": table},
        ).one()
        types = dict(
            connection.execute(
                sa.text(
                    "SELECT a.attname, CASE t.typtype WHEN 'e' THEN 'enum'"
                    " ELSE format_type(a.atttypid, a.atttypmod) END"
                    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                    " WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0"
                ),
                {"t": table},
            ).all()
        )
        if check in ORDERED_TEXT and not bytewise:
            pytest.skip("the server's collation does not order text by code point")
        found = rules_from_check(printed, types, name="probe", codepoint_order=bytewise)
        if check in UNKNOWN:
            assert found is None, f"{printed} should be left to the database"
            return
        assert found is not None, f"{printed} was not translated"
        (rule,) = found
        rows = _rows(columns, rule)
        names = [name for name, _ in columns]
        values = ", ".join(
            "("
            + ", ".join(
                [str(i)]
                + [
                    f"CAST({'NULL' if v is None else quote_literal(v)} AS {kind})"
                    for v, (_, kind) in zip(row, columns, strict=True)
                ]
            )
            + ")"
            for i, row in enumerate(rows)
        )
        header = ", ".join(quote_ident(n) for n in names)
        verdicts = connection.execute(
            sa.text(
                escaped(
                    f"SELECT i, ({expression}) IS NOT FALSE, ({rule.sql}) IS NOT FALSE"
                    f" FROM (VALUES {values}) AS v(i, {header}) ORDER BY i"
                )
            )
        ).all()
    frame = pd.DataFrame(
        {
            name: _frame_values(kind, [row[j] for row in rows])
            for j, (name, kind) in enumerate(columns)
        }
    )
    ours = rule.passes(frame).tolist()
    theirs = [verdict for _, verdict, _ in verdicts]
    disagree = [(rows[i], theirs[i]) for i in range(len(rows)) if ours[i] != theirs[i]]
    assert disagree == [], f"{printed}: (row, PostgreSQL's verdict) where the rule differs"
    columnar = _columnar_verdicts(rule, frame)  # the row engine's form, where the kind has one
    assert columnar is None or columnar == theirs, f"{printed}: the columnar form differs"
    assert [own for _, _, own in verdicts] == theirs, f"{rule.sql} is not {printed}"
    assert (any(theirs) and not all(theirs)) or check in {"t IS NULL OR t <> ''"}


def test_most_of_the_corpus_runs_in_process(namespace):
    """The share of the corpus translated, read back from PostgreSQL as a catalog gives it."""
    translated = 0
    with get_engine(namespace).connect() as connection, connection.begin():
        connection.execute(sa.text(f"SET LOCAL search_path TO {quote_ident(namespace.schema)}"))
        for i, (definition, check) in enumerate(CORPUS):
            table = f"{quote_ident(namespace.schema)}.share{i}"
            connection.execute(
                sa.text(escaped(f"CREATE TABLE {table} ({definition}, CHECK ({check}))"))
            )
            printed, types = connection.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(c.oid), (SELECT json_object_agg(a.attname,"
                    " CASE t.typtype WHEN 'e' THEN 'enum'"
                    " ELSE format_type(a.atttypid, a.atttypmod) END)"
                    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                    " WHERE a.attrelid = c.conrelid AND a.attnum > 0)"
                    " FROM pg_constraint c WHERE c.conrelid = CAST(:t AS regclass)"
                    " AND c.contype = 'c'"
                ),
                {"t": table},
            ).one()
            found = rules_from_check(printed, types, codepoint_order=True)
            assert (found is None) == (check in UNKNOWN), printed
            translated += found is not None
        connection.rollback()
    total = len(CORPUS)
    print(f"checks: {translated} in-process, {total - translated} in the database (of {total})")
    assert translated >= 40


def test_a_top_level_check_keyword_and_a_bare_expression_read_alike():
    columns = {"n": "integer"}
    (printed,) = rules_from_check("CHECK (((n >= 1) AND (n <= 10)))", columns) or ()
    (bare,) = rules_from_check("n BETWEEN 1 AND 10", columns) or ()
    assert printed.sql == bare.sql == '("n" >= 1) AND ("n" <= 10)'
    assert printed.columns == ("n",)
    assert printed.description == "n must be at least 1; and n must be at most 10"


def test_what_the_parser_refuses_or_does_not_know_is_left_to_the_database():
    assert rules_from_check("n >>> 1", {"n": "integer"}) is None
    assert rules_from_check("m > 1", {"n": "integer"}) is None  # not a column of the table
    assert rules_from_check("n > now()", {"n": "timestamp with time zone"}) is None
    assert rules_from_check("t < 'b'", {"t": "text"}) is None  # the collation decides the order
    assert rules_from_check("t::varchar(2) = 'ab'", {"t": "text"}) is None  # a cast that cuts


def test_a_domain_check_reads_value_as_a_column():
    (rule,) = rules_from_check("CHECK ((VALUE > 0))", {"value": "numeric(12,2)"}) or ()
    frame = pd.DataFrame({"value": ["0", "0.01", None]})
    assert rule.passes(frame).tolist() == [False, True, True]


def test_three_valued_logic_matches_sql():
    (rule,) = rules_from_check("a > 0 OR b > 0", {"a": "integer", "b": "integer"}) or ()
    frame = pd.DataFrame(
        {
            "a": pd.array([None, None, 0, 1], dtype="Int64"),
            "b": pd.array([0, None, 0, None], dtype="Int64"),
        }
    )
    assert rule.passes(frame).tolist() == [True, True, False, True]
    (negated,) = rules_from_check("NOT (a > 0)", {"a": "integer"}) or ()
    assert negated.passes(frame).tolist() == [True, True, True, False]


def test_the_predicate_kinds_are_offered_by_the_facts_layer_and_each_has_a_fill():
    for kind in predicates.PREDICATE_KINDS:
        assert getattr(declaration, kind.__name__) is kind
        assert fills.fill_for(kind.__new__(kind)) is not None, kind.__name__


GENERATED_CHECKS = {
    "qty_range": "qty BETWEEN 1 AND 10",
    "price_positive": "price > 0",
    "status_known": "status IN ('draft', 'live')",
    "code_length": "char_length(code) >= 3",
    "code_prefix": "code LIKE 'c%'",
    "ends_after_start": "ends_on >= starts_on",
    "code_unless_draft": "code IS NOT NULL OR status = 'draft'",
    "label_shape": "label ~ '^[a-z]{2,8}$'",
    "price_iff_qty": "(price IS NULL) = (qty IS NULL)",
    "starts_recently": "starts_on > '2020-01-01'",
    "status_not_x": "status <> 'x'",
    "price_or_code": "num_nonnulls(price, code) >= 1",
    "qty_truly_positive": "(qty > 0) IS TRUE",
    "qty_either_way": "qty BETWEEN SYMMETRIC 10 AND 1",
    "label_not_zz": "label IS DISTINCT FROM 'zz'",
    "status_not_y": "NOT (status = 'y')",
}


def test_rows_generated_for_translated_checks_are_taken_by_postgresql(namespace):
    model = sa.MetaData(schema=namespace.schema)
    types = {
        "qty": "integer",
        "price": "numeric(10,2)",
        "status": "character varying(20)",
        "code": "text",
        "label": "text",
        "starts_on": "date",
        "ends_on": "date",
    }
    translated = [
        rules_from_check(check, types, name=name) for name, check in GENERATED_CHECKS.items()
    ]
    table = sa.Table(
        "item",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("code", sa.Text),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        *rules.checks(*(found[0] for found in translated if found)),
    )
    assert all(translated)
    rows = generate_typed_tables(1600, seed=3, metadata=model)["item"]
    assert rows.num_rows >= 4
    with get_engine(namespace).begin() as connection:
        model.create_all(connection)
        connection.execute(table.insert(), rows.to_pylist())
        stored = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    assert stored == rows.num_rows


def test_a_rule_no_value_satisfies_fails_generation_naming_it():
    """A negation, a truth test, a count of NULLs: the rows a rule refuses are drawn again;
    one that refuses every value still fails, naming the rule (exit 2 on the command line)."""
    model = sa.MetaData(schema="x")
    types = {"n": "integer"}
    (never,) = rules_from_check("n > 0 AND n < 0", types, name="n_never") or ()
    (not_three,) = rules_from_check("NOT (n = 3)", types, name="n_not_three") or ()
    sa.Table(
        "box",
        model,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        *rules.checks(not_three, never),
    )
    with pytest.raises(GenerateError, match=r"box: .*n_never"):
        generate_typed_tables(10, metadata=model)


DOMAINS = [
    ("numeric(10,2)", "VALUE > 0"),
    ("integer", "VALUE BETWEEN 1 AND 10"),
    ("text", "VALUE ~ '^[a-z]+$'"),
    ("text", "char_length(VALUE) BETWEEN 2 AND 5"),
    ("varchar(20)", "VALUE IN ('draft', 'published')"),
    ("date", "VALUE >= '2020-01-01'"),
    ("text", "VALUE IS NOT NULL AND VALUE <> lower(VALUE)"),
]


@pytest.mark.parametrize(("base", "check"), DOMAINS, ids=[c for _, c in DOMAINS])
def test_a_translated_domain_check_agrees_with_postgresql(namespace, base, check):
    domain = f"{quote_ident(namespace.schema)}.d{DOMAINS.index((base, check))}"
    with get_engine(namespace).begin() as connection:
        connection.execute(sa.text(escaped(f"CREATE DOMAIN {domain} AS {base} CHECK ({check})")))
        printed, base_type = connection.execute(
            sa.text(
                "SELECT pg_get_constraintdef(c.oid), format_type(t.typbasetype, t.typtypmod)"
                " FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid"
                " WHERE c.contypid = CAST(:d AS regtype)"
            ),
            {"d": domain},
        ).one()
        (rule,) = rules_from_check(printed, {"value": base_type}) or ()
        values = [v for v in EDGES[base] if v is not None]
        verdicts = (
            connection.execute(
                sa.text("SELECT pg_input_is_valid(v, :d) FROM unnest(CAST(:vs AS text[])) AS v"),
                {"d": domain, "vs": values},
            )
            .scalars()
            .all()
        )
    frame = pd.DataFrame({"value": _frame_values(base, values)})
    assert rule.passes(frame).tolist() == verdicts, printed
    assert any(verdicts) and not all(verdicts)


MIXED = "(p >= 0.5 AND p < 100) OR (t ILIKE 'a_%' AND char_length(t) <= 4) OR lower(t) = 'ß'"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.none() | st.decimals(min_value=-1, max_value=101, places=2, allow_nan=False),
            st.none() | st.text(alphabet="aAbß_%é ẞ", max_size=5),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_generated_rows_get_postgresql_s_verdict(namespace, rows):
    types = {"p": "numeric(10,2)", "t": "text"}
    (rule,) = rules_from_check(MIXED, types) or ()
    with get_engine(namespace).begin() as connection:
        verdicts = (
            connection.execute(
                sa.text(
                    f"SELECT ({MIXED}) IS NOT FALSE FROM unnest(CAST(:p AS numeric[]),"
                    " CAST(:t AS text[])) WITH ORDINALITY AS v(p, t, i) ORDER BY i"
                ),
                {"p": [p for p, _ in rows], "t": [t for _, t in rows]},
            )
            .scalars()
            .all()
        )
    frame = pd.DataFrame(
        {
            "p": pd.Series([None if p is None else str(p) for p, _ in rows], dtype=object),
            "t": pd.Series([t for _, t in rows], dtype=object),
        }
    )
    assert rule.passes(frame).tolist() == verdicts


@pytest.mark.parametrize(
    "check",
    [
        "lower(t) = t",
        "upper(t) <> t",
        "t ILIKE 'ä%'",
        "t NOT ILIKE '%S%'",
        "t < 'b'",
        "t !~ '\\s'",
        "t ~ '^[[:space:]]*$'",
    ],
)
def test_under_the_c_collation_case_changes_ascii_letters_only(namespace, check):
    (rule,) = rules_from_check(check, {"t": "text"}, codepoint_order=True, ascii_case=True) or ()
    values = [v for v in TEXTS if v is not None]
    with get_engine(namespace).begin() as connection:
        verdicts = (
            connection.execute(
                sa.text(
                    f"SELECT ({check}) IS NOT FALSE FROM"
                    ' (SELECT CAST(v AS text) COLLATE "C" AS t, i'
                    " FROM unnest(CAST(:vs AS text[])) WITH ORDINALITY AS u(v, i)) AS s ORDER BY i"
                ),
                {"vs": values},
            )
            .scalars()
            .all()
        )
    frame = pd.DataFrame({"t": pd.Series(values, dtype=object)})
    assert rule.passes(frame).tolist() == verdicts


def test_a_table_with_translated_checks_gets_a_pandera_schema_that_names_them():
    import pandera.pandas as pandera

    from seedbed.validation.schemas import schema_for

    types = {"qty": "integer", "price": "numeric(10,2)", "status": "character varying(20)"}
    checks = {
        "qty_range": "CHECK (((qty >= 1) AND (qty <= 10)))",
        "status_known": "CHECK (((status)::text = ANY ((ARRAY['draft'::character varying,"
        " 'live'::character varying])::text[])))",
        "price_over_qty": "CHECK (((price > (0)::numeric) OR (qty IS NULL)))",
    }
    found = [rules_from_check(check, types, name=name) for name, check in checks.items()]
    table = sa.Table(
        "item",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("qty", sa.Integer),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Column("status", sa.String(20)),
        *rules.checks(*(rule for rules_found in found for rule in rules_found or ())),
    )
    frame = pd.DataFrame(
        {
            "id": ["1", "2", "3", "4"],
            "qty": ["1", "11", None, "5"],
            "price": ["0", "2.50", "0", None],
            "status": ["draft", "live", "Draft", None],
        }
    )
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        schema_for(table).validate(frame, lazy=True)
    cases = caught.value.failure_cases
    failed = sorted({(str(r["check"]), int(r["index"])) for _, r in cases.iterrows()})
    assert failed == [
        ("ck_item_price_over_qty", 0),
        ("ck_item_qty_range", 1),
        ("ck_item_status_known", 2),
    ]


@pytest.mark.parametrize(
    ("type_name", "rounds"),
    [
        ("numeric(10,2)", False),
        ("NUMERIC(10, 2)", False),
        ("numeric(10)", False),
        ("pg_catalog.timestamp(4)", True),
        ("decimal(5,1)", False),
        ("timestamp(3) without time zone", True),
        ("TIMESTAMP(0) WITH TIME ZONE", True),
        ("time(0) without time zone", True),
        ("numeric", False),
        ("timestamp with time zone", False),
        ("double precision", False),
        ("character varying(20)", False),
        ("varchar(3)", False),
    ],
)
def test_the_types_that_round_a_value_before_its_check_sees_it(type_name, rounds):
    assert rounds_first(type_name) is rounds
