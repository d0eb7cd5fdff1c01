"""A ``varchar(n)`` or ``char(n)`` value longer than n only by spaces is cut to n, as
PostgreSQL stores it, not refused; keys and rules see the value stored."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import model_folder, report_rows

MODEL = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Code(Base):
    __tablename__ = "code"
    __table_args__ = (sa.CheckConstraint("short <> 'x  '", name="short_not_x"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    short = mapped_column(sa.String(3), unique=True)
    fixed = mapped_column(sa.CHAR(2))
"""

VALUES = ["ab", "ab    ", "abcd", "abc ", "a b c", "éé   ", "ab \t", "   ", "x", "x    "]


@pytest.fixture
def codes(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "code_models", code=MODEL)


def _write(path: Path, rows: list[tuple[int, str, str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "short", "fixed"])
        writer.writerows(rows)
    return path


def test_values_long_by_spaces_are_cut_as_postgresql_cuts_them(
    codes: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    with engine.connect() as conn:
        for i, text in enumerate(VALUES, start=1):
            _write(seeds / "code.csv", [(i, text, text)])
            report = seedbed.validate(seeds, models=codes)
            refused = {(str(r["column"]), str(r["rule"])) for r in report.to_records()}
            for column, sql_type in (("short", "varchar(3)"), ("fixed", "char(2)")):
                valid = conn.execute(
                    sa.text("SELECT pg_input_is_valid(:v, :t)"), {"v": text, "t": sql_type}
                ).scalar_one()
                assert ((column, "length") not in refused) is valid, (text, column)
            if ("short", "length") not in refused:  # the CHECK sees the value stored
                stored = conn.execute(
                    sa.text("SELECT CAST(:v AS varchar(3)) <> 'x  '"), {"v": text}
                ).scalar_one()
                assert (("short", "ck_code_short_not_x") not in refused) is stored, text

    # Two spellings that are stored alike are one key; a load stores what PostgreSQL makes.
    _write(seeds / "code.csv", [(1, "ab ", "a"), (2, "ab   ", "b  "), (3, "x", "c")])
    assert [
        (f, line, rule) for f, line, rule, _ in report_rows(seedbed.validate(seeds, models=codes))
    ] == [("code.csv", 3, "uq_code_short")]
    _write(seeds / "code.csv", [(1, "ab   ", "a   "), (2, "y  ", "b")])
    metadata = facts.model_source(codes).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    seedbed.load(seeds, engine=engine, models=codes)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f'SELECT short, fixed FROM "{empty_settings.schema}".code ORDER BY id')
        ).all()
    assert [tuple(r) for r in rows] == [("ab ", "a "), ("y  ", "b ")]
