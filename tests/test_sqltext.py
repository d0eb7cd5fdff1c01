"""SQL that SQLAlchemy's ``text()`` must pass on as written (``seedbed.sqltext``)."""

from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.models import rules
from seedbed.sqltext import (
    escaped,
    qualified_name,
    quote_ident,
    quote_literal,
    quoted_in_sql,
    unescaped,
)
from tests.helpers import ROOT


def test_text_compiles_escaped_sql_back_to_the_original() -> None:
    rng = random.Random(7)
    alphabet = ":\\a_' (%[1"
    samples = ["tag(:v[0-9]+)?", "<> ':draft'", "a\\:b", "x::jsonb", ":a:", "\\\\:z", ""]
    for _ in range(5000):
        samples.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    for sql in samples:
        assert str(sa.text(escaped(sql)).compile()) == sql, sql
        assert unescaped(escaped(sql)) == sql, sql
    assert "NULL" in str(sa.text(":v").compile(compile_kwargs={"literal_binds": True}))


def test_a_rule_with_a_colon_name_keeps_it_in_its_check() -> None:
    rule = rules.Matches("code_format", ("code",), "a tag, maybe versioned", r"tag(:v[0-9]+)?")
    table = sa.Table("t", sa.MetaData(), sa.Column("code", sa.Text), rule.constraint())
    ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
    assert "'^(tag(:v[0-9]+)?)$'" in ddl and "NULL[0-9]" not in ddl


AWKWARD = ["plain", "Mixed Case", 'a"quote', "it's", 'a"b""c', "x'y''z", "semi; drop", "dollar$$"]


def test_quoted_names_and_literals_reach_the_database_as_written(empty_settings: Settings) -> None:
    with get_engine(empty_settings).connect() as conn:
        for text in AWKWARD:
            sql = f"SELECT {quote_literal(text)} AS {quote_ident(text)}"
            result = conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
            assert (list(result.keys()), result.scalar_one()) == ([text], text)
            in_server = conn.exec_driver_sql(f"SELECT {quoted_in_sql(quote_literal(text))}")
            assert in_server.scalar_one() == quote_ident(text)
        table = qualified_name(empty_settings.schema, 'a "table"')
        column = quote_ident("it's")
        conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(empty_settings.schema)}")
        conn.exec_driver_sql(f"CREATE TABLE {table} ({column} int)")
        found = conn.exec_driver_sql(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema = {quote_literal(empty_settings.schema)}"
        ).all()
        conn.rollback()
    assert found == [(empty_settings.schema, 'a "table"', "it's")]


#: Quoting written by hand: a name's ``"`` or a literal's ``'`` doubled in place.
_HAND_QUOTING = ("replace('\"', '\"\"')", 'replace("\'", "\'\'")')


def test_no_module_but_sqltext_quotes_sql_by_hand() -> None:
    package = ROOT / "src" / "seedbed"
    quoting = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if path.name != "sqltext.py" and any(q in path.read_text() for q in _HAND_QUOTING)
    ]
    assert quoting == []


def test_the_hand_quoting_scan_sees_a_hand_written_quote() -> None:
    assert any(q in "    return '\"' + name.replace('\"', '\"\"') + '\"'" for q in _HAND_QUOTING)


def test_days_and_calendar_dates_convert_both_ways_like_python_dates():
    from datetime import date

    from seedbed.sqltext import civil_from_days, days_from_civil

    for day in range(-2_500_000, 2_500_000, 9973):  # 4714 BC to 8800 AD and beyond
        assert days_from_civil(*civil_from_days(day)) == day
    epoch = date(1970, 1, 1)
    for when in (date(1, 1, 1), date(1600, 2, 29), date(1900, 3, 1), date(9999, 12, 31)):
        assert days_from_civil(when.year, when.month, when.day) == (when - epoch).days
        assert civil_from_days((when - epoch).days) == (when.year, when.month, when.day)
