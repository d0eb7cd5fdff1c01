"""The rebuild strategy: load empty tables the way ``pg_restore`` does, in the load's transaction.

For every table that is empty when the load starts (``strategy="auto"``, the
default, in ``insert`` mode), the writer, inside the load's one transaction:

1. locks it ``ACCESS EXCLUSIVE`` (:mod:`seedbed.loading.locks`), together with
   the tables whose foreign keys point at it, and checks they are still empty;
2. reads every definition from the catalog (``pg_get_constraintdef``,
   ``pg_get_indexdef``): primary key, unique, exclusion, CHECK and foreign-key
   constraints, including foreign keys of other tables that point at it, and
   every other index (partial and expression ones too), with what a drop
   loses besides (comments, tablespaces, a key's storage parameters, the
   cluster and replica-identity marks, statistics targets; see
   :mod:`seedbed.loading.catalog`);
3. drops them and ``TRUNCATE`` s the table (it is empty: this only gives it a
   new file, which lets ``COPY ... FREEZE`` write rows already frozen, so no
   later VACUUM has to rewrite every page to freeze them or set hint bits);
4. after the COPY, rebuilds them under the same names and definitions: the
   CHECKs first (all of a table's CHECKs in one ``ALTER TABLE``, so one
   validating scan), then the primary key, unique constraints and indexes
   (sorted index builds, with ``maintenance_work_mem`` sized to the data and
   the machine, see :func:`maintenance_work_mem_mb`; each in its own
   tablespace), then the foreign keys (each validated by one join: a merge
   join of two indexes when the table has one on the key, see
   :meth:`Rebuild._merge_join`). Every
   loaded row is checked: a constraint that was ``NOT VALID`` is added
   validated first, then put back ``NOT VALID`` as it was. Then the comments,
   marks and statistics targets, and ``ANALYZE``.

If anything fails the transaction rolls back, and with it the drops: catalog
and data are exactly as before. A row that only the database refuses is found
by a rebuild step; the step runs under a savepoint, so the offending row can
be looked up afterwards (a duplicate by a window over the index's key, a CHECK
by ``NOT (expr)``, a foreign key by an anti-join) and mapped to its file and
physical line: rows are copied into the fresh file in source order, so the
number of rows before its ``ctid`` is its position in the source.

Foreign keys to parents outside the rebuilt set stay in place during the COPY
(checked row by row, as in the incremental path): dropping one would lock the
parent ``ACCESS EXCLUSIVE``, and validation reads that parent meanwhile.

Freezing is kept (it saves the first VACUUM's rewrite); parallel index
builds are left to the server's ``max_parallel_maintenance_workers``; the
CHECK scan runs first, on one core, while validation still uses the other,
and the index builds come after it. Why, with the measurements: the records
under ``docs/decisions/`` (``rebuild-strategy``, ``checks-before-index-builds``,
``parallel-index-builds``, ``rebuild-database-work``).

On Citus tables (a distributed schema): one CHECK per ``ALTER TABLE`` (Citus
takes one ``ADD CONSTRAINT`` per statement), no ``FREEZE`` (Citus drops it for
the shards), the ``SET LOCAL`` s sent to the workers, and ``auto`` rebuilds only
from :data:`~seedbed.loading.plan.CITUS_REBUILD_MIN_BYTES` of sources
(``docs/decisions/2026-12-citus.md``). Which tables are rebuilt is decided
beforehand, by :func:`~seedbed.loading.plan.plan_load`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import psycopg

from seedbed.errors import DatabaseError
from seedbed.loading.catalog import Definition, read_definitions
from seedbed.loading.copy import qualified
from seedbed.loading.locks import ACCESS_EXCLUSIVE
from seedbed.loading.plan import LoadPlan
from seedbed.loading.rebuild_errors import located_error, refusal, refused_step
from seedbed.progress import progress_bar
from seedbed.validation.sources import SeedSource

_BUILD_ORDER = {"c": 0, "p": 1, "u": 2, "x": 2, "i": 2, "f": 3}


def maintenance_work_mem_mb(data_bytes: int, memory_bytes: int | None = None) -> int:
    """``maintenance_work_mem`` for rebuilding indexes over ``data_bytes`` of table data.

    A sorted index build needs about the key data in memory to sort it in one
    pass; the key data is at most the table's size. So: the largest table's
    size plus a margin, at least 64 MB (the server's default), at most an
    eighth of this machine's memory and 2 GB (several loads may run at once,
    and the server may share the machine).
    """
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            memory_bytes = 2 << 30
    wanted = data_bytes * 5 // 4 + (16 << 20)
    cap = min(2 << 30, memory_bytes // 8)
    return max(64, min(wanted, cap) >> 20)


class Rebuild:
    """Drops and rebuilds the definitions of ``plan.rebuilt`` on the writer's connection."""

    def __init__(
        self, connection: psycopg.Connection[Any], plan: LoadPlan, progress: bool = False
    ) -> None:
        self.connection = connection
        self.plan = plan
        self.progress = progress
        self.definitions: list[Definition] = []
        self.seconds = 0.0
        self.hashjoin = "on"  # the transaction's enable_hashjoin, put back after a merge join

    @property
    def relations(self) -> list[str]:
        return [qualified(t) for t in self.plan.rebuilt]

    def prepare(self) -> None:
        """Under the locks: check the tables are still empty, read, drop, truncate."""
        started = time.perf_counter()
        locked = [lock.relation for lock in self.plan.locks if lock.mode == ACCESS_EXCLUSIVE]
        with self.connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(f"(SELECT {i} FROM {r} LIMIT 1)" for i, r in enumerate(locked))
            )
            filled = [locked[int(row[0])] for row in cursor.fetchall()]
            if filled:
                raise DatabaseError(
                    f"{filled[0]} received rows from another session while this load started; "
                    "nothing was written: run the load again"
                )
            self.definitions = read_definitions(cursor, self.relations, locked)
            for definition in dropping_order(self.definitions):
                with refusal([definition], "dropping"):
                    cursor.execute(definition.drop_sql)
            with refusal(f"emptying {', '.join(t.name for t in self.plan.rebuilt)}"):
                cursor.execute(f"TRUNCATE {', '.join(self.relations)}")
        self.seconds += time.perf_counter() - started

    def restore(self, targets: Mapping[str, SeedSource]) -> None:
        """After the COPY: CHECKs, then keys and indexes, then foreign keys, then statistics."""
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(max(pg_table_size(r)), 0) FROM unnest(%s::regclass[]) AS r",
                (self.relations,),
            )
            row = cursor.fetchone()
            megabytes = maintenance_work_mem_mb(int(row[0]) if row else 0)
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{megabytes}MB'")
            steps = self._steps()
            cursor.execute(
                "SELECT current_setting('default_tablespace'), current_setting('enable_hashjoin')"
            )
            row = cursor.fetchone()
            default_tablespace, self.hashjoin = (str(row[0]), str(row[1])) if row else ("", "on")
            bar = progress_bar(self.progress, description="rebuild", total=len(steps), unit="steps")
            try:
                for step in steps:
                    self._run(cursor, step, targets)
                    bar.update(1)
            finally:
                bar.close()
            cursor.execute(
                "SELECT set_config('default_tablespace', %s, true)", (default_tablespace,)
            )
            for definition in self.definitions:
                with refusal([definition], "restoring the comments and marks of"):
                    for statement in definition.marks_sql():
                        cursor.execute(statement)
            with refusal(f"analyzing {', '.join(t.name for t in self.plan.rebuilt)}"):
                cursor.execute(f"ANALYZE {', '.join(self.relations)}")
        self.seconds += time.perf_counter() - started

    def _steps(self) -> list[list[Definition]]:
        return rebuild_steps(self.definitions, together=self.plan.citus is None)

    def _run(
        self, cursor: psycopg.Cursor[Any], step: list[Definition], targets: Mapping[str, SeedSource]
    ) -> None:
        """One step under a savepoint; a row it refuses is located by file and line.

        An index goes back into its own tablespace (``pg_get_indexdef`` leaves
        it out): ``default_tablespace`` is set for the step, as ``pg_restore``
        does. A ``NOT VALID`` constraint is first added validated, so that
        every loaded row is checked against it (as a COPY into the table with
        the constraint in place would check it), then added back ``NOT
        VALID``, as it was.
        """
        cursor.execute("SELECT set_config('default_tablespace', %s, true)", (step[0].tablespace,))
        merge = self._merge_join(cursor, step)
        cursor.execute("SAVEPOINT seedbed_rebuild")
        try:
            if merge:  # rolled back with the savepoint, else put back after the step
                cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute(step_sql(step, validated=True))
        except psycopg.Error as exc:
            if not (exc.sqlstate or "").startswith("23"):
                raise refused_step(exc, step) from None
            cursor.execute("ROLLBACK TO SAVEPOINT seedbed_rebuild")
            failed = next((d for d in step if d.name == exc.diag.constraint_name), step[0])
            raise located_error(cursor, exc, failed, targets) from None
        if any(d.not_valid for d in step):
            cursor.execute("ROLLBACK TO SAVEPOINT seedbed_rebuild")
            with refusal(step):
                cursor.execute(step_sql(step, validated=False))
        cursor.execute("RELEASE SAVEPOINT seedbed_rebuild")
        if merge:
            cursor.execute("SELECT set_config('enable_hashjoin', %s, true)", (self.hashjoin,))

    def _merge_join(self, cursor: psycopg.Cursor[Any], step: list[Definition]) -> bool:
        """Validate this foreign key by a merge join of two indexes rather than a hash join?

        PostgreSQL validates a foreign key it adds with one anti-join of the
        table against its parent. Unprompted it hashes the parent's keys; when
        the table has a btree index whose leading columns are the key's
        columns (built by now), walking it in step with the parent's key
        index (both index-only: COPY ``FREEZE`` marked every page all-visible)
        is much cheaper (``docs/decisions/2026-12-05-rebuild-database-work.md``).
        Not on Citus, where the workers plan it.
        """
        first = step[0]
        if first.kind != "f" or len(step) > 1 or self.plan.citus is not None:
            return False
        cursor.execute(_LEADING_INDEX, {"rel": first.relation, "keys": sorted(first.keys)})
        row = cursor.fetchone()
        return bool(row and row[0])


# Is there a valid, whole-table btree index on the relation whose leading key columns are
# exactly these (quoted) columns, in any order?
_LEADING_INDEX = """
SELECT EXISTS (
    SELECT FROM pg_index AS i
    JOIN pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_am AS am ON am.oid = ic.relam
    WHERE i.indrelid = %(rel)s::regclass AND am.amname = 'btree' AND i.indisvalid
      AND i.indpred IS NULL AND i.indnkeyatts >= cardinality(%(keys)s::text[])
      AND ARRAY(SELECT quote_ident(a.attname)::text COLLATE "C"
                FROM unnest((i.indkey::int2[])[0:cardinality(%(keys)s::text[]) - 1]) AS k(n)
                JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.n
                ORDER BY 1) = %(keys)s::text[]
)
"""


def dropping_order(definitions: list[Definition]) -> list[Definition]:
    """Foreign keys first, CHECKs last: the reverse of the order they are built in."""
    return sorted(definitions, key=lambda d: -_BUILD_ORDER[d.kind])


def rebuild_steps(definitions: list[Definition], together: bool) -> list[list[Definition]]:
    """The rebuild's statements, in order: one per index and foreign key; one per table for
    all its CHECKs (one validating scan), unless not ``together`` (Citus takes one ``ADD
    CONSTRAINT`` per ``ALTER TABLE``: there, one per CHECK)."""
    ordered = sorted(definitions, key=lambda d: _BUILD_ORDER[d.kind])
    steps: list[list[Definition]] = []
    for definition in ordered:
        last = steps[-1] if steps else []
        same_table = bool(last) and last[0].relation == definition.relation
        if together and definition.kind == "c" and same_table and last[0].kind == "c":
            last.append(definition)
            continue
        steps.append([definition])
    return steps


def step_sql(step: list[Definition], validated: bool) -> str:
    """One index or constraint; or all of a table's CHECKs in one ``ALTER TABLE`` (one scan)."""
    if len(step) == 1:
        return step[0].add_sql(validated)
    adds = ", ".join(f"ADD CONSTRAINT {d.constraint_sql(validated)}" for d in step)
    return f"ALTER TABLE {step[0].relation} {adds}"
