"""Typed values of Arrow, Polars and Parquet for columns of types PostgreSQL reads itself
(``interval``, ``time``, arrays): durations, times of day, Arrow's month-day-nano
intervals and lists are written as PostgreSQL's text of them, and stored as the same
values a pandas DataFrame of Python objects stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import pushed_here

MODEL = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Timing(Base):
    __tablename__ = "timing"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    took = mapped_column(sa.Interval)
    opens = mapped_column(sa.Time)
    counts = mapped_column(pg.ARRAY(sa.Integer))
    words = mapped_column(pg.ARRAY(sa.Text))
    label = mapped_column(sa.Text, sa.CheckConstraint("label <> 'True'", name="lower_case"))
"""

IDS = [1, 2, 3, 4]
COLUMNS: dict[str, list[Any]] = {
    "took": [
        dt.timedelta(days=1, seconds=3, microseconds=5),
        dt.timedelta(microseconds=-1),
        dt.timedelta(days=-40, hours=5),
        None,
    ],
    "opens": [dt.time(1, 2, 3, 4), dt.time(23, 59, 59, 999999), dt.time(0), None],
    "counts": [[1, None, 3], [], [2**31 - 1], None],
    "words": [["a b", '"q"', None, "NULL", "{x}"], ["back\\slash"], [""], None],
}


def _arrow() -> pa.Table:
    return pa.table({"id": IDS, **COLUMNS})


def _parquet(folder: Path) -> Path:
    path = folder / "timing.parquet"
    pq.write_table(_arrow(), path)
    return path


INPUTS = {
    "Arrow": lambda _: _arrow(),
    "Arrow, nanoseconds": lambda _: _arrow().set_column(
        1, "took", _arrow().column("took").cast(pa.duration("ns"))
    ),
    "Polars": lambda _: pl.from_arrow(_arrow()),
    "Parquet": _parquet,
    "pandas, Arrow types": lambda _: _arrow().to_pandas(types_mapper=pd.ArrowDtype),
}


@pytest.fixture
def timing_env(
    tmp_path: Path,
    db_env: dict[str, str],
    empty_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    folder = tmp_path / "timing_models"
    return pushed_here(folder, db_env, empty_settings, monkeypatch, timing=MODEL)


def _stored(settings: Settings) -> list[tuple[Any, ...]]:
    with get_engine(settings).begin() as conn:
        found = conn.execute(sa.text(f'SELECT * FROM "{settings.schema}".timing ORDER BY id'))
        rows = [tuple(row) for row in found]
        conn.execute(sa.text(f'TRUNCATE "{settings.schema}".timing'))
        return rows


@pytest.mark.parametrize("kind", list(INPUTS))
def test_typed_values_load_as_a_pandas_frame_of_python_values_does(
    kind: str, timing_env: Settings, tmp_path: Path
) -> None:
    objects = pd.DataFrame({"id": IDS, **COLUMNS})
    seedbed.load({"timing": objects}, progress=False)
    expected = _stored(timing_env)
    assert expected[0][1 : 1 + len(COLUMNS)] == tuple(COLUMNS[name][0] for name in COLUMNS)

    given = INPUTS[kind](tmp_path)
    report = seedbed.validate({"timing": given})
    assert report.ok, report.failures.to_dict("records")
    seedbed.load({"timing": given}, progress=False)
    assert _stored(timing_env) == expected


def test_arrows_month_day_nano_interval_keeps_its_parts(timing_env: Settings) -> None:
    parts = [pa.MonthDayNano([1, 2, 3_000]), pa.MonthDayNano([-1, 40, -1_500_000_000]), None]
    given = pa.table({"id": [1, 2, 3], "took": pa.array(parts, pa.month_day_nano_interval())})
    assert seedbed.validate({"timing": given}).ok
    seedbed.load({"timing": given}, progress=False)
    with get_engine(timing_env).connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT extract(month FROM took), extract(day FROM took), "
                f'extract(microseconds FROM took) FROM "{timing_env.schema}".timing ORDER BY id'
            )
        )
        assert [tuple(None if v is None else float(v) for v in row) for row in found] == [
            (1.0, 2.0, 3.0),
            (-1.0, 40.0, -1_500_000.0),
            (None, None, None),
        ]


def test_a_value_its_column_cannot_read_is_a_report_row(timing_env: Settings) -> None:
    """A duration for a time of day is written as an interval's text, which PostgreSQL's
    ``time`` refuses: a ``type`` row, and nothing loads."""
    given = pa.table({"id": [1, 2], "opens": pa.array([None, 5], pa.duration("s"))})
    report = seedbed.validate({"timing": given})
    assert report.failures[["line", "column", "rule"]].to_dict("records") == [
        {"line": 1, "column": "opens", "rule": "type"}
    ]
    with pytest.raises(seedbed.SeedbedError):
        seedbed.load({"timing": given}, progress=False)
    assert _stored(timing_env) == []


def test_the_polars_pandera_schema_reads_them_as_the_load_does(timing_env: Settings) -> None:
    frame = pl.from_arrow(_arrow())
    assert isinstance(frame, pl.DataFrame)
    seedbed.pandera_schema("timing", backend="polars").validate(frame, lazy=True)
    wrong = frame.with_columns(pl.lit("not a time").alias("opens"))
    with pytest.raises(Exception, match="opens"):
        seedbed.pandera_schema("timing", backend="polars").validate(wrong, lazy=True)


@pytest.mark.parametrize("dtype", ["bool", "boolean"])
def test_booleans_in_a_text_column_are_judged_as_the_text_stored(
    dtype: str, timing_env: Settings
) -> None:
    """COPY gets a frame's booleans as ``true`` and ``false`` (Arrow's CSV writer), so that
    is the text its CHECKs are judged on (pandas' own text, ``True``, was judged)."""
    given = pd.DataFrame({"id": [1, 2], "label": pd.Series([True, False], dtype=dtype)})
    report = seedbed.validate({"timing": given})
    assert report.ok, report.failures.to_dict("records")
    seedbed.load({"timing": given}, progress=False)
    with get_engine(timing_env).connect() as conn:
        found = conn.execute(sa.text(f'SELECT label FROM "{timing_env.schema}".timing ORDER BY id'))
        assert list(found.scalars()) == ["true", "false"]
