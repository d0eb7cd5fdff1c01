"""The writer of a load: every job written into its table inside one open transaction.

:class:`Writer` runs on its own thread (``seedbed.load`` validates meanwhile):
it locks the tables, prepares the rebuild of the empty ones
(``loading.rebuild``), streams each source into its table with COPY
(``loading.copy``; a plain file the server can read is read by the server),
through staging tables for ``upsert`` and ``skip-existing``
(``loading.modes``), writes the tables of a cycle of foreign keys with one
statement, and restores what the rebuild dropped. It never commits; an error
is kept for the calling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from seedbed.citus import PROPAGATE_SETTINGS_SQL
from seedbed.facts import table_keys
from seedbed.loading.catalog import read_definitions
from seedbed.loading.copy import Cancelled, copy_blocks, copy_sql, qualified, server_readable
from seedbed.loading.locks import ACCESS_EXCLUSIVE, LockRequest, lock_tables
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
from seedbed.loading.plan import LoadPlan
from seedbed.loading.rebuild import Rebuild
from seedbed.loading.result import TableLoad
from seedbed.loadmode import LoadMode
from seedbed.progress import progress_bar
from seedbed.validation.sources import SeedSource

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class Job:
    """One source bound for one table, with the columns it provides and, to merge, its merges."""

    source: SeedSource
    columns: tuple[str, ...]
    merges: tuple[Merge, ...] = ()

    @property
    def table(self) -> sa.Table:
        return self.source.table


def jobs_of(sources: Mapping[str, SeedSource], mode: LoadMode) -> list[Job]:
    jobs = []
    for source in sources.values():
        columns = source.format.columns()
        merges = merges_of(source, columns) if mode.stages and columns else ()
        jobs.append(Job(source, columns, merges))
    return jobs


class Writer:
    """Writes every job inside the connection's open transaction; never commits."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        jobs: list[Job],
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
        # Set when the first COPY is sent, a lock (or validation's end) must be waited for,
        # or the writer ends.
        self.started = threading.Event()
        # Set when validation has ended: it no longer reads the loaded tables.
        self.validated = threading.Event()
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

    def _result(self, job: Job) -> TableLoad:
        strategy = self.plan.strategy(job.table.name)
        result = TableLoad(job.table.name, job.source.label, strategy.value)
        result.note = self.plan.notes.get(job.table.name, "")
        return result

    def _write(self, job: Job) -> TableLoad:
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

    def _insert_staged(self, cursor: psycopg.Cursor[Any], job: Job) -> int:
        """COPY the job's part files into staging tables (one per set of columns), then insert
        them all with one statement (:func:`insert_staged_sql`); the rows inserted."""
        return self._statement(cursor, insert_staged_sql([self._staged(cursor, job)]), [job])[0]

    def _staged(self, cursor: psycopg.Cursor[Any], job: Job) -> StagedTable:
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

    def _write_together(self, jobs: list[Job]) -> list[TableLoad]:
        """Write the tables of one cycle with one statement: each job staged, then inserted
        (or merged) into its table by one statement, at whose end PostgreSQL checks the
        foreign keys between them. One result per job."""
        if self.plan.citus is not None:
            return self._write_keys_after(jobs)
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
                merges: list[tuple[Job, int, StagedMerge]] = []
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

    def _write_keys_after(self, jobs: list[Job]) -> list[TableLoad]:
        """The tables of one cycle on Citus, which runs a statement of several tables as
        several statements, each checking its keys as it ends: the foreign keys among the
        cycle's tables are dropped, each table written on its own, and the keys added back
        as they were, which checks every row. One result per job."""
        requests = [self.plan.lock(job.table.name) for job in jobs]
        exclusive = [LockRequest(r.relation, r.name, ACCESS_EXCLUSIVE) for r in requests]
        self.current = jobs[0].source
        self.started.set()
        while not self.validated.wait(0.05):  # validation may read these tables' keys
            if self.cancel.is_set():
                raise Cancelled
        lock_tables(self.connection, exclusive, self.timeout, self.started.set)
        with self.connection.cursor() as cursor:
            relations = [r.relation for r in requests]
            keys = [d for d in read_definitions(cursor, [], relations) if d.kind == "f"]
            for key in keys:
                cursor.execute(key.drop_sql)
        results = [self._write(job) for job in jobs]
        with self.connection.cursor() as cursor:
            for key in keys:
                cursor.execute(key.add_sql(validated=False))  # NOT VALID stays so
                for mark in key.marks_sql():
                    cursor.execute(mark)
        return results

    def _statement(self, cursor: psycopg.Cursor[Any], sql: str, jobs: list[Job]) -> list[int]:
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
        job: Job,
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


def _refers_across_parts(job: Job, plan: LoadPlan) -> bool:
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


__all__ = ["Job", "Writer", "jobs_of"]
