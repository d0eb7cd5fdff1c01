"""``seedbed.load``: validate everything, write every table in one transaction, all or nothing.

How a load runs:

1. The sources are resolved to tables (the same rules as ``seedbed validate``)
   and ordered by foreign keys, parents first.
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.citus import PROPAGATE_SETTINGS_SQL
from seedbed.db import database_errors, get_engine, require_tables, schema_of
from seedbed.errors import DataError, SeedError, reason
from seedbed.facts import Models, table_keys, using_models
from seedbed.loading.copy import Cancelled, copy_blocks, copy_sql, qualified, server_readable
from seedbed.loading.failures import Refusal, is_retryable, to_seedbed_error
from seedbed.loading.locks import ACCESS_EXCLUSIVE, lock_tables, lock_timeout
from seedbed.loading.modes import (
    Merge,
    StagedMerge,
    StagedTable,
    create_stage_sql,
    insert_staged_sql,
    merge_sql,
    merge_together_sql,
    merges_of,
    stage_name,
)
from seedbed.loading.plan import LoadPlan, plan_load
from seedbed.loading.rebuild import Rebuild
from seedbed.loading.result import LoadResult, TableLoad
from seedbed.loading.worker_errors import commit_refusal, with_line, worker_refusal
from seedbed.loadmode import LoadMode, Strategy
from seedbed.progress import ProgressDisplay, progress_bar, progress_display
from seedbed.sqltext import quote_ident, quote_literal
from seedbed.validation.hints import in_database_hint
from seedbed.validation.meter import ValidationMeter
from seedbed.validation.sources import SeedInput, SeedSource, resolve_sources

if TYPE_CHECKING:
    from seedbed.validation.report import ValidationReport

MAX_ATTEMPTS = 6
#: Seconds validation waits for the writer's first COPY to be sent (``_Writer.started``).
COPY_HEAD_START = 0.5


@dataclass(frozen=True)
class _Job:
    """One source bound for one table, with the columns it provides and, to merge, its merges."""

    source: SeedSource
    columns: tuple[str, ...]
    merges: tuple[Merge, ...] = ()

    @property
    def table(self) -> sa.Table:
        return self.source.table


def _jobs(sources: Mapping[str, SeedSource], mode: LoadMode) -> list[_Job]:
    jobs = []
    for source in sources.values():
        columns = source.format.columns()
        merges = merges_of(source, columns) if mode.stages and columns else ()
        jobs.append(_Job(source, columns, merges))
    return jobs


class _Writer:
    """Writes every job inside the connection's open transaction; never commits."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        jobs: list[_Job],
        mode: LoadMode,
        progress: bool,
        plan: LoadPlan,
        timeout: float,
    ) -> None:
        self.connection = connection
        self.jobs = jobs
        self.mode = mode
        self.progress = progress
        self.plan = plan
        self.timeout = timeout
        self.rebuild = Rebuild(connection, plan, progress)
        self.cancel = threading.Event()
        # Set when the first COPY is sent, a lock must be waited for, or the writer ends.
        self.started = threading.Event()
        self.current: SeedSource | None = None
        self.results: list[TableLoad] = []
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        started = time.perf_counter()
        try:
            if self.plan.citus is not None:  # lock_timeout and the rebuild's settings
                self.connection.execute(PROPAGATE_SETTINGS_SQL)
            if self.plan.rebuilt:
                # Every table the rebuild touches is locked before anything is dropped.
                sources = {job.table.name: job.source for job in self.jobs}
                for request in self.plan.locks:
                    if request.mode == ACCESS_EXCLUSIVE:
                        self.current = sources.get(request.name)
                        lock_tables(self.connection, [request], self.timeout, self.started.set)
                self.rebuild.prepare()
            self.results = self._write_all()
            if self.plan.rebuilt:
                self.current = None
                self.rebuild.restore({job.table.name: job.source for job in self.jobs})
        except BaseException as exc:  # handed to the calling thread, never lost
            self.error = exc
        finally:
            self.started.set()
            self.seconds = time.perf_counter() - started

    def _write_all(self) -> list[TableLoad]:
        """Write every job in order; the tables of a cycle (``plan.together``) at the first."""
        results: dict[str, TableLoad] = {}
        for job in self.jobs:
            if job.table.name in results:
                continue
            group = self.plan.written_with(job.table.name)
            if len(group) == 1:
                results[job.table.name] = self._write(job)
            else:
                together = [j for j in self.jobs if j.table.name in group]
                results.update(zip(group, self._write_together(together), strict=True))
        return [results[job.table.name] for job in self.jobs]

    def _result(self, job: _Job) -> TableLoad:
        strategy = self.plan.strategy(job.table.name)
        result = TableLoad(job.table.name, job.source.label, strategy.value)
        result.note = self.plan.notes.get(job.table.name, "")
        return result

    def _write(self, job: _Job) -> TableLoad:
        self.current = job.source
        started = time.perf_counter()
        result = self._result(job)
        if not job.columns:  # an empty file: nothing to write, validation says why
            return result
        if not self.plan.rebuilds(job.table.name):  # a rebuilt table is locked already
            lock_tables(
                self.connection, [self.plan.lock(job.table.name)], self.timeout, self.started.set
            )
        with self.connection.cursor() as cursor:
            if not self.mode.stages and _refers_across_parts(job, self.plan):
                result.inserted = self._insert_staged(cursor, job)
            elif not self.mode.stages:
                result.inserted = self._copy(cursor, job, qualified(job.table))
            else:
                cursor.execute(create_stage_sql(job.table))
                partitioned = _is_partitioned(cursor, qualified(job.table))
                for number, merge in enumerate(job.merges):
                    if number:
                        cursor.execute(f"TRUNCATE {stage_name(job.table)}")
                    staged = self._copy(cursor, job, stage_name(job.table), merge.files)
                    merging = merge_sql(job.table, merge.columns, merge.key, self.mode, partitioned)
                    cursor.execute(merging)
                    row = cursor.fetchone()
                    assert row is not None
                    result.inserted += int(row[0])
                    result.updated += int(row[1])
                    result.skipped += staged - int(row[0]) - int(row[1])
        result.seconds = time.perf_counter() - started
        return result

    def _insert_staged(self, cursor: psycopg.Cursor[Any], job: _Job) -> int:
        """COPY the job's part files into staging tables (one per set of columns), then insert
        them all with one statement (:func:`insert_staged_sql`); the rows inserted."""
        return self._statement(cursor, insert_staged_sql([self._staged(cursor, job)]), [job])[0]

    def _staged(self, cursor: psycopg.Cursor[Any], job: _Job) -> StagedTable:
        """The job's files COPYed into staging tables, one per set of columns."""
        groups: dict[tuple[str, ...], list[SeedSource]] = {}
        for part in job.source.files():
            if columns := part.format.columns():  # a header read once
                groups.setdefault(columns, []).append(part)
        stages = []
        for number, (columns, parts) in enumerate(groups.items()):
            cursor.execute(create_stage_sql(job.table, number))
            self._copy(cursor, job, stage_name(job.table, number), parts)
            stages.append((stage_name(job.table, number), columns))
        return job.table, stages

    def _write_together(self, jobs: list[_Job]) -> list[TableLoad]:
        """Write the tables of one cycle with one statement: each job staged, then inserted
        (or merged) into its table by one statement, at whose end PostgreSQL checks the
        foreign keys between them. One result per job."""
        started = time.perf_counter()
        results = [self._result(job) for job in jobs]
        writing = [job for job in jobs if job.columns]
        if not writing:
            return results
        self.current = writing[0].source
        locks = [self.plan.lock(job.table.name) for job in writing]
        lock_tables(self.connection, locks, self.timeout, self.started.set)
        loads = {job.table.name: result for job, result in zip(jobs, results, strict=True)}
        with self.connection.cursor() as cursor:
            if not self.mode.stages:
                staged = [self._staged(cursor, job) for job in writing]
                counts = self._statement(cursor, insert_staged_sql(staged), writing)
                for job, count in zip(writing, counts, strict=True):
                    loads[job.table.name].inserted = count
            else:
                merges: list[tuple[_Job, int, StagedMerge]] = []
                for job in writing:
                    partitioned = _is_partitioned(cursor, qualified(job.table))
                    for number, merge in enumerate(job.merges):
                        stage = stage_name(job.table, number)
                        cursor.execute(create_stage_sql(job.table, number))
                        copied = self._copy(cursor, job, stage, merge.files)
                        staged_merge = StagedMerge(
                            job.table, merge.columns, merge.key, partitioned, stage
                        )
                        merges.append((job, copied, staged_merge))
                sql = merge_together_sql([m for _, _, m in merges], self.mode)
                counts = self._statement(cursor, sql, [job for job, _, _ in merges])
                for number, (job, copied, _) in enumerate(merges):
                    inserted, updated = counts[2 * number], counts[2 * number + 1]
                    result = loads[job.table.name]
                    result.inserted += inserted
                    result.updated += updated
                    result.skipped += copied - inserted - updated
        seconds = (time.perf_counter() - started) / len(jobs)
        for result in results:
            result.seconds = seconds
        return results

    def _statement(self, cursor: psycopg.Cursor[Any], sql: str, jobs: list[_Job]) -> list[int]:
        """Run one statement that writes ``jobs``' tables; the numbers it returns.

        A refused row is the job's whose table the database names."""
        self.current = jobs[0].source
        try:
            cursor.execute(sql)
        except psycopg.Error as exc:
            table = getattr(exc.diag, "table_name", None)
            self.current = next((j.source for j in jobs if j.table.name == table), self.current)
            raise
        row = cursor.fetchone()
        assert row is not None
        return [int(value) for value in row]

    def _copy(
        self,
        cursor: psycopg.Cursor[Any],
        job: _Job,
        relation: str,
        files: Collection[SeedSource] = (),
    ) -> int:
        """COPY ``files`` (default: each file of the job's source) into ``relation``; the rows."""
        copied = 0
        for part in files or job.source.files():
            self.current = part
            fmt = part.format
            columns = fmt.columns() if len(job.source.files()) > 1 else job.columns
            if not columns:
                continue
            total, unit = fmt.progress_total()
            bar = progress_bar(self.progress, description=job.table.name, total=total, unit=unit)
            try:
                # Rows of a table truncated in this transaction are written frozen.
                freeze = self.plan.freezes(job.table.name)
                options = fmt.copy_options + ", FREEZE true" * freeze
                path = server_readable(self.connection, fmt) if self.plan.citus is None else None
                if path is None:
                    sql = copy_sql(relation, columns, options)
                    blocks = fmt.copy_blocks(job.table, bar.update)
                    self.started.set()
                    copied += copy_blocks(cursor, sql, blocks, self.cancel)
                else:  # the server reads the file itself
                    if self.cancel.is_set():
                        raise Cancelled
                    sql = copy_sql(relation, columns, options, path)
                    self.started.set()
                    cursor.execute(sql)
                    copied += max(cursor.rowcount, 0)
                    bar.update(total or 0)
            finally:
                bar.close()
        self.current = job.source
        return copied


def _refers_across_parts(job: _Job, plan: LoadPlan) -> bool:
    """Is the job's table written into as it is (not rebuilt) from several part files, with a
    foreign key to itself? COPYed one part at a time, a row referencing a row of a later
    part would be refused at the end of its part's COPY."""
    if plan.rebuilds(job.table.name) or len(job.source.files()) < 2:
        return False
    return any(fk.parent is job.table for fk in table_keys(job.table).foreign_keys)


def _is_partitioned(cursor: psycopg.Cursor[Any], relation: str) -> bool:
    cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", (relation,))
    row = cursor.fetchone()
    return bool(row and row[0])


def _validate(
    sources: Mapping[str, SeedSource],
    engine: Engine,
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
            engine=engine,
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
    engine = engine or get_engine()
    schema = schema_of(engine)
    with using_models(models, engine=engine):
        sources = resolve_sources(source, schema)
    require_tables(engine, [s.table for s in sources.values()])
    jobs = _jobs(sources, load_mode)
    display = progress_display(progress)
    show = display.enabled
    size = sum(job.source.format.size_in_bytes() for job in jobs)
    plan = plan_load(engine, [job.table for job in jobs], load_strategy, load_mode, timeout, size)

    result = LoadResult(mode=load_mode.value, committed=False, strategy_note=plan.note)
    raw = _connect(engine)
    connection: psycopg.Connection[Any] = raw.driver_connection
    healthy = False
    try:
        display.__enter__()  # closed (and cleared) in ``finally``, before any error is shown
        writer = _Writer(connection, jobs, load_mode, show, plan, timeout)
        thread = threading.Thread(target=writer.run, name="seedbed-copy", daemon=True)
        thread.start()
        try:
            writer.started.wait(COPY_HEAD_START)  # see the module's docstring, step 3
            validate_started = time.perf_counter()
            report = _validate(sources, engine, load_mode, plan, display)
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
            writer, lambda: _Writer(connection, jobs, load_mode, show, plan, timeout)
        )
        if writer.error is not None:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()  # release the locks before looking keys up
            raise _refused(writer, sources, engine, load_mode, plan, display) from None
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


def _refused(
    writer: _Writer,
    sources: Mapping[str, SeedSource],
    engine: Engine,
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
        report = _validate(sources, engine, mode, plan, display, keys_against_db=plan.non_empty)
        if not report.ok:
            return DataError(_invalid_message(report), report)
    if refusal is not None and target is not None:
        target, refusal = with_line(writer.connection, refusal, target, writer.timeout)
    return _mapped(error, target, refusal)


def _retried(writer: _Writer, again: Callable[[], _Writer]) -> tuple[_Writer, int]:
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
        writer.run()
    return writer, attempts


def _stop(writer: _Writer, thread: threading.Thread) -> None:
    """Call the writer off: between blocks by flag, mid-statement by a cancel request."""
    writer.cancel.set()
    if thread.is_alive():
        with contextlib.suppress(psycopg.Error):
            writer.connection.cancel_safe(timeout=5)
    thread.join()


def _connect(engine: Engine) -> Any:
    with database_errors("cannot connect to the database"):
        return engine.raw_connection()


#: The sequence behind each of a table's columns the seed gave values (serial or identity).
_SEQUENCES_SQL = """
SELECT a.attname, pg_get_serial_sequence(%(relation)s, a.attname)
FROM pg_attribute AS a
WHERE a.attrelid = %(relation)s::regclass AND a.attname = ANY(%(columns)s) AND NOT a.attisdropped
  AND pg_get_serial_sequence(%(relation)s, a.attname) IS NOT NULL
ORDER BY a.attnum
"""


def _advance_sequences(connection: psycopg.Connection[Any], jobs: list[_Job]) -> None:
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


def _release(raw: Any, connection: psycopg.Connection[Any], healthy: bool) -> None:
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
