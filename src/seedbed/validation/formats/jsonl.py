"""JSON Lines files (``.jsonl``, ``.ndjson``): one JSON object per line.

Positions are lines (the first line is 1). The columns are the keys of all
objects, in the order they first appear; a key an object leaves out is NULL
there. Values are read as the text a CSV would hold, taken from the line as
written (:func:`seedbed.jsontext.object_cells`): strings as they are,
``true``/``false``, numbers exactly as written (``1.10``, ``1e2``, ``-0``),
``null`` as NULL, and objects and arrays as their JSON text as written (for
JSON columns, so ``jsonb`` judges them as it would the same CSV cell). A line
that is not one JSON object, holds NaN or Infinity, names a key twice or
holds a lone surrogate escape is a ``json_format`` problem. Blank lines are
skipped. COPY gets the rows as CSV written by pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from seedbed.errors import SeedError, reason
from seedbed.jsontext import InvalidJson, object_cells
from seedbed.lazymodules import lazy_module
from seedbed.validation.csvread import RecordProblem
from seedbed.validation.formats.base import (
    COPY_BATCH_ROWS,
    FileFormat,
    Progress,
    RawPiece,
    arrow_csv_blocks,
    bytes_per_line,
    copy_columns,
    register,
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

_Row = dict[str, str | None]


def _parse(line: str) -> _Row | str:
    """The object on ``line`` as text values, or why it cannot be read."""
    try:
        return object_cells(line)
    except InvalidJson as exc:
        return str(exc)


@register
class JsonLinesFile(FileFormat):
    """A JSON Lines file."""

    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson")

    def __init__(self, path: Path, label: str | None = None) -> None:
        super().__init__(path, label)
        self._columns: tuple[str, ...] | None = None

    def _batches(
        self, chunk_rows: int
    ) -> Iterator[tuple[list[_Row], list[int], list[RecordProblem]]]:
        """Parsed objects with their lines, and the lines that could not be read."""
        rows: list[_Row] = []
        lines: list[int] = []
        problems: list[RecordProblem] = []
        try:
            with self.path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    try:
                        text = raw.decode("utf-8").removeprefix("\ufeff")
                    except UnicodeDecodeError as exc:
                        message = f"is not UTF-8 (byte 0x{raw[exc.start]:02x})"
                        problems.append(RecordProblem(number, "encoding", message))
                        continue
                    if not text.strip():
                        continue
                    parsed = _parse(text)
                    if isinstance(parsed, str):
                        problems.append(RecordProblem(number, "json_format", parsed))
                        continue
                    rows.append(parsed)
                    lines.append(number)
                    if len(rows) >= chunk_rows:
                        yield rows, lines, problems
                        rows, lines, problems = [], [], []
        except OSError as exc:
            raise SeedError(f"{self.label}: cannot read: {reason(exc)}") from None
        yield rows, lines, problems

    def columns(self) -> tuple[str, ...]:
        if self._columns is None:
            names: dict[str, None] = {}
            for rows, _, _ in self._batches(COPY_BATCH_ROWS):
                for row in rows:
                    names.update(dict.fromkeys(row))
            self._columns = tuple(names)
        return self._columns

    def _frames(
        self, chunk_rows: int
    ) -> Iterator[tuple[pd.DataFrame, list[int], list[RecordProblem]]]:
        names = list(self.columns())
        for rows, lines, problems in self._batches(chunk_rows):
            data = {n: pd.Series([r.get(n) for r in rows], dtype="str") for n in names}
            yield pd.DataFrame(data, index=pd.RangeIndex(len(rows))), lines, problems

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        header: list[str] | None = list(self.columns())
        for frame, lines, problems in self._frames(chunk_rows):
            positions = np.asarray(lines, dtype=np.int64)
            yield RawPiece(self.label, self.unit, frame, positions, header, None, problems)
            header = None

    def bytes_per_position(self) -> float | None:
        return bytes_per_line(self.path)

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        columns = copy_columns(table)
        for frame, _, _ in self._frames(COPY_BATCH_ROWS):
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            yield from arrow_csv_blocks(iter(arrow.to_batches()), on_progress, columns)

    def position_of_copy_line(self, copy_line: int) -> int:
        """The line of the object COPY calls ``line copy_line`` (its row, from 1)."""
        seen = 0
        for _, lines, _ in self._batches(COPY_BATCH_ROWS):
            if copy_line - 1 < seen + len(lines):
                return lines[copy_line - 1 - seen]
            seen += len(lines)
        return copy_line


__all__ = ["JsonLinesFile"]
