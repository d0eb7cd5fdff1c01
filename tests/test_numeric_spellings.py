"""Numbers written as PostgreSQL also reads them (white space around, ``inf``, ``nan`` in any
case) are read in ``numeric``, ``numeric(p, s)``, ``double precision`` and ``real`` columns
as PostgreSQL reads them, and load as the values PostgreSQL makes of them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import model_folder

MODEL = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Reading(Base):
    __tablename__ = "reading"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    exact = mapped_column(sa.Numeric)
    money = mapped_column(sa.Numeric(6, 2))
    double = mapped_column(sa.Double)
    single = mapped_column(sa.REAL)
"""

COLUMNS = {"exact": "numeric", "money": "numeric(6,2)", "double": "float8", "single": "float4"}
#: Spellings of numbers, special values and near misses (no sign before NaN, which only the
#: float types read, and no 0x10 or 1_000, which PostgreSQL 16 reads and 15 does not).
SPELLINGS = [
    "1.5",
    " 1.5",
    "1.5 ",
    "\t-2\t",  # one physical line a row: each row's line is its id + 1
    "inf",
    "-inf",
    "+INF",
    "Infinity",
    "-infinity",
    " Infinity ",
    "nan",
    "NaN",
    " NAN ",
    "1e3",
    "1.005",
    "abc",
    "1 5",
    "- 1",
    "infinite",
    "in f",
]


@pytest.fixture
def readings(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "reading_models", reading=MODEL)


def test_numbers_are_read_and_refused_as_postgresql_reads_them(
    readings: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    with (seeds / "reading.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *COLUMNS])
        for i, text in enumerate(SPELLINGS, start=1):
            writer.writerow([i, *([text] * len(COLUMNS))])
    report = seedbed.validate(seeds, models=readings)
    refused = {(int(r["line"]) - 1, str(r["column"])) for r in report.to_records()}
    with engine.connect() as conn:
        expected = {
            (i, column)
            for i, text in enumerate(SPELLINGS, start=1)
            for column, sql_type in COLUMNS.items()
            if not conn.execute(
                sa.text("SELECT pg_input_is_valid(:v, :t)"), {"v": text, "t": sql_type}
            ).scalar_one()
        }
    assert refused == expected
    assert ("5", "exact") not in refused  # inf: PostgreSQL's Infinity

    # The rows every column reads load as the values PostgreSQL makes of that text.
    readable = [
        (i, text)
        for i, text in enumerate(SPELLINGS, start=1)
        if not any((i, c) in expected for c in COLUMNS)
    ]
    assert len(readable) >= 8
    with (seeds / "reading.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *COLUMNS])
        for i, text in readable:
            writer.writerow([i, *([text] * len(COLUMNS))])
    metadata = facts.model_source(readings).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    seedbed.load(seeds, engine=engine, models=readings)
    with engine.connect() as conn:
        for i, text in readable:
            row = conn.execute(
                sa.text(
                    "SELECT exact::text, money::text, double::text, single::text "
                    f'FROM "{empty_settings.schema}".reading WHERE id = :i'
                ),
                {"i": i},
            ).one()
            made = tuple(
                conn.execute(sa.text(f"SELECT CAST(:v AS {t})::text"), {"v": text}).scalar_one()
                for t in COLUMNS.values()
            )
            assert tuple(row) == made, text
