"""SQL that SQLAlchemy's ``text()`` must pass on as written (``seedbed.sqltext``)."""

from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from seedbed.models import rules
from seedbed.sqltext import escaped, unescaped


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
