"""The rebuild strategy: load empty tables the way ``pg_restore`` does, in the load's transaction.

For every table that is empty when the load starts (``strategy="auto"``, the
default, in ``insert`` mode), the writer, inside the load's one transaction:

1. locks it ``ACCESS EXCLUSIVE`` (:mod:`seedbed.loading.locks`), together with
   the tables whose foreign keys point at it, and checks they are still empty;
2. reads every definition from the catalog (``pg_get_constraintdef``,
   ``pg_get_indexdef``): primary key, unique, exclusion, CHECK and foreign-key
   constraints, including foreign keys of other tables that point at it, and
   every other index (partial and expression ones too), with their comments;
3. drops them and ``TRUNCATE`` s the table (it is empty: this only gives it a
   new file, which lets ``COPY ... FREEZE`` write rows already frozen, so no
   later VACUUM has to rewrite every page to freeze them or set hint bits);
4. after the COPY, rebuilds them under the same names and definitions:
   primary key, unique constraints and indexes first (sorted index builds, with
   ``maintenance_work_mem`` sized to the data and the machine, see
   :func:`maintenance_work_mem_mb`), then the CHECKs (all of a table's CHECKs in
   one ``ALTER TABLE``, so one validating scan), then the foreign keys (each
   validated by one join). Nothing is ever left ``NOT VALID``. Then ``ANALYZE``.

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

What was measured, and kept or not, is in the README's Performance section:
freezing is kept (no cost at load, it saves the first VACUUM's rewrite);
parallel index builds are left to the server's ``max_parallel_maintenance_workers``;
CHECKs are validated after the index builds (either order costs the same
scan, and a duplicate key is the likelier error to report first).
"""

from __future__ import annotations

import enum
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Engine

from seedbed.errors import DatabaseError, LoadError, SeedError
from seedbed.loading.copy import qualified, quote_ident
from seedbed.loading.failures import REDACTED, Target, nth_record_line
from seedbed.loading.locks import (
    ACCESS_EXCLUSIVE,
    ACCESS_SHARE,
    ROW_EXCLUSIVE,
    LockRequest,
    lock_tables,
)
from seedbed.loading.modes import LoadMode
from seedbed.loading.progress import progress_bar

_KEY_DETAIL = re.compile(r"^Key \((?P<columns>.+?)\)=\((?P<values>.*)\) (?:is duplicated|is not)")
# A relation's name quoted as :func:`seedbed.loading.copy.qualified` quotes it.
_QUOTED = "'\"' || replace({ns}, '\"', '\"\"') || '\".\"' || replace({rel}, '\"', '\"\"') || '\"'"
_BUILD_ORDER = {"p": 0, "u": 1, "x": 1, "i": 1, "c": 2, "f": 3}


class Strategy(enum.StrEnum):
    """How a table is written: ``rebuild`` (empty tables), ``incremental``, or ``auto``."""

    AUTO = "auto"
    REBUILD = "rebuild"
    INCREMENTAL = "incremental"

    @classmethod
    def parse(cls, value: str | Strategy) -> Strategy:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise SeedError(f"unknown load strategy {value!r}: use one of {choices}") from None


@dataclass(frozen=True)
class LoadPlan:
    """What the writer does per table, decided before it starts.

    ``strategies`` maps each loaded table to ``rebuild`` or ``incremental``;
    ``locks`` lists every lock to take, in order; ``empty`` names the tables
    locked ``ACCESS EXCLUSIVE`` (empty, so validation must not read them);
    ``non_empty`` the loaded tables that hold rows.
    """

    strategies: Mapping[str, Strategy]
    locks: tuple[LockRequest, ...]
    empty: frozenset[str]
    non_empty: frozenset[str]
    rebuilt: tuple[sa.Table, ...]

    def strategy(self, table: str) -> Strategy:
        return self.strategies.get(table, Strategy.INCREMENTAL)

    def lock(self, table: str) -> LockRequest:
        """The lock to take on loaded ``table``."""
        return next(request for request in self.locks if request.name == table)


def plan_load(
    engine: Engine,
    tables: Sequence[sa.Table],
    strategy: Strategy,
    mode: LoadMode,
    timeout: float,
) -> LoadPlan:
    """Decide each table's strategy; ``tables`` are in load (foreign-key) order.

    ``auto`` rebuilds a table in ``insert`` mode when it and every table whose
    foreign keys point at it are empty; ``rebuild`` insists (a table that
    cannot be rebuilt is a :class:`~seedbed.errors.SeedError`). Looking for
    rows waits, with a message, for another load that holds a table locked
    (at most ``timeout`` seconds, as :func:`~seedbed.loading.locks.lock_tables`).
    """
    relations = [qualified(t) for t in tables]
    names = dict(zip(relations, (t.name for t in tables), strict=True))
    try:
        with engine.connect() as conn:
            children = _referencing(conn, relations)
            kids = sorted({c for cs in children.values() for c in cs} - set(relations))
            probed = [*relations, *kids]
            reads = [LockRequest(r, names.get(r, r), ACCESS_SHARE) for r in probed]
            driver = conn.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            lock_tables(driver, reads, timeout)
            filled = _non_empty(conn, probed)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise DatabaseError(f"cannot read the tables to load: {reason}") from None
    strategies: dict[str, Strategy] = {}
    for table, relation in zip(tables, relations, strict=True):
        why_not = _why_not_rebuild(relation, children.get(relation, ()), filled, mode)
        if strategy is Strategy.REBUILD and why_not:
            raise SeedError(f"table {table.name!r} cannot be rebuilt: {why_not}")
        wanted = strategy is not Strategy.INCREMENTAL and not why_not
        strategies[table.name] = Strategy.REBUILD if wanted else Strategy.INCREMENTAL
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
    )


def _why_not_rebuild(
    relation: str, children: Sequence[str], filled: set[str], mode: LoadMode
) -> str | None:
    if mode is not LoadMode.INSERT:
        return f"the rebuild strategy is for insert mode, not {mode.value}"
    if relation in filled:
        return "it has rows (rebuild is for empty tables; use auto or incremental)"
    busy = [c for c in children if c in filled and c != relation]
    if busy:
        return f"{busy[0]} has rows that point at it"
    return None


def _referencing(conn: sa.Connection, relations: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each relation, the relations whose foreign keys point at it (quoted, qualified)."""
    rows = conn.exec_driver_sql(
        f"SELECT DISTINCT r.name, {_QUOTED.format(ns='cn.nspname', rel='c.relname')} "
        "FROM unnest(%(rels)s::text[]) AS r(name) "
        "JOIN pg_constraint AS k ON k.confrelid = r.name::regclass AND k.contype = 'f' "
        "JOIN pg_class AS c ON c.oid = k.conrelid "
        "JOIN pg_namespace AS cn ON cn.oid = c.relnamespace",
        {"rels": list(relations)},
    ).all()
    found: dict[str, list[str]] = {}
    for parent, child in rows:
        found.setdefault(str(parent), []).append(str(child))
    return {parent: tuple(sorted(kids)) for parent, kids in found.items()}


def _non_empty(conn: sa.Connection, relations: Sequence[str]) -> set[str]:
    if not relations:
        return set()
    probes = " UNION ALL ".join(
        f"SELECT {i} FROM (SELECT 1 FROM {r} LIMIT 1) AS t{i}" for i, r in enumerate(relations)
    )
    return {relations[int(row[0])] for row in conn.exec_driver_sql(probes)}


@dataclass(frozen=True)
class Definition:
    """One constraint or index as the catalog defines it, with what locating an error needs."""

    kind: str  # pg_constraint.contype (p, u, x, c, f), or "i" for an index
    name: str
    relation: str  # quoted, qualified table it belongs to
    table: str
    definition: str  # pg_get_constraintdef / pg_get_indexdef
    comment: str | None
    index_comment: str | None  # the comment on a constraint's index
    keys: tuple[str, ...]  # index key columns or expressions; foreign-key columns
    predicate: str | None  # a partial index's WHERE; a CHECK's expression
    parent: str | None  # a foreign key's referenced relation
    parent_keys: tuple[str, ...]

    @property
    def create_sql(self) -> str:
        if self.kind == "i":
            return self.definition
        name = quote_ident(self.name)
        return f"ALTER TABLE {self.relation} ADD CONSTRAINT {name} {self.definition}"

    @property
    def drop_sql(self) -> str:
        if self.kind == "i":
            return f"DROP INDEX {self.relation.rsplit('.', 1)[0]}.{quote_ident(self.name)}"
        return f"ALTER TABLE {self.relation} DROP CONSTRAINT {quote_ident(self.name)}"

    def comment_sql(self) -> list[sql.Composed]:
        schema = self.relation.rsplit(".", 1)[0]
        statements = []
        if self.comment is not None:
            on = (
                f"INDEX {schema}.{quote_ident(self.name)}"
                if self.kind == "i"
                else f"CONSTRAINT {quote_ident(self.name)} ON {self.relation}"
            )
            statements.append(sql.SQL(f"COMMENT ON {on} IS {{}}").format(self.comment))
        if self.index_comment is not None:
            on = f"INDEX {schema}.{quote_ident(self.name)}"
            statements.append(sql.SQL(f"COMMENT ON {on} IS {{}}").format(self.index_comment))
        return statements


_KEY_NAMES = (
    "ARRAY(SELECT pg_get_indexdef({index}, g, false) FROM generate_series(1, "
    "(SELECT indnkeyatts FROM pg_index WHERE indexrelid = {index})) AS g ORDER BY g)"
)
_ATTNAMES = (
    "ARRAY(SELECT quote_ident(a.attname) FROM unnest({keys}) WITH ORDINALITY AS o(n, i) "
    "JOIN pg_attribute AS a ON a.attrelid = {rel} AND a.attnum = o.n ORDER BY o.i)"
)
_CONSTRAINTS = f"""
SELECT k.contype, k.conname, k.conrelid::regclass::text, t.relname, pg_get_constraintdef(k.oid),
       obj_description(k.oid, 'pg_constraint'),
       CASE WHEN k.contype IN ('p', 'u', 'x') THEN obj_description(k.conindid, 'pg_class') END,
       CASE WHEN k.contype = 'f' THEN {_ATTNAMES.format(keys="k.conkey", rel="k.conrelid")}
            WHEN k.contype IN ('p', 'u', 'x') THEN {_KEY_NAMES.format(index="k.conindid")}
            ELSE ARRAY[]::text[] END,
       CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid)
            WHEN k.contype IN ('p', 'u', 'x')
            THEN (SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = k.conindid)
            END,
       CASE WHEN k.contype = 'f' THEN k.confrelid::regclass::text END,
       CASE WHEN k.contype = 'f' THEN {_ATTNAMES.format(keys="k.confkey", rel="k.confrelid")}
            ELSE ARRAY[]::text[] END
FROM pg_constraint AS k JOIN pg_class AS t ON t.oid = k.conrelid
WHERE (k.contype IN ('p', 'u', 'x', 'c') AND k.conrelid = ANY(%(rebuilt)s::regclass[]))
   OR (k.contype = 'f' AND k.conrelid = ANY(%(locked)s::regclass[])
       AND k.confrelid = ANY(%(locked)s::regclass[]))
ORDER BY k.conrelid, k.conname
"""
_INDEXES = f"""
SELECT 'i', c.relname, i.indrelid::regclass::text, t.relname, pg_get_indexdef(i.indexrelid),
       obj_description(i.indexrelid, 'pg_class'), NULL,
       {_KEY_NAMES.format(index="i.indexrelid")}, pg_get_expr(i.indpred, i.indrelid),
       NULL, ARRAY[]::text[]
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
WHERE i.indrelid = ANY(%(rebuilt)s::regclass[]) AND NOT EXISTS (
    SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
    AND k.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, c.relname
"""


def read_definitions(
    cursor: psycopg.Cursor[Any], rebuilt: Sequence[str], locked: Sequence[str]
) -> list[Definition]:
    """Every constraint and index of ``rebuilt``, and the foreign keys among ``locked``.

    Read with ``search_path`` set to ``pg_catalog`` alone, so every name in a
    definition comes out schema-qualified and means the same when re-run.
    """
    cursor.execute("SELECT current_setting('search_path')")
    row = cursor.fetchone()
    saved = str(row[0]) if row else ""
    cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
    params = {"rebuilt": list(rebuilt), "locked": list(locked)}
    found = []
    for query in (_CONSTRAINTS, _INDEXES):
        cursor.execute(query, params)
        for (
            kind,
            name,
            rel,
            table,
            text,
            comment,
            index_comment,
            keys,
            pred,
            parent,
            pkeys,
        ) in cursor:
            found.append(
                Definition(
                    kind,
                    name,
                    rel,
                    table,
                    text,
                    comment,
                    index_comment,
                    tuple(keys),
                    pred,
                    parent,
                    tuple(pkeys),
                )
            )
    cursor.execute("SELECT set_config('search_path', %s, true)", (saved,))
    return found


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
                cursor.execute(definition.drop_sql)
            cursor.execute(f"TRUNCATE {', '.join(self.relations)}")
        self.seconds += time.perf_counter() - started

    def restore(self, targets: Mapping[str, Target]) -> None:
        """After the COPY: indexes, then CHECKs, then foreign keys, then statistics."""
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
            bar = progress_bar(self.progress, description="rebuild", total=len(steps), unit="steps")
            try:
                for step in steps:
                    self._run(cursor, step, targets)
                    bar.update(1)
            finally:
                bar.close()
            for definition in self.definitions:
                for statement in definition.comment_sql():
                    cursor.execute(statement)
            cursor.execute(f"ANALYZE {', '.join(self.relations)}")
        self.seconds += time.perf_counter() - started

    def _steps(self) -> list[list[Definition]]:
        """One statement per index and foreign key; one per table for all its CHECKs."""
        ordered = sorted(self.definitions, key=lambda d: _BUILD_ORDER[d.kind])
        steps: list[list[Definition]] = []
        for definition in ordered:
            last = steps[-1] if steps else []
            same_table = bool(last) and last[0].relation == definition.relation
            if definition.kind == "c" and same_table and last[0].kind == "c":
                last.append(definition)
                continue
            steps.append([definition])
        return steps

    def _run(
        self, cursor: psycopg.Cursor[Any], step: list[Definition], targets: Mapping[str, Target]
    ) -> None:
        if len(step) == 1:
            sql = step[0].create_sql
        else:
            adds = ", ".join(f"ADD CONSTRAINT {quote_ident(d.name)} {d.definition}" for d in step)
            sql = f"ALTER TABLE {step[0].relation} {adds}"
        cursor.execute("SAVEPOINT seedbed_rebuild")
        try:
            cursor.execute(sql)
        except psycopg.Error as exc:
            if not (exc.sqlstate or "").startswith("23"):
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT seedbed_rebuild")
            failed = next((d for d in step if d.name == exc.diag.constraint_name), step[0])
            raise located_error(cursor, exc, failed, targets) from None
        cursor.execute("RELEASE SAVEPOINT seedbed_rebuild")


def _offending_row_sql(definition: Definition) -> str | None:
    """A query for the ``ctid`` of the first row (in source order) that breaks ``definition``."""
    rel = definition.relation
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
    cursor: psycopg.Cursor[Any], definition: Definition, target: Target
) -> int | None:
    """The line (CSV) or row (other sources) of the first row that breaks ``definition``."""
    sql = _offending_row_sql(definition)
    if sql is None:
        return None
    cursor.execute("SET LOCAL search_path = pg_catalog")
    cursor.execute(sql)
    row = cursor.fetchone()
    if row is None:
        return None
    cursor.execute(f"SELECT count(*) FROM {definition.relation} WHERE ctid < %s::tid", (row[0],))
    counted = cursor.fetchone()
    index = int(counted[0]) if counted else 0
    if target.frame is None and target.path is not None and target.path.suffix.lower() == ".csv":
        return nth_record_line(target.path, index)
    return index


def located_error(
    cursor: psycopg.Cursor[Any],
    exc: psycopg.Error,
    definition: Definition,
    targets: Mapping[str, Target],
) -> LoadError:
    """A :class:`LoadError` naming file, line and constraint for a failed rebuild step."""
    target = targets.get(definition.table)
    line = _source_position(cursor, definition, target) if target else None
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
    else:
        problem = f"duplicate {detail or 'key'} violates unique {definition.name!r}"
    label = target.label if target else definition.table
    place = label
    if line is not None and target is not None:
        is_csv = target.frame is None and target.path is not None
        is_csv = is_csv and str(target.path).lower().endswith(".csv")
        place += f", line {line}" if is_csv else f", row {line}"
    return LoadError(
        f"{place}: table {definition.table!r}: {problem} (found while rebuilding; nothing was "
        "written)",
        table=definition.table,
        file=target.label if target else None,
        line=line,
        constraint=definition.name,
    )
