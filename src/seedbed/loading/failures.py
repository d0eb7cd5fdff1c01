"""Turn a database error raised during a load into a seedbed error people can act on.

PostgreSQL is the final judge of a load. When it refuses a row, the error is
mapped back to table, file, physical line and constraint:

- COPY errors carry ``COPY <table>, line N`` in their context, where N is the
  physical line on which the record *ends*; the source's format finds where
  it starts (records may span lines inside quotes).
- Unique and foreign-key violations found after the COPY (foreign keys are
  checked at the end of the statement, staged upserts in an INSERT) carry
  ``Key (cols)=(values)``; the source's format looks the key up in the file.

Values of sensitive columns are replaced by ``[redacted]``; the server's
``Failing row contains (...)`` detail and the COPY context (the raw line) are
never shown, since they hold whole rows.

The fields that matter are read once into a :class:`Refusal`. On Citus, a
worker's error arrives without them (``loading.worker_errors`` rebuilds the
refusal and hands it in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from seedbed.errors import DatabaseError, LoadError, SeedbedError, reason
from seedbed.validation.report import ValidationReport
from seedbed.validation.sources import SeedSource

REDACTED = "[redacted]"
_COPY_LINE = re.compile(r"^COPY [^,]+, line (\d+)(?:, column ([^:]+))?")
_KEY = re.compile(r"^Key \((?P<columns>.+?)\)=\((?P<values>.*)\) (?:already exists|is not present)")
# A row no partition takes; COPY names its line, a staged merge does not.
_PARTITION_KEY = re.compile(
    r"^Partition key of the failing row contains \((?P<columns>.+?)\) = \((?P<values>.*)\)\.?$"
)
_QUOTED_VALUE = re.compile(r': ".*"$', re.DOTALL)
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")
RETRYABLE_STATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
UNIQUE_VIOLATION = "23505"


def is_retryable(
    exc: BaseException, previous: BaseException | None = None, *, retry_unique: bool = False
) -> bool:
    """May the whole load simply be run again after ``exc``?

    Deadlocks and serialization failures: yes. A unique violation, with
    ``retry_unique`` (the modes that merge,
    :attr:`~seedbed.loadmode.LoadMode.retries_unique_violation`): yes, unless
    the attempt before failed the same way (``previous``). ``ON CONFLICT``
    arbitrates on one key, so a concurrent load committing the same new row
    shows up as a violation of another unique key (``uq_tag_name`` while the
    conflict key is ``id``);
    run again, the committed row is seen and merged. A real duplicate fails
    again with the same constraint and key, and is reported.
    """
    if not isinstance(exc, psycopg.Error):
        return False
    if exc.sqlstate in RETRYABLE_STATES:
        return True
    if not retry_unique or exc.sqlstate != UNIQUE_VIOLATION:
        return False
    return not (
        isinstance(previous, psycopg.Error)
        and previous.sqlstate == exc.sqlstate
        and previous.diag.constraint_name == exc.diag.constraint_name
        and previous.diag.message_detail == exc.diag.message_detail
    )


def is_connection_error(exc: psycopg.Error) -> bool:
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith(_CONNECTION_STATES)


@dataclass(frozen=True)
class Refusal:
    """What the database said when it refused a write: the diagnostic fields seedbed uses.

    ``copy_line`` and ``copy_column`` come from a COPY error's context
    (``COPY <table>, line N, column C``): N counts COPY's lines, which the
    source's format turns into its own positions.
    """

    sqlstate: str
    primary: str
    detail: str = ""
    constraint: str | None = None
    column: str | None = None
    copy_line: int | None = None
    copy_column: str | None = None

    @classmethod
    def of(cls, exc: psycopg.Error) -> Refusal:
        diag = exc.diag
        context = _COPY_LINE.match(diag.context or "")
        return cls(
            sqlstate=exc.sqlstate or "",
            primary=reason(exc),
            detail=diag.message_detail or "",
            constraint=diag.constraint_name,
            column=diag.column_name,
            copy_line=int(context.group(1)) if context else None,
            copy_column=context.group(2) if context else None,
        )


def to_seedbed_error(
    exc: psycopg.Error,
    target: SeedSource | None,
    refusal: Refusal | None = None,
    *,
    at_commit: bool = False,
) -> SeedbedError:
    """The seedbed error for ``exc``, raised while writing ``target`` (None: not known).

    ``refusal`` replaces what ``exc`` itself says (see :class:`Refusal`), for an
    error whose fields were lost on the way (a Citus worker's). ``at_commit``:
    raised by the ``COMMIT`` (deferred constraints are checked there, and on
    Citus the workers commit there), ``target`` then being the table it names.
    """
    said = refusal or Refusal.of(exc)
    primary = said.primary
    if at_commit:
        if is_connection_error(exc):
            return DatabaseError(
                f"lost the connection to the database while committing the load: {primary}; "
                "whether it was committed is not known"
            )
        state = said.sqlstate
        if target is None or not (state.startswith("23") or state.startswith("22")):
            return DatabaseError(f"the database refused the load when committing it: {primary}")
        primary = f"at commit: {primary}"
    where = f"table {target.table.name!r} from {target.label}" if target else "the tables"
    if is_connection_error(exc):
        return DatabaseError(
            f"lost the connection to the database while loading {where}: {primary}; "
            "nothing was committed"
        )
    state = said.sqlstate
    if state == "42501":
        return DatabaseError(f"permission denied while loading {where}: {primary}")
    if target is None or not (state.startswith("23") or state.startswith("22")):
        return DatabaseError(f"the database refused the load of {where}: {primary}")

    line: int | None = None
    column = said.column or said.copy_column
    if said.copy_line is not None:
        line = target.format.position_of_copy_line(said.copy_line)
    detail = ""
    key = _KEY.match(said.detail)
    partition = _PARTITION_KEY.match(said.detail)
    if partition and line is None:
        columns = [c.strip().strip('"') for c in partition.group("columns").split(", ")]
        values = _split_values(partition.group("values"), len(columns))
        if values is not None:
            target, line = _find_key(target, columns, values)
    if key:
        columns = [c.strip().strip('"') for c in key.group("columns").split(", ")]
        values = _split_values(key.group("values"), len(columns))
        if line is None and values is not None:
            target, line = _find_key(target, columns, values)
        shown = [
            REDACTED if target.sensitive(c) or values is None else v
            for c, v in zip(columns, values or columns, strict=True)
        ]
        message_detail = said.detail
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
        place += f", {target.unit} {line}"
    if column and not key:
        place += f", column {column!r}"
    constraint = said.constraint
    message = f"{place}: table {target.table.name!r}: {primary}{detail}"
    table, file = target.table.name, target.label
    report = ValidationReport.refused(
        table=table, file=file, line=line, constraint=constraint, message=message
    )
    return LoadError(
        message, table=table, file=file, line=line, constraint=constraint, report=report
    )


def _find_key(
    source: SeedSource, columns: list[str], values: list[str]
) -> tuple[SeedSource, int | None]:
    """The file of ``source`` (a part file, for a folder) holding the key, and its position."""
    for part in source.files():
        line = part.format.find_key(columns, values)
        if line is not None:
            return part, line
    return source, None


def _split_values(text: str, count: int) -> list[str] | None:
    if count == 1:
        return [text]
    parts = text.split(", ")
    return parts if len(parts) == count else None
