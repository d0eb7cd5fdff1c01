"""Query plans as DataFrames, timing, and with/without-index experiments on scratch copies."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedbed.errors import QueryError
from seedbed.explore import distributed
from seedbed.explore._core import Bind, Params, as_statement, connection, model_table
from seedbed.sqltext import qualified_name, quote_ident

# Plan node keys kept as columns, in EXPLAIN's words on the right.
_NODE_FIELDS = {
    "node_type": "Node Type",
    "operation": "Operation",
    "relation": "Relation Name",
    "index_name": "Index Name",
    "join_type": "Join Type",
    "strategy": "Strategy",
    "plan_rows": "Plan Rows",
    "actual_rows": "Actual Rows",
    "loops": "Actual Loops",
    "actual_startup_ms": "Actual Startup Time",
    "actual_total_ms": "Actual Total Time",
    "total_cost": "Total Cost",
    "shared_hit": "Shared Hit Blocks",
    "shared_read": "Shared Read Blocks",
    "local_hit": "Local Hit Blocks",
    "local_read": "Local Read Blocks",
    "rows_removed_by_filter": "Rows Removed by Filter",
    "index_cond": "Index Cond",
    "filter": "Filter",
    "sort_key": "Sort Key",
}
# Columns a Citus plan adds (see ``plan_frame``).
_CITUS_COLUMNS = ["subplan", "task", "worker", "shard", "task_count", "tasks_shown"]


def explain(
    bind: Bind,
    sql: str | sa.Executable,
    params: Params = None,
    *,
    analyze: bool = True,
    buffers: bool = True,
) -> pd.DataFrame:
    """``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` of ``sql`` as one row per plan node.

    Columns: ``node_id``, ``parent_id``, ``depth``, ``node_type``, ``relation``,
    ``index_name``, ``plan_rows``, ``actual_rows``, ``loops``,
    ``actual_total_ms`` (per loop), ``shared_hit`` / ``shared_read``
    (buffers), ``filter``, ``index_cond`` and a few more. ``attrs`` holds
    ``planning_ms``, ``execution_ms`` and the raw ``plan``. With ``analyze``
    the statement really runs; given an engine, it runs in a transaction that
    is rolled back, so an ``UPDATE`` or ``DELETE`` changes nothing.

    >>> plan = explain(engine, "select * from session where user_id = :u", {"u": uid})
    ...                                                     # doctest: +SKIP
    >>> uses_index(plan, "ix_session_user_id")              # doctest: +SKIP
    True
    """
    options = ["FORMAT JSON"]
    if analyze:
        options.insert(0, "ANALYZE")
    if buffers:
        options.insert(0, "BUFFERS")
    statement = as_statement(sql)
    with connection(bind) as conn:
        # Compiled for the driver, so bound values stay parameters and % stays escaped.
        compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
        values = {**compiled.params, **dict(params or {})}
        explained = f"EXPLAIN ({', '.join(options)}) {compiled}"
        raw = conn.exec_driver_sql(explained, values).scalar_one()
        document = json.loads(raw) if isinstance(raw, str) else raw
        plan = plan_frame(document[0])
        if "worker" in plan:
            distributed.unshard_plan(conn, plan)
    return plan


def plan_frame(document: Mapping[str, Any]) -> pd.DataFrame:
    """One row per node of an EXPLAIN JSON document (the dict holding ``"Plan"``).

    A Citus plan (a distributed schema) has its distributed subplans and the
    plans its workers ran as children of its ``Custom Scan (Citus Adaptive)``
    node, with five more columns: ``subplan`` (its number), ``task`` and
    ``worker`` (``host:port``) for a worker's nodes, and ``task_count`` and
    ``tasks_shown`` on the Citus node (``One of N`` unless every task is shown).
    """
    rows: list[dict[str, Any]] = []

    def walk(
        node: Mapping[str, Any], parent: int | None, depth: int, where: dict[str, Any]
    ) -> None:
        node_id = len(rows)
        row: dict[str, Any] = {"node_id": node_id, "parent_id": parent, "depth": depth}
        row.update({column: node.get(key) for column, key in _NODE_FIELDS.items()})
        if isinstance(row["sort_key"], list):
            row["sort_key"] = ", ".join(row["sort_key"])
        if node.get("Custom Plan Provider"):
            row["node_type"] = f"{row['node_type']} ({node['Custom Plan Provider']})"
        row.update(where)
        row.update(distributed.job_columns(node))
        rows.append(row)
        for child in node.get("Plans", []):
            walk(child, node_id, depth + 1, where)
        for child, placed in distributed.distributed_children(node):
            walk(child, node_id, depth + 1, {**where, **placed})

    walk(document["Plan"], None, 0, {})
    columns = ["node_id", "parent_id", "depth", *_NODE_FIELDS]
    if any("task_count" in row for row in rows):
        columns += _CITUS_COLUMNS
    plan = pd.DataFrame(rows, columns=columns)
    plan["parent_id"] = plan["parent_id"].astype("Int64")
    for column in ("subplan", "task", "shard", "task_count"):
        if column in plan:
            plan[column] = plan[column].astype("Int64")
    plan.attrs["planning_ms"] = document.get("Planning Time")
    plan.attrs["execution_ms"] = document.get("Execution Time")
    plan.attrs["plan"] = dict(document)
    return plan


def uses_index(plan: pd.DataFrame, name: str) -> bool:
    """Whether any node of ``plan`` (from :func:`explain`) reads the index ``name``."""
    return bool((plan["index_name"] == name).any())


def buffers_touched(plan: pd.DataFrame) -> int:
    """Buffers the plan hit or read, shared and local (the root node counts its children).

    For a Citus plan, the coordinator's root and the root of every subplan and
    worker plan shown, each of which counts its own children.
    """
    roots = [0]
    if "worker" in plan:
        # node_id is the row's position; a node in another subplan or task than its parent
        # is the root of what that subplan or worker ran.
        part = [
            f"{subplan}/{task}" for subplan, task in zip(plan["subplan"], plan["task"], strict=True)
        ]
        parents = plan["parent_id"].tolist()
        roots += [
            node
            for node, parent in enumerate(parents)
            if parent is not pd.NA and part[node] != part[parent]
        ]
    fields = ["shared_hit", "shared_read", "local_hit", "local_read"]
    counted = plan.loc[plan["node_id"].isin(roots), fields]
    return int(counted.fillna(0).to_numpy(dtype="int64").sum())


def scan_summary(plan: pd.DataFrame) -> str:
    """The plan's scans in one line, e.g. ``Index Scan using ix_session_user_id on session``."""
    scans = plan[plan["relation"].notna() | plan["index_name"].notna()]
    parts = []
    for row in scans.itertuples():
        using = f" using {row.index_name}" if isinstance(row.index_name, str) else ""
        on = f" on {row.relation}" if isinstance(row.relation, str) else ""
        parts.append(f"{row.node_type}{using}{on}")
    return "; ".join(parts) or str(plan["node_type"].iloc[0])


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs; ``median`` is the number to quote."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min(self) -> float:
        return min(self.seconds)

    @property
    def median_ms(self) -> float:
        return self.median * 1000

    def __str__(self) -> str:
        return (
            f"{self.median_ms:.3g} ms median of {len(self.seconds)} (min {self.min * 1000:.3g} ms)"
        )


def time_call(call: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> Timing:
    """Time ``call()`` ``repeat`` times after ``warmup`` untimed runs (which fill caches)."""
    if repeat < 1:
        raise QueryError(f"repeat must be at least 1, got {repeat}")
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


def time_calls(
    calls: Mapping[str, Callable[[], object]], *, repeat: int = 5, warmup: int = 1
) -> dict[str, Timing]:
    """Time several alternatives round-robin, so that background noise hits them all alike.

    Each call runs ``warmup`` untimed times, then the calls take turns
    ``repeat`` times. Use it to compare alternatives on a busy machine.

    >>> timings = time_calls({"offset": lambda: ..., "keyset": lambda: ...})  # doctest: +SKIP
    >>> timings["offset"].median / timings["keyset"].median                  # doctest: +SKIP
    """
    if repeat < 1:
        raise QueryError(f"repeat must be at least 1, got {repeat}")
    for call in calls.values():
        for _ in range(warmup):
            call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(values)) for name, values in seconds.items()}


def time_query(
    bind: Bind,
    sql: str | sa.Executable,
    params: Params = None,
    *,
    repeat: int = 5,
    warmup: int = 1,
) -> Timing:
    """Time running ``sql`` and fetching all its rows, on one connection.

    The time is what a client sees: planning, execution and transfer.
    """
    statement = as_statement(sql)
    with connection(bind) as conn:
        return time_call(
            lambda: conn.execute(statement, dict(params or {})).fetchall(),
            repeat=repeat,
            warmup=warmup,
        )


class ScratchTable:
    """A temporary copy of a model table that shadows it on one connection.

    Made by :func:`scratch_table`. Unqualified SQL on :attr:`connection` that
    names the table reads the copy, which starts with no index at all.
    """

    def __init__(self, conn: Connection, model: sa.Table) -> None:
        self.connection = conn
        self.model = model
        self.name = f"pg_temp.{quote_ident(model.name)}"

    def set_indexes(self, *indexes: str) -> None:
        """Drop the copy's indexes, build ``indexes``, then ``ANALYZE``.

        Each entry is the name of an index of the real table (a model index,
        or the index behind a unique constraint or primary key), built as the
        database defines it, or a ``CREATE INDEX`` statement
        with ``{table}`` where the table goes, for an index the model lacks.
        """
        existing = self.connection.execute(
            sa.text(
                "select indexrelid::regclass::text from pg_index "
                "where indrelid = cast(:t as regclass)"
            ),
            {"t": self.name},
        ).scalars()
        for index in list(existing):
            self.connection.exec_driver_sql(f"DROP INDEX {index}")
        for index in indexes:
            self.connection.exec_driver_sql(self._index_sql(index))
        self.connection.exec_driver_sql(f"ANALYZE {self.name}")

    def index_sizes(self) -> dict[str, int]:
        """Bytes of each index on the copy, by name."""
        sizes = self.connection.execute(
            sa.text(
                "select c.relname, pg_relation_size(i.indexrelid) from pg_index i "
                "join pg_class c on c.oid = i.indexrelid where i.indrelid = cast(:t as regclass)"
            ),
            {"t": self.name},
        ).all()
        return {str(name): int(size) for name, size in sizes}

    def _index_sql(self, index: str) -> str:
        if index.lstrip().upper().startswith("CREATE"):
            return index.replace("{table}", self.name)
        # The real index's definition, as the database has it, pointed at the copy.
        found = self.connection.execute(
            sa.text(
                "select pg_get_indexdef(i.indexrelid), format('%I.%I', n.nspname, t.relname) "
                "from pg_index i join pg_class c on c.oid = i.indexrelid "
                "join pg_class t on t.oid = i.indrelid "
                "join pg_namespace n on n.oid = t.relnamespace "
                "where n.nspname = :schema and t.relname = :table and c.relname = :index"
            ),
            {"schema": self.model.schema, "table": self.model.name, "index": index},
        ).first()
        if found is None:
            raise QueryError(f"{self.model.name} has no index named {index!r}")
        definition, qualified = found
        return str(definition).replace(f" ON {qualified} ", f" ON {self.name} ", 1)


@contextmanager
def scratch_table(
    engine: Engine,
    table: str,
    *,
    rows: int | None = None,
    indexes: Sequence[str] = (),
    source: str | None = None,
    source_params: Params = None,
) -> Iterator[ScratchTable]:
    """A rolled-back transaction in which ``table`` is a temporary copy of ``rows`` of its rows.

    The copy has only ``indexes`` (see :meth:`ScratchTable.set_indexes`).
    To reshape the data, give ``source``: a ``SELECT`` of the table's columns,
    in order, with ``{source}`` where the real table goes and values as
    ``:name`` placeholders in ``source_params``. (Shape the rows as they are
    copied: after an ``UPDATE`` in the same transaction, a new index may not be
    usable until the transaction ends, because of HOT chains.) Nothing
    outside the transaction changes.
    """
    model = model_table(engine, table)
    real = qualified_name(str(model.schema), model.name)
    select = (source or "SELECT * FROM {source}").replace("{source}", real)
    with connection(engine) as conn:
        scratch = ScratchTable(conn, model)
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {quote_ident(model.name)} (LIKE {real}) ON COMMIT DROP"
        )
        limit = "" if rows is None else " LIMIT :_rows"
        conn.execute(
            sa.text(f"INSERT INTO {scratch.name} {select}{limit}"),
            {**dict(source_params or {}), **({} if rows is None else {"_rows": rows})},
        )
        scratch.set_indexes(*indexes)
        try:
            yield scratch
        finally:
            conn.rollback()


def latency_by_size(
    engine: Engine,
    table: str,
    sql: str,
    *,
    sizes: Sequence[int],
    variants: Mapping[str, Sequence[str]],
    params: Params | Callable[[Connection], Mapping[str, Any]] = None,
    repeat: int = 5,
) -> pd.DataFrame:
    """Median latency of ``sql`` on scratch copies of ``table`` per size and index variant.

    ``variants`` maps a label to the indexes to build (``[]`` for none; see
    :meth:`ScratchTable.set_indexes`). ``params`` may be a function of the
    scratch connection, to pick values that exist in each copy. Returns one
    row per (rows, variant): ``rows``, ``variant``, ``median_ms``, ``min_ms``
    and ``scan``, the plan's scans, to show which index was really used.
    """
    results = []
    for size in sizes:
        with scratch_table(engine, table, rows=size) as scratch:
            conn = scratch.connection
            actual_rows = conn.exec_driver_sql(f"select count(*) from {scratch.name}").scalar_one()
            values = params(conn) if callable(params) else params
            for label, indexes in variants.items():
                scratch.set_indexes(*indexes)
                timing = time_query(conn, sql, values, repeat=repeat)
                plan = explain(conn, sql, values, analyze=False, buffers=False)
                results.append(
                    {
                        "rows": actual_rows,
                        "variant": label,
                        "median_ms": timing.median_ms,
                        "min_ms": timing.min * 1000,
                        "scan": scan_summary(plan),
                    }
                )
    return pd.DataFrame(results)
