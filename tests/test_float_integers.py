"""Whole numbers held as floats in an integer column validate and load as integers.

pandas holds an integer column with a missing value as ``float64`` (``pd.read_csv`` of a
column with a blank, a merge, a ``reindex``), and a Parquet or Arrow file may hold one
as ``double``. Such a float is read as the integer it is when it is whole and in the
column's range; COPY then gets that integer (pyarrow's CSV writer would give ``1e+15``,
which PostgreSQL refuses). NaN (a value in Arrow and Polars), the infinities and the
rest are ``type`` problems, and nothing is loaded. (A JSON Lines number is read as
written, as CSV text is: ``1.0`` is no integer there.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import DataError
from seedbed.sqltext import quote_ident
from tests.helpers import model_folder

COUNTS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Count(Base):
    __tablename__ = "count"
    __table_args__ = (sa.CheckConstraint("small >= 0", name="small_not_negative"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    small = mapped_column(sa.SmallInteger)
    big = mapped_column(sa.BigInteger)
"""


@pytest.fixture
def counts(tmp_path: Path, empty_settings: Settings) -> tuple[Path, Settings]:
    models = model_folder(tmp_path / "count_models", count=COUNTS)
    metadata = facts.model_source(models).metadata(empty_settings.schema)
    with get_engine(empty_settings).begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(empty_settings.schema)}"))
        metadata.create_all(conn)
    return models, empty_settings


def _stored(settings: Settings) -> list[tuple[int, int | None, int | None]]:
    schema = quote_ident(settings.schema)
    with get_engine(settings).connect() as conn:
        rows = conn.execute(sa.text(f"SELECT id, small, big FROM {schema}.count ORDER BY id"))
        return [tuple(row) for row in rows]


def _refused(report: seedbed.ValidationReport) -> set[tuple[int, str, str]]:
    return {(int(r["line"]), str(r["column"]), str(r["rule"])) for r in report.to_records()}


def test_a_csv_read_by_pandas_with_blanks_in_integer_columns_loads(
    counts: tuple[Path, Settings], tmp_path: Path
) -> None:
    models, settings = counts
    csv = tmp_path / "count.csv"
    csv.write_text("id,small,big\n1,3,\n2,,1000000000000000\n3,7,-4\n")
    frame = pd.read_csv(csv)
    assert str(frame["small"].dtype) == "float64" and str(frame["big"].dtype) == "float64"
    assert seedbed.validate({"count": frame}, models=models).ok
    seedbed.load({"count": frame}, engine=get_engine(settings), models=models)
    assert _stored(settings) == [(1, 3, None), (2, None, 10**15), (3, 7, -4)]


def test_floats_that_are_not_whole_numbers_in_range_are_type_problems(
    counts: tuple[Path, Settings],
) -> None:
    models, settings = counts
    frame = pd.DataFrame(
        {
            "id": [1.0, 2.5, 3.0, 4.0, 5.0, 6.0],
            "small": [1.0, 1.0, 40000.0, float("inf"), -1.0, float("nan")],
            "big": [2.0**63, 1.0, 1.0, 1.0, 1.0, -(2.0**63)],
        }
    )
    report = seedbed.validate({"count": frame}, models=models)
    # 2**63 is past bigint, -2**63 its least; 40000 is no smallint; -1 fails its CHECK
    assert _refused(report) == {
        (0, "big", "type"),
        (1, "id", "type"),
        (2, "small", "type"),
        (3, "small", "type"),
        (4, "small", "ck_count_small_not_negative"),
    }
    assert "whole number" in str(report.to_records()[0]["message"])
    with pytest.raises(DataError):
        seedbed.load({"count": frame}, engine=get_engine(settings), models=models)
    assert _stored(settings) == []  # nothing was loaded


def test_arrow_polars_and_parquet_floats_load_as_integers(
    counts: tuple[Path, Settings], tmp_path: Path
) -> None:
    models, settings = counts
    table = pa.table(
        {
            "id": pa.array([1.0, 2.0, 3.0]),
            "small": pa.array([5.0, None, 0.0], pa.float32()),
            "big": pa.array([1e15, -0.0, None]),
        }
    )
    expected = [(1, 5, 10**15), (2, None, 0), (3, 0, None)]
    pq.write_table(table, tmp_path / "count.parquet")
    engine = get_engine(settings)
    schema = quote_ident(settings.schema)
    for source in (
        {"count": table},
        {"count": pl.from_arrow(table)},
        tmp_path / "count.parquet",
    ):
        assert seedbed.validate(source, models=models).ok, source
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {schema}.count"))
        seedbed.load(source, engine=engine, models=models)
        assert _stored(settings) == expected, source


def test_nan_in_an_arrow_or_polars_float_is_no_integer(counts: tuple[Path, Settings]) -> None:
    models, _ = counts
    table = pa.table({"id": pa.array([1.0, 2.0]), "small": pa.array([float("nan"), None])})
    for source in (table, pl.from_arrow(table)):
        report = seedbed.validate({"count": source}, models=models)
        assert _refused(report) == {(0, "small", "type")}  # NULL is NULL; NaN is a value
