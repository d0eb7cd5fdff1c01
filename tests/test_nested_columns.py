"""Arrow lists, structs and maps (Parquet's, Polars') load as PostgreSQL arrays and JSON.

A Parquet file from Spark or DuckDB, or a Polars frame, holds an ``integer[]`` or
``text[]`` column as a list and a ``jsonb`` column as a struct, a map or a list. Each is
read as the text PostgreSQL reads for its column (an array's ``{1,2}``, JSON text), so it
validates and loads the values psycopg's own adaptation of the same Python values gives;
a list in a column of another type is refused, with a report row, never a traceback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.sqltext import quote_ident
from tests.helpers import pushed_models

SHELF = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import mapped_column

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"

    id = mapped_column(sa.Integer, primary_key=True)
    sizes = mapped_column(pg.ARRAY(sa.Integer))
    tags = mapped_column(pg.ARRAY(sa.Text))
    grid = mapped_column(pg.ARRAY(sa.Integer, dimensions=2))
    seen = mapped_column(pg.ARRAY(sa.DateTime(timezone=True)))
    doc = mapped_column(pg.JSONB)
    attrs = mapped_column(pg.JSONB)
    steps = mapped_column(sa.JSON)
    label = mapped_column(sa.Text)
"""

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

ROWS: dict[str, list[Any]] = {
    "id": [1, 2, 3, 4],
    "sizes": [[1, 2], [], None, [None, 3]],
    "tags": [['a "q"', "b,c", "{x}"], ["NULL"], None, ["é", " s ", ""]],
    "grid": [[[1, 2], [3, 4]], None, [[5]], []],
    "seen": [[AT], None, [None], []],
    "doc": [
        {"n": Decimal("1.50"), "s": "x", "at": AT},
        None,
        {"n": None, "s": 'q"\\', "at": None},
        {"n": Decimal("-0.001"), "s": "é", "at": AT},
    ],
    "attrs": [[("k", "v")], [], None, [("a", "1"), ("b", "2")]],
    "steps": [[1.5, 2.0], None, [], [0.25]],
}

TYPES = {
    "id": pa.int64(),
    "sizes": pa.list_(pa.int64()),
    "tags": pa.large_list(pa.string()),
    "grid": pa.list_(pa.list_(pa.int32())),
    "seen": pa.list_(pa.timestamp("us", tz="UTC")),
    "doc": pa.struct(
        [("n", pa.decimal128(10, 3)), ("s", pa.string()), ("at", pa.timestamp("us", "UTC"))]
    ),
    "attrs": pa.map_(pa.string(), pa.string()),
    "steps": pa.list_(pa.float64()),
}


@pytest.fixture
def shelves(tmp_path: Path, db_env: dict[str, str], empty_settings: Settings) -> tuple[str, Engine]:
    env = pushed_models(tmp_path / "models", db_env, empty_settings, shelf=SHELF)
    return env["SEEDBED_MODELS"], get_engine(empty_settings)


def _table() -> pa.Table:
    return pa.table({name: pa.array(values, TYPES[name]) for name, values in ROWS.items()})


def _sources(tmp_path: Path) -> dict[str, Any]:
    table = _table()
    pq.write_table(table, tmp_path / "shelf.parquet", row_group_size=2)
    return {
        "arrow": table,
        "polars": pl.from_arrow(table),
        "parquet": tmp_path / "shelf.parquet",
    }


def _stored(engine: Engine, schema: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(f"{name}::text" for name in ROWS)
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(f"SELECT {columns} FROM {schema}.shelf ORDER BY id"))


def _expected(engine: Engine) -> list[tuple[Any, ...]]:
    """The same Python values as psycopg adapts them (lists as arrays), read back as text;
    JSON as Python's own ``json`` writes it, read back by ``jsonb``."""
    rows = []
    with engine.connect() as conn:
        for i in range(len(ROWS["id"])):
            row = [str(ROWS["id"][i])]
            for name, sql_type in (
                ("sizes", "int[]"),
                ("tags", "text[]"),
                ("grid", "int[]"),
                ("seen", "timestamptz[]"),
            ):
                value = ROWS[name][i]
                row.append(conn.exec_driver_sql(f"SELECT %s::{sql_type}::text", (value,)).scalar())
            for name, sql_type in (("doc", "jsonb"), ("attrs", "jsonb"), ("steps", "json")):
                value = ROWS[name][i]
                if name == "attrs" and value is not None:
                    value = dict(value)
                text = None if value is None else json.dumps(value, default=_plain)
                cast = f"(%s::jsonb)::{sql_type}::text"
                row.append(conn.exec_driver_sql(f"SELECT {cast}", (text,)).scalar())
            rows.append(tuple(row))
    return rows


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(value)


@pytest.mark.parametrize("kind", ["arrow", "polars", "parquet"])
def test_lists_structs_and_maps_load_as_arrays_and_json(
    kind: str, shelves: tuple[str, Engine], tmp_path: Path, empty_settings: Settings
) -> None:
    models, engine = shelves
    source = _sources(tmp_path)[kind]
    report = seedbed.validate({"shelf": source}, models=models)
    assert report.ok, str(report)
    if kind == "polars":  # the public Polars schema reads it as validate does
        seedbed.pandera_schema("shelf", backend="polars", models=models).validate(source)
    seedbed.load({"shelf": source}, engine=engine, models=models, progress=False)
    stored = _stored(engine, quote_ident(empty_settings.schema))
    expected = _expected(engine)
    # jsonb keeps a decimal as written (1.500): compare JSON by value, arrays as text
    assert [row[:5] for row in stored] == [row[:5] for row in expected]
    for got, want in zip(stored, expected, strict=True):
        for a, b in zip(got[5:], want[5:], strict=True):
            assert (a is None and b is None) or json.loads(a) == json.loads(b), (a, b)


@pytest.mark.parametrize("kind", ["arrow", "polars", "parquet"])
def test_a_list_in_a_column_of_another_type_is_a_report_row(
    kind: str, shelves: tuple[str, Engine], tmp_path: Path, empty_settings: Settings
) -> None:
    models, engine = shelves
    table = pa.table({"id": [1, 2], "label": pa.array([["a", "b"], None], pa.list_(pa.string()))})
    pq.write_table(table, tmp_path / "shelf.parquet")
    source = {
        "arrow": table,
        "polars": pl.from_arrow(table),
        "parquet": tmp_path / "shelf.parquet",
    }[kind]
    report = seedbed.validate({"shelf": source}, models=models)
    rows = [(r["line"], r["column"], r["rule"]) for r in report.to_records()]
    assert rows == [(0, "label", "type")]
    with pytest.raises(seedbed.SeedbedError):
        seedbed.load({"shelf": source}, engine=engine, models=models, progress=False)
    assert _stored(engine, quote_ident(empty_settings.schema)) == []


def test_a_dataframe_s_numpy_and_decimal_values_are_json_in_a_json_column(
    shelves: tuple[str, Engine], empty_settings: Settings
) -> None:
    """As Arrow's ``to_pandas`` gives them (lists as NumPy arrays) or as a user builds them;
    validation and the COPY write one JSON text; a set has no JSON form and is refused."""
    models, engine = shelves
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "doc": [np.array([1, 2]), {"a": np.int64(3)}, {"d": Decimal("1.50")}, 5],
            "steps": [[1.5], None, {"x": "é"}, np.nan],
        }
    )
    assert seedbed.validate({"shelf": frame}, models=models).ok
    seedbed.load({"shelf": frame}, engine=engine, models=models, progress=False)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT doc::text, steps::text FROM {quote_ident(empty_settings.schema)}.shelf "
            "ORDER BY id"
        ).all()
    assert [tuple(row) for row in stored] == [
        ("[1, 2]", "[1.5]"),
        ('{"a": 3}', None),
        ('{"d": 1.50}', '{"x": "é"}'),
        ("5", None),
    ]
    refused = seedbed.validate(
        {"shelf": frame.assign(doc=[{1, 2}, None, None, None])}, models=models
    )
    assert [(r["line"], r["column"], r["rule"]) for r in refused.to_records()] == [
        (0, "doc", "type")
    ]
