"""Turn a database error raised during a load into a seedbed error people can act on.

PostgreSQL is the final judge of a load. When it refuses a row, the error is
mapped back to table, file, physical line and constraint:

- COPY errors carry ``COPY <table>, line N`` in their context, where N is the
  physical line on which the record *ends*; :func:`record_start_line` finds
  where it starts (records may span lines inside quotes).
- Unique and foreign-key violations found after the COPY (foreign keys are
  checked at the end of the statement, staged upserts in an INSERT) carry
  ``Key (cols)=(values)``; :func:`find_key_line` looks the key up in the file.

Values of sensitive columns are replaced by ``***``; the server's
``Failing row contains (...)`` detail and the COPY context (the raw line) are
never shown, since they hold whole rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import psycopg
import sqlalchemy as sa

from seedbed.errors import DatabaseError, LoadError, SeedbedError

REDACTED = "[redacted]"
_COPY_LINE = re.compile(r"^COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_KEY = re.compile(r"^Key \((?P<columns>.+?)\)=\((?P<values>.*)\) (?:already exists|is not present)")
_QUOTED_VALUE = re.compile(r': ".*"$', re.DOTALL)
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")
RETRYABLE_STATES = frozenset({"40001", "40P01"})


@dataclass(frozen=True)
class Target:
    """What was being written when the error happened."""

    table: sa.Table
    label: str
    path: Path | None
    columns: tuple[str, ...]
    frame: pd.DataFrame | None = field(default=None, compare=False)

    def sensitive(self, column: str | None) -> bool:
        """True for a sensitive column, or an index expression that reads one."""
        if column is None:
            return False
        names = [column] if column in self.table.c else re.findall(r"\w+", column)
        return any(n in self.table.c and self.table.c[n].info.get("sensitive") for n in names)


def is_retryable(exc: BaseException) -> bool:
    """Deadlocks and serialization failures: the whole load may simply be run again."""
    return isinstance(exc, psycopg.Error) and exc.sqlstate in RETRYABLE_STATES


def is_connection_error(exc: psycopg.Error) -> bool:
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith(_CONNECTION_STATES)


def to_seedbed_error(exc: psycopg.Error, target: Target | None) -> SeedbedError:
    """The seedbed error for ``exc``, raised while writing ``target`` (None: at commit)."""
    where = f"table {target.table.name!r} from {target.label}" if target else "the commit"
    diag = exc.diag
    primary = (diag.message_primary or str(exc).strip().splitlines()[0]).strip()
    if is_connection_error(exc):
        return DatabaseError(
            f"lost the connection to the database while loading {where}: {primary}; "
            "nothing was committed"
        )
    state = exc.sqlstate or ""
    if state == "42501":
        return DatabaseError(f"permission denied while loading {where}: {primary}")
    if target is None or not (state.startswith("23") or state.startswith("22")):
        return DatabaseError(f"the database refused the load of {where}: {primary}")

    line: int | None = None
    column = diag.column_name
    context = _COPY_LINE.match(diag.context or "")
    if context:
        column = column or context.group(2)
        line = _line_of_record(target, int(context.group(1)))
    detail = ""
    key = _KEY.match(diag.message_detail or "")
    if key:
        columns = [c.strip().strip('"') for c in key.group("columns").split(", ")]
        values = _split_values(key.group("values"), len(columns))
        if line is None and values is not None:
            if target.frame is not None:
                line = find_key_row(target.frame, columns, values)
            elif target.path is not None:
                line = find_key_line(target.path, columns, values)
        shown = [
            REDACTED if target.sensitive(c) or values is None else v
            for c, v in zip(columns, values or columns, strict=True)
        ]
        message_detail = diag.message_detail or ""
        verb = "already exists" if "already exists" in message_detail else "is not present"
        detail = f": key ({', '.join(columns)})=({', '.join(shown)}) {verb}"
        if verb == "is not present":
            parent = re.search(r'in table "([^"]+)"', message_detail)
            detail += f" in table {parent.group(1)!r}" if parent else ""
    elif state.startswith("22") and (target.sensitive(column) or column is None):
        # Data errors quote the offending value; keep it only when it is known to be harmless.
        primary = _QUOTED_VALUE.sub(f": {REDACTED}", primary)

    place = target.label
    if line is not None:
        is_csv = target.path is not None and target.path.suffix.lower() == ".csv"
        place += f", line {line}" if is_csv else f", row {line}"
    if column and not key:
        place += f", column {column!r}"
    constraint = diag.constraint_name
    return LoadError(
        f"{place}: table {target.table.name!r}: {primary}{detail}",
        table=target.table.name,
        file=target.label,
        line=line,
        constraint=constraint,
    )


def _line_of_record(target: Target, copy_line: int) -> int:
    """The report's line for COPY's line: physical line in a CSV, else row position from 0."""
    if target.path is not None and target.path.suffix.lower() == ".csv":
        return record_start_line(target.path, copy_line)
    return copy_line - 1


def _split_values(text: str, count: int) -> list[str] | None:
    if count == 1:
        return [text]
    parts = text.split(", ")
    return parts if len(parts) == count else None


@dataclass(frozen=True)
class _Record:
    start: int  # physical line the record starts on (header = 1)
    copy_line: int  # the line number COPY gives for it
    fields: list[str]


def _records(path: Path) -> Iterator[_Record]:
    """Every record after the header, with its physical start line and COPY's line for it.

    Physical lines end at ``\n``, ``\r\n`` or ``\r``. COPY counts only the
    line ending its first line used (a bare ``\n`` inside quotes in a
    ``\r\n`` file is not a new line to it) and names a record by the line it
    ends on.
    """
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
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
                copy_breaks += line.endswith(eol) and not (eol == "\n" and line.endswith("\r\n"))
                last_ending = line
                yield line

        reader = csv.reader(lines())
        start = consumed + 1
        try:
            for fields in reader:
                # COPY's line for the record: one more than the breaks before its last line
                ends_with_break = last_ending.endswith(eol)
                yield _Record(start, copy_breaks + 1 - int(ends_with_break), fields)
                start = consumed + 1
        except csv.Error:
            return


def record_start_line(path: Path | None, copy_line: int) -> int:
    """The physical line where the record COPY calls line ``copy_line`` starts (1 = header)."""
    if path is None or path.suffix.lower() != ".csv":
        return copy_line
    for record in _records(path):
        if record.copy_line >= copy_line:
            return record.start
    return copy_line


def nth_record_line(path: Path, index: int) -> int | None:
    """The physical line where data record ``index`` (0: the first after the header) starts."""
    for number, record in enumerate(_records(path)):
        if number == index:
            return record.start
    return None


def find_key_line(path: Path, columns: Sequence[str], values: Sequence[str]) -> int | None:
    """The first physical line of ``path`` whose ``columns`` hold ``values`` (CSV only)."""
    if path.suffix.lower() != ".csv":
        return None
    header = read_header(path)
    try:
        positions = [header.index(c) for c in columns]
    except ValueError:
        return None
    wanted = list(values)
    for record in _records(path):
        fields = record.fields
        if len(fields) == len(header) and [fields[i] for i in positions] == wanted:
            return record.start
    return None


def find_key_row(frame: pd.DataFrame, columns: Sequence[str], values: Sequence[str]) -> int | None:
    """The position (from 0) of the first row of ``frame`` whose ``columns`` hold ``values``."""
    if not set(columns) <= set(frame.columns):
        return None
    match = pd.Series(True, index=frame.index)
    for column, value in zip(columns, values, strict=True):
        match &= frame[column].astype("string").eq(value).fillna(False).to_numpy()
    hits = match.to_numpy().nonzero()[0]
    return int(hits[0]) if len(hits) else None


def read_header(path: Path) -> list[str]:
    """Column names from the first record of a CSV file (a UTF-8 BOM is ignored)."""
    with path.open("rb") as handle:
        first = handle.read(1 << 16)
        while first.count(b'"') % 2 or b"\n" not in first:
            more = handle.read(1 << 16)
            if not more:
                break
            first += more
    text = first.decode("utf-8-sig", errors="replace")
    try:
        return next(csv.reader(io.StringIO(text)))
    except StopIteration:
        return []
