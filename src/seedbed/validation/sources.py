"""Seed sources (CSV and Parquet files, DataFrames) and reading them in typed chunks.

:func:`resolve_sources` maps a folder, a list of files or a mapping of table
name to DataFrame onto the model's tables, parents before children.
:func:`read_seed_chunks` streams one source as :class:`SeedChunk` objects:
the header's columns with values read as their column's type, each row's
line, and a report of what could not be read (header, encoding, CSV format,
types). Memory stays bounded by ``chunk_rows``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from seedbed.errors import SeedError
from seedbed.models import metadata_for
from seedbed.validation.coerce import coerce_column
from seedbed.validation.csvread import CsvReader
from seedbed.validation.report import ValidationReport, display_values
from seedbed.validation.spec import TableSpec, table_spec

SEED_SUFFIXES = (".csv", ".parquet")

SeedInput = Union[
    str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]], Mapping[str, Any]
]


@dataclass(frozen=True)
class SeedSource:
    """One table's seed: a file (``path``) or a DataFrame (``frame``)."""

    table: sa.Table
    path: Path | None = None
    frame: pd.DataFrame | None = field(default=None, compare=False)
    label: str = ""

    @property
    def kind(self) -> str:
        if self.frame is not None:
            return "frame"
        parquet = self.path is not None and self.path.suffix.lower() == ".parquet"
        return "parquet" if parquet else "csv"


@dataclass
class SeedChunk:
    """Rows of one source, read and typed.

    ``frame`` holds the header's (known, first-named) columns, values typed
    where they could be read and NA where not; ``lines`` the line of each
    row (CSV: physical line, header = 1; Parquet and frames: row position
    from 0); ``report`` what could not be read; ``invalid`` per column the
    rows whose value could not be read (already in ``report``).
    """

    frame: pd.DataFrame
    lines: np.ndarray
    report: ValidationReport
    invalid: dict[str, np.ndarray] = field(default_factory=dict)


def _tables_by_name(schema: str) -> dict[str, sa.Table]:
    return {t.name: t for t in metadata_for(schema).sorted_tables}


def printable(path: Path) -> str:
    """``path`` as text that can be printed, even when its name is not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _openable(path: Path) -> Path:
    """``path``, unless it is a broken link or a FIFO, socket or device (reading would hang)."""
    if path.is_symlink() and not path.exists():
        raise SeedError(f"{printable(path)}: a broken symbolic link (missing target or a loop)")
    if path.exists() and not (path.is_file() or path.is_dir()):
        raise SeedError(f"{printable(path)}: not a regular file (a FIFO, socket or device)")
    return path


def _seed_files(path: Path) -> list[Path]:
    _openable(path)
    if path.is_dir():
        files = sorted(
            _openable(p)
            for p in path.iterdir()
            if p.suffix.lower() in SEED_SUFFIXES and not p.name.startswith(".")
        )
        if not files:
            raise SeedError(f"{printable(path)}: no .csv or .parquet seed files in this folder")
        return files
    if path.is_file():
        if path.suffix.lower() not in SEED_SUFFIXES:
            raise SeedError(f"{printable(path)}: not a .csv or .parquet file")
        return [path]
    raise SeedError(f"{printable(path)}: no such file or folder")


def _source_items(source: object) -> list[Any]:
    """``source`` as a list of paths and mappings; :class:`SeedError` for anything else."""
    if isinstance(source, str | os.PathLike | Mapping):
        return [source]
    if isinstance(source, pd.DataFrame | pa.Table):
        source = [source]  # refused below, with the way to name its table
    if isinstance(source, Iterable) and not isinstance(source, bytes):
        source = list(source)
        for item in source:
            if isinstance(item, pd.DataFrame | pa.Table):
                raise SeedError(
                    "a DataFrame has no table name: "
                    "pass {'table_name': frame} (a mapping may sit in the list)"
                )
            if not isinstance(item, str | os.PathLike | Mapping):
                raise SeedError(f"cannot read a seed from {type(item).__name__}")
        return source
    kind = type(source).__name__
    raise SeedError(
        f"cannot read a seed from {kind}: give a path, a list of paths, "
        "or a mapping of table name to DataFrame"
    )


def resolve_sources(source: SeedInput, schema: str) -> dict[str, SeedSource]:
    """Map ``source`` to the tables of namespace ``schema``, parents before children.

    ``source`` is a folder, a file, a mapping of table name to DataFrame, or
    a list mixing files, folders and such mappings. Files are matched to
    tables by name (``user.csv``, ``post_tag.parquet``). A name that matches
    no table, two sources for one table, a path that cannot be read, or
    anything else (a bare DataFrame in a list has no table name) raise
    :class:`~seedbed.errors.SeedError`.
    """
    tables = _tables_by_name(schema)
    found: dict[str, SeedSource] = {}

    def add(name: str, where: str, path: Path | None, frame: pd.DataFrame | None) -> None:
        if name not in tables:
            known = ", ".join(sorted(tables))
            raise SeedError(f"{where}: no table named {name!r} (tables: {known})")
        if name in found:
            raise SeedError(f"{where}: a second seed for table {name!r} ({found[name].label})")
        found[name] = SeedSource(tables[name], path, frame, where)

    items = _source_items(source)
    if not items:
        raise SeedError("no seed files given")
    for item in items:
        if isinstance(item, Mapping):
            for name, frame in item.items():
                if isinstance(frame, pa.Table):
                    frame = frame.to_pandas()
                if not isinstance(frame, pd.DataFrame):
                    kind = type(frame).__name__
                    raise SeedError(f"seed for {name!r}: expected a DataFrame, got {kind}")
                add(str(name), f"<frame:{name}>", None, frame)
        else:
            for file in _seed_files(Path(item)):
                add(file.stem, printable(file), file, None)
    order = [name for name in tables if name in found]
    return {name: found[name] for name in order}


def header_report(
    source: SeedSource, spec: TableSpec, names: list[str], line: int | None
) -> tuple[ValidationReport, dict[str, int]]:
    """Problems of a header, and the position of each usable column."""
    reports = []
    label, table = source.label, spec.name
    usable: dict[str, int] = {}
    seen: set[str] = set()
    lines = [line]
    for position, name in enumerate(names):
        if name in seen:
            reports.append(
                ValidationReport.from_rows(
                    file=label,
                    table=table,
                    lines=lines,
                    column=name,
                    rule="duplicate_column",
                    values=None,
                    message="this column is named twice in the header",
                )
            )
            continue
        seen.add(name)
        if name not in spec.columns:
            reports.append(
                ValidationReport.from_rows(
                    file=label,
                    table=table,
                    lines=lines,
                    column=name,
                    rule="unknown_column",
                    values=None,
                    message=f"table {table} has no such column "
                    f"(columns: {', '.join(spec.columns)})",
                )
            )
            continue
        usable[name] = position
    for name, column in spec.columns.items():
        if column.required and name not in seen:
            reports.append(
                ValidationReport.from_rows(
                    file=label,
                    table=table,
                    lines=lines,
                    column=name,
                    rule="missing_column",
                    values=None,
                    message="required column (NOT NULL, no default) is missing",
                )
            )
    return ValidationReport.concat(reports), usable


def typed_chunk(
    source: SeedSource, spec: TableSpec, raw: pd.DataFrame, lines: np.ndarray
) -> SeedChunk:
    """Read each column of ``raw`` as its column's type; report what cannot be read."""
    columns: dict[str, pd.Series] = {}
    invalid: dict[str, np.ndarray] = {}
    reports = []
    for name in raw.columns:
        column = spec.columns[name]
        coerced = coerce_column(column, raw[name])
        columns[name] = coerced.values
        if coerced.bad.any():
            invalid[name] = coerced.bad
            reports.append(
                ValidationReport.from_rows(
                    file=source.label,
                    table=spec.name,
                    lines=lines[coerced.bad],
                    column=name,
                    rule=coerced.rule,
                    values=display_values(raw[name].to_numpy()[coerced.bad], column.sensitive),
                    message=coerced.message,
                )
            )
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(lines)))
    return SeedChunk(frame, lines, ValidationReport.concat(reports), invalid)


def _csv_chunks(source: SeedSource, spec: TableSpec, chunk_rows: int) -> Iterator[SeedChunk]:
    assert source.path is not None
    reader = CsvReader(source.path, chunk_rows)
    usable: dict[str, int] = {}
    first = True
    for piece in reader.pieces():
        head = ValidationReport()
        if first:
            head, usable = header_report(source, spec, reader.header or [], 1)
            first = False
        raw = pd.DataFrame(
            {name: piece.table.column(pos).to_pandas() for name, pos in usable.items()},
            index=pd.RangeIndex(piece.table.num_rows),
        )
        chunk = typed_chunk(source, spec, raw, piece.lines)
        parse = [
            ValidationReport.from_rows(
                file=source.label,
                table=spec.name,
                lines=[p.line],
                column=None,
                rule=p.rule,
                values=None,
                message=p.message,
            )
            for p in piece.problems
        ]
        chunk.report = ValidationReport.concat([head, *parse, chunk.report])
        yield chunk
    if first:
        messages = {
            "empty_file": "the file is empty; the first line must name the columns",
            "encoding": "the header is not UTF-8",
            "csv_format": "the header is not a valid CSV record",
        }
        rule = reader.header_problem or "empty_file"
        report = ValidationReport.from_rows(
            file=source.label,
            table=spec.name,
            lines=[1],
            column=None,
            rule=rule,
            values=None,
            message=messages[rule],
        )
        yield SeedChunk(pd.DataFrame(index=pd.RangeIndex(0)), np.zeros(0, np.int64), report)


def _parquet_chunks(source: SeedSource, spec: TableSpec, chunk_rows: int) -> Iterator[SeedChunk]:
    assert source.path is not None
    try:
        parquet = pq.ParquetFile(source.path)
        names = list(parquet.schema_arrow.names)
    except (OSError, pa.ArrowException) as exc:
        raise SeedError(f"{source.path}: cannot read as Parquet: {exc}") from None
    head, usable = header_report(source, spec, names, None)
    offset = 0
    emitted = False
    try:
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(usable)):
            raw = batch.to_pandas()
            lines = np.arange(offset, offset + len(raw), dtype=np.int64)
            offset += len(raw)
            chunk = typed_chunk(source, spec, raw.reset_index(drop=True), lines)
            chunk.report = ValidationReport.concat([head, chunk.report])
            head = ValidationReport()
            emitted = True
            yield chunk
    except (OSError, pa.ArrowException) as exc:
        raise SeedError(f"{source.path}: cannot read as Parquet: {exc}") from None
    if not emitted:
        empty = pd.DataFrame({name: pd.Series([], dtype="str") for name in usable})
        chunk = typed_chunk(source, spec, empty, np.zeros(0, np.int64))
        chunk.report = ValidationReport.concat([head, chunk.report])
        yield chunk


def _frame_chunks(source: SeedSource, spec: TableSpec, chunk_rows: int) -> Iterator[SeedChunk]:
    assert source.frame is not None
    frame = source.frame
    names = [str(c) for c in frame.columns]
    head, usable = header_report(source, spec, names, None)
    raw_all = frame.iloc[:, list(usable.values())]
    raw_all.columns = list(usable)
    total = len(frame)
    for start in range(0, max(total, 1), chunk_rows):
        raw = raw_all.iloc[start : start + chunk_rows].reset_index(drop=True)
        lines = np.arange(start, start + len(raw), dtype=np.int64)
        chunk = typed_chunk(source, spec, raw, lines)
        chunk.report = ValidationReport.concat([head, chunk.report])
        head = ValidationReport()
        yield chunk


def read_seed_chunks(source: SeedSource, *, chunk_rows: int = 250_000) -> Iterator[SeedChunk]:
    """Stream ``source`` as typed chunks of at most ``chunk_rows`` rows.

    The first chunk's report carries the header's problems. An empty or
    header-only file yields one chunk without rows. Files that cannot be
    opened raise :class:`~seedbed.errors.SeedError`.
    """
    spec = table_spec(source.table)
    if source.kind == "frame":
        yield from _frame_chunks(source, spec, chunk_rows)
    elif source.kind == "parquet":
        yield from _parquet_chunks(source, spec, chunk_rows)
    else:
        yield from _csv_chunks(source, spec, chunk_rows)


__all__ = ["SeedChunk", "SeedSource", "read_seed_chunks", "resolve_sources"]
