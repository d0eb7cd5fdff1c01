"""What every seed format answers, and the registry file formats add themselves to.

A format object stands for one input read one way: a CSV file, a Parquet
file, a DataFrame, a folder of part files. Everything that depends on the
format is asked of it:

- which files it claims, and the table each is for (:meth:`SeedFormat.table_name`);
- the header and the rows in pieces, with their physical positions
  (:meth:`SeedFormat.pieces`), and whether positions are lines or rows (``unit``);
- the COPY statement's options and byte stream (:attr:`SeedFormat.copy_options`,
  :meth:`SeedFormat.copy_blocks`), and the file that stream is, byte for byte
  (:meth:`SeedFormat.file_as_sent`);
- how many bytes it holds and one position spans, for progress
  (:meth:`SeedFormat.size_in_bytes`, :meth:`SeedFormat.bytes_per_position`);
- where a row the database refused sits in the input
  (:meth:`SeedFormat.position_of_copy_line`, :meth:`SeedFormat.find_key`).

How Arrow and pandas typed a column is made plain here, once, for reading
(:func:`plain_piece`) and for COPY (:func:`arrow_csv_blocks`): dictionary
and ``category`` columns are decoded to their values; every Arrow string
kind (``string``, ``large_string``, ``string_view``) and binary kind holding
text, and Python ``bytes``, become text (bytes for a ``bytea`` column are bytes:
their hex text, see :meth:`SeedFormat.for_table`); dates, decimals, UUIDs (Arrow's ``uuid``,
Python's ``uuid.UUID``) and ``ipaddress`` objects become their text; integer
and boolean columns keep their nulls (nullable ``Int64``, ``boolean``). A cell that is not valid
UTF-8 (Arrow) or holds a lone surrogate (a Python ``str``) is an ``encoding``
problem naming its column, and its row is left out, as a CSV record that is
not UTF-8 is. Arrow input stays in Arrow (a piece of plain Arrow columns, which
validation types without pandas where it can); a DataFrame's piece is a DataFrame,
and :func:`pandas_column` is the pandas series either way.

File formats decorate their class with :func:`register`;
:func:`seedbed.validation.formats.file_formats` imports every module of the
package, so adding a format is adding one module.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from seedbed.errors import SeedError
from seedbed.facts import ColumnSpec, table_spec
from seedbed.facts import spec as kinds
from seedbed.jsontext import json_text
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import (
    YEAR_1_DAY,
    YEAR_1_US,
    YEAR_10000_DAY,
    YEAR_10000_US,
    input_text,
    time_text,
)
from seedbed.validation.arrays import (
    PLAIN_FLOATS,
    bool_array,
    float_text,
    hex_text,
    integers,
    numeric_array,
    string_array,
    valid_mask,
)
from seedbed.validation.csvread import RecordProblem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import sqlalchemy as sa
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pacsv = lazy_module("pyarrow.csv")
    pc = lazy_module("pyarrow.compute")

Unit = Literal["line", "row"]
Progress = Callable[[int], object]
COPY_BATCH_ROWS = 50_000
SAMPLE_BYTES = 1 << 20  # read to estimate a text file's bytes per line


@dataclass
class RawPiece:
    """Rows as read, one column per header position, before they are typed.

    ``positions``: the line (header = 1) or row (from 0) of each row.
    ``header``: the column names, on the first piece of each file (else None).
    ``header_problem``: why a file has no usable header (``empty_file``,
    ``encoding``, ``csv_format``); no rows follow then. ``problems``: records
    that could not be read and are left out of ``data``. ``data`` is an Arrow
    table (CSV text, or an Arrow input's plain columns) or a DataFrame.
    """

    label: str
    unit: Unit
    data: pa.Table | pd.DataFrame
    positions: np.ndarray
    header: list[str] | None = None
    header_problem: str | None = None
    problems: list[RecordProblem] = field(default_factory=list)

    def column(self, position: int) -> pd.Series:
        if isinstance(self.data, pa.Table):
            return pandas_column(self.data.column(position))
        return self.data.iloc[:, position]

    @property
    def rows(self) -> int:
        return int(self.data.num_rows) if isinstance(self.data, pa.Table) else len(self.data)


class SeedFormat(ABC):
    """One input read one way. Subclasses answer every format-specific question."""

    #: file name endings this format claims, lowercase (``.csv.gz``)
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: what a position counts: physical lines (header = 1) or rows (from 0)
    unit: ClassVar[Unit] = "line"
    #: the options of ``COPY ... FROM STDIN (...)`` for :meth:`copy_blocks`
    copy_options: ClassVar[str] = "FORMAT csv, HEADER false"

    #: the columns of the seed's table where binary values are not UTF-8 text, by name
    #: (:meth:`for_table`, :attr:`~seedbed.facts.ColumnSpec.bytes_as`): a ``bytea``
    #: column's bytes, read as their hex text, and a ``uuid`` column's 16 bytes, read as
    #: the UUID's text
    binary_columns: Mapping[str, str] = {}

    def __init__(self, label: str) -> None:
        self.label = label

    def for_table(self, table: sa.Table) -> SeedFormat:
        """This input as the seed of ``table``: a copy knowing :attr:`binary_columns`."""
        columns = table_spec(table).columns.values()
        names = {column.name: column.bytes_as for column in columns if column.bytes_as}
        if names == self.binary_columns:
            return self
        seed = copy.copy(self)
        seed.binary_columns = names
        return seed

    @classmethod
    def table_name(cls, path: Path) -> str | None:
        """The table ``path`` is named after, when this format claims it; else None."""
        lower = path.name.lower()
        for suffix in cls.suffixes:
            if lower.endswith(suffix) and len(lower) > len(suffix):
                return path.name[: -len(suffix)]
        return None

    def files(self) -> list[SeedFormat]:
        """The inputs COPY reads one by one: the part files of a folder, else itself."""
        return [self]

    @abstractmethod
    def columns(self) -> tuple[str, ...]:
        """The column names as the input gives them (the COPY column list)."""

    @abstractmethod
    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        """The rows in pieces of at most ``chunk_rows``; the first carries the header."""

    def deferred_pieces(self, chunk_rows: int) -> Iterator[RawPiece | Callable[[], RawPiece]]:
        """:meth:`pieces`, where a piece after the first may be a call that reads it."""
        return iter(self.pieces(chunk_rows))

    @abstractmethod
    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        """The bytes COPY reads with :attr:`copy_options`, in bounded blocks."""

    def file_as_sent(self) -> Path | None:
        """The file whose bytes are exactly what :meth:`copy_blocks` sends, so a server on
        this machine may read it itself; None when the bytes are made on the way."""
        return None

    def progress_total(self) -> tuple[int | None, str]:
        """What :meth:`copy_blocks` reports progress in, and how much there is."""
        return None, "rows"

    def size_in_bytes(self) -> int:
        """The bytes the input holds as given (a file's size, a frame's memory); 0 if unknown."""
        return 0

    def bytes_per_position(self) -> float | None:
        """About how many of :meth:`size_in_bytes` one position spans; None if not cheap to tell.

        Progress displays turn the last position a chunk reached into bytes read.
        """
        return None

    def position_of_copy_line(self, copy_line: int) -> int:
        """The position of the row COPY calls ``line copy_line`` (no header: row from 0)."""
        return copy_line - 1

    def find_key(self, columns: Sequence[str], values: Sequence[str]) -> int | None:
        """The position of the first row whose ``columns`` hold ``values`` as text."""
        names: list[str] = []
        for piece in self.pieces(COPY_BATCH_ROWS):
            names = piece.header if piece.header is not None else names
            if not set(columns) <= set(names) or not piece.rows:
                continue
            match = np.ones(piece.rows, dtype=bool)
            for column, value in zip(columns, values, strict=True):
                text = piece.column(names.index(column)).astype("string")
                match &= text.eq(value).fillna(False).to_numpy(dtype=bool)
            hits = np.flatnonzero(match)
            if len(hits):
                return int(piece.positions[hits[0]])
        return None


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


_AS_BYTES = {"string": "binary", "large_string": "large_binary", "string_view": "binary_view"}


def _utf8(array: pa.Array) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Text or bytes as ``string``, and the rows that are not UTF-8 (null in the result)."""
    if _is_text(array.type):
        try:
            array.validate(full=True)  # text read from a file is not checked as it is read
            return array.cast(pa.string()), []
        except pa.ArrowInvalid:
            array = array.view(getattr(pa, _AS_BYTES[str(array.type)])())
    else:
        try:
            return array.cast(pa.string()), []
        except pa.ArrowInvalid:
            pass
    cells: list[str | None] = []
    bad: list[tuple[int, str]] = []
    for row, raw in enumerate(array.to_pylist()):
        try:
            cells.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            cells.append(None)
            bad.append((row, f"is not UTF-8 (byte 0x{raw[exc.start]:02x})"))
    return string_array(cells), bad


def _is_nested(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_list_view(kind)
        or pa.types.is_large_list_view(kind)
        or pa.types.is_struct(kind)
        or pa.types.is_map(kind)
    )


def is_typed(kind: pa.DataType) -> bool:
    """Values of ``kind`` a column of a type seedbed leaves to PostgreSQL takes as their text:
    lists (arrays), durations and Arrow's month-day-nano intervals (intervals), times of day."""
    return bool(
        (_is_nested(kind) and not pa.types.is_struct(kind) and not pa.types.is_map(kind))
        or pa.types.is_duration(kind)
        or pa.types.is_interval(kind)
        or pa.types.is_time(kind)
    )


def _interval_text(value: pa.MonthDayNano) -> str:
    """Arrow's month-day-nano interval as PostgreSQL's interval text, its parts kept apart."""
    months, days, nanos = value.months, value.days, value.nanoseconds
    sign = "-" if nanos < 0 else ""
    seconds, fraction = divmod(abs(nanos), 10**9)
    return f"{months} months {days} days {sign}{seconds}.{fraction:09d} seconds"


def _value_writer(column: ColumnSpec, kind: pa.DataType) -> Callable[[Any], str] | None:
    """How :func:`value_text` writes values of Arrow type ``kind`` for ``column``, if it does."""
    if column.kind == kinds.JSON and (_is_nested(kind) or pa.types.is_time(kind)):
        return json_text
    if column.database_text and is_typed(kind):
        return _interval_text if pa.types.is_interval(kind) else input_text
    return None


def writes_text(column: ColumnSpec, kind: pa.DataType) -> bool:
    """Does :func:`value_text` write values of Arrow type ``kind`` for ``column``?"""
    return _value_writer(column, kind) is not None


def value_text(column: ColumnSpec, array: pa.Array) -> pa.Array | None:
    """An Arrow column of typed values (Parquet's, Polars') as the text PostgreSQL reads for
    ``column``: lists, structs and maps as JSON text in a ``json`` or ``jsonb`` column (a
    map is an object; a time of day an ISO 8601 string, as a DataFrame's is); in a column
    of a type seedbed leaves to PostgreSQL, lists as array text (``{1,2}``), durations as
    intervals (``1 days 3.000005 seconds``) and times of day as their ISO text, as a
    DataFrame's Python values are written (:func:`~seedbed.sqltext.input_text`); None for
    other columns and types (their ``type`` check refuses them), and for JSON values that
    hold one JSON has no form for (a duration), which the check of their pandas series
    refuses."""
    kind = array.type
    write = _value_writer(column, kind)
    if write is None:
        return None
    values = array.to_pylist()
    if pa.types.is_map(kind):  # (key, value) pairs: an object
        values = [None if pairs is None else dict(pairs) for pairs in values]
    try:
        return string_array([None if value is None else write(value) for value in values])
    except TypeError:  # no JSON form
        return None


def uuid_text(cells: Sequence[object]) -> tuple[list[object], list[tuple[int, str]]]:
    """Values for a ``uuid`` column: 16 bytes (Parquet's UUID, a Polars ``Binary``) as the
    UUID's text; other bytes as their UTF-8 text (no UUID's text is 16 bytes long), and the
    rows whose bytes are not UTF-8; anything else as it is."""
    values: list[object] = []
    bad: list[tuple[int, str]] = []
    for row, raw in enumerate(cells):
        if isinstance(raw, bytes | bytearray) and len(raw) == 16:
            values.append(str(uuid.UUID(bytes=bytes(raw))))
        elif isinstance(raw, bytes | bytearray):
            try:
                values.append(bytes(raw).decode("utf-8"))
            except UnicodeDecodeError as exc:
                values.append(None)
                bad.append((row, f"is not UTF-8 (byte 0x{raw[exc.start]:02x})"))
        else:
            values.append(raw)
    return values, bad


def plain_array(
    array: pa.Array | pa.ChunkedArray, *, bytes_as: str | None = None
) -> tuple[pa.Array, list[tuple[int, str]]]:
    """``array`` with its text in one type, and the rows whose text cannot be read.

    Dictionary arrays are decoded to their values; string and binary kinds
    become ``string`` (a cell that is not UTF-8 becomes null and is listed
    with why), except binary values for a ``bytea`` column (``bytes_as``, see
    :attr:`~seedbed.facts.ColumnSpec.bytes_as`), which are bytes, as their hex text, and
    16 bytes for a ``uuid`` column, a UUID's, as its text (:func:`uuid_text`); dates,
    decimals and UUIDs (``arrow.uuid``, as DuckDB writes them) become their text, Arrow's
    ``arrow.json`` its text and ``arrow.bool8`` booleans. Other types are left as they are.
    """
    if isinstance(array, pa.ChunkedArray):  # one chunk taken as it is: combining copies
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    extension = getattr(array.type, "extension_name", None)
    if extension == "arrow.json":  # JSON text (Arrow's canonical type, Parquet's JSON)
        array = array.storage
    elif extension == "arrow.bool8":  # booleans held as int8, any but 0 true
        array = bool_array(integers(array.storage) != 0, valid_mask(array.storage))
    elif extension == "arrow.uuid" and bytes_as == "bytea":  # its 16 bytes, as Polars' are
        array = array.storage
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if bytes_as == "bytea" and _is_bytes(array.type):
        return hex_text(array), []
    if bytes_as == "uuid" and _is_bytes(array.type):
        texts, bad = uuid_text(array.to_pylist())
        return string_array(texts), bad  # type: ignore[arg-type]
    if _is_text(array.type) or _is_bytes(array.type):
        return _utf8(array)
    if pa.types.is_date(array.type):
        return _time_strings(array.cast(pa.date32()), days=True), []
    if pa.types.is_decimal(array.type):
        return array.cast(pa.string()), []  # decimals with their scale (1.50)
    if pa.types.is_timestamp(array.type) and array.type.unit == "us":
        return _minus_infinity(array), []
    if getattr(array.type, "extension_name", None) == "arrow.uuid":
        cells = array.storage.to_pylist()
        return string_array([None if b is None else str(uuid.UUID(bytes=b)) for b in cells]), []
    return array, []


_NULLABLE = {
    "bool": "boolean",
    **{
        f"{sign}int{bits}": f"{sign.upper()}Int{bits}"
        for sign in ("", "u")
        for bits in (8, 16, 32, 64)
    },
}


def _pandas_dtype(kind: pa.DataType) -> object:
    """The pandas dtype an Arrow column becomes: text as ``string``, nullable ints and booleans."""
    if pa.types.is_string(kind):
        return pd.StringDtype()
    name = _NULLABLE.get(str(kind))
    return None if name is None else pd.api.types.pandas_dtype(name)


def pandas_column(array: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """A plain Arrow column as pandas holds it: text as ``string``, nullable integers and
    booleans, other types as pyarrow converts them."""
    table = pa.Table.from_arrays([array], names=["value"])
    column: pd.Series = table.to_pandas(types_mapper=_pandas_dtype)["value"]
    return column.set_axis(pd.RangeIndex(len(array)) if index is None else index)


#: Python objects written as their text, which PostgreSQL reads back as the same value.
AS_TEXT = (
    uuid.UUID,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


def _python_text(series: pd.Series) -> tuple[pd.Series, list[tuple[int, str]]]:
    """Python objects: UUIDs and addresses (as psycopg reads ``uuid``, ``inet``, ``cidr``)
    as their text, bytes as their UTF-8 text (as an Arrow binary column's), and the rows
    whose text has a lone surrogate or whose bytes are not UTF-8."""
    values = series.to_numpy(dtype=object, copy=True)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):  # Arrow takes bytes
        try:
            pa.array(values, type=pa.string(), from_pandas=True)
            return series, []
        except (pa.ArrowException, UnicodeEncodeError):
            pass  # a lone surrogate
    bad = []
    changed = False
    for row, value in enumerate(values):
        if isinstance(value, AS_TEXT):
            values[row], changed = str(value), True
        elif isinstance(value, bytes | bytearray):
            try:
                values[row] = bytes(value).decode("utf-8")
            except UnicodeDecodeError as exc:
                values[row] = None
                bad.append((row, f"is not UTF-8 (byte 0x{value[exc.start]:02x})"))
            changed = True
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(value[exc.start])
                bad.append((row, f"is not valid text (a lone surrogate, U+{code:04X})"))
    return (pd.Series(values, index=series.index) if changed else series), bad


def plain_series(
    series: pd.Series, *, bytes_as: str | None = None
) -> tuple[pd.Series, list[tuple[int, str]]]:
    """A DataFrame's column with its type made plain (see :func:`plain_piece`; Arrow binary
    for a ``bytea`` column as its hex text, bytes for a ``uuid`` one as :func:`uuid_text`
    reads them: ``bytes_as``), and the rows (positions) whose cells are not valid text,
    with why."""
    dtype = series.dtype
    if bytes_as == "uuid" and dtype == np.dtype(object):
        cells, unread = uuid_text(list(series.to_numpy(dtype=object)))
        found, wrong = _python_text(pd.Series(cells, index=series.index, dtype=object))
        return found, [*unread, *wrong]
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype == np.dtype(object):
        values = series.astype(object)  # Python objects: text, or anything else
        return _python_text(values.where(values.notna(), None))
    if isinstance(dtype, pd.CategoricalDtype | pd.ArrowDtype):
        array, bad = plain_array(pa.array(series, from_pandas=True), bytes_as=bytes_as)
        return pandas_column(array, series.index), bad
    if dtype == np.dtype(object):
        return _python_text(series)
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "python":
        return series, _python_text(series)[1]
    return series, []


def plain_piece(
    label: str,
    unit: Unit,
    data: pa.Table | pd.DataFrame,
    positions: np.ndarray,
    header: list[str] | None,
    binary: Mapping[str, str] | None = None,
) -> RawPiece:
    """Rows read by Arrow or given as a DataFrame, with their types made plain (see above):
    an Arrow table stays an Arrow table, a DataFrame a DataFrame. Binary values in the
    columns named in ``binary`` are not text (:attr:`SeedFormat.binary_columns`).

    Rows holding a cell that is not text are left out and reported, by column.
    """
    if isinstance(data, pa.Table):
        return _plain_table(label, unit, data, positions, header, binary or {})
    columns: dict[str, pd.Series] = {}
    index = pd.RangeIndex(len(positions))
    problems: dict[int, RecordProblem] = {}
    for number in range(data.shape[1]):
        name = str(data.columns[number])
        given = data.iloc[:, number].set_axis(index)
        column, bad = plain_series(given, bytes_as=(binary or {}).get(name))
        columns[f"{number}"] = column
        for row, why in bad:
            problems.setdefault(row, RecordProblem(int(positions[row]), "encoding", why, name))
    frame = pd.DataFrame(columns, index=index)
    frame.columns = list(data.columns)
    if problems:
        keep = np.ones(len(positions), dtype=bool)
        keep[list(problems)] = False
        frame = frame[keep].reset_index(drop=True)
        positions = positions[keep]
    return RawPiece(label, unit, frame, positions, header, problems=list(problems.values()))


def _plain_table(
    label: str,
    unit: Unit,
    data: pa.Table,
    positions: np.ndarray,
    header: list[str] | None,
    binary: Mapping[str, str],
) -> RawPiece:
    """:func:`plain_piece` of an Arrow table, in Arrow (no pandas)."""
    arrays = []
    problems: dict[int, RecordProblem] = {}
    for number, name in enumerate(data.column_names):
        array, bad = plain_array(data.column(number), bytes_as=binary.get(name))
        arrays.append(array)
        for row, why in bad:
            problems.setdefault(row, RecordProblem(int(positions[row]), "encoding", why, name))
    table = pa.Table.from_arrays(arrays, names=list(data.column_names))
    if problems:
        keep = np.ones(len(positions), dtype=bool)
        keep[list(problems)] = False
        table = table.filter(bool_array(keep))
        positions = positions[keep]
    return RawPiece(label, unit, table, positions, header, problems=list(problems.values()))


def _minus_infinity(array: pa.Array) -> pa.Array:
    """Timestamps with ``-infinity`` held as pandas holds it (the smallest int64 above
    ``NaT``'s) where Arrow holds it as PostgreSQL does (the smallest int64)."""
    held = array.cast(pa.int64())
    if pc.min(held).as_py() != -(2**63):
        return array
    micros = integers(held)  # nulls as 0: their bitmap is kept below
    micros[micros == -(2**63)] = -(2**63) + 1
    return numeric_array(micros, array.type, valid_mask(array))


def _time_strings(array: pa.Array, *, days: bool) -> pa.Array:
    """Dates (``days``) or timestamps as ISO 8601 text; values outside years 1 to 9999
    (which Arrow writes as PostgreSQL cannot read them) and the largest and smallest
    values (``infinity``, ``-infinity``) as :func:`~seedbed.sqltext.time_text` writes them."""
    held = array.cast(pa.int32() if days else pa.int64())
    bounds = pc.min_max(held)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    first, last = (YEAR_1_DAY, YEAR_10000_DAY) if days else (YEAR_1_US, YEAR_10000_US)
    if low is None or (first <= low and high < last):
        return array.cast(pa.string())  # ISO dates, or timestamps as the CSV writer writes them
    values = held.to_pylist()
    zone = not days and array.type.tz is not None
    texts = array.cast(pa.string()).to_pylist() if days else [None] * len(values)
    for row, value in enumerate(values):
        if value is not None and (not days or not first <= value < last):
            texts[row] = time_text(value, days=days, zone=zone)
    return string_array(texts)


def _copy_array(array: pa.Array, bytes_as: str | None) -> pa.Array:
    """A column as COPY gets it: text made plain (bytes for a ``bytea`` column as their hex
    text, for a ``uuid`` one as the UUID's: ``bytes_as``), and timestamps outside years 1
    to 9999 (or ``infinity``) as text PostgreSQL reads back as the same value; timestamps
    with a time zone in UTC (Arrow writes a zone's offset in whole minutes: a local mean
    time's seconds, ``+00:19:32`` in Amsterdam until 1937, would be lost); nanoseconds as
    the microseconds validation read, floored (PostgreSQL would round the digits, to
    another value than the one judged)."""
    array = plain_array(array, bytes_as=bytes_as)[0]
    if not pa.types.is_timestamp(array.type):
        return array
    if array.type.tz not in (None, "UTC"):
        array = array.cast(pa.timestamp(array.type.unit, "UTC"))  # the same instants
    if array.type.unit == "ns":  # the microseconds validation read (floored, as pandas does)
        array = pc.floor_temporal(array, unit="microsecond")
    return _time_strings(array.cast(pa.timestamp("us", array.type.tz)), days=False)


def _plain_batch(batch: pa.RecordBatch, columns: Mapping[str, ColumnSpec]) -> pa.RecordBatch:
    """``batch`` with text in one type, as the CSV writer takes it: floats in an integer
    column as the whole numbers validation read (the writer would give ``1e+15``, which
    an integer column refuses); floats in a column of text (or of a type PostgreSQL reads)
    as the text validation read, pandas' (``3.0``, ``1e-05``; the writer would give ``3``,
    ``0.00001`` and ``nan``), NaN as NULL; lists, structs, maps, durations and times as
    :func:`value_text` writes them (the writer takes none); a column of NULLs alone as
    text, whatever its type (a list of NULLs in a text column is valid)."""
    arrays = []
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        column = columns.get(name)
        if pa.types.is_dictionary(array.type):  # its values, as validation read them
            array = array.dictionary_decode()
        if len(array) and array.null_count == len(array):  # NULLs, of a type the writer takes
            arrays.append(pa.nulls(len(array), pa.string()))  # (not a list, struct or interval)
        elif (
            column is not None and column.kind == kinds.INTEGER and pa.types.is_floating(array.type)
        ):
            arrays.append(array.cast(pa.int64()))  # safe: validation refused any that is not whole
        elif column is not None and column.kind == kinds.TEXT and str(array.type) in PLAIN_FLOATS:
            arrays.append(float_text(array))  # pandas' text, which validation read; NaN: NULL
        elif column is not None and (text := value_text(column, array)) is not None:
            arrays.append(text)
        else:
            arrays.append(_copy_array(array, None if column is None else column.bytes_as))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def copy_columns(table: sa.Table) -> Mapping[str, ColumnSpec]:
    """``table``'s columns, by name, as :func:`arrow_csv_blocks` writes them."""
    return table_spec(table).columns


def arrow_csv_blocks(
    batches: Iterator[pa.RecordBatch],
    on_progress: Progress | None,
    columns: Mapping[str, ColumnSpec] | None = None,
) -> Iterator[bytes]:
    """Arrow batches as headerless CSV, as ``COPY (FORMAT csv)`` reads it; ``columns``:
    the table's (:func:`copy_columns`), for values written as their column reads them."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        if batch.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        pacsv.write_csv(_plain_batch(batch, columns or {}), sink, options)
        yield sink.getvalue().to_pybytes()
        if on_progress:
            on_progress(batch.num_rows)


class FileFormat(SeedFormat):
    """A format of single files, claimed by the end of their name."""

    def __init__(self, path: Path, label: str | None = None) -> None:
        super().__init__(label or printable(path))
        if path.exists() and not path.is_file():  # reading a FIFO or device would wait forever
            raise SeedError(f"{self.label}: not a regular file (a FIFO, socket or device)")
        self.path = path

    def size_in_bytes(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else 0


def bytes_per_line(path: Path, sample: int = SAMPLE_BYTES) -> float:
    """Bytes per physical line in the first ``sample`` bytes of an uncompressed text file."""
    with path.open("rb") as handle:
        head = handle.read(sample)
    return len(head) / max(head.count(b"\n"), 1)


def printable(path: Path) -> str:
    """``path`` as text that prints anywhere, even when its name is not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


FormatClass = TypeVar("FormatClass", bound=type[FileFormat])
REGISTERED: list[type[FileFormat]] = []


def register(cls: FormatClass) -> FormatClass:
    """Class decorator: ``cls`` claims files by its ``suffixes``."""
    REGISTERED.append(cls)
    return cls


__all__ = [
    "FileFormat",
    "RawPiece",
    "SeedFormat",
    "Unit",
    "arrow_csv_blocks",
    "bytes_per_line",
    "copy_columns",
    "is_typed",
    "pandas_column",
    "plain_array",
    "plain_piece",
    "plain_series",
    "printable",
    "register",
    "value_text",
    "writes_text",
]
