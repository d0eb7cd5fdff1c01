"""COPY in PostgreSQL's binary format, written from the values validation has read.

Validation reads every value of a text source exactly as COPY would
(:mod:`seedbed.validation.coerce`) into typed Arrow arrays. For a table whose
columns in the file are all of types with a plain binary form (text and
``varchar``, enums, booleans, integers, dates, time stamps with and without
time zone), the writer sends those values as ``COPY ... (FORMAT binary)``
instead of having the server parse the same text again: the server's work
for 1M users falls from about 1.1 to 0.5 CPU-s, and that work is the load's
longest path (``docs/decisions/2026-12-05-binary-copy.md``).

:func:`binary_columns` says whether a table's columns qualify;
:func:`encode` turns one chunk's arrays into the rows' bytes (Arrow kernels,
no Python loop a row, no pandas); :data:`HEADER` and :data:`TRAILER` frame
the whole stream.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from seedbed.facts import spec as kinds
from seedbed.lazymodules import lazy_module
from seedbed.loading.copy import Cancelled
from seedbed.sqltext import DAY_US
from seedbed.validation.arrays import integers, null_mask, repeated_string, true_mask, with_nulls

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

    from seedbed.validation.api import ChunkMeter
    from seedbed.validation.sources import SeedChunk, SeedSource
else:  # the writer of a table sent from its file starts its COPY without them
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")

#: The stream's signature, flags (none) and header extension length (none).
HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
#: The end of the stream: a field count of -1.
TRAILER = b"\xff\xff"

#: PostgreSQL counts days and microseconds from 2000-01-01, Arrow from 1970-01-01.
_EPOCH_DAYS = 10_957
_EPOCH_US = _EPOCH_DAYS * DAY_US
_INT64 = np.iinfo(np.int64)
_INT32 = np.iinfo(np.int32)
_WIDTHS = {"SMALLINT": 2, "INTEGER": 4, "BIGINT": 8}
_TEXT = ("TEXT", "VARCHAR")
_STAMPS = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE")


@dataclass(frozen=True)
class Field:
    """How one column's values are written: ``form`` is text, bool, int, date or stamp."""

    name: str
    form: str
    width: int = 0  # the bytes of an integer


def binary_columns(table: sa.Table, columns: Sequence[str]) -> tuple[Field, ...] | None:
    """How to write ``columns`` of ``table`` in binary; None when one has no plain form here.

    A domain is left to the text path (its input function checks its CHECKs), and so
    are ``char(n)``, numbers with a precision, times with a precision and every type
    seedbed does not read in-process.
    """
    spec = kinds.table_spec(table)
    found = []
    for name in columns:
        column, info = table.c[name], spec.columns[name]
        if isinstance(column.type, postgresql.DOMAIN):
            return None
        sql_type = kinds.base_sql_type(column)
        bare = sql_type.split("(")[0]
        if info.kind == kinds.ENUM or (info.kind == kinds.TEXT and bare in _TEXT):
            found.append(Field(name, "text"))
        elif info.kind == kinds.BOOLEAN and sql_type == "BOOLEAN":
            found.append(Field(name, "bool"))
        elif info.kind == kinds.INTEGER and sql_type in _WIDTHS:
            found.append(Field(name, "int", _WIDTHS[sql_type]))
        elif info.kind == kinds.DATE and sql_type == "DATE":
            found.append(Field(name, "date"))
        elif info.kind in (kinds.TIMESTAMP, kinds.TIMESTAMPTZ) and sql_type in _STAMPS:
            found.append(Field(name, "stamp"))
        else:
            return None
    return tuple(found)


def encodable(fields: Sequence[Field], columns: Mapping[str, Any]) -> bool:
    """Are ``columns`` (a chunk's) Arrow arrays of the types :func:`encode` writes?"""
    for f in fields:
        values = columns.get(f.name)
        if not isinstance(values, pa.Array):
            return False
        if not _arrow_type_of(f.form, values.type):
            return False
    return True


def _arrow_type_of(form: str, kind: pa.DataType) -> bool:
    """Is ``kind`` the Arrow type validation's reader gives a column written as ``form``?"""
    if form == "text":
        return kind in (pa.string(), pa.large_string())
    if form == "stamp":
        return bool(pa.types.is_timestamp(kind) and kind.unit == "us")
    return bool(kind == {"bool": pa.bool_(), "int": pa.int64(), "date": pa.date32()}[form])


def encode(fields: Sequence[Field], columns: Mapping[str, pa.Array]) -> pa.Buffer:
    """The binary rows of one chunk: per row the field count, then each field's length
    (-1 for NULL) and bytes, big-endian as PostgreSQL's receive functions read them.

    Built with Arrow kernels over buffers; no Python value reaches a kernel (pyarrow
    would import pandas to convert it)."""
    rows = len(columns[fields[0].name]) if fields else 0
    parts = [_fixed_binary(np.full(rows, len(fields), dtype=">i2"))]
    for f in fields:
        values = columns[f.name]
        if f.form == "text":
            data = values.cast(pa.large_binary())
            lengths = integers(pc.binary_length(values), fill=-1)
        else:
            data = _fixed(f, values)
            lengths = np.full(rows, data.type.byte_width, dtype=np.int64)
            if values.null_count:
                missing = null_mask(values)
                data = with_nulls(data, missing)
                lengths[missing] = -1
        parts += [_fixed_binary(lengths.astype(">i4")), data]
    nothing = repeated_string("", rows).cast(pa.large_binary())  # the separator
    joined = pc.binary_join_element_wise(
        *(p.cast(pa.large_binary()) for p in parts),
        nothing,
        null_handling="replace",  # a NULL field's length is all it writes
    )
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    start, end = int(offsets[joined.offset]), int(offsets[joined.offset + rows])
    return joined.buffers()[2][start:end]


def _fixed(f: Field, values: pa.Array) -> pa.Array:
    """A fixed-width column's values, big-endian, as a binary array of that width."""
    if f.form == "bool":
        return _fixed_binary(true_mask(values).astype(np.uint8))
    held = integers(values)
    if f.form == "int":
        return _fixed_binary(held.astype(f">i{f.width}"))
    if f.form == "date":  # infinity and -infinity are the int32 extremes in both
        days = np.where(
            (held == _INT32.max) | (held == _INT32.min), held, held - _EPOCH_DAYS
        ).astype(">i4")
        return _fixed_binary(days)
    micros = np.where((held == _INT64.max) | (held == _INT64.min), held, held - _EPOCH_US)
    return _fixed_binary(micros.astype(">i8"))


def _fixed_binary(values: np.ndarray) -> pa.Array:
    """NumPy values, as they lie in memory, one binary value each (no copy a value)."""
    values = np.ascontiguousarray(values)
    width = values.dtype.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(values)]
    )


class ChunkFeed:
    """Hands the writer, in file order, the typed columns of each chunk validation read
    of the tables written in binary (``fields``: how); ``None`` after a table's last chunk.

    Validation tells it of each chunk as it tells its meter (whom it tells too). At
    most ``size`` chunks wait: validation waits for the writer beyond that, until the
    writer is :meth:`close` d (finished, failed or called off), after which nothing is
    kept.
    """

    def __init__(self, fields: Mapping[str, tuple[Field, ...]], size: int = 4) -> None:
        self.fields = dict(fields)
        self.tables = frozenset(fields)
        self.meter: ChunkMeter | None = None
        self._queue: queue.Queue[tuple[str, dict[str, Any] | None]] = queue.Queue(size)
        self._closed = threading.Event()

    def told(self, meter: ChunkMeter) -> ChunkFeed:
        """This feed, telling ``meter`` too of each chunk and finished source."""
        self.meter = meter
        return self

    def chunk(self, seed: SeedSource, chunk: SeedChunk) -> None:
        if self.meter is not None:
            self.meter.chunk(seed, chunk)
        if seed.table.name in self.tables:
            self._put(seed.table.name, dict(chunk.columns))

    def source_done(self, seed: SeedSource) -> None:
        if self.meter is not None:
            self.meter.source_done(seed)
        if seed.table.name in self.tables:
            self._put(seed.table.name, None)

    def _put(self, table: str, columns: dict[str, Any] | None) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put((table, columns), timeout=0.1)
                return

    def take(self, table: str, cancel: threading.Event) -> dict[str, Any] | None:
        """The next chunk's columns of ``table`` (None: there are no more); chunks of a
        table before it in the order, which the writer did not take, are passed over."""
        while True:
            if cancel.is_set():
                raise Cancelled
            try:
                name, columns = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if name == table:
                return columns

    def close(self) -> None:
        """The writer takes no more: validation goes on without waiting, keeping nothing."""
        self._closed.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()


__all__ = ["HEADER", "TRAILER", "ChunkFeed", "Field", "binary_columns", "encodable", "encode"]
