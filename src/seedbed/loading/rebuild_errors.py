"""Where the row is that a rebuild step found: file, physical line, key, secrets redacted.

A step the database refuses for another reason (a statement it does not take,
a permission) is named as the step it is (:func:`refused_step`), not as the
commit or the last file copied.

A rebuild step that fails on the data (a duplicate found by a unique index
build, a CHECK by the validating scan, a foreign key when it is re-added)
runs under a savepoint; after rolling back to it, the offending row is looked
up (a window over the index's key, ``NOT (check)``, an anti-join against the
parent) and its ``ctid`` turned into its position in the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from seedbed.errors import DatabaseError, LoadError, reason
from seedbed.loading.catalog import Definition
from seedbed.loading.failures import REDACTED, is_connection_error, is_retryable
from seedbed.loading.locks import LOCK_NOT_AVAILABLE, LOCK_TIMEOUT_VARIABLE
from seedbed.validation.formats.base import COPY_BATCH_ROWS
from seedbed.validation.report import ValidationReport
from seedbed.validation.sources import SeedSource

_KINDS = {
    "p": "primary key",
    "u": "unique constraint",
    "x": "exclusion constraint",
    "c": "check constraint",
    "f": "foreign key",
    "i": "index",
}


def step_name(step: Sequence[Definition], verb: str | None = None) -> str:
    """``adding check constraint ck_tag_name_length on table 'tag'``: what a step does."""
    first = step[0]
    verb = verb or ("building" if first.kind == "i" else "adding")
    noun = _KINDS[first.kind] + "s" * (len(step) > 1)
    names = ", ".join(d.name for d in step)
    return f"{verb} {noun} {names} on table {first.table!r}"


def refused_step(
    exc: psycopg.Error, step: Sequence[Definition] | str, verb: str | None = None
) -> BaseException:
    """The error for a rebuild step the database refused other than for a row.

    A deadlock, a serialization failure or a lost connection stays as it is,
    for the load's retry and connection messages.
    """
    if is_retryable(exc) or is_connection_error(exc):
        return exc
    what = step if isinstance(step, str) else step_name(step, verb)
    if exc.sqlstate == LOCK_NOT_AVAILABLE:  # on Citus, a lock held on a worker
        return DatabaseError(
            f"gave up waiting for a table lock while {what}: {reason(exc)}; nothing was "
            f"written (set {LOCK_TIMEOUT_VARIABLE} to wait longer)"
        )
    return DatabaseError(
        f"the database refused the rebuild step {what}: {reason(exc)}; nothing was written"
    )


@contextmanager
def refusal(step: Sequence[Definition] | str, verb: str | None = None) -> Iterator[None]:
    """Raise :func:`refused_step`'s error for a database error inside."""
    try:
        yield
    except psycopg.Error as exc:
        raise refused_step(exc, step, verb) from None


_KEY_DETAIL = re.compile(
    r"^Key \((?P<columns>.+?)\)=\((?P<values>.*?)\) (?:is duplicated|is not|conflicts with)"
)


#: A key of an exclusion constraint that a query can name: a column, not an expression.
_COLUMN = re.compile(r'^(\w+|"(?:[^"]|"")+")$')
#: How long looking for the row that breaks an exclusion constraint may take: the search
#: compares rows pairwise (the index it would use was refused), so it is bounded (a few
#: thousand rows are searched in that time; past it, the error names no line).
EXCLUSION_SEARCH = "2s"


def _exclusion_sql(definition: Definition) -> str | None:
    """A query for the ``ctid`` of the first row (in source order) that conflicts with an
    earlier one under an exclusion constraint on columns (``room WITH =, during WITH &&``);
    None for one on expressions."""
    pairs = []
    for key in definition.keys:
        found = re.search(re.escape(key) + r" WITH ([^\s,)]+)", definition.definition)
        if not _COLUMN.match(key) or found is None:
            return None
        pairs.append(f"a.{key} {found.group(1)} b.{key}")
    rows = definition.relation
    if definition.predicate:
        rows = f"(SELECT ctid, * FROM {rows} WHERE {definition.predicate})"
    return (
        f"SELECT b.ctid FROM {rows} AS b WHERE EXISTS (SELECT 1 FROM {rows} AS a "
        f"WHERE a.ctid < b.ctid AND {' AND '.join(pairs)}) ORDER BY b.ctid LIMIT 1"
    )


def _offending_row_sql(definition: Definition) -> str | None:
    """A query for the ``ctid`` of the first row (in source order) that breaks ``definition``."""
    rel = definition.relation
    if definition.kind == "x":
        return _exclusion_sql(definition)
    if definition.kind == "c" and definition.predicate:
        return f"SELECT ctid FROM {rel} WHERE NOT ({definition.predicate}) ORDER BY ctid LIMIT 1"
    if definition.kind == "f" and definition.parent:
        present = " AND ".join(f"c.{k} IS NOT NULL" for k in definition.keys)
        match = " AND ".join(
            f"p.{pk} = c.{k}" for k, pk in zip(definition.keys, definition.parent_keys, strict=True)
        )
        return (
            f"SELECT c.ctid FROM {rel} AS c WHERE {present} AND NOT EXISTS "
            f"(SELECT 1 FROM {definition.parent} AS p WHERE {match}) ORDER BY c.ctid LIMIT 1"
        )
    unique = definition.kind in ("p", "u") or definition.definition.startswith("CREATE UNIQUE")
    if not unique or not definition.keys:
        return None
    keys = ", ".join(f"({k})" for k in definition.keys)
    conditions = [f"({k}) IS NOT NULL" for k in definition.keys]
    if definition.predicate:
        conditions.append(f"({definition.predicate})")
    where = " AND ".join(conditions)
    return (
        f"SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY {keys} ORDER BY ctid) "
        f"AS n FROM {rel} WHERE {where}) AS d WHERE n > 1 ORDER BY ctid LIMIT 1"
    )


def _source_position(
    cursor: psycopg.Cursor[Any], definition: Definition, source: SeedSource
) -> tuple[SeedSource, int] | None:
    """The file (a part, for a folder) and position of the first row that breaks ``definition``.

    The table was empty and truncated, so COPY wrote its rows in source order:
    the rows before the offending row's ``ctid`` are the rows before it in the
    source, counted file by file.
    """
    sql = _offending_row_sql(definition)
    if sql is None:
        return None
    cursor.execute("SET LOCAL search_path = pg_catalog")
    if definition.kind == "x":  # a pairwise search: bounded, else the error names no line
        cursor.execute("SAVEPOINT seedbed_locate")
        cursor.execute(f"SET LOCAL statement_timeout = '{EXCLUSION_SEARCH}'")
    try:
        cursor.execute(sql)
        row = cursor.fetchone()
    except psycopg.errors.QueryCanceled:
        if definition.kind != "x":
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT seedbed_locate")
        return None
    if row is None:
        return None
    cursor.execute(f"SELECT count(*) FROM {definition.relation} WHERE ctid < %s::tid", (row[0],))
    counted = cursor.fetchone()
    before = int(counted[0]) if counted else 0
    for part in source.files():
        for piece in part.format.pieces(COPY_BATCH_ROWS):
            if before < piece.rows:
                return part, int(piece.positions[before])
            before -= piece.rows
    return None


def located_error(
    cursor: psycopg.Cursor[Any],
    exc: psycopg.Error,
    definition: Definition,
    targets: Mapping[str, SeedSource],
) -> LoadError:
    """A :class:`LoadError` naming file, line and constraint for a failed rebuild step."""
    source = targets.get(definition.table)
    found = _source_position(cursor, definition, source) if source else None
    target, line = found if found else (source, None)
    detail = ""
    key = _KEY_DETAIL.match(exc.diag.message_detail or "")
    if key and target is not None:
        shown = REDACTED if target.sensitive(key.group("columns")) else key.group("values")
        detail = f"key ({key.group('columns')})=({shown})"
    if definition.kind == "c":
        problem = f"the row violates check constraint {definition.name!r}"
    elif definition.kind == "f":
        parent = (definition.parent or "").rsplit(".", 1)[-1].strip('"')
        problem = f"{detail or 'the key'} is not present in table {parent!r} ({definition.name})"
    elif definition.kind == "x":
        conflict = f"{detail or 'a row'} conflicts with another row"
        if detail and REDACTED not in detail:  # both keys, as PostgreSQL's detail gives them
            both = (exc.diag.message_detail or "").rstrip(".")
            conflict = both[0].lower() + both[1:]
        problem = f"{conflict}: exclusion constraint {definition.name!r}"
    else:
        problem = f"duplicate {detail or 'key'} violates unique {definition.name!r}"
    place = target.label if target else definition.table
    if line is not None and target is not None:
        place += f", {target.unit} {line}"
    message = (
        f"{place}: table {definition.table!r}: {problem} (found while rebuilding; nothing was "
        "written)"
    )
    table, file, constraint = definition.table, target.label if target else None, definition.name
    report = ValidationReport.refused(
        table=table, file=file, line=line, constraint=constraint, message=message
    )
    return LoadError(
        message, table=table, file=file, line=line, constraint=constraint, report=report
    )
