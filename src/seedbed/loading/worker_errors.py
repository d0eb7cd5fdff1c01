"""A row a Citus worker refused, mapped back to the coordinator's names and the source's line.

On a distributed schema the rows of a COPY are written by a worker, into a
shard of the table. When the worker refuses one, Citus raises the worker's
message again on the coordinator, as an internal error (``XX000``): the
SQLSTATE, the constraint field and the COPY line are gone, and every name in
the message carries the shard's id (``pk_tag_102052`` for ``pk_tag``).
Citus's own functions are named in the error's ``source_function`` field,
which is how such an error is told apart.

:func:`worker_refusal` puts the fields back:

- the names: a quoted name in the message or its detail that is a relation,
  constraint or index of the namespace followed by ``_<shard id>`` of its
  table (:func:`seedbed.citus.shard_names`, read from the coordinator's
  catalog) loses the suffix; nothing else is touched;
- the SQLSTATE, from the kind of the constraint so found (unique, foreign
  key, check, exclusion);
- the line, by replaying the source on the coordinator (:func:`replay`): its
  files are copied into a temporary copy of the table with the same defaults,
  checks and unique indexes, where PostgreSQL refuses the same row with its
  COPY line. The replay is taken only when it names the same constraint, or
  the same key, as the worker did. Foreign keys are not replayed: their
  detail names the key, which the source's format finds.

The replay runs in its own transaction, rolled back: nothing is written.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from seedbed.citus import ShardNames, shard_names
from seedbed.loading.copy import copy_blocks, copy_sql, qualified
from seedbed.loading.failures import Refusal
from seedbed.validation.sources import SeedSource

#: The Citus functions that raise a worker's error again on the coordinator.
WORKER_ERROR_FUNCTIONS = frozenset({"ReportCopyError", "ReportResultError"})
INTERNAL_ERROR = "XX000"
NOT_NULL_VIOLATION = "23502"
#: The SQLSTATE a violation of each kind of constraint raises (``pg_constraint.contype``;
#: ``i``: a unique index that is no constraint).
_KIND_STATE = {"p": "23505", "u": "23505", "i": "23505", "f": "23503", "c": "23514", "x": "23P01"}
# The table a constraint's message names: ``... on table "session" violates ...``.
_ON_TABLE = re.compile(r'on table "([^"]+)"')
_REPLAYED_STATES = frozenset({"23505", "23514", "23P01", NOT_NULL_VIOLATION})
_REPLAY_TABLE = "pg_temp.seedbed_replay"


def is_worker_error(exc: BaseException) -> bool:
    """Was ``exc`` a Citus worker's error, raised again on the coordinator?"""
    return (
        isinstance(exc, psycopg.Error)
        and exc.diag.source_function in WORKER_ERROR_FUNCTIONS
        and exc.diag.constraint_name is None
    )


def shard_refusal(names: ShardNames, exc: psycopg.Error) -> Refusal:
    """What the worker said, in the coordinator's names, with the SQLSTATE of its constraint."""
    said = Refusal.of(exc)
    primary, named = names.unshard(said.primary)
    detail, _ = names.unshard(said.detail)
    constraint = next((name for name in named if name in names.kinds), None)
    state = _KIND_STATE[names.kinds[constraint]] if constraint else said.sqlstate
    return replace(said, sqlstate=state, primary=primary, detail=detail, constraint=constraint)


def replay(
    cursor: psycopg.Cursor[Any], source: SeedSource, lock_timeout: float = 0.0
) -> tuple[SeedSource, Refusal] | None:
    """Copy ``source``'s files into a temporary copy of its table; the first refusal, by file.

    The copy has the table's defaults, generated columns, checks and unique
    indexes, not its foreign keys or triggers. None when every row fits.
    The caller rolls the transaction back. ``lock_timeout`` (seconds; 0: none)
    bounds the wait for the table's lock, as the load's own.
    """
    if lock_timeout > 0:
        cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}")
    cursor.execute(
        f"CREATE TEMP TABLE seedbed_replay (LIKE {qualified(source.table)} INCLUDING ALL) "
        "ON COMMIT DROP"
    )
    for part in source.files():
        fmt = part.format
        columns = fmt.columns()
        if not columns:
            continue
        sql = copy_sql(_REPLAY_TABLE, columns, fmt.copy_options)
        try:
            copy_blocks(cursor, sql, fmt.copy_blocks(source.table, None), threading.Event())
        except psycopg.Error as exc:
            said = Refusal.of(exc)
            return (part, said) if said.copy_line is not None else None
    return None


def _agrees(worker: Refusal, replayed: Refusal) -> bool:
    """Is the replayed refusal the one the worker made (the same constraint, or key)?"""
    if replayed.sqlstate == NOT_NULL_VIOLATION:
        return worker.constraint is None and f'"{replayed.column}"' in worker.primary
    if replayed.sqlstate != worker.sqlstate:
        return False
    if replayed.constraint == worker.constraint:
        return True
    # A copied unique index has a name of its own: the same key names the same row.
    return replayed.detail.startswith("Key (") and replayed.detail == worker.detail


def worker_refusal(
    connection: psycopg.Connection[Any], exc: psycopg.Error, target: SeedSource | None
) -> Refusal | None:
    """What a Citus worker's error says, in the coordinator's names; None for any other error.

    ``connection``'s transaction must be rolled back already; it is rolled back
    again afterwards. When the catalog cannot be read, the error stays as it
    was (None).
    """
    if not is_worker_error(exc) or target is None:
        return None
    try:
        with connection.cursor() as cursor:
            names = shard_names(cursor, schema=str(target.table.schema))
            return shard_refusal(names, exc)
    except psycopg.Error:
        return None
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.rollback()


def commit_refusal(
    connection: psycopg.Connection[Any], exc: psycopg.Error, sources: Sequence[SeedSource]
) -> tuple[SeedSource | None, Refusal | None]:
    """For an error the ``COMMIT`` raised: the source of the table it names, and what it says.

    A deferred constraint is checked at commit (on Citus, by the worker, so
    the names carry shard ids: :func:`worker_refusal` takes them off). The
    table is the error's own field, or the one its message names (``... on
    table "session"``); None when no loaded table is named.
    """
    refusal = worker_refusal(connection, exc, sources[0]) if sources else None
    table = exc.diag.table_name
    if table is None:
        named = _ON_TABLE.search((refusal or Refusal.of(exc)).primary)
        table = named.group(1) if named else None
    target = next((source for source in sources if source.table.name == table), None)
    return target, refusal


def with_line(
    connection: psycopg.Connection[Any],
    said: Refusal,
    target: SeedSource,
    lock_timeout: float = 0.0,
) -> tuple[SeedSource, Refusal]:
    """``said`` with the file and COPY line of the refused row, found by :func:`replay`.

    Unchanged when the kind of refusal is not replayed (a foreign key), the
    replay refuses nothing or something else, or cannot run.
    """
    if said.sqlstate not in _REPLAYED_STATES | {INTERNAL_ERROR}:
        return target, said
    try:
        with connection.cursor() as cursor:
            replayed = replay(cursor, target, lock_timeout)
    except psycopg.Error:
        replayed = None
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.rollback()
    if replayed is None or not _agrees(said, replayed[1]):
        return target, said
    part, found = replayed
    return part, replace(
        said,
        sqlstate=found.sqlstate if said.sqlstate == INTERNAL_ERROR else said.sqlstate,
        column=found.column,
        copy_line=found.copy_line,
        copy_column=found.copy_column,
    )
