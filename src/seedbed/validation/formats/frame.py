"""DataFrames, Arrow tables and Polars DataFrames as seed sources: positions are rows, from 0.

Column types are made plain as for every Arrow input
(:func:`~seedbed.validation.formats.base.plain_piece`): ``category`` and
every Arrow-backed dtype (``ArrowDtype(large_string())``, string views,
timestamps) are read by their values, and a lone surrogate in a text cell
is an ``encoding`` problem, not a crash. COPY gets the frame as CSV written
by pyarrow in batches; JSON columns holding Python objects are written as
JSON text. An Arrow table (:class:`ArrowInput`; a Polars DataFrame is read
as its Arrow table) stays in Arrow all the way: its pieces are Arrow tables,
and COPY gets its batches as CSV written by pyarrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from seedbed.facts import ColumnSpec, table_spec
from seedbed.facts import spec as kinds
from seedbed.jsontext import json_cell
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import input_text, multirange_text
from seedbed.validation.arrays import date_array, holds_dates
from seedbed.validation.formats.base import (
    AS_TEXT,
    COPY_BATCH_ROWS,
    Progress,
    RawPiece,
    SeedFormat,
    Unit,
    arrow_csv_blocks,
    copy_columns,
    pandas_column,
    plain_piece,
    plain_series,
    value_text,
    writes_text,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import sqlalchemy as sa
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")


def frame_to_arrow(frame: pd.DataFrame, table: sa.Table) -> pa.Table:
    """``frame`` as an Arrow table COPY can read back as CSV (JSON objects as JSON text).

    Arrow and pandas types are left to :func:`arrow_csv_blocks`, which makes them plain.
    """
    columns = table_spec(table).columns
    converted = {}
    dates = {}  # a typed frame's dates, NumPy's beside Python's (infinity, BC): date32
    for name in frame.columns:
        column = frame[name]
        json_column = name in columns and columns[name].kind == kinds.JSON
        if json_column and column.dtype == np.dtype(object):  # Python objects: as JSON text
            column = column.map(json_cell).astype("string")
        elif column.dtype == np.dtype(object) and holds_dates(column.to_numpy()):
            dates[name] = date_array(column.to_numpy(), column.isna().to_numpy())[0]
            column = pd.Series(np.zeros(len(column), dtype=np.int32), index=column.index)
        converted[name] = column
    try:
        found = pa.Table.from_pandas(pd.DataFrame(converted), preserve_index=False)
    except pa.ArrowInvalid:  # objects Arrow does not know, e.g. addresses: as their text
        for name, column in converted.items():
            if column.dtype == np.dtype(object):
                converted[name] = column.map(_object_text)
        found = pa.Table.from_pandas(pd.DataFrame(converted), preserve_index=False)
    for name, days in dates.items():
        found = found.set_column(found.column_names.index(str(name)), str(name), days)
    return found


def _object_text(value: object) -> object:
    return str(value) if isinstance(value, AS_TEXT) else value


def _written(write: Callable[[Any], str], value: object) -> object:
    """``value`` as ``write`` writes it; missing values (None, NaN, NaT, NA) as they are
    (``Decimal('NaN')`` is a value: pandas would take it for missing)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return value
    if isinstance(value, float) and value != value:
        return value
    if isinstance(value, np.ndarray):  # a list as Arrow's to_pandas gives it
        return write(value.tolist())
    return write(value)


#: Kinds whose Python values in an object column are written as their text (see
#: :meth:`FrameInput.for_table`): ``int``, ``Decimal``, ``bool``, ``datetime`` (aware ones
#: of several offsets stay objects in pandas), as psycopg gives them among ``None``.
_AS_THEIR_TEXT = frozenset(
    {kinds.NUMERIC, kinds.BOOLEAN, kinds.INTEGER, kinds.TIMESTAMP, kinds.TIMESTAMPTZ}
)


def _as_their_text(column: ColumnSpec, values: pd.Series) -> bool:
    """Whether a frame's ``values`` of ``column`` are Python values to write as their text."""
    if isinstance(values.dtype, pd.ArrowDtype):  # Arrow's lists, structs, durations, times
        # asked first: pandas' dtype checks raise for Arrow types it has no NumPy type for
        return writes_text(column, values.dtype.pyarrow_dtype)
    if column.database_text and pd.api.types.is_timedelta64_dtype(values):
        return True
    return (
        (column.database_text or column.kind in _AS_THEIR_TEXT)
        and values.dtype == np.dtype(object)
        # text already (a C loop): left as it is
        and pd.api.types.infer_dtype(values, skipna=True) != "string"
    )


def _their_text(column: ColumnSpec, values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.ArrowDtype):  # as an Arrow table's values are written
        text = value_text(column, pa.array(values.array))
        # None: a value JSON has no form for, refused as it is
        return values if text is None else pandas_column(text, values.index)
    several = column.sql_type.upper().endswith("MULTIRANGE")
    write = multirange_text if several else input_text
    return values.astype(object).map(partial(_written, write))


def frame_column(column: ColumnSpec, values: pd.Series) -> tuple[pd.Series, list[tuple[int, str]]]:
    """A DataFrame's column as seedbed reads it before typing it: Python values written as
    their text where :meth:`FrameInput.for_table` writes them, its type made plain (see
    :func:`~seedbed.validation.formats.base.plain_piece`); and the rows (positions) whose
    cells are not valid text, with why."""
    if _as_their_text(column, values):
        values = _their_text(column, values)
    return plain_series(values, bytes_as=column.bytes_as)


class FrameInput(SeedFormat):
    """A pandas DataFrame given in Python."""

    unit: ClassVar[Unit] = "row"

    def __init__(self, frame: pd.DataFrame, label: str) -> None:
        super().__init__(label)
        sparse = [i for i, dtype in enumerate(frame.dtypes) if isinstance(dtype, pd.SparseDtype)]
        if sparse:  # their values, as a dense column holds them (Arrow takes no sparse data)
            frame = frame.copy(deep=False)
            for position in sparse:
                values = frame.iloc[:, position].array  # a SparseArray
                frame.isetitem(position, np.asarray(values))
        self.frame = frame

    def columns(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.frame.columns)

    def for_table(self, table: sa.Table) -> SeedFormat:
        """This frame as a seed of ``table``: in the columns of types seedbed leaves to
        PostgreSQL, the Python values psycopg reads from them (lists, ranges, timedeltas,
        bytes, times) as PostgreSQL's text of them, which validation reads and COPY sends;
        so are ``Decimal`` numbers, ``int``, ``bool`` and ``datetime`` values among
        ``None`` in their columns (as psycopg gives a column with NULLs, and pandas keeps
        aware datetimes of several offsets)."""
        columns = table_spec(table).columns
        names = [
            name
            for name in self.frame.columns
            if (column := columns.get(str(name))) is not None
            and _as_their_text(column, self.frame[name])
        ]
        if not names:
            return super().for_table(table)
        frame = self.frame.copy(deep=False)
        for name in names:
            frame[name] = _their_text(columns[str(name)], frame[name])
        return SeedFormat.for_table(FrameInput(frame, self.label), table)

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        header: list[str] | None = list(self.columns())
        total = len(self.frame)
        for start in range(0, max(total, 1), chunk_rows):
            part = self.frame.iloc[start : start + chunk_rows].reset_index(drop=True)
            positions = np.arange(start, start + len(part), dtype=np.int64)
            yield plain_piece(self.label, self.unit, part, positions, header, self.binary_columns)
            header = None

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        columns = copy_columns(table)
        for start in range(0, len(self.frame), COPY_BATCH_ROWS):
            part = frame_to_arrow(self.frame.iloc[start : start + COPY_BATCH_ROWS], table)
            yield from arrow_csv_blocks(iter(part.to_batches()), on_progress, columns)

    def progress_total(self) -> tuple[int | None, str]:
        return len(self.frame), "rows"

    def size_in_bytes(self) -> int:
        return int(self.frame.memory_usage(index=False).sum())

    def bytes_per_position(self) -> float | None:
        return self.size_in_bytes() / max(len(self.frame), 1)


class ArrowInput(SeedFormat):
    """An Arrow table given in Python (a Polars DataFrame as its Arrow table)."""

    unit: ClassVar[Unit] = "row"

    def __init__(self, table: pa.Table, label: str) -> None:
        super().__init__(label)
        self.table = table

    def columns(self) -> tuple[str, ...]:
        return tuple(self.table.column_names)

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        header: list[str] | None = list(self.columns())
        total = self.table.num_rows
        for start in range(0, max(total, 1), chunk_rows):
            # the length given: a slice of a table of no columns has as many rows as asked for
            stop = min(start + chunk_rows, total)
            part = self.table.slice(start, stop - start)
            positions = np.arange(start, stop, dtype=np.int64)
            yield plain_piece(self.label, self.unit, part, positions, header, self.binary_columns)
            header = None

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        batches = self.table.to_batches(max_chunksize=COPY_BATCH_ROWS)
        yield from arrow_csv_blocks(iter(batches), on_progress, copy_columns(table))

    def progress_total(self) -> tuple[int | None, str]:
        return self.table.num_rows, "rows"

    def size_in_bytes(self) -> int:
        return int(self.table.nbytes)

    def bytes_per_position(self) -> float | None:
        rows: int = self.table.num_rows
        return self.size_in_bytes() / max(rows, 1)


__all__ = ["ArrowInput", "FrameInput", "frame_column", "frame_to_arrow"]
