"""Every column type seedbed reads itself, against PostgreSQL's own reading of the same text.

A declared model holds one column of each such type; one CSV holds a list of spellings (the
same text in every column). seedbed never accepts a cell PostgreSQL refuses
(``pg_input_is_valid``), and refuses only the cells listed here as deliberately stricter
(the validating guide lists why). The cells it accepts load as the values PostgreSQL makes
of their text.
"""

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

#: column -> (its SQLAlchemy type, the PostgreSQL type it creates)
COLUMNS = {
    "i2": ("sa.SmallInteger", "smallint"),
    "i4": ("sa.Integer", "integer"),
    "i8": ("sa.BigInteger", "bigint"),
    "num": ("sa.Numeric", "numeric"),
    "n62": ("sa.Numeric(6, 2)", "numeric(6,2)"),
    "f8": ("sa.Double", "double precision"),
    "f4": ("sa.REAL", "real"),
    "b": ("sa.Boolean", "boolean"),
    "d": ("sa.Date", "date"),
    "ts": ("sa.DateTime", "timestamp"),
    "tz": ("sa.DateTime(timezone=True)", "timestamptz"),
    "u": ("sa.Uuid", "uuid"),
    "t": ("sa.Text", "text"),
    "v5": ("sa.String(5)", "varchar(5)"),
    "c3": ("sa.CHAR(3)", "char(3)"),
    "j": ("postgresql.JSON", "json"),
    "jb": ("postgresql.JSONB", "jsonb"),
    "ip": ("postgresql.INET", "inet"),
}

MODEL = (
    "import sqlalchemy as sa\n"
    "from sqlalchemy.dialects import postgresql\n"
    "from sqlalchemy.orm import Mapped, mapped_column\n\n"
    "from .base import Base\n\n\n"
    "class Cell(Base):\n"
    '    __tablename__ = "cell"\n\n'
    "    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)\n"
    + "".join(f"    {name} = mapped_column({kind})\n" for name, (kind, _) in COLUMNS.items())
)

INTEGERS = {"i2", "i4", "i8"}
NUMBERS = {"num", "n62"}
FLOATS = {"f8", "f4"}
TIMES = {"d", "ts", "tz"}

#: Each spelling, and the columns where seedbed refuses it on purpose though PostgreSQL
#: reads it: booleans other than true/false/t/f; dates and times other than ISO 8601 (and a
#: time stamp with time zone without its offset, a date with a time of day, words for the
#: time of loading, 24:00 and leap seconds, more than 6 fractional digits, dates past
#: 294247-01-10); 0x and _ in numbers (PostgreSQL 16 reads them, 15 does not); a sign
#: before NaN; ``json`` read as ``jsonb`` reads it (no ``\u0000``, no lone surrogate).
SPELLINGS: list[tuple[str, set[str]]] = [
    ("1", {"b"}),
    (" 1", {"b"}),
    ("1 ", {"b"}),
    ("\t-7\t", set()),
    (" +7 ", set()),
    ("-007", set()),
    ("0000000000000000000000042", set()),
    ("32767", set()),
    ("32768", set()),
    ("-32769", set()),
    ("2147483648", set()),
    ("9223372036854775807", set()),
    ("9223372036854775808", set()),
    ("1.5", set()),
    (".5", set()),
    ("5.", set()),
    ("-.5e-3", set()),
    ("1E5", set()),
    ("1e1000", set()),
    ("1e-1000", set()),
    ("0e500", set()),
    ("1e400", set()),
    ("-1e400", set()),
    ("1e39", set()),
    ("1e-50", set()),
    ("1e-400", set()),
    ("4.9e-324", set()),
    ("3.4028235e38", set()),
    ("3.5e38", set()),
    ("1.7976931348623157e308", set()),
    ("1.8e308", set()),
    ("12345678901234567890123456789012345678901234567890", set()),
    ("inf", set()),
    ("-Infinity", set()),
    (" NaN ", set()),
    ("-NaN", FLOATS),
    ("0x10", INTEGERS | NUMBERS | FLOATS),
    ("1_000", INTEGERS | NUMBERS),
    ("t", set()),
    ("TRUE", {"b"}),
    ("yes", {"b"}),
    ("on", {"b"}),
    ("0", {"b"}),
    (" true", {"b"}),
    ("2024-02-29", {"tz"}),
    ("2023-02-29", set()),
    (" 2024-01-01", {"tz"}),
    ("2024-01-01\t", {"tz"}),
    ("20240101", TIMES),
    ("2024-1-1", TIMES),
    ("Jan 1 2024", TIMES),
    ("infinity", set()),
    ("-infinity", set()),
    ("epoch", set()),
    ("now", TIMES),
    ("today", TIMES),
    ("2024-01-01 10:00", {"d", "tz"}),
    (" 2024-01-01T10:00:00Z ", {"d"}),
    ("2024-01-01 10:00:00+05:30", {"d"}),
    ("2024-01-01 10:00+00", {"d"}),  # ISO 8601 without seconds, with its offset
    ("2024-01-01T10:00Z", {"d"}),
    ("2024-01-01 10:00-05:30", {"d"}),
    ("2024-01-01 24:00:00+00", TIMES),
    ("2024-01-01 23:59:60+00", TIMES),
    ("2024-01-01 10:00:00.1234567+00", TIMES),
    ("0001-01-01 BC", {"tz"}),
    ("294277-01-01", {"d"}),
    ("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", set()),
    ("A0EEBC999C0B4EF8BB6D6BB9BD380A11", set()),
    (" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", set()),
    ("abcde ", set()),
    ("abcdef", set()),
    ("ab   ", set()),
    ('{"a": 1}', set()),
    (" [1, 2] ", set()),
    ("null", set()),
    ("NaN", set()),
    ('{"a": "\\u0000"}', {"j"}),  # json read as jsonb reads it
    ('{"a": "\\ud800"}', {"j"}),
    ('{"a": 1e400, "b": -0}', set()),
    ('{"a": 01}', set()),
    ("[1, 2,]", set()),
    ("192.168.0.1/24", set()),
    ("::1", set()),
    ("10.0.0.1/33", set()),
    ("010.1.1.1", {"ip"}),
]


@pytest.fixture
def cells(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "cell_models", cell=MODEL)


def _write(seeds: Path, rows: list[list[str]]) -> None:
    with (seeds / "cell.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *COLUMNS])
        writer.writerows(rows)


def test_every_type_reads_what_postgresql_reads_but_the_listed_strictnesses(
    cells: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    texts = [text for text, _ in SPELLINGS]
    _write(seeds, [[str(i), *([text] * len(COLUMNS))] for i, text in enumerate(texts, 1)])
    report = seedbed.validate(seeds, models=cells)
    refused = {(texts[int(r["line"]) - 2], str(r["column"])) for r in report.to_records()}
    assert {str(r["rule"]) for r in report.to_records()} <= {"type", "length"}

    with engine.connect() as conn:
        valid = {
            (text, column)
            for column, (_, sql_type) in COLUMNS.items()
            for text, ok in conn.execute(
                sa.text("SELECT v, pg_input_is_valid(v, :t) FROM unnest(CAST(:vs AS text[])) v"),
                {"vs": texts, "t": sql_type},
            )
            if ok
        }
    accepted = {(text, column) for text in texts for column in COLUMNS} - refused
    assert sorted(accepted - valid) == []  # never a cell the load would refuse
    stricter = {(text, column) for text, columns in SPELLINGS for column in columns}
    assert sorted((refused & valid) ^ stricter) == []
    # the cells this change made readable, and the ones it made refused
    assert {("\t-7\t", "i2"), (" 2024-01-01", "d"), ("1e1000", "num")} <= accepted
    assert {("1e39", "f4"), ("1e400", "f8"), ("1e-400", "f8"), ("3.5e38", "f4")} <= refused

    # What seedbed accepts loads as the values PostgreSQL makes of the same text.
    rows = [
        [str(i), *(text if (text, column) in accepted else "" for column in COLUMNS)]
        for i, text in enumerate(texts, 1)
    ]
    _write(seeds, rows)
    metadata = facts.model_source(cells).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    seedbed.load(seeds, engine=engine, models=cells)
    listed = ", ".join(f"{column}::text" for column in COLUMNS)
    with engine.connect() as conn:
        stored = {
            int(row[0]): row[1:]
            for row in conn.execute(
                sa.text(f'SELECT id, {listed} FROM "{empty_settings.schema}".cell')
            )
        }
        for i, text in enumerate(texts, 1):
            for column, value in zip(COLUMNS, stored[i], strict=True):
                if (text, column) not in accepted:
                    assert value is None
                    continue
                made = conn.execute(
                    sa.text(f"SELECT CAST(CAST(:v AS {COLUMNS[column][1]}) AS text)"),
                    {"v": text},
                ).scalar_one()
                assert value == made, (text, column)


def test_typed_floats_a_real_column_cannot_hold_are_refused_from_every_frame(
    cells: Path,
) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    # doubles a real refuses (too large, too small but not zero), and ones it holds
    values = [1e39, 1.5, 1e-50, -3.5e38, 0.0, float("inf"), 1e-45, 3.4e38]
    frame = pd.DataFrame({"id": range(1, len(values) + 1), "f4": values, "f8": values})
    for source in (frame, pa.Table.from_pandas(frame), pl.from_pandas(frame)):
        report = seedbed.validate({"cell": source}, models=cells)
        refused = {(int(r["line"]), str(r["column"])) for r in report.to_records()}
        assert refused == {(0, "f4"), (2, "f4"), (3, "f4")}, type(source)  # frame rows
        assert "magnitudes from 1.4e-45 to 3.4e38" in str(report.to_records()[0]["message"])


GAUGE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Gauge(Base):
    __tablename__ = "gauge"
    __table_args__ = (sa.CheckConstraint("low < 100", name="low_below_100"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    level = mapped_column(sa.Double, nullable=False)
    low = mapped_column(sa.REAL)
"""


def test_nan_in_arrow_parquet_and_polars_floats_is_nan_not_null(
    tmp_path: Path, empty_settings: Settings
) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    models = model_folder(tmp_path / "gauge_models", gauge=GAUGE)
    nan = float("nan")
    table = pa.table({"id": [1, 2, 3], "level": [nan, 1.0, 2.0], "low": [1.0, nan, None]})
    folder = tmp_path / "parquet"
    folder.mkdir()
    pq.write_table(table, folder / "gauge.parquet")
    for source in (table, pl.from_arrow(table), folder):
        given = source if isinstance(source, Path) else {"gauge": source}
        report = seedbed.validate(given, models=models)
        # NOT NULL holds (NaN is a value); NaN < 100 is false in PostgreSQL: refused
        refused = {(int(r["line"]), str(r["rule"])) for r in report.to_records()}
        assert refused == {(1, "ck_gauge_low_below_100")}  # rows from 0, as Parquet's
    # a pandas frame's NaN is its missing value, as pandas holds it: NULL
    frame = pd.DataFrame({"id": [1], "level": [nan], "low": [1.0]})
    report = seedbed.validate({"gauge": frame}, models=models)
    assert [str(r["rule"]) for r in report.to_records()] == ["not_null"]

    engine = get_engine(empty_settings)
    metadata = facts.model_source(models).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    kept = pa.table({"id": [1, 2], "level": [nan, 1.0], "low": [1.0, None]})
    seedbed.load({"gauge": kept}, engine=engine, models=models)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(f'SELECT level::text FROM "{empty_settings.schema}".gauge ORDER BY id')
        )
        assert [row[0] for row in found] == ["NaN", "1"]
