"""CSV and TSV files: read the way COPY reads them, and sent to COPY as they are.

A CSV file is streamed to ``COPY ... (FORMAT csv, HEADER true)`` as its
original bytes, exactly as ``psql \\copy`` sends it (only a UTF-8 BOM is
dropped, which COPY would take as data). TSV is CSV with tabs: quotes work as
in CSV and a backslash is an ordinary character, and COPY reads it with
``FORMAT csv, DELIMITER E'\\t'``. (PostgreSQL's text format would treat
backslashes as escapes and ``\\N`` as NULL, which is not how spreadsheet and
pandas TSV files are written, and not how the validator reads them.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from seedbed.lazymodules import lazy_module
from seedbed.validation.csvread import BOM, CsvPiece, CsvReader
from seedbed.validation.csvscan import COMMA
from seedbed.validation.formats.base import (
    FileFormat,
    Progress,
    RawPiece,
    bytes_per_line,
    register,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import sqlalchemy as sa
else:
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")

BLOCK_BYTES = 1 << 20
TAB = 9


@dataclass(frozen=True)
class Record:
    start: int  # physical line the record starts on (header = 1)
    copy_line: int  # the line number COPY gives for it
    fields: list[str]


@register
class CsvFile(FileFormat):
    """A ``.csv`` file with a header line."""

    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    sep: ClassVar[int] = COMMA
    copy_options: ClassVar[str] = "FORMAT csv, HEADER true"

    def open_binary(self) -> BinaryIO:
        """The file's bytes (decompressed, for compressed formats)."""
        return self.path.open("rb")

    def _reader(self, chunk_rows: int) -> CsvReader:
        return CsvReader(self.path, chunk_rows, sep=self.sep, opener=lambda _: self.open_binary())

    def columns(self) -> tuple[str, ...]:
        return tuple(self._reader(1).read_header() or ())

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        for piece in self.deferred_pieces(chunk_rows):
            yield piece() if callable(piece) else piece

    def deferred_pieces(self, chunk_rows: int) -> Iterator[RawPiece | Callable[[], RawPiece]]:
        """:meth:`pieces`, with blocks after the first parsed when called (on any thread)."""
        reader = self._reader(chunk_rows)
        first = True
        for piece in reader.deferred_pieces():
            if callable(piece):
                yield partial(self._raw, piece)
                continue
            yield RawPiece(
                self.label,
                self.unit,
                piece.table,
                piece.lines,
                header=(reader.header or []) if first else None,
                problems=piece.problems,
            )
            first = False
        if first:
            yield RawPiece(
                self.label,
                self.unit,
                pa.table({}),
                np.zeros(0, np.int64),
                header=[],
                header_problem=reader.header_problem or "empty_file",
            )

    def _raw(self, parse: Callable[[], CsvPiece]) -> RawPiece:
        piece = parse()
        return RawPiece(self.label, self.unit, piece.table, piece.lines, problems=piece.problems)

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        """The file's bytes in blocks, without a UTF-8 BOM (COPY would take it as data)."""
        with self.open_binary() as handle:
            first = True
            while block := handle.read(BLOCK_BYTES):
                if on_progress:
                    on_progress(len(block))
                if first and block.startswith(BOM):
                    block = block[3:]
                first = False
                yield block

    def file_as_sent(self) -> Path | None:
        """The file, unless it starts with a UTF-8 BOM (which :meth:`copy_blocks` leaves out)."""
        with self.path.open("rb") as handle:
            return None if handle.read(len(BOM)) == BOM else self.path

    def progress_total(self) -> tuple[int | None, str]:
        return self.path.stat().st_size, "B"

    def bytes_per_position(self) -> float | None:
        return bytes_per_line(self.path)

    # -- where a refused row is ------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every record after the header, with its physical start line and COPY's line for it.

        Physical lines end at ``\\n``, ``\\r\\n`` or ``\\r``. COPY counts only the
        line ending its first line used (a bare ``\\n`` inside quotes in a
        ``\\r\\n`` file is not a new line to it) and names a record by the line it
        ends on.
        """
        text = io.TextIOWrapper(
            self.open_binary(), encoding="utf-8-sig", errors="replace", newline=""
        )
        with text as handle:
            first = handle.readline()
            if not first:
                return
            eol = "\r\n" if first.endswith("\r\n") else first[-1]
            consumed = 1  # physical lines handed to the reader so far
            copy_breaks = 1 if first.endswith(eol) else 0  # COPY's line breaks among them
            last_ending = ""

            def lines() -> Iterator[str]:
                nonlocal consumed, copy_breaks, last_ending
                for line in handle:
                    consumed += 1
                    ends = line.endswith(eol) and not (eol == "\n" and line.endswith("\r\n"))
                    copy_breaks += ends
                    last_ending = line
                    yield line

            reader = csv.reader(lines(), delimiter=chr(self.sep))
            start = consumed + 1
            try:
                for fields in reader:
                    # COPY's line for the record: one more than the breaks before its last line
                    ends_with_break = last_ending.endswith(eol)
                    yield Record(start, copy_breaks + 1 - int(ends_with_break), fields)
                    start = consumed + 1
            except csv.Error:
                return

    def position_of_copy_line(self, copy_line: int) -> int:
        """The physical line where the record COPY calls line ``copy_line`` starts."""
        for record in self.records():
            if record.copy_line >= copy_line:
                return record.start
        return copy_line

    def find_key(self, columns: Sequence[str], values: Sequence[str]) -> int | None:
        """The first physical line whose ``columns`` hold ``values``."""
        header = list(self.columns())
        try:
            positions = [header.index(c) for c in columns]
        except ValueError:
            return None
        wanted = list(values)
        for record in self.records():
            fields = record.fields
            if len(fields) == len(header) and [fields[i] for i in positions] == wanted:
                return record.start
        return None


@register
class TsvFile(CsvFile):
    """A ``.tsv`` file: CSV quoting with tabs between fields."""

    suffixes: ClassVar[tuple[str, ...]] = (".tsv",)
    sep: ClassVar[int] = TAB
    copy_options: ClassVar[str] = "FORMAT csv, HEADER true, DELIMITER E'\\t'"


__all__ = ["CsvFile", "Record", "TsvFile"]
