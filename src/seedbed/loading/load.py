"""``seedbed.load``: validate everything, write every table in one transaction, all or nothing.

How a load runs:

1. The sources are resolved to tables (the same rules as ``seedbed validate``)
   and ordered by foreign keys, parents first. Without an engine given, the
   database is reached with psycopg alone (:class:`~seedbed.db.Database`) and
   a kept model is read from its snapshot (:func:`~seedbed.facts.stored_tables`):
   such a load imports no SQLAlchemy.
2. A writer thread opens one transaction, locks the tables
   (``loading.locks``) and streams each source into its table with COPY
   (``loading.copy``; a plain CSV or TSV file the server can read is read by
   the server itself), through a staging table for ``upsert`` and
   ``skip-existing`` (``loading.modes``). Tables that are empty get the rebuild
   strategy (``loading.rebuild``): their constraints and indexes are dropped
   before the COPY and rebuilt, validated, after it, in the same transaction.
   Tables written incrementally whose foreign keys form a cycle are staged and
   written by one statement (``LoadPlan.together``), at whose end PostgreSQL
   checks the keys between them.
3. Meanwhile the calling thread validates the same sources, chunk by chunk.
   The database works while Python validates, so a valid load costs about
   as much as the COPY alone. Validation starts once the writer has sent its
   first COPY (or must wait for a lock, or after :data:`COPY_HEAD_START`
   seconds): its imports and threads would otherwise hold the interpreter's
   lock while the writer takes its locks and reads the definitions, a few
   dozen round trips that each need the lock back, and the database's work,
   the longest path of a load into empty tables, would start later
   (``docs/decisions/2026-12-05-copy-head-start.md``).
4. Only when validation found nothing *and* the database accepted every row
   is the transaction committed (or, for a dry run, rolled back). An invalid
   source stops the writer and raises :class:`~seedbed.errors.DataError` with
   the full report; a row only the database refuses raises
   :class:`~seedbed.errors.LoadError` naming table, file, line and constraint.

Deadlocks, serialization failures and, for upsert and skip-existing, unique
violations that a concurrent load's commit caused (``is_retryable``) are
retried a few times from the start of the transaction; nothing is committed
in between.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from seedbed.connections import BorrowedConnection
from seedbed.db import (
    Database,
    database_errors,
    database_of,
    get_database,
    require_tables,
)
from seedbed.errors import DataError, SeedError, reason
from seedbed.facts import Models, stored_tables, using_models
from seedbed.loading.copy import qualified
from seedbed.loading.failures import Refusal, is_retryable, to_seedbed_error
from seedbed.loading.locks import lock_timeout
from seedbed.loading.plan import LoadPlan, plan_load
from seedbed.loading.result import LoadResult
from seedbed.loading.worker_errors import commit_refusal, with_line, worker_refusal
from seedbed.loading.writer import Job, Writer, jobs_of
from seedbed.loadmode import LoadMode, Strategy
from seedbed.progress import ProgressDisplay, progress_display
from seedbed.sqltext import quote_ident, quote_literal
from seedbed.validation.hints import in_database_hint
from seedbed.validation.meter import ValidationMeter
from seedbed.validation.sources import SeedInput, SeedSource, resolve_sources

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from seedbed.validation.report import ValidationReport

MAX_ATTEMPTS = 6
#: Seconds validation waits for the writer's first COPY to be sent (``Writer.started``).
COPY_HEAD_START = 0.5


def _validate(
    sources: Mapping[str, SeedSource],
    database: Database,
    mode: LoadMode,
    plan: LoadPlan,
    display: ProgressDisplay,
    keys_against_db: Collection[str] = (),
) -> ValidationReport:
    """The validation report for ``sources``, read in chunks (bounded memory).

    Unique keys are not looked up in the database unless ``keys_against_db``
    names the table: the database refuses a key it already has anyway, and
    the lookups made validation the critical path of a load into a table
    with rows (``docs/decisions/2026-11-insert-without-key-lookups.md``).
    When the database does refuse a key, :func:`_refused` looks them all up
    for the report.
    Tables being rebuilt are locked by the writer: validation never reads them.
    """
    # Imported here, not with this module: pandas and pandera load while the
    # writer's first COPY is already under way (see seedbed.lazymodules).
    from seedbed.validation.api import check_sources

    meter = ValidationMeter(display, sources)
    try:
        return check_sources(
            sources,
            engine=database,
            unique_against_db=keys_against_db,
            empty_in_db=plan.empty,
            meter=meter,
        )
    finally:
        meter.close()


def load(
    source: SeedInput,
    *,
    mode: str | LoadMode = "insert",
    strategy: str | Strategy = "auto",
    engine: Engine | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    models: Models = None,
) -> LoadResult:
    """Validate ``source`` and load it into the namespace, all tables in one transaction.

    ``source`` is what :func:`seedbed.validate` takes: a seed folder, a list of
    seed files and part folders named after their tables, or a mapping of
    table name to a DataFrame (pandas or Polars, or a Polars LazyFrame), Arrow
    table or record batch, file or folder.
    ``mode`` is ``"insert"`` (any conflict is an error),
    ``"upsert"`` (insert new rows, update changed ones, on the primary key or
    a declared unique key) or ``"skip-existing"``. ``strategy`` is ``"auto"``
    (rebuild the tables that are empty, write the others incrementally),
    ``"rebuild"`` (every table; refused for a table with rows) or
    ``"incremental"`` (COPY into the tables as they are); see
    :mod:`seedbed.loading.rebuild`. ``dry_run`` does everything
    but the commit. ``progress`` shows bars (default: in notebooks and
    terminals). ``models`` chooses the model, as for :func:`seedbed.validate`.

    Raises :class:`~seedbed.errors.DataError` (with ``.report``) when anything
    is invalid, :class:`~seedbed.errors.LoadError` when the database refuses a
    row, :class:`~seedbed.errors.DatabaseError` for connection or permission
    problems. In every case nothing is written.

    >>> result = seedbed.load("data/seeds", mode="upsert")   # doctest: +SKIP
    >>> print(result)                                         # doctest: +SKIP

    (Longer than 60 lines on purpose: the connection, the writer thread, the
    retries and the commit sit in one ``try``/``finally`` that always gives
    the connection back, and are easier to check for that read as one.)
    """
    started = time.perf_counter()
    load_mode = LoadMode.parse(mode)
    load_strategy = Strategy.parse(strategy)
    timeout = lock_timeout()
    database = database_of(engine) if engine is not None else get_database()
    sources = _sources(source, database, models)
    require_tables(database, [s.table for s in sources.values()])
    jobs = jobs_of(sources, load_mode)
    display = progress_display(progress)
    show = display.enabled
    size = sum(job.source.format.size_in_bytes() for job in jobs)
    tables = [job.table for job in jobs]
    plan = plan_load(database, tables, load_strategy, load_mode, timeout, size)

    result = LoadResult(mode=load_mode.value, committed=False, strategy_note=plan.note)
    raw = _connect(database)
    connection: psycopg.Connection[Any] = raw.driver_connection
    healthy = False
    try:
        display.__enter__()  # closed (and cleared) in ``finally``, before any error is shown
        writer = Writer(connection, jobs, load_mode, show, plan, timeout)
        thread = threading.Thread(target=writer.run, name="seedbed-copy", daemon=True)
        thread.start()
        try:
            writer.started.wait(COPY_HEAD_START)  # see the module's docstring, step 3
            validate_started = time.perf_counter()
            report = _validate(sources, database, load_mode, plan, display)
            writer.validated.set()
            result.validate_seconds = time.perf_counter() - validate_started
            if not report.ok:
                _stop(writer, thread)  # mid-statement too: a COPY the server reads, a rebuild step
            thread.join()
        except BaseException:  # an unreadable file, Ctrl-C: stop the COPY, then roll back
            _stop(writer, thread)
            raise
        if not report.ok:
            raise DataError(_invalid_message(report), report)
        writer, attempts = _retried(
            writer, lambda: Writer(connection, jobs, load_mode, show, plan, timeout)
        )
        if writer.error is not None:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()  # release the locks before looking keys up
            raise _refused(writer, sources, database, load_mode, plan, display) from None
        result.attempts = attempts
        result.tables = writer.results
        result.write_seconds = writer.seconds
        result.rebuild_seconds = writer.rebuild.seconds
        result.copy_seconds = sum(t.seconds for t in writer.results)
        if dry_run:
            connection.rollback()
        else:
            _advance_sequences(connection, writer.jobs)
            _commit(connection, [job.source for job in jobs])
            result.committed = True
        healthy = True
    finally:
        display.close()
        _release(raw, connection, healthy)
    result.total_seconds = time.perf_counter() - started
    return result


def _sources(source: SeedInput, database: Database, models: Models) -> dict[str, SeedSource]:
    """``source`` resolved to tables: those of the model's snapshot when the database was not
    given as an engine and the snapshot's namespace is the load's (no SQLAlchemy imported,
    see :func:`~seedbed.facts.stored_tables`), else the model as declared or in the catalog."""
    if database.given_engine is None:
        tables = stored_tables(models)
        if tables is not None and all(t.schema == database.schema for t in tables.values()):
            return resolve_sources(source, tables)
    # A catalog is read with the given engine, else with the settings' (the same database).
    with using_models(models, engine=database.given_engine):
        return resolve_sources(source, database.schema)


def _refused(
    writer: Writer,
    sources: Mapping[str, SeedSource],
    database: Database,
    mode: LoadMode,
    plan: LoadPlan,
    display: ProgressDisplay,
) -> BaseException:
    """The error for what the writer hit; for a key the database already had, every such row.

    A unique violation while inserting into tables with rows means some keys
    of the sources are taken: validation runs again with the database
    lookups, so the report lists every taken key by file and line, not only
    the first one the database met. A Citus worker's error is first given back
    its SQLSTATE, names and line (``loading.worker_errors``).
    """
    error = writer.error
    assert error is not None
    target, refusal = writer.current, None
    if isinstance(error, psycopg.Error):
        refusal = worker_refusal(writer.connection, error, target)
    state = refusal.sqlstate if refusal else getattr(error, "sqlstate", None)
    if state == "23505" and mode.existing_keys_are_errors and plan.non_empty:
        report = _validate(sources, database, mode, plan, display, keys_against_db=plan.non_empty)
        if not report.ok:
            return DataError(_invalid_message(report), report)
    if refusal is not None and target is not None:
        target, refusal = with_line(writer.connection, refusal, target, writer.timeout)
    return _mapped(error, target, refusal)


def _retried(writer: Writer, again: Callable[[], Writer]) -> tuple[Writer, int]:
    """Run the writes again (a fresh writer from ``again``) while the error is retryable.

    Returns the last writer and the number of attempts, at most ``MAX_ATTEMPTS``.
    """
    attempts, previous = 1, None
    retry_unique = writer.mode.retries_unique_violation
    while (
        writer.error is not None
        and is_retryable(writer.error, previous, retry_unique=retry_unique)
        and attempts < MAX_ATTEMPTS
    ):
        writer.connection.rollback()
        time.sleep(random.uniform(0.05, 0.2) * attempts)
        attempts, previous = attempts + 1, writer.error
        writer = again()
        writer.validated.set()  # it runs after validation
        writer.run()
    return writer, attempts


def _stop(writer: Writer, thread: threading.Thread) -> None:
    """Call the writer off: between blocks by flag, mid-statement by a cancel request."""
    writer.cancel.set()
    if thread.is_alive():
        with contextlib.suppress(psycopg.Error):
            writer.connection.cancel_safe(timeout=5)
    thread.join()


def _connect(bind: Database | Engine) -> BorrowedConnection:
    with database_errors("cannot connect to the database"):
        return database_of(bind).raw_connection()


#: The sequence behind each of a table's columns the seed gave values (serial or identity).
_SEQUENCES_SQL = """
SELECT a.attname, pg_get_serial_sequence(%(relation)s, a.attname)
FROM pg_attribute AS a
WHERE a.attrelid = %(relation)s::regclass AND a.attname = ANY(%(columns)s) AND NOT a.attisdropped
  AND pg_get_serial_sequence(%(relation)s, a.attname) IS NOT NULL
ORDER BY a.attnum
"""


def _advance_sequences(connection: psycopg.Connection[Any], jobs: list[Job]) -> None:
    """Move the sequence of each serial or identity column the seeds gave values past their max.

    Only a sequence whose next value the column has reached is moved (to the
    column's max, so the next INSERT gets max + 1); none is ever lowered.
    Run in the load's transaction, just before the commit: ``setval`` is not
    undone by a rollback, so a dry run never gets here.
    """
    try:
        with connection.cursor() as cursor:
            for job in jobs:
                if not job.columns:
                    continue
                relation = qualified(job.table)
                cursor.execute(_SEQUENCES_SQL, {"relation": relation, "columns": list(job.columns)})
                for column, sequence in cursor.fetchall():
                    # No parameters: the names are sent as they are (a % in one is no placeholder).
                    cursor.execute(
                        f"SELECT setval({quote_literal(sequence)}, t.top) "
                        f"FROM (SELECT max({quote_ident(column)}) AS top FROM {relation}) AS t, "
                        f"(SELECT last_value + is_called::int AS next FROM {sequence}) AS s "
                        "WHERE t.top >= s.next"
                    )
    except psycopg.Error as exc:
        raise to_seedbed_error(exc, None) from None


def _commit(connection: psycopg.Connection[Any], sources: Sequence[SeedSource]) -> None:
    try:
        connection.commit()
    except psycopg.Error as exc:
        target, refusal = commit_refusal(connection, exc, sources)
        raise to_seedbed_error(exc, target, refusal, at_commit=True) from None


def _mapped(
    error: BaseException, target: SeedSource | None, refusal: Refusal | None = None
) -> BaseException:
    if isinstance(error, psycopg.Error):
        return to_seedbed_error(error, target, refusal)
    if isinstance(error, OSError) and target is not None:
        return SeedError(f"{target.label}: cannot read: {reason(error)}")
    return error


def _release(raw: BorrowedConnection, connection: psycopg.Connection[Any], healthy: bool) -> None:
    """Roll back anything uncommitted and hand the connection back (or drop it if broken)."""
    if not healthy:
        try:
            connection.rollback()
        except psycopg.Error:
            raw.invalidate()
            return
    if connection.closed or connection.broken:
        raw.invalidate()
        return
    raw.close()


def _invalid_message(report: ValidationReport) -> str:
    failures = report.failures
    files = failures["file"].nunique() if len(failures) else 0
    problems = "1 problem" if len(failures) == 1 else f"{len(failures):,} problems"
    message = f"{problems} in {files} file{'s' if files != 1 else ''}"
    hint = in_database_hint(report)
    return message + (f"; {hint}" if hint else "") + "; nothing was loaded"
