"""Seed sources and reading them in typed chunks.

A :class:`SeedSource` is one table's seed: the table and the format object
that reads it (:mod:`seedbed.validation.formats`). :func:`resolve_sources`
maps a folder, files, or a mapping of table name to file or DataFrame onto
the model's tables, parents before children. :func:`read_seed_chunks`
streams one source as :class:`SeedChunk` objects: the header's columns with
values read as their column's type, each row's position, and a report of
what could not be read (header, encoding, record form, types). Memory stays
bounded by ``chunk_rows``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, Union, cast

from seedbed.errors import SeedError, reason
from seedbed.facts import TableSpec, metadata_for, ordered_tables, table_spec
from seedbed.lazymodules import imported, lazy_module
from seedbed.validation.formats import (
    ArrowInput,
    FrameInput,
    PartFolder,
    RawPiece,
    SeedFormat,
    claim,
    is_hidden,
    known_suffixes,
    open_path,
    table_name,
)
from seedbed.validation.formats.base import Unit, pandas_column, value_text
from seedbed.validation.report import ValidationReport, display_values

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import sqlalchemy as sa

    from seedbed.validation.coerce import ArrowCoerced, Coerced
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pl = lazy_module("polars")

PathInput = Union[str, "os.PathLike[str]"]
FrameLike: TypeAlias = Union[
    "pd.DataFrame", "pa.Table", "pa.RecordBatch", "pl.DataFrame", "pl.LazyFrame"
]
#: What ``validate`` and ``load`` take: a folder or file, a list of them, or a
#: mapping of table name to a file, folder or DataFrame (pandas or Polars) or Arrow table.
SeedInput: TypeAlias = PathInput | Iterable[PathInput] | Mapping[str, PathInput | FrameLike]


@dataclass(frozen=True)
class SeedSource:
    """One table's seed: the table, and the format object that reads its input."""

    table: sa.Table
    format: SeedFormat = field(compare=False)

    @property
    def label(self) -> str:
        return self.format.label

    @property
    def unit(self) -> Unit:
        return self.format.unit

    def files(self) -> list[SeedSource]:
        """One source per file COPY reads: the part files of a folder, else this one."""
        return [SeedSource(self.table, part) for part in self.format.files()]

    def sensitive(self, column: str | None) -> bool:
        """True for a sensitive column, or an index expression that reads one."""
        if column is None:
            return False
        spec = table_spec(self.table)  # by name: a column's key in ``Table.c`` may differ
        names = [column] if column in spec.columns else re.findall(r"\w+", column)
        return any(spec.sensitive(n) for n in names)


#: A typed column of a chunk: Arrow values (read from text) or a pandas series.
TypedColumn: TypeAlias = Union["pa.Array", "pd.Series"]


@dataclass
class SeedChunk:
    """Rows of one source, read and typed.

    ``columns`` holds the header's (known, first-named) columns, values typed
    where they could be read and null where not: Arrow arrays when read from
    text (see :func:`~seedbed.validation.coerce.coerce_text`), else pandas
    series; ``frame`` is them as a pandas DataFrame, built when first asked
    for. ``lines`` the position of each row in ``label`` (``unit``: physical
    line with header = 1, or row from 0); ``report`` what could not be read;
    ``invalid`` per column the rows whose value could not be read (already in
    ``report``).
    """

    columns: dict[str, TypedColumn]
    lines: np.ndarray
    report: ValidationReport
    invalid: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = ""
    unit: Unit = "line"
    _frame: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return len(self.lines)

    @property
    def frame(self) -> pd.DataFrame:
        """The columns as a pandas DataFrame (built once, on the first call)."""
        if self._frame is None:
            self._frame = pd.DataFrame(
                {name: _as_series(values, self.rows) for name, values in self.columns.items()},
                index=pd.RangeIndex(self.rows),
            )
        return self._frame


def _as_series(values: TypedColumn, rows: int) -> pd.Series:
    if isinstance(values, pa.Array):
        from seedbed.validation.coerce import arrow_series

        return arrow_series(values, pd.RangeIndex(rows))
    return values


def _tables_by_name(schema: str) -> dict[str, sa.Table]:
    return {t.name: t for t in ordered_tables(metadata_for(schema))}


def _skipped(entry: Path, tables: Mapping[str, sa.Table]) -> bool:
    """Not a seed of a seed folder: hidden (``.crc``) or an export's marker (``_SUCCESS``),
    unless named after a table (Prisma names its join tables ``_PostToTag``)."""
    if not is_hidden(entry) or entry.name.startswith("."):
        return is_hidden(entry)
    return entry.name not in tables and table_name(entry) not in tables


def _is_part_folder(path: Path, tables: Mapping[str, sa.Table]) -> bool:
    """A folder named after a table whose files are not named after tables."""
    if path.name not in tables:
        return False
    entries = [p for p in path.iterdir() if not _skipped(p, tables)]
    return not any(p.is_dir() or table_name(p) in tables for p in entries)


def _folder_sources(path: Path, tables: Mapping[str, sa.Table]) -> list[tuple[str, SeedFormat]]:
    """The seeds in a seed folder: claimed files, and part folders named after tables."""
    found: list[tuple[str, SeedFormat]] = []
    try:
        entries = sorted(p for p in path.iterdir() if not _skipped(p, tables))
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {reason(exc)}") from None
    for entry in entries:
        if entry.is_dir():
            found.append((entry.name, PartFolder.open(entry, claim)))
            continue
        name = table_name(entry)
        if name is not None:
            found.append((name, open_path(entry)))
    if not found:
        raise SeedError(f"{path}: no seed files in this folder ({', '.join(known_suffixes())})")
    return found


def _path_sources(given: Path, tables: Mapping[str, sa.Table]) -> list[tuple[str, SeedFormat]]:
    if given.is_dir():
        if _is_part_folder(given, tables):
            return [(given.name, open_path(given))]
        return _folder_sources(given, tables)
    if not given.exists():
        raise SeedError(f"{given}: no such file or folder")
    source = open_path(given)
    name = table_name(given)
    assert name is not None  # open_path refuses files no format claims
    return [(name, source)]


def _is_frame(value: object) -> bool:
    """A DataFrame (pandas or Polars, a Polars LazyFrame) or an Arrow table or record
    batch, asked without importing any."""
    return (
        (imported("pandas") and isinstance(value, pd.DataFrame))
        or (imported("pyarrow") and isinstance(value, pa.Table | pa.RecordBatch))
        or (imported("polars") and isinstance(value, pl.DataFrame | pl.LazyFrame))
    )


def _frame_source(name: str, value: FrameLike) -> SeedFormat:
    """A pandas DataFrame as pandas gives it; an Arrow table (a Polars DataFrame's own)
    in Arrow: the format object makes their types plain."""
    label = f"<frame:{name}>"
    if imported("pandas") and isinstance(value, pd.DataFrame):
        return FrameInput(value, label)
    if isinstance(value, pa.Table):
        return ArrowInput(value, label)
    if isinstance(value, pa.RecordBatch):
        return ArrowInput(pa.Table.from_batches([value]), label)
    frame = cast("pl.DataFrame | pl.LazyFrame", value)
    if isinstance(frame, pl.LazyFrame):  # its query run once, here
        frame = frame.collect()
    objects = [column for column, kind in frame.schema.items() if kind == pl.Object]
    if objects:
        raise SeedError(
            f"{label}: column {objects[0]!r} holds Python objects (Polars Object), "
            "which have no Arrow type: give their text"
        )
    wide = {
        column: text
        for column, kind in frame.schema.items()
        if (text := _wide_integers_as_text(kind)) is not None
    }
    if wide:  # their decimal text, as a CSV file holds them
        frame = frame.with_columns(pl.col(column).cast(kind) for column, kind in wide.items())
    return ArrowInput(frame.to_arrow(), label)


def _wide_integers_as_text(
    kind: pl.DataType | pl.datatypes.DataTypeClass,
) -> pl.DataType | None:
    """``kind`` with Polars' 128-bit integers (alone or in lists), which Arrow has no type
    for, as text; None when it holds none."""
    if kind in (pl.Int128, pl.UInt128):
        return pl.String()
    if isinstance(kind, pl.List | pl.Array):
        inner = _wide_integers_as_text(kind.inner)
        return None if inner is None else pl.List(inner)
    return None


def _bound_source(name: str, value: PathInput | FrameLike) -> SeedFormat:
    """The source bound to table ``name`` by a mapping: a DataFrame, a file or a folder."""
    if _is_frame(value):
        return _frame_source(name, cast("FrameLike", value))
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.exists():
            raise SeedError(f"{path}: no such file or folder")
        return open_path(path)
    kind = type(value).__name__
    raise SeedError(f"seed for {name!r}: expected a DataFrame, a file or a folder, got {kind}")


def _given(source: SeedInput, tables: Mapping[str, sa.Table]) -> list[tuple[str, SeedFormat]]:
    if isinstance(source, Mapping):
        return [(str(name), _bound_source(str(name), value)) for name, value in source.items()]
    if _is_frame(source):
        raise SeedError("a DataFrame needs a table name: pass {'table_name': frame}")
    if not isinstance(source, str | os.PathLike | Iterable) or isinstance(source, bytes):
        raise SeedError(
            f"cannot read a seed from {type(source).__name__}: give a file or folder, "
            "a list of them, or a mapping of table name to DataFrame, file or folder"
        )
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise SeedError("no seed files given")
    found = []
    for given in paths:
        if _is_frame(given):
            raise SeedError(
                "a DataFrame in a list has no table name: pass a mapping "
                "{'table_name': frame_or_path, ...} to mix frames and files"
            )
        if not isinstance(given, str | os.PathLike):
            raise SeedError(f"expected a file or folder, got {type(given).__name__}")
        found.extend(_path_sources(Path(given), tables))
    return found


def resolve_sources(
    source: SeedInput, schema: str | Mapping[str, sa.Table]
) -> dict[str, SeedSource]:
    """Map ``source`` to the tables of namespace ``schema`` (or to ``schema``'s tables by
    name, parents first), parents before children.

    ``source`` is a folder, a file, a list of files and folders, or a mapping
    of table name to a DataFrame, file or folder (which binds a file of any
    name to that table). Files are matched to tables by name (``user.csv``,
    ``post_tag.parquet``, ``user/`` holding part files). A name that matches
    no table, two sources for one table, or a path that cannot be read raise
    :class:`~seedbed.errors.SeedError`.
    """
    tables = _tables_by_name(schema) if isinstance(schema, str) else schema
    found: dict[str, SeedSource] = {}
    for name, fmt in _given(source, tables):
        if name not in tables:
            known = ", ".join(sorted(tables))
            raise SeedError(f"{fmt.label}: no table named {name!r} (tables: {known})")
        if name in found:
            raise SeedError(f"{fmt.label}: a second seed for table {name!r} ({found[name].label})")
        found[name] = SeedSource(tables[name], fmt.for_table(tables[name]))
    return {name: found[name] for name in tables if name in found}


#: Separators a header of one unknown name may hold, and what to do about each.
_OTHER_SEPARATORS = {
    "\t": ("tabs", "name the file .tsv, which is read as tab-separated"),
    ";": ("semicolons", "save it with commas (COPY reads it as comma-separated CSV)"),
    "|": ("vertical bars", "save it with commas (COPY reads it as comma-separated CSV)"),
}


def _unknown_column(spec: TableSpec, name: str) -> str:
    """Why ``name`` names no column of ``spec``; a header of the table's column names run
    together by another separator (a spreadsheet's ``;``) says so."""
    for separator, (said, remedy) in _OTHER_SEPARATORS.items():
        parts = name.split(separator)
        if len(parts) > 1 and all(part.strip() in spec.columns for part in parts):
            return (
                f"table {spec.name} has no such column: the header's names are separated by "
                f"{said}, not commas; {remedy}"
            )
    columns = ", ".join(spec.columns)
    return f"table {spec.name} has no such column (columns: {columns})"


def header_report(
    label: str, spec: TableSpec, names: list[str], line: int | None
) -> tuple[ValidationReport, dict[str, int]]:
    """Problems of a header, and the position of each usable column."""
    reports = []
    usable: dict[str, int] = {}
    seen: set[str] = set()

    def refuse(name: str, rule: str, message: str) -> None:
        reports.append(
            ValidationReport.from_rows(
                file=label,
                table=spec.name,
                lines=[line],
                column=name,
                rule=rule,
                values=None,
                message=message,
            )
        )

    for position, name in enumerate(names):
        if name in seen:
            refuse(name, "duplicate_column", "this column is named twice in the header")
        elif name not in spec.columns:
            seen.add(name)
            refuse(name, "unknown_column", _unknown_column(spec, name))
        elif spec.columns[name].generated:
            seen.add(name)
            refuse(name, "generated_column", "generated by the database; leave it out of the seed")
        else:
            seen.add(name)
            usable[name] = position
    for name, column in spec.columns.items():
        if column.required and name not in seen:
            refuse(name, "missing_column", "required column (NOT NULL, no default) is missing")
    return ValidationReport.concat(reports), usable


def typed_chunk(label: str, spec: TableSpec, raw: pd.DataFrame, lines: np.ndarray) -> SeedChunk:
    """Read each column of ``raw`` as its column's type; report what cannot be read."""
    return _typed_columns(label, spec, {str(name): raw[name] for name in raw.columns}, lines)


def _typed_columns(
    label: str, spec: TableSpec, raw: Mapping[str, pa.Array | pd.Series], lines: np.ndarray
) -> SeedChunk:
    """Each raw column read as its column's type: Arrow columns stay in Arrow where
    :func:`~seedbed.validation.coerce.coerce_arrow` can judge them, else their pandas
    series is judged (with the report rows it gives)."""
    from seedbed.validation.coerce import coerce_arrow, coerce_column  # validation only

    columns: dict[str, TypedColumn] = {}
    invalid: dict[str, np.ndarray] = {}
    reports = []
    for name, values in raw.items():
        column = spec.columns[name]
        coerced: Coerced | ArrowCoerced | None = None
        if isinstance(values, pa.Array):
            text = value_text(column, values)  # lists, durations...: their text
            values = values if text is None else text
            coerced = coerce_arrow(column, values)
            if coerced is None:
                try:
                    values = pandas_column(values)
                except (pa.ArrowNotImplementedError, NotImplementedError):
                    # no pandas type (a list of Arrow's uuid): its Python values, judged
                    values = pd.Series(values.to_pylist(), dtype=object)
        if coerced is None:
            coerced = coerce_column(column, values)
        columns[name] = coerced.values
        if coerced.bad.any():
            invalid[name] = coerced.bad
            for reason in coerced.why():  # too long, too large, now…: a message of their own
                cells = reason.cells
                if isinstance(values, pa.Array):
                    shown = values.take(np.flatnonzero(cells)).to_numpy(zero_copy_only=False)
                else:
                    shown = values.to_numpy()[cells]
                reports.append(
                    ValidationReport.from_rows(
                        file=label,
                        table=spec.name,
                        lines=lines[cells],
                        column=name,
                        rule=reason.rule,
                        values=display_values(shown, column.sensitive),
                        message=reason.message,
                    )
                )
    return SeedChunk(columns, lines, ValidationReport.concat(reports), invalid)


def _raw_columns(piece: RawPiece, usable: dict[str, int]) -> Mapping[str, pa.Array | pd.Series]:
    """The piece's usable columns as read: Arrow arrays from an Arrow table, else a frame's."""
    if isinstance(piece.data, pa.Table):
        return {name: _one_array(piece.data.column(pos)) for name, pos in usable.items()}
    raw = pd.DataFrame(
        {name: piece.column(pos) for name, pos in usable.items()},
        index=pd.RangeIndex(piece.rows),
    )
    return {str(name): raw[name] for name in raw.columns}


def _one_array(values: pa.ChunkedArray) -> pa.Array:
    """A column as one array: its one chunk as it is (combining copies)."""
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def _piece_chunk(spec: TableSpec, piece: RawPiece, usable: dict[str, int]) -> SeedChunk:
    chunk = _typed_columns(piece.label, spec, _raw_columns(piece, usable), piece.positions)
    parse = [
        ValidationReport.from_rows(
            file=piece.label,
            table=spec.name,
            lines=[p.line],
            column=p.column,
            rule=p.rule,
            values=None,
            message=p.message,
        )
        for p in piece.problems
    ]
    chunk.report = ValidationReport.concat([*parse, chunk.report])
    chunk.label, chunk.unit = piece.label, piece.unit
    return chunk


_HEADER_MESSAGES = {
    "empty_file": "the file is empty; the first line must name the columns",
    "encoding": "the header is not UTF-8",
    "csv_format": "the header is not a valid CSV record",
    "line_endings": "lines end in a bare CR (old Mac style); save the file with LF or CRLF",
}


def read_seed_chunks(source: SeedSource, *, chunk_rows: int = 250_000) -> Iterator[SeedChunk]:
    """Stream ``source`` as typed chunks of at most ``chunk_rows`` rows.

    The first chunk of each file carries the header's problems. An empty or
    header-only file yields one chunk without rows. Files that cannot be
    opened raise :class:`~seedbed.errors.SeedError`.
    """
    for typed in read_seed_pieces(source, chunk_rows=chunk_rows):
        yield typed()


def read_seed_pieces(
    source: SeedSource, *, chunk_rows: int = 250_000
) -> Iterator[Callable[[], SeedChunk]]:
    """:func:`read_seed_chunks` in two steps: each piece parsed, and a call that types it.

    The calls are independent of each other, so threads can type pieces side
    by side while this iterator reads the next (reading stays in file order);
    a format may leave parsing a piece to its call, too.
    """
    spec = table_spec(source.table)
    usable: dict[str, int] = {}
    for piece in source.format.deferred_pieces(chunk_rows):
        if callable(piece):  # parsed by the call, on the thread that types it
            yield partial(_parsed_typed, spec, piece, dict(usable))
            continue
        head = ValidationReport()
        if piece.header_problem is not None:
            head = ValidationReport.from_rows(
                file=piece.label,
                table=spec.name,
                lines=[1],
                column=None,
                rule=piece.header_problem,
                values=None,
                message=_HEADER_MESSAGES[piece.header_problem],
            )
            chunk = SeedChunk(
                {},
                np.zeros(0, np.int64),
                head,
                label=piece.label,
                unit=piece.unit,
            )
            yield lambda chunk=chunk: chunk  # type: ignore[misc]
            continue
        if piece.header is not None:
            line = 1 if piece.unit == "line" else None
            head, usable = header_report(piece.label, spec, piece.header, line)
            if not piece.header and not piece.rows:
                # Names no column and holds no row (an empty JSON Lines file): nothing is missing.
                head = ValidationReport()
        yield partial(_typed, spec, piece, dict(usable), head)


def _parsed_typed(
    spec: TableSpec, parse: Callable[[], RawPiece], usable: dict[str, int]
) -> SeedChunk:
    return _typed(spec, parse(), usable, ValidationReport())


def _typed(
    spec: TableSpec, piece: RawPiece, usable: dict[str, int], head: ValidationReport
) -> SeedChunk:
    chunk = _piece_chunk(spec, piece, usable)
    chunk.report = ValidationReport.concat([head, chunk.report])
    return chunk


__all__ = [
    "SeedChunk",
    "SeedInput",
    "SeedSource",
    "read_seed_chunks",
    "read_seed_pieces",
    "resolve_sources",
]
