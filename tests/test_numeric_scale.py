"""A ``numeric(p, s)`` column's values are judged as PostgreSQL stores them: rounded to
``s`` places, half away from zero, and refused with more than ``p - s`` digits before
the point; so a CHECK on the column sees what the database's CHECK sees."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.engine import Engine

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts import ColumnSpec
from seedbed.sqltext import quote_ident
from seedbed.validation.coerce import coerce_text
from tests.helpers import fresh_settings

VALUES = [
    *("0.004", "0.005", "-0.005", "-0.001", "1.5", "0.125", "0.135", "-0.125", "-0"),
    *("12345678.99", "123456789.00", "99999999.995", "99999999.994", "-99999999.995"),
    *("1e-3", "1e7", "1e8", "1E+2", "0.0000000001", "1e100", "NaN", "Infinity", "-Infinity"),
    *(".5", "5.", "+3.14159", "0000012.3"),
]


@pytest.mark.parametrize(("precision", "scale"), [(10, 2), (4, 2), (2, 2), (5, 0), (3, 1)])
def test_values_are_held_as_postgresql_stores_them(
    engine: Engine, precision: int, scale: int
) -> None:
    column = ColumnSpec(
        "v", "numeric", True, False, False, "NUMERIC", numeric_scale=(precision, scale)
    )
    read = coerce_text(column, pa.array(VALUES, pa.string()))
    sql_type = f"numeric({precision},{scale})"
    with engine.connect() as conn:
        for i, value in enumerate(VALUES):
            valid = conn.exec_driver_sql(
                "SELECT pg_input_is_valid(%s, %s)", (value, sql_type)
            ).scalar_one()
            assert bool(read.bad[i]) is not valid, value
            if valid:
                stored = conn.exec_driver_sql(f"SELECT %s::{sql_type}::text", (value,)).scalar()
                held = read.values[i].as_py()
                assert held == stored or Decimal(held) == Decimal(stored), value


PRICES = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}.price (
  id integer PRIMARY KEY,
  amount numeric(10,2) CHECK (amount > 0),
  plain numeric CHECK (plain > 0)
);
"""


@pytest.fixture
def prices(base_settings: Settings) -> Iterator[tuple[Engine, str]]:
    """A namespace another tool made, with a ``numeric(10,2)`` CHECK; its engine, quoted name."""
    settings = fresh_settings(base_settings, prefix="price")
    ns = quote_ident(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(PRICES.format(ns=ns))
    yield engine, ns
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {ns} CASCADE")


def test_a_check_on_a_numeric_with_a_scale_judges_the_stored_value(
    prices: tuple[Engine, str], tmp_path: Path
) -> None:
    engine, ns = prices
    (tmp_path / "price.csv").write_text(
        "id,amount,plain\n"
        "1,0.004,1\n"  # stored as 0.00: the CHECK refuses it
        "2,123456789.5,1\n"  # numeric field overflow
        "3,0.005,0.001\n"  # stored as 0.01; plain keeps 0.001
    )
    report = seedbed.validate(tmp_path, engine=engine, models="database")
    found = [(int(r["line"]), r["rule"], r["value"]) for r in report.failures.to_records()]
    assert found == [(2, "price_amount_check", "0.00"), (3, "type", "123456789.5")]
    (tmp_path / "price.csv").write_text("id,amount,plain\n3,0.005,0.001\n")
    seedbed.load(tmp_path, engine=engine, models="database", progress=False)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(f"SELECT amount::text FROM {ns}.price").scalar()
        assert stored == "0.01"


def test_a_frames_numbers_are_rounded_and_fitted_as_their_text(
    prices: tuple[Engine, str],
) -> None:
    engine, _ = prices
    frame = pd.DataFrame(
        {"id": [1, 2, 3, 4], "amount": [0.004, 1e12, 0.1 + 0.2, np.nan], "plain": 1}
    )
    report = seedbed.validate({"price": frame}, engine=engine, models="database")
    found = [(int(r["line"]), r["rule"], r["value"]) for r in report.failures.to_records()]
    assert found == [(0, "price_amount_check", "0.00"), (1, "type", "1000000000000.0")]


#: Text that is no number at all, beside numbers too large: PostgreSQL tells them apart.
NOT_NUMBERS = ["x", "1.2.3", "--1", "1e", "e5", "1e+", "1 2", "Infinit"]


def test_each_refused_value_is_told_why_as_postgresql_tells_it(
    prices: tuple[Engine, str], tmp_path: Path
) -> None:
    """Not a number, or too many digits before the point: one file holding both kinds."""
    engine, _ = prices
    values = [*VALUES, *NOT_NUMBERS]
    with (tmp_path / "price.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount", "plain"])
        writer.writerows([i, value, 1] for i, value in enumerate(values))
    report = seedbed.validate(tmp_path, engine=engine, models="database")
    told = {
        int(r["line"]) - 2: str(r["message"])
        for r in report.failures.to_records()
        if r["rule"] == "type"
    }
    with engine.connect() as conn:
        for i, value in enumerate(values):
            error = conn.exec_driver_sql(
                "SELECT (pg_input_error_info(%s, 'numeric(10,2)')).message", (value,)
            ).scalar()
            assert (i in told) is (error is not None), value
            if error is not None:
                too_large = error == "numeric field overflow"
                assert ("digits before the decimal point" in told[i]) is too_large, (value, told[i])
