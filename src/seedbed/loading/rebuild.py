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
   tablespace), then the foreign keys (each validated by one join). Every
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
``parallel-index-builds``).

On Citus tables (a distributed schema): one CHECK per ``ALTER TABLE`` (Citus
takes one ``ADD CONSTRAINT`` per statement), no ``FREEZE`` (Citus drops it for
the shards), the ``SET LOCAL`` s sent to the workers, and ``auto`` rebuilds only
from :data:`CITUS_REBUILD_MIN_BYTES` of sources (``docs/decisions/2026-12-citus.md``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.citus import Citus, citus_of, propagate_settings
from seedbed.db import database_errors
from seedbed.errors import DatabaseError, SeedError
from seedbed.loading.catalog import Definition, read_definitions
from seedbed.loading.copy import qualified
from seedbed.loading.locks import (
    ACCESS_EXCLUSIVE,
    ACCESS_SHARE,
    LOCK_NOT_AVAILABLE,
    LOCK_TIMEOUT_VARIABLE,
    ROW_EXCLUSIVE,
    LockRequest,
    lock_tables,
)
from seedbed.loading.rebuild_errors import located_error, refusal, refused_step
from seedbed.loadmode import LoadMode, Strategy, spoken
from seedbed.progress import progress_bar
from seedbed.sqltext import quoted_in_sql
from seedbed.validation.sources import SeedSource

_BUILD_ORDER = {"c": 0, "p": 1, "u": 2, "x": 2, "i": 2, "f": 3}

CITUS_REBUILD_MIN_BYTES = 32 << 20
"""On Citus, ``auto`` rebuilds only loads whose sources hold at least this much.

Every rebuild step there is a distributed DDL statement, a fixed cost of
about a second for the project's seven tables, which a small load never earns
back (``docs/decisions/2026-12-citus.md``).
"""


@dataclass(frozen=True)
class LoadPlan:
    """What the writer does per table, decided before it starts.

    ``strategies`` maps each loaded table to ``rebuild`` or ``incremental``;
    ``locks`` lists every lock to take, in order; ``empty`` names the tables
    locked ``ACCESS EXCLUSIVE`` (empty, so validation must not read them);
    ``non_empty`` the loaded tables that hold rows; ``notes`` says, for an
    empty table ``auto`` writes incrementally all the same, why.
    """

    strategies: Mapping[str, Strategy]
    locks: tuple[LockRequest, ...]
    empty: frozenset[str]
    non_empty: frozenset[str]
    rebuilt: tuple[sa.Table, ...]
    notes: Mapping[str, str] = field(default_factory=dict)
    citus: Citus | None = None
    """The Citus cluster whose workers hold the tables, if they are Citus tables."""
    note: str = ""
    """Why ``auto`` wrote tables incrementally that it would rebuild elsewhere, if it did."""

    def strategy(self, table: str) -> Strategy:
        return self.strategies.get(table, Strategy.INCREMENTAL)

    def rebuilds(self, table: str) -> bool:
        """Is loaded ``table`` rebuilt (truncated in the load's transaction, so COPY may freeze)?"""
        return self.strategy(table) is Strategy.REBUILD

    def freezes(self, table: str) -> bool:
        """Does COPY write ``table``'s rows frozen? Rebuilt, and not on Citus (which drops it)."""
        return self.rebuilds(table) and self.citus is None

    def lock(self, table: str) -> LockRequest:
        """The lock to take on loaded ``table``."""
        return next(request for request in self.locks if request.name == table)


def plan_load(
    engine: Engine,
    tables: Sequence[sa.Table],
    strategy: Strategy,
    mode: LoadMode,
    timeout: float,
    source_bytes: int | None = None,
) -> LoadPlan:
    """Decide each table's strategy; ``tables`` are in load (foreign-key) order.

    ``auto`` rebuilds a table in ``insert`` mode when it and every table whose
    foreign keys point at it are empty, and no trigger or publication would
    see it truncated (:func:`_truncate_observed`); on Citus, only when the
    sources hold at least :data:`CITUS_REBUILD_MIN_BYTES` (``source_bytes``,
    unknown: rebuild), and the plan's ``note`` says so; ``rebuild`` insists (a
    table that cannot be rebuilt is a :class:`~seedbed.errors.SeedError`). Looking for
    rows waits, with a message, for another load that holds a table locked
    (at most ``timeout`` seconds, as :func:`~seedbed.loading.locks.lock_tables`).
    """
    relations = [qualified(t) for t in tables]
    names = dict(zip(relations, (t.name for t in tables), strict=True))
    failed = database_errors("cannot read the tables to load")
    with failed, engine.connect() as conn:
        propagate_settings(conn)  # on Citus, the probes' lock_timeout holds on the workers
        children = _referencing(conn, relations)
        kids = sorted({c for cs in children.values() for c in cs} - set(relations))
        probed = [*relations, *kids]
        reads = [LockRequest(r, names.get(r, r), ACCESS_SHARE) for r in probed]
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        lock_tables(driver, reads, timeout)
        filled = _non_empty(conn, probed, timeout)
        observed = _truncate_observed(conn, relations)
        partitioned = _partitioned(conn, probed)
        citus = citus_of(conn) if _distributed(conn, relations) else None
    small = (
        citus is not None
        and not strategy.must_rebuild
        and source_bytes is not None
        and source_bytes < CITUS_REBUILD_MIN_BYTES
    )
    note = ""
    strategies: dict[str, Strategy] = {}
    notes: dict[str, str] = {}
    for table, relation in zip(tables, relations, strict=True):
        referencing = children.get(relation, ())
        partitions = partitioned.get(relation) or _partitioned_child(
            relation, referencing, partitioned
        )
        why_not = (
            observed.get(relation)
            or partitions
            or _why_not_rebuild(relation, referencing, filled, mode)
        )
        if strategy.must_rebuild and why_not:
            raise SeedError(f"table {table.name!r} cannot be rebuilt: {why_not}")
        wanted = strategy.may_rebuild and not why_not
        if wanted and small:
            wanted = False
            note = _small_on_citus(source_bytes or 0)
        strategies[table.name] = Strategy.REBUILD if wanted else Strategy.INCREMENTAL
        if strategy.may_rebuild and partitions and mode.can_rebuild and relation not in filled:
            notes[table.name] = f"written incrementally, not rebuilt: {partitions}"
    notes.update(_kept_with_children(tables, relations, children, strategies))
    rebuilt = tuple(t for t in tables if strategies[t.name] is Strategy.REBUILD)
    exclusive = [qualified(t) for t in rebuilt]
    extra = sorted({c for r in exclusive for c in children.get(r, ())} - set(relations))
    locks = [
        LockRequest(r, t.name, ACCESS_EXCLUSIVE if r in exclusive else ROW_EXCLUSIVE)
        for t, r in zip(tables, relations, strict=True)
    ] + [LockRequest(r, r, ACCESS_EXCLUSIVE) for r in extra]
    return LoadPlan(
        strategies=strategies,
        locks=tuple(locks),
        empty=frozenset(t.name for t in rebuilt),
        non_empty=frozenset(t.name for t, r in zip(tables, relations, strict=True) if r in filled),
        rebuilt=rebuilt,
        notes=notes,
        citus=citus,
        note=note,
    )


def _distributed(conn: sa.Connection, relations: Sequence[str]) -> bool:
    """Is any of ``relations`` a Citus table (its rows on workers, its DDL distributed)?"""
    if citus_of(conn) is None:
        return False
    return bool(
        conn.exec_driver_sql(
            "SELECT EXISTS (SELECT FROM pg_dist_partition "
            "WHERE logicalrelid = ANY(%(rels)s::regclass[]))",
            {"rels": list(relations)},
        ).scalar()
    )


def _small_on_citus(source_bytes: int) -> str:
    return (
        f"auto wrote the empty tables incrementally: on Citus the rebuild pays off from about "
        f"{CITUS_REBUILD_MIN_BYTES >> 20} MB of sources, and these hold "
        f"{source_bytes / (1 << 20):.1f} MB (--strategy rebuild insists)"
    )


def _why_not_rebuild(
    relation: str, children: Sequence[str], filled: set[str], mode: LoadMode
) -> str | None:
    if not mode.can_rebuild:
        rebuildable = spoken([m.value for m in LoadMode if m.can_rebuild])
        return f"the rebuild strategy is for {rebuildable} mode, not {mode.value}"
    if relation in filled:
        return "it has rows (rebuild is for empty tables; use auto or incremental)"
    busy = [c for c in children if c in filled and c != relation]
    if busy:
        return f"{busy[0]} has rows that point at it"
    return None


def _truncate_observed(conn: sa.Connection, relations: Sequence[str]) -> dict[str, str]:
    """Why emptying a relation with ``TRUNCATE`` would be seen outside the load, if it would.

    A rebuild truncates the (empty) table. That fires its ``ON TRUNCATE``
    triggers, and a publication that publishes truncates sends it to every
    subscriber, which then empties its own copy, rows and all. Such a table
    keeps the incremental path.
    """
    rows = conn.exec_driver_sql(
        "SELECT r.name, 'its trigger ' || quote_ident(t.tgname) || ' fires on TRUNCATE' "
        "FROM unnest(%(rels)s::text[]) AS r(name) "
        "JOIN pg_trigger AS t ON t.tgrelid = r.name::regclass AND NOT t.tgisinternal "
        "AND t.tgenabled <> 'D' AND t.tgtype & 32 <> 0 "  # TRIGGER_TYPE_TRUNCATE
        "UNION ALL "
        "SELECT r.name, 'publication ' || quote_ident(p.pubname) || ' publishes truncates "
        "to its subscribers' "
        "FROM unnest(%(rels)s::text[]) AS r(name) "
        "JOIN pg_class AS c ON c.oid = r.name::regclass "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_publication_tables AS pt ON pt.schemaname = n.nspname "
        "AND pt.tablename = c.relname "
        "JOIN pg_publication AS p ON p.pubname = pt.pubname AND p.pubtruncate "
        "ORDER BY 1, 2",
        {"rels": list(relations)},
    ).all()
    found: dict[str, str] = {}
    for relation, reason in rows:
        found.setdefault(str(relation), f"emptying it would be seen outside the load: {reason}")
    return found


def _partitioned(conn: sa.Connection, relations: Sequence[str]) -> dict[str, str]:
    """Why a partitioned relation is not rebuilt.

    COPY into a partitioned table routes each row to its partition: it cannot
    write rows frozen, a row is not found by its position in the table's
    file, and an index rebuilt on the table alone would not reach its
    partitions. Such a table keeps the incremental path.
    """
    rows = conn.exec_driver_sql(
        "SELECT r.name FROM unnest(%(rels)s::text[]) AS r(name) "
        "JOIN pg_class AS c ON c.oid = r.name::regclass WHERE c.relkind = 'p'",
        {"rels": list(relations)},
    ).scalars()
    why = "it is partitioned (COPY routes its rows to the partitions)"
    return {str(relation): why for relation in rows}


def _kept_with_children(
    tables: Sequence[sa.Table],
    relations: Sequence[str],
    children: Mapping[str, Sequence[str]],
    strategies: dict[str, Strategy],
) -> dict[str, str]:
    """Write incrementally every table that a loaded, incrementally written table points at.

    A rebuilt table's primary key is dropped, so every key that points at it
    must be dropped first, under an exclusive lock; a table written
    incrementally keeps its keys. Returns why, for each table this changed.
    """
    names = dict(zip(relations, (t.name for t in tables), strict=True))
    notes: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for table, relation in zip(tables, relations, strict=True):
            if strategies[table.name] is not Strategy.REBUILD:
                continue
            kept = [
                c
                for c in children.get(relation, ())
                if c in names and c != relation and strategies[names[c]] is Strategy.INCREMENTAL
            ]
            if kept:
                strategies[table.name] = Strategy.INCREMENTAL
                notes[table.name] = (
                    f"written incrementally, not rebuilt: {kept[0]} points at it "
                    "and is written incrementally"
                )
                changed = True
    return notes


def _partitioned_child(
    relation: str, children: Sequence[str], partitioned: Mapping[str, str]
) -> str | None:
    """Why not, when a partitioned table points at ``relation``: its keys are not rebuilt."""
    found = [c for c in children if c in partitioned and c != relation]
    return f"the partitioned table {found[0]} points at it" if found else None


def _referencing(conn: sa.Connection, relations: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each relation, the relations whose foreign keys point at it (quoted, qualified)."""
    referencing = f"{quoted_in_sql('cn.nspname')} || '.' || {quoted_in_sql('c.relname')}"
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT r.name, {referencing} "
        "FROM unnest(%(rels)s::text[]) AS r(name) "
        # A partition's copy of its table's key (conparentid) comes and goes with it.
        "JOIN pg_constraint AS k ON k.confrelid = r.name::regclass AND k.contype = 'f' "
        "AND k.conparentid = 0 "
        "JOIN pg_class AS c ON c.oid = k.conrelid "
        "JOIN pg_namespace AS cn ON cn.oid = c.relnamespace",
        {"rels": list(relations)},
    ).all()
    found: dict[str, list[str]] = {}
    for parent, child in rows:
        found.setdefault(str(parent), []).append(str(child))
    return {parent: tuple(sorted(kids)) for parent, kids in found.items()}


def _non_empty(conn: sa.Connection, relations: Sequence[str], timeout: float) -> set[str]:
    """The relations that hold rows.

    On Citus the rows are on a worker, where a lock held there (not on the
    coordinator, so :func:`lock_tables` did not see it) can make the probe
    wait: for ``lock_timeout``, which the transaction sends the workers.
    """
    if not relations:
        return set()
    probes = " UNION ALL ".join(
        f"SELECT {i} FROM (SELECT 1 FROM {r} LIMIT 1) AS t{i}" for i, r in enumerate(relations)
    )
    try:
        return {relations[int(row[0])] for row in conn.exec_driver_sql(probes)}
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise DatabaseError(
            f"gave up waiting for a table lock held on a worker after {timeout:g} s while "
            f"looking for rows to load; nothing was written (set {LOCK_TIMEOUT_VARIABLE} to "
            "wait longer)"
        ) from None


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
            for definition in sorted(self.definitions, key=lambda d: -_BUILD_ORDER[d.kind]):
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
            cursor.execute("SELECT current_setting('default_tablespace')")
            row = cursor.fetchone()
            default_tablespace = str(row[0]) if row else ""
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
        """One statement per index and foreign key; one per table for all its CHECKs.

        Citus takes one ``ADD CONSTRAINT`` per ``ALTER TABLE``: there, one per CHECK.
        """
        ordered = sorted(self.definitions, key=lambda d: _BUILD_ORDER[d.kind])
        steps: list[list[Definition]] = []
        together = self.plan.citus is None
        for definition in ordered:
            last = steps[-1] if steps else []
            same_table = bool(last) and last[0].relation == definition.relation
            if together and definition.kind == "c" and same_table and last[0].kind == "c":
                last.append(definition)
                continue
            steps.append([definition])
        return steps

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
        cursor.execute("SAVEPOINT seedbed_rebuild")
        try:
            cursor.execute(_step_sql(step, validated=True))
        except psycopg.Error as exc:
            if not (exc.sqlstate or "").startswith("23"):
                raise refused_step(exc, step) from None
            cursor.execute("ROLLBACK TO SAVEPOINT seedbed_rebuild")
            failed = next((d for d in step if d.name == exc.diag.constraint_name), step[0])
            raise located_error(cursor, exc, failed, targets) from None
        if any(d.not_valid for d in step):
            cursor.execute("ROLLBACK TO SAVEPOINT seedbed_rebuild")
            with refusal(step):
                cursor.execute(_step_sql(step, validated=False))
        cursor.execute("RELEASE SAVEPOINT seedbed_rebuild")


def _step_sql(step: list[Definition], validated: bool) -> str:
    """One index or constraint; or all of a table's CHECKs in one ``ALTER TABLE`` (one scan)."""
    if len(step) == 1:
        return step[0].add_sql(validated)
    adds = ", ".join(f"ADD CONSTRAINT {d.constraint_sql(validated)}" for d in step)
    return f"ALTER TABLE {step[0].relation} {adds}"
