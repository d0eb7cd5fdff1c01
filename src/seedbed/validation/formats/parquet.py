"""Parquet files: read in record batches; COPY gets them as CSV written by pyarrow.

Positions are rows, from 0. Column types are made plain as for every Arrow
input (:func:`~seedbed.validation.formats.base.plain_piece`): dictionary,
``large_string``, ``string_view`` and binary columns are read as text; the
pieces stay Arrow tables, which validation types without pandas where it can.
The file is read one row group at a time (:func:`batches`): pyarrow's reader of
the whole file reads ahead and holds several row groups' columns at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa

from seedbed.errors import SeedError
from seedbed.lazymodules import lazy_module
from seedbed.validation.formats.base import (
    COPY_BATCH_ROWS,
    FileFormat,
    Progress,
    RawPiece,
    Unit,
    arrow_csv_blocks,
    plain_piece,
    register,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
else:
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")


def batches(parquet: pq.ParquetFile, rows: int) -> Iterator[pa.Table]:
    """The file's rows in tables of ``rows`` rows (the last one fewer), as
    ``iter_batches(batch_size=rows)`` cuts them, read one row group at a time."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for group in range(parquet.num_row_groups):
        for batch in parquet.iter_batches(batch_size=rows, row_groups=[group], use_threads=False):
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending, schema=parquet.schema_arrow)
                rest = table.slice(rows)
                yield table.slice(0, rows)
                pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending, schema=parquet.schema_arrow)


@register
class ParquetFile(FileFormat):
    """A ``.parquet`` file."""

    suffixes: ClassVar[tuple[str, ...]] = (".parquet",)
    unit: ClassVar[Unit] = "row"

    def _fail(self, exc: BaseException) -> SeedError:
        return SeedError(f"{self.label}: cannot read as Parquet: {exc}")

    def _open(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
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
                for table in batches(parquet, chunk_rows):
                    positions = np.arange(offset, offset + table.num_rows, dtype=np.int64)
                    offset += table.num_rows
                    yield plain_piece(self.label, self.unit, table, positions, header)
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
                tables = batches(parquet, COPY_BATCH_ROWS)
                yield from arrow_csv_blocks(
                    (batch for table in tables for batch in table.to_batches()), on_progress
                )
            except (OSError, pa.ArrowException) as exc:
                raise self._fail(exc) from None


__all__ = ["ParquetFile", "batches"]
