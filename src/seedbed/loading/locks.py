"""Taking a load's table locks without waiting in silence.

A load first reads whether its tables are empty (``ACCESS SHARE``, which
only a rebuilding load blocks). It then locks every table it writes, in
foreign-key order (parents first, so two loads never lock in opposite
orders): ``ACCESS EXCLUSIVE`` for the tables it rebuilds (dropping and
re-adding constraints needs it), all before the first COPY; ``ROW EXCLUSIVE``
for the incremental path (the lock COPY takes anyway), just before each COPY.

When another session holds a conflicting lock, the load says so once, through
the ``seedbed.loading`` logger (printed on stderr by the CLI): which table it
waits for and which backend holds it (pid, application, state, from
``pg_locks`` and ``pg_stat_activity``). It then waits at most
``SEEDBED_LOCK_TIMEOUT`` seconds in all (default :data:`DEFAULT_LOCK_TIMEOUT`;
``0`` waits for as long as it takes) for each lock, and gives up with a
:class:`~seedbed.errors.DatabaseError` (exit 2); the transaction is rolled
back, so nothing is written. The same timeout stays in force for the rest of
the load's transaction (``SET LOCAL lock_timeout``), so a row lock on a parent
row is not waited for forever either.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from seedbed.errors import ConfigError, DatabaseError

LOCK_TIMEOUT_VARIABLE = "SEEDBED_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
ACCESS_SHARE = "ACCESS SHARE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
LOCK_NOT_AVAILABLE = "55P03"
# pg_locks modes that conflict with each mode we take.
_CONFLICTS = {
    ACCESS_SHARE: ("AccessExclusiveLock",),
    ROW_EXCLUSIVE: (
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
    ACCESS_EXCLUSIVE: (
        "AccessShareLock",
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ),
}
log = logging.getLogger("seedbed.loading")


def lock_timeout(environ: dict[str, str] | None = None) -> float:
    """Seconds a load waits for its locks: ``SEEDBED_LOCK_TIMEOUT``, default 30, 0 = forever."""
    text = (environ if environ is not None else os.environ).get(LOCK_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text.removesuffix("s"))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86_400 * 365:
        raise ConfigError(
            f"{LOCK_TIMEOUT_VARIABLE}={text!r}: give the seconds to wait for a table lock "
            "(a number, 0 to wait forever)"
        )
    return seconds


@dataclass(frozen=True)
class LockRequest:
    """One table to lock: its quoted, qualified name, the name people know, the mode."""

    relation: str
    name: str
    mode: str


@dataclass(frozen=True)
class Holder:
    """A backend holding a lock on a table."""

    pid: int
    application: str
    state: str
    mode: str

    def __str__(self) -> str:
        app = f", {self.application}" if self.application else ""
        state = f", {self.state}" if self.state else ""
        return f"backend pid {self.pid} ({self.mode}{app}{state})"


def holders(cursor: psycopg.Cursor[Any], request: LockRequest) -> list[Holder]:
    """The other backends holding a lock on the table that conflicts with ``request``."""
    cursor.execute(
        "SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), l.mode "
        "FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid "
        "WHERE l.locktype = 'relation' AND l.relation = %s::regclass AND l.granted "
        "AND l.pid IS DISTINCT FROM pg_backend_pid() AND l.mode = ANY(%s) ORDER BY l.pid",
        (request.relation, list(_CONFLICTS[request.mode])),
    )
    return [Holder(int(pid or 0), app, state, mode) for pid, app, state, mode in cursor.fetchall()]


def lock_tables(
    connection: psycopg.Connection[Any],
    requests: Sequence[LockRequest],
    timeout: float,
    waiting: Callable[[], None] | None = None,
) -> None:
    """Lock every table of ``requests`` in order, in the connection's open transaction.

    Each lock is first tried without waiting; a refused one is logged with
    its holders and then waited for, all within ``timeout`` seconds overall
    (``waiting`` is called first).
    """
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        for request in requests:
            if _try_lock(cursor, request):
                continue
            found = holders(cursor, request)
            held_by = ", ".join(str(h) for h in found) or "another session"
            limit = f"up to {timeout:g} s" if timeout else "with no time limit"
            log.warning(
                "waiting %s for table %r: locked by %s (%s)",
                limit,
                request.name,
                held_by,
                LOCK_TIMEOUT_VARIABLE,
            )
            if waiting is not None:
                waiting()
            remaining_ms = max(1, int((deadline - time.monotonic()) * 1000)) if timeout else 0
            cursor.execute(f"SET LOCAL lock_timeout = {remaining_ms}")
            try:
                cursor.execute(f"LOCK TABLE {request.relation} IN {request.mode} MODE")
            except psycopg.Error as exc:
                if exc.sqlstate != LOCK_NOT_AVAILABLE:
                    raise
                raise DatabaseError(
                    f"gave up waiting for table {request.name!r} after {timeout:g} s: locked by "
                    f"{held_by}; nothing was written (set {LOCK_TIMEOUT_VARIABLE} to wait longer)"
                ) from None
        cursor.execute(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")


def _try_lock(cursor: psycopg.Cursor[Any], request: LockRequest) -> bool:
    """Take the lock if it is free now; leave the transaction usable either way."""
    cursor.execute("SAVEPOINT seedbed_lock")
    try:
        cursor.execute(f"LOCK TABLE {request.relation} IN {request.mode} MODE NOWAIT")
    except psycopg.Error as exc:
        if exc.sqlstate != LOCK_NOT_AVAILABLE:
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT seedbed_lock")
        cursor.execute("RELEASE SAVEPOINT seedbed_lock")
        return False
    cursor.execute("RELEASE SAVEPOINT seedbed_lock")
    return True
