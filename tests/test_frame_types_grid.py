"""Typed values of Arrow, Polars, Parquet and pandas that a CSV file would hold as text: each
either validates and loads as the same stored value its text does, or is a report row (never
a load that fails after validation said valid, nor a traceback, nor other stored data)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import seedbed
from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import fresh_settings, pushed_models

MODEL = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Grid(Base):
    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    big = mapped_column(sa.BigInteger)
    small = mapped_column(sa.SmallInteger)
    num = mapped_column(sa.Numeric)
    real = mapped_column(sa.REAL)
    dbl = mapped_column(sa.Double)
    stamp = mapped_column(sa.DateTime(timezone=True))
    naive = mapped_column(sa.DateTime)
    uid = mapped_column(sa.Uuid)
    doc = mapped_column(pg.JSONB)
    flag = mapped_column(sa.Boolean)
    span = mapped_column(sa.Interval)
    words = mapped_column(pg.ARRAY(sa.Text))
    cells = mapped_column(pg.ARRAY(sa.Integer, dimensions=2))
    note = mapped_column(sa.Text)
    cash = mapped_column(pg.MONEY)
"""

#: How a column of Arrow values reaches seedbed: as it is, in Polars, in a Parquet file,
#: in pandas (as pyarrow converts it, NumPy or nullable types), in pandas' Arrow types.
Given = Callable[[pa.Table, Path], Any]


def _parquet(table: pa.Table, folder: Path) -> str:
    path = folder / "grid.parquet"
    pq.write_table(table, path)
    return str(path)


INPUTS: dict[str, Given] = {
    "Arrow": lambda table, _: table,
    "Polars": lambda table, _: pl.from_arrow(table),
    "Parquet": _parquet,
    "pandas": lambda table, _: table.to_pandas(),
    "pandas, Arrow types": lambda table, _: table.to_pandas(types_mapper=pd.ArrowDtype),
}


@pytest.fixture(scope="module")
def grid_settings(
    base_settings: Settings, db_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """One namespace holding the grid table for the whole module, its environment set."""
    settings = fresh_settings(base_settings)
    folder = tmp_path_factory.mktemp("grid") / "models"
    env = pushed_models(folder, db_env, settings, grid=MODEL)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            yield settings
    finally:
        migrate.reset(settings)


def _table(column: str, values: pa.Array) -> pa.Table:
    return pa.table({"id": pa.array(range(1, len(values) + 1), pa.int32()), column: values})


def _stored(settings: Settings, column: str) -> list[Any]:
    """The column's values as PostgreSQL prints them, by id; the table emptied after."""
    with get_engine(settings).begin() as conn:
        table = f'"{settings.schema}".grid'
        found = conn.execute(sa.text(f"SELECT {column}::text FROM {table} ORDER BY id"))
        values = [row[0] for row in found]
        conn.execute(sa.text(f"TRUNCATE {table}"))
        return values


def _csv(folder: Path, column: str, texts: list[str | None]) -> Path:
    path = folder / "grid.csv"
    lines = ["id," + column] + [f'{n},"{t}"' if t else f"{n}," for n, t in enumerate(texts, 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _problems(source: object) -> list[tuple[int, str, str]]:
    report = seedbed.validate(source)
    return [(int(row["line"]), row["column"], row["rule"]) for _, row in report.failures.iterrows()]


def _refused(settings: Settings, source: object, column: str, rows: list[int]) -> None:
    """``source`` is refused with a ``type`` row for each of ``rows`` of ``column``, and
    nothing loads."""
    assert _problems(source) == [(row, column, "type") for row in rows]
    with pytest.raises(seedbed.SeedbedError):
        seedbed.load(source, progress=False)
    assert _stored(settings, column) == []


@pytest.mark.parametrize("kind", list(INPUTS))
def test_unsigned_integers_past_a_columns_range_are_type_problems(
    kind: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """A ``uint64`` above the largest ``bigint`` (Polars' ``UInt64``, pandas' ``uint64``) was
    valid, and COPY then failed; in pandas, validation ended in a TypeError."""
    table = _table("big", pa.array([2**64 - 1, 7, 2**63], pa.uint64()))
    _refused(grid_settings, {"grid": INPUTS[kind](table, tmp_path)}, "big", [0, 2])
    small = _table("small", pa.array([2**16 - 1, 7], pa.uint64()))
    _refused(grid_settings, {"grid": INPUTS[kind](small, tmp_path)}, "small", [0])

    fits = _table("big", pa.array([2**63 - 1, 0], pa.uint64()))  # no null: pandas' float64
    seedbed.load({"grid": INPUTS[kind](fits, tmp_path)}, progress=False)
    assert _stored(grid_settings, "big") == [str(2**63 - 1), "0"]


@pytest.mark.parametrize("column", ["num", "real", "dbl"])
@pytest.mark.parametrize("kind", list(INPUTS))
def test_booleans_in_a_number_column_are_type_problems(
    kind: str, column: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """A number column refuses ``true`` in a CSV file; Arrow's, Polars' and pandas' booleans
    (which pandas counts as numbers) were valid there, and COPY then failed (or, in a
    ``real`` column, validation ended in an ArrowInvalid)."""
    table = _table(column, pa.array([True, None, False]))
    _refused(grid_settings, {"grid": INPUTS[kind](table, tmp_path)}, column, [0, 2])
    _refused(grid_settings, _csv(tmp_path, column, ["true", None, "false"]), column, [2, 4])
    no_nulls = pd.DataFrame({"id": [1, 2], column: [True, False]})  # NumPy's bool
    _refused(grid_settings, {"grid": no_nulls}, column, [0, 1])


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Amsterdam",  # +00:19:32 until 1937
        "Europe/Paris",  # +00:09:21 until 1911
        "America/New_York",  # -04:56:02 until 1883
        "Asia/Kolkata",  # +05:53:20 until 1901
    ],
)
def test_a_zones_offset_in_seconds_is_kept(
    kind: str, zone: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """Timestamps in a zone whose offset then had seconds (a local mean time) are stored as
    the instants they are, as their text in UTC is: Arrow's CSV writer wrote the offset in
    whole minutes, and the seconds were lost."""
    instants = [dt.datetime(1870, 6, 1, 12, 0, 0, 250000, tzinfo=dt.UTC), None]
    table = _table("stamp", pa.array(instants, pa.timestamp("us")).cast(pa.timestamp("us", zone)))
    source = {"grid": INPUTS[kind](table, tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    loaded = _stored(grid_settings, "stamp")
    seedbed.load(_csv(tmp_path, "stamp", ["1870-06-01 12:00:00.25+00", None]), progress=False)
    assert loaded == _stored(grid_settings, "stamp") == ["1870-06-01 12:00:00.25+00", None]


@pytest.mark.parametrize(
    ("column", "values", "text"),
    [
        ("words", [[["a b", "c"], ["d", '"e"']], None], '{{"a b",c},{d,"\\"e\\""}}'),
        ("cells", [[[1, 2], [3, 4]], None], "{{1,2},{3,4}}"),
        ("words", [["x", "y"], None], "{x,y}"),
    ],
)
def test_numpy_arrays_in_a_frame_are_arrays(
    column: str, values: list[Any], text: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """pandas holds a list read from Arrow (``pd.read_parquet``, Polars' ``to_pandas``) as a
    NumPy array, a list of lists as an array of arrays: each is the array it holds. An inner
    array was written as NumPy prints it, and a text array stored ``['a b' 'c']``."""
    path = Path(_parquet(_table(column, pa.array(values)), tmp_path))
    for frame in (pd.read_parquet(path), pl.read_parquet(path).to_pandas()):
        assert isinstance(frame[column][0], np.ndarray)
        source = {"grid": frame}
        assert _problems(source) == []
        seedbed.load(source, progress=False)
        assert _stored(grid_settings, column) == [text, None]


@pytest.mark.parametrize("kind", list(INPUTS))
def test_floats_in_a_text_column_are_the_text_validation_read(
    kind: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """Floats in a column of text, or of a type PostgreSQL reads itself, are validated as
    pandas writes them (``3.0``, ``1e-05``, NaN missing) and now sent so: COPY got
    pyarrow's text (``3``, ``0.00001``, ``nan``), so a text column stored other values than
    the ones judged, and a money column, valid, failed on ``nan``."""
    floats = [3.0, 1e-05, 0.1, float("inf"), float("nan"), None]
    source = {"grid": INPUTS[kind](_table("note", pa.array(floats)), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "note") == ["3.0", "1e-05", "0.1", "inf", None, None]

    source = {"grid": INPUTS[kind](_table("cash", pa.array([float("nan"), 2.5])), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "cash") == [None, "$2.50"]


@pytest.mark.parametrize("zone", [None, "UTC"])
@pytest.mark.parametrize("unit", ["s", "ms"])
@pytest.mark.parametrize("kind", list(INPUTS))
def test_timestamps_past_what_microseconds_hold_are_type_problems(
    kind: str, unit: str, zone: str | None, grid_settings: Settings, tmp_path: Path
) -> None:
    """Seconds or milliseconds past year 294247 (such as milliseconds written as seconds)
    are past PostgreSQL's range, a ``type`` problem; validation ended in pandas'
    OutOfBoundsDatetime when it made them microseconds."""
    column = "naive" if zone is None else "stamp"
    far = 10**13 if unit == "s" else 10**16  # past 2**63 microseconds
    values = pa.array([far, 0, None, -far], pa.timestamp(unit, zone))
    _refused(
        grid_settings, {"grid": INPUTS[kind](_table(column, values), tmp_path)}, column, [0, 3]
    )


def test_polars_128_bit_integers_are_read_as_their_text(
    grid_settings: Settings, tmp_path: Path
) -> None:
    """Polars' Int128 and UInt128 (alone or in lists) have no Arrow type: validation ended in
    an ArrowInvalid. They are read as their decimal text, as a CSV file holds them."""
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "big": pl.Series([2**63, None, -5], dtype=pl.Int128),
            "num": pl.Series([2**100, 7, None], dtype=pl.UInt128),
            "cells": pl.Series([[[2**31]], None, [[1, 2]]], dtype=pl.List(pl.List(pl.Int128))),
        }
    )
    assert _problems({"grid": frame}) == [(0, "big", "type"), (0, "cells", "type")]
    fits = frame.with_columns(pl.Series("big", [2**63 - 1, None, -5], dtype=pl.Int128)).slice(1)
    seedbed.load({"grid": fits.lazy()}, progress=False)
    assert _stored(grid_settings, "big") == [None, "-5"]
    seedbed.load({"grid": fits}, progress=False)
    assert _stored(grid_settings, "num") == ["7", None]
    seedbed.load({"grid": fits}, progress=False)
    assert _stored(grid_settings, "cells") == [None, "{{1,2}}"]


@pytest.mark.parametrize("kind", ["Arrow", "Polars", "Parquet", "pandas, Arrow types"])
@pytest.mark.parametrize(
    ("column", "arrow_type"),
    [
        ("note", pa.list_(pa.int64())),
        ("big", pa.struct([("a", pa.int64())])),
        ("naive", pa.large_list(pa.string())),
    ],
)
def test_a_typed_column_of_nulls_loads_as_nulls(
    kind: str, column: str, arrow_type: pa.DataType, grid_settings: Settings, tmp_path: Path
) -> None:
    """A list or struct column holding only NULLs is valid in any column (no value to
    refuse); COPY then ended in an ArrowInvalid, pyarrow's CSV writer taking no such type."""
    source = {"grid": INPUTS[kind](_table(column, pa.nulls(2, arrow_type)), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, column) == [None, None]


def test_a_column_of_null_intervals_loads_as_nulls(grid_settings: Settings) -> None:
    """The same for Arrow's month-day-nano intervals outside an ``interval`` column."""
    source = {"grid": _table("note", pa.nulls(2, pa.month_day_nano_interval()))}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "note") == [None, None]


@pytest.mark.parametrize("zone", [None, "Europe/Paris"])
@pytest.mark.parametrize("kind", list(INPUTS))
def test_nanoseconds_are_stored_as_the_microseconds_validated(
    kind: str, zone: str | None, grid_settings: Settings, tmp_path: Path
) -> None:
    """Nanoseconds (pandas' ``datetime64[ns]``, Arrow's, Polars') are validated as their
    microseconds, floored as pandas converts them, and now stored so: COPY sent the nine
    digits, which PostgreSQL rounds, so ``23:59:59.9999995`` was stored on the next day."""
    column = "naive" if zone is None else "stamp"
    nanos = [1_577_923_199_999_999_500, 1_577_934_245_123_456_499, -1_500, None]
    values = pa.array(nanos, pa.timestamp("ns")).cast(pa.timestamp("ns", zone))
    source = {"grid": INPUTS[kind](_table(column, values), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    offset = "" if zone is None else "+00"
    assert _stored(grid_settings, column) == [
        f"2020-01-01 23:59:59.999999{offset}",
        f"2020-01-02 03:04:05.123456{offset}",
        f"1969-12-31 23:59:59.999998{offset}",
        None,
    ]


@pytest.mark.parametrize(
    ("column", "values", "stored"),
    [
        ("big", [1, None, -(2**63)], ["1", None, str(-(2**63))]),
        ("small", [np.int16(7), None], ["7", None]),
        (
            "stamp",  # aware datetimes of two offsets: pandas keeps them as objects
            [
                dt.datetime(2020, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                dt.datetime(2020, 7, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                None,
            ],
            ["2020-01-02 02:00:00+00", "2020-07-02 01:00:00+00", None],
        ),
        (
            "naive",
            [dt.datetime(2020, 1, 2, 3, 4, 5, 6), None],
            ["2020-01-02 03:04:05.000006", None],
        ),
    ],
)
def test_python_values_in_an_object_column_are_their_text(
    column: str, values: list[Any], stored: list[str | None], grid_settings: Settings
) -> None:
    """``int`` and ``datetime`` objects among ``None`` (``astype(object)``, or aware
    datetimes of several offsets, which pandas keeps as objects) are read as their text, as
    ``Decimal`` and ``bool`` ones are; they were ``type`` problems ("got Python int
    values") where their text, or the same values typed, load."""
    frame = pd.DataFrame({"id": range(1, len(values) + 1), column: pd.Series(values, dtype=object)})
    assert _problems({"grid": frame}) == []
    seedbed.load({"grid": frame}, progress=False)
    assert _stored(grid_settings, column) == stored


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("arrow_type", [pa.binary(16), pa.binary(), pa.uuid()])
def test_sixteen_bytes_in_a_uuid_column_are_the_uuid(
    kind: str, arrow_type: pa.DataType, grid_settings: Settings, tmp_path: Path
) -> None:
    """A UUID's 16 bytes (Parquet's UUID type, a Polars ``Binary``, which is what Polars
    makes of Arrow's ``uuid``) are that UUID, as Arrow's ``uuid`` type is; they were read
    as UTF-8 text, a ``type`` problem (or an ``encoding`` one). Other bytes are still text."""
    first, second = uuid.UUID(int=2**128 - 7), uuid.UUID("12345678-1234-5678-1234-567812345678")
    values = [first.bytes, None, second.bytes]
    if arrow_type == pa.binary():
        values.append(str(first).encode())  # a UUID's text, as bytes
    table = _table("uid", pa.array(values, arrow_type))
    source = {"grid": INPUTS[kind](table, tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    expected = [str(first), None, str(second), str(first)]
    assert _stored(grid_settings, "uid") == expected[: len(values)]


@pytest.mark.parametrize("kind", ["Arrow", "Polars", "Parquet", "pandas, Arrow types"])
@pytest.mark.parametrize("column", ["note", "doc"])
def test_arrows_json_type_is_its_text(
    kind: str, column: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """Arrow's canonical ``arrow.json`` type (Parquet's JSON, DuckDB's json) is JSON text:
    in a text column it was valid, and COPY then ended in an ArrowInvalid (or Parquet's
    reading in a SeedError)."""
    values = pa.array(['{"a": [1, "b"]}', None, "2"], pa.json_())
    source = {"grid": INPUTS[kind](_table(column, values), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, column) == ['{"a": [1, "b"]}', None, "2"]


@pytest.mark.parametrize("kind", ["Arrow", "Polars", "Parquet", "pandas, Arrow types"])
def test_arrows_bool8_type_is_booleans(kind: str, grid_settings: Settings, tmp_path: Path) -> None:
    """Arrow's canonical ``arrow.bool8`` (booleans held as int8) are booleans; they were
    read as numbers, ``type`` problems in a boolean column."""
    held = pa.array([1, 0, None, -3], pa.int8())
    values = pa.ExtensionArray.from_storage(pa.bool8(), held)
    source = {"grid": INPUTS[kind](_table("flag", values), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "flag") == ["true", "false", None, "true"]


@pytest.mark.parametrize("kind", list(INPUTS))
def test_times_of_day_in_a_json_column_are_json_strings(
    kind: str, grid_settings: Settings, tmp_path: Path
) -> None:
    """A time of day in a ``json`` column is its ISO 8601 string, as a DataFrame's is (and
    as in a list or struct): validation read it so, and COPY sent the bare ``01:02:03``,
    which PostgreSQL refused; a list of durations, which JSON has no form for, is a
    ``type`` problem, where validation ended in a TypeError."""
    times = pa.array([dt.time(1, 2, 3, 4), None], pa.time64("us"))
    source = {"grid": INPUTS[kind](_table("doc", times), tmp_path)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "doc") == ['"01:02:03.000004"', None]

    durations = pa.array([[dt.timedelta(days=1)], None], pa.list_(pa.duration("us")))
    _refused(grid_settings, {"grid": _table("doc", durations)}, "doc", [0])


@pytest.mark.parametrize(
    "values",
    [
        pa.array(["1 day 02:00:00", None], pa.string_view()),
        pa.array([pa.MonthDayNano([0, 1, 7_200_000_000_000]), None], pa.month_day_nano_interval()),
    ],
)
def test_pandas_arrow_types_without_a_numpy_type_in_a_column_postgresql_reads(
    values: pa.Array, grid_settings: Settings
) -> None:
    """``ArrowDtype(string_view())`` or a month-day-nano interval in a column of a type
    PostgreSQL reads itself (here ``interval``) validate and load; asking pandas whether
    they were timedeltas ended validation in a NotImplementedError."""
    table = _table("span", values)
    source = {"grid": table.to_pandas(types_mapper=pd.ArrowDtype)}
    assert _problems(source) == []
    seedbed.load(source, progress=False)
    assert _stored(grid_settings, "span") == ["1 day 02:00:00", None]


@pytest.mark.parametrize("column", ["note", "doc", "big"])
def test_values_pandas_has_no_type_for_are_type_problems(
    column: str, grid_settings: Settings
) -> None:
    """A list of Arrow's ``uuid`` in a column that takes no list (or no UUID, as JSON) is a
    ``type`` problem; pandas has no type for it, and validation ended in an
    ArrowNotImplementedError (a TypeError in a JSON column)."""
    one = pa.ExtensionArray.from_storage(
        pa.uuid(), pa.array([uuid.UUID(int=5).bytes], pa.binary(16))
    )
    lists = pa.ListArray.from_arrays(
        pa.array([0, 1, 1], pa.int32()), one, mask=pa.array([False, True])
    )
    _refused(grid_settings, {"grid": _table(column, lists)}, column, [0])


@pytest.mark.parametrize(
    ("values", "stored"),
    [
        (pa.array([[1, None], []]), ["[1, null]", "[]"]),
        (pa.array([{"a": 1, "b": [1.5]}, None]), ['{"a": 1, "b": [1.5]}', None]),
        (pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())), ['{"k": 1}', None]),
    ],
)
def test_pandas_arrow_lists_and_structs_in_a_json_column_are_json(
    values: pa.Array, stored: list[str | None], grid_settings: Settings
) -> None:
    """pandas' Arrow lists, structs and maps (``pd.read_parquet(dtype_backend="pyarrow")``)
    in a ``json`` column are JSON text, as an Arrow table's are; they were refused (NaN for
    a null, or no JSON form)."""
    frame = _table("doc", values).to_pandas(types_mapper=pd.ArrowDtype)
    assert _problems({"grid": frame}) == []
    seedbed.load({"grid": frame}, progress=False)
    assert _stored(grid_settings, "doc") == stored
