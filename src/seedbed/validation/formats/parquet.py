"""Parquet files: read in record batches; COPY gets them as CSV written by pyarrow.

Positions are rows, from 0. Column types are made plain as for every Arrow
input (:func:`~seedbed.validation.formats.base.plain_piece`): dictionary,
``large_string``, ``string_view`` and binary columns are read as text; the
pieces stay Arrow tables, which validation types without pandas where it can.

A piece holds about as many bytes as a CSV chunk
(:data:`~seedbed.validation.csvread.BLOCK_BYTES`), counted by the file's own
uncompressed bytes per row (:func:`piece_rows`), whatever its row groups are:
a file of one large row group, or of many small ones, is read in record batches
of that many rows. The reader reads each column chunk a buffer at a time
(:data:`READ_BUFFER_BYTES`), without pyarrow's pre-buffering, which reads every
column chunk of a row group (or the whole file) before a row is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from seedbed.errors import SeedError
from seedbed.lazymodules import lazy_module
from seedbed.validation import csvread
from seedbed.validation.formats.base import (
    COPY_BATCH_ROWS,
    FileFormat,
    Progress,
    RawPiece,
    Unit,
    arrow_csv_blocks,
    copy_columns,
    plain_piece,
    register,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa
else:
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

#: What the reader reads of a column chunk at a time.
READ_BUFFER_BYTES = 1 << 20


def piece_rows(parquet: pq.ParquetFile, most: int) -> int:
    """Rows of about :data:`~seedbed.validation.csvread.BLOCK_BYTES` uncompressed (at most
    ``most``), by the bytes per row the file's metadata gives."""
    metadata = parquet.metadata
    rows: int = metadata.num_rows
    size = sum(metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups))
    if not rows or size <= 0:
        return most
    return max(1, min(most, int(csvread.BLOCK_BYTES * rows / size)))


def batches(parquet: pq.ParquetFile, rows: int) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches of ``rows`` rows (the last one fewer), across row groups."""
    return iter(parquet.iter_batches(batch_size=rows, use_threads=False))


@register
class ParquetFile(FileFormat):
    """A ``.parquet`` file."""

    suffixes: ClassVar[tuple[str, ...]] = (".parquet",)
    unit: ClassVar[Unit] = "row"

    def _fail(self, exc: BaseException) -> SeedError:
        return SeedError(f"{self.label}: cannot read as Parquet: {exc}")

    def _open(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
        except (OSError, pa.ArrowException) as exc:
            raise self._fail(exc) from None

    def columns(self) -> tuple[str, ...]:
        with self._open() as parquet:
            return tuple(parquet.schema_arrow.names)

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        with self._open() as parquet:
            names = list(parquet.schema_arrow.names)
            offset = 0
            header: list[str] | None = names
            try:
                for batch in batches(parquet, piece_rows(parquet, chunk_rows)):
                    table = pa.Table.from_batches([batch])
                    positions = np.arange(offset, offset + table.num_rows, dtype=np.int64)
                    offset += table.num_rows
                    del batch  # the table holds its columns
                    yield plain_piece(
                        self.label, self.unit, table, positions, header, self.binary_columns
                    )
                    header = None
            except (OSError, pa.ArrowException) as exc:
                raise self._fail(exc) from None
            if header is not None:
                empty = parquet.schema_arrow.empty_table()
                yield plain_piece(self.label, self.unit, empty, np.zeros(0, np.int64), header)

    def bytes_per_position(self) -> float | None:
        with self._open() as parquet:
            rows: int = parquet.metadata.num_rows
        return self.size_in_bytes() / max(rows, 1)

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        with self._open() as parquet:
            try:
                blocks = batches(parquet, COPY_BATCH_ROWS)
                yield from arrow_csv_blocks(blocks, on_progress, copy_columns(table))
            except (OSError, pa.ArrowException) as exc:
                raise self._fail(exc) from None


__all__ = ["ParquetFile", "batches", "piece_rows"]
