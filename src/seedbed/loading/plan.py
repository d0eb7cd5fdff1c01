"""The load's plan: which tables are rebuilt and which written incrementally, and the locks.

:func:`plan_load` looks at the tables before the writer starts (their rows,
the tables whose foreign keys point at them, triggers and publications that
would see a ``TRUNCATE``, partitions, Citus) and returns a :class:`LoadPlan`:
each table's strategy, every lock to take in order, and, for an empty table
that ``auto`` writes incrementally all the same, why. The rebuild itself is
:mod:`seedbed.loading.rebuild`.

On Citus tables (a distributed schema) ``auto`` rebuilds only from
:data:`CITUS_REBUILD_MIN_BYTES` of sources (``docs/decisions/2026-12-citus.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from seedbed.citus import PROPAGATE_SETTINGS_SQL, Citus, citus_of
from seedbed.db import Database, database_errors, database_of
from seedbed.errors import DatabaseError, SeedError
from seedbed.facts import table_order
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
from seedbed.loadmode import LoadMode, Strategy, spoken
from seedbed.sqltext import quoted_in_sql

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

#: A connection the plan reads the catalog on.
_Connection = psycopg.Connection[Any]

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
    locked ``ACCESS EXCLUSIVE`` (empty, so validation must not read them): the
    rebuilt ones and the model's tables whose foreign keys point at them;
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
    together: tuple[tuple[str, ...], ...] = ()
    """Tables written incrementally whose foreign keys form a cycle (``team.owner_id ->
    person``, ``person.team_id -> team``), in load order: each group is written by one
    statement, at the end of which PostgreSQL checks the keys, so their new rows may
    reference each other. (A rebuilt cycle needs none: its keys are added back after
    every COPY.)"""

    def written_with(self, table: str) -> tuple[str, ...]:
        """The loaded tables written in one statement with ``table`` (itself included)."""
        return next((group for group in self.together if table in group), (table,))

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
    bind: Database | Engine,
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
    ``bind`` is the database (an engine: through its pool).
    """
    database = database_of(bind)
    relations = [qualified(t) for t in tables]
    names = dict(zip(relations, (t.name for t in tables), strict=True))
    failed = database_errors("cannot read the tables to load")
    with failed, database.connect() as conn:
        on_citus = citus_of(database, conn)
        if on_citus is not None:  # the probes' lock_timeout holds on the workers
            conn.execute(PROPAGATE_SETTINGS_SQL)
        children = _referencing(conn, relations)
        kids = sorted({c for cs in children.values() for c in cs} - set(relations))
        probed = [*relations, *kids]
        reads = [LockRequest(r, names.get(r, r), ACCESS_SHARE) for r in probed]
        lock_tables(conn, reads, timeout)
        filled = _non_empty(conn, probed, timeout)
        observed = _truncate_observed(conn, relations)
        partitioned = _partitioned(conn, probed)
        citus = on_citus if on_citus is not None and _distributed(conn, relations) else None
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
    together = _cycles_written_together(tables, strategies)
    # A child of a rebuilt table is locked too, and empty: validation, which may look up a
    # foreign key's parent there, must not wait for the writer's lock.
    model = {qualified(t): t.name for t in tables[0].metadata.tables.values()} if tables else {}
    return LoadPlan(
        strategies=strategies,
        locks=tuple(locks),
        empty=frozenset(t.name for t in rebuilt) | {model[r] for r in extra if r in model},
        non_empty=frozenset(t.name for t, r in zip(tables, relations, strict=True) if r in filled),
        rebuilt=rebuilt,
        notes=notes,
        citus=citus,
        note=note,
        together=together,
    )


def _cycles_written_together(
    tables: Sequence[sa.Table], strategies: Mapping[str, Strategy]
) -> tuple[tuple[str, ...], ...]:
    """The groups of two or more loaded, incrementally written tables of one cycle."""
    if not tables:
        return ()
    groups = []
    for cycle in table_order(tables[0].metadata).cycles:
        members = {t.name for t in cycle}
        group = tuple(
            t.name
            for t in tables
            if t.name in members and strategies[t.name] is Strategy.INCREMENTAL
        )
        if len(group) > 1:
            groups.append(group)
    return tuple(groups)


def _distributed(conn: _Connection, relations: Sequence[str]) -> bool:
    """Is any of ``relations`` a Citus table (its rows on workers, its DDL distributed)?
    (Asked on a Citus coordinator only.)"""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_dist_partition "
        "WHERE logicalrelid = ANY(%(rels)s::regclass[]))",
        {"rels": list(relations)},
    ).fetchone()
    return bool(row and row[0])


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


def _truncate_observed(conn: _Connection, relations: Sequence[str]) -> dict[str, str]:
    """Why emptying a relation with ``TRUNCATE`` would be seen outside the load, if it would.

    A rebuild truncates the (empty) table. That fires its ``ON TRUNCATE``
    triggers, and a publication that publishes truncates sends it to every
    subscriber, which then empties its own copy, rows and all. Such a table
    keeps the incremental path.
    """
    rows = conn.execute(
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
    ).fetchall()
    found: dict[str, str] = {}
    for relation, reason in rows:
        found.setdefault(str(relation), f"emptying it would be seen outside the load: {reason}")
    return found


def _partitioned(conn: _Connection, relations: Sequence[str]) -> dict[str, str]:
    """Why a partitioned relation is not rebuilt.

    COPY into a partitioned table routes each row to its partition: it cannot
    write rows frozen, a row is not found by its position in the table's
    file, and an index rebuilt on the table alone would not reach its
    partitions. Such a table keeps the incremental path.
    """
    rows = conn.execute(
        "SELECT r.name FROM unnest(%(rels)s::text[]) AS r(name) "
        "JOIN pg_class AS c ON c.oid = r.name::regclass WHERE c.relkind = 'p'",
        {"rels": list(relations)},
    ).fetchall()
    why = "it is partitioned (COPY routes its rows to the partitions)"
    return {str(relation): why for (relation,) in rows}


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


def _referencing(conn: _Connection, relations: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each relation, the relations whose foreign keys point at it (quoted, qualified)."""
    referencing = f"{quoted_in_sql('cn.nspname')} || '.' || {quoted_in_sql('c.relname')}"
    rows = conn.execute(
        f"SELECT DISTINCT r.name, {referencing} "
        "FROM unnest(%(rels)s::text[]) AS r(name) "
        # A partition's copy of its table's key (conparentid) comes and goes with it.
        "JOIN pg_constraint AS k ON k.confrelid = r.name::regclass AND k.contype = 'f' "
        "AND k.conparentid = 0 "
        "JOIN pg_class AS c ON c.oid = k.conrelid "
        "JOIN pg_namespace AS cn ON cn.oid = c.relnamespace",
        {"rels": list(relations)},
    ).fetchall()
    found: dict[str, list[str]] = {}
    for parent, child in rows:
        found.setdefault(str(parent), []).append(str(child))
    return {parent: tuple(sorted(kids)) for parent, kids in found.items()}


def _non_empty(conn: _Connection, relations: Sequence[str], timeout: float) -> set[str]:
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
        return {relations[int(row[0])] for row in conn.execute(probes).fetchall()}
    except psycopg.Error as exc:
        if exc.sqlstate != LOCK_NOT_AVAILABLE:
            raise
        raise DatabaseError(
            f"gave up waiting for a table lock held on a worker after {timeout:g} s while "
            f"looking for rows to load; nothing was written (set {LOCK_TIMEOUT_VARIABLE} to "
            "wait longer)"
        ) from None
