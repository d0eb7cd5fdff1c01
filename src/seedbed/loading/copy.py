"""Streaming one source into one table with ``COPY ... FROM STDIN (FORMAT csv)``.

A CSV file is streamed as its original bytes, exactly as ``psql \\copy`` does:
nothing is parsed or re-serialized on the way. Parquet files and DataFrames
are serialized to CSV by pyarrow in batches. Either way memory stays bounded
by the block size, whatever the size of the source.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

BLOCK_BYTES = 1 << 20
FRAME_BATCH_ROWS = 50_000

Progress = Callable[[int], None]


class Cancelled(Exception):
    """Raised inside the writer when the load was called off (validation failed)."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: sa.Table) -> str:
    return f"{quote_ident(str(table.schema))}.{quote_ident(table.name)}"


def copy_sql(relation: str, columns: tuple[str, ...], *, header: bool, freeze: bool = False) -> str:
    """``freeze``: write the rows frozen (the table was truncated in this transaction)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    options = f"FORMAT csv, HEADER {str(header).lower()}" + (", FREEZE true" if freeze else "")
    return f"COPY {relation} ({cols}) FROM STDIN ({options})"


def csv_blocks(path: Path, on_progress: Progress | None) -> Iterator[bytes]:
    """The file's bytes in blocks, without a UTF-8 BOM (COPY would take it as data)."""
    with path.open("rb") as handle:
        first = True
        while block := handle.read(BLOCK_BYTES):
            if on_progress:
                on_progress(len(block))
            if first and block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
            first = False
            yield block


def _arrow_csv_blocks(
    batches: Iterator[pa.RecordBatch], on_progress: Progress | None
) -> Iterator[bytes]:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        if batch.num_rows == 0:
            continue
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, options)
        yield sink.getvalue().to_pybytes()
        if on_progress:
            on_progress(batch.num_rows)


def _json_text(value: Any) -> Any:
    if value is None or isinstance(value, str) or (isinstance(value, float) and pd.isna(value)):
        return value
    return json.dumps(value)


def frame_to_arrow(frame: pd.DataFrame, table: sa.Table) -> pa.Table:
    """``frame`` as an Arrow table COPY can read back as CSV (JSON columns as JSON text)."""
    converted = {}
    for name in frame.columns:
        column = frame[name]
        if name in table.c and isinstance(table.c[name].type, JSONB | sa.JSON):
            column = column.map(_json_text).astype("string")
        converted[name] = column
    return pa.Table.from_pandas(pd.DataFrame(converted), preserve_index=False)


def frame_blocks(
    frame: pd.DataFrame, table: sa.Table, on_progress: Progress | None
) -> Iterator[bytes]:
    for start in range(0, len(frame), FRAME_BATCH_ROWS):
        part = frame_to_arrow(frame.iloc[start : start + FRAME_BATCH_ROWS], table)
        yield from _arrow_csv_blocks(iter(part.to_batches()), on_progress)


def parquet_blocks(path: Path, on_progress: Progress | None) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        yield from _arrow_csv_blocks(parquet.iter_batches(batch_size=FRAME_BATCH_ROWS), on_progress)


def copy_blocks(
    cursor: psycopg.Cursor[Any],
    sql: str,
    blocks: Iterator[bytes],
    cancel: threading.Event,
) -> int:
    """Run ``sql`` (a COPY FROM STDIN) feeding it ``blocks``; return the rows copied."""
    with cursor.copy(sql) as copy:
        for block in blocks:
            if cancel.is_set():
                raise Cancelled
            copy.write(block)
    return max(cursor.rowcount, 0)
