"""A DataFrame's dates (``datetime.date`` objects, as psycopg and ``read_table`` give them,
or pandas time stamps at midnight) validate and load into a date column; a time of day is
refused, as in a file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seedbed
from seedbed import explore, facts
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import model_folder

EVENTS = """
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[dt.date | None] = mapped_column(sa.Date)
"""


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "event_models", event=EVENTS)


def _problems(report: seedbed.ValidationReport) -> list[tuple[int, str, object]]:
    rows = report.failures[["line", "rule", "value"]].itertuples(index=False)
    return [(int(line), str(rule), value) for line, rule, value in rows]


@pytest.mark.parametrize(
    "days",
    [
        [dt.date(2024, 2, 29), None, dt.date(1, 1, 1)],
        pd.to_datetime(["2024-02-29", None, "0001-01-01"]),
        np.array(["2024-02-29", "NaT", "0001-01-01"], dtype="datetime64[D]"),
        [dt.datetime(2024, 2, 29), None, dt.datetime(1, 1, 1)],  # midnight: a date
    ],
    ids=["date objects", "pandas stamps", "numpy days", "midnight datetimes"],
)
def test_a_frames_dates_load_as_dates(events: Path, empty_settings: Settings, days: object) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "day": days})
    assert seedbed.validate({"event": frame}, models=events).ok
    engine = get_engine(empty_settings)
    with engine.begin() as conn:
        facts.model_source(events).metadata(empty_settings.schema).create_all(conn)
    seedbed.load({"event": frame}, engine=engine, models=events)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(
            f'SELECT day::text FROM "{empty_settings.schema}".event ORDER BY id'
        ).scalars()
        assert list(found) == ["2024-02-29", None, "0001-01-01"]


def test_a_time_of_day_in_a_date_is_refused_from_a_frame_as_from_a_file(
    events: Path, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {"id": [1, 2, 3], "day": pd.to_datetime(["2024-01-01 05:00", "2024-01-02 00:00", None])}
    )
    assert _problems(seedbed.validate({"event": frame}, models=events)) == [
        (0, "type", "2024-01-01T05:00:00.000000")
    ]
    objects = pd.DataFrame({"id": [1, 2], "day": [dt.date(2024, 1, 2), dt.datetime(2024, 1, 1, 5)]})
    assert [
        rule for _, rule, _ in _problems(seedbed.validate({"event": objects}, models=events))
    ] == ["type"]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "event.csv").write_text("id,day\n1,2024-01-01 05:00:00\n2,2024-01-02\n3,\n")
    assert _problems(seedbed.validate(seeds, models=events)) == [(2, "type", "2024-01-01 05:00:00")]


def test_dates_read_from_a_table_load_back_as_the_same_dates(
    events: Path, empty_settings: Settings
) -> None:
    engine = get_engine(empty_settings)
    schema = empty_settings.schema
    literals = ["2024-02-29", "infinity", "-infinity", "0044-03-15 BC", "10000-01-01", None]
    with engine.begin() as conn:
        facts.model_source(events).metadata(schema).create_all(conn)
        for i, text in enumerate(literals, 1):
            day = "NULL" if text is None else f"'{text}'"
            conn.exec_driver_sql(f'INSERT INTO "{schema}".event VALUES ({i}, {day})')
    with engine.connect() as conn, facts.using_models(events):
        read = explore.read_table(conn, "event", order_by="id")
        conn.exec_driver_sql(f'TRUNCATE "{schema}".event')
        conn.commit()
    seedbed.load({"event": read}, engine=engine, models=events)
    with engine.connect() as conn:
        found = conn.exec_driver_sql(f'SELECT day::text FROM "{schema}".event ORDER BY id')
        assert list(found.scalars()) == literals
