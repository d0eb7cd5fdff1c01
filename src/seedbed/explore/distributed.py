"""Explore on Citus: distributed plans and the index statistics that live on the workers.

On a distributed schema the coordinator holds each table as an empty shell;
its rows, its indexes' sizes and their scan counters are in the *shards* on
a worker, named ``<name>_<shard id>``. This module reads what the other
explore helpers need from there:

- :func:`distributed_children`: the parts of Citus's ``Custom Scan (Citus
  Adaptive)`` node in an EXPLAIN JSON document: each *distributed subplan*
  (run first, its result sent on) and each *task* (the plan a worker ran on
  its shard; ``Tasks Shown`` says whether all tasks are shown or ``One of N``);
- :func:`unshard_plan`: the worker plan's shard names turned back into the
  coordinator's, so that ``uses_index(plan, "ix_session_user_id")`` holds on a
  distributed schema as it does on one server;
- :func:`shard_index_statistics`: each index's bytes and scans summed over
  its shards, read on the workers with ``run_command_on_workers``;
- :func:`wait_for_workers`: the backends on the workers that served closed
  connections gone, so that their index counters have been reported.

On a server without Citus nothing here runs a query.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from seedbed.citus import citus_of, shard_names
from seedbed.errors import QueryError

#: The key of the distributed part of a Citus plan node in EXPLAIN's JSON.
DISTRIBUTED_QUERY = "Distributed Query"
_SHARD_SUFFIX = re.compile(r"_(\d+)$")
#: How long to wait for a closed connection's backends on the workers to end.
WORKER_EXIT_SECONDS = 10.0

# Run on every worker; %s is the namespace, quoted as a literal by the caller.
_WORKER_INDEX_STATISTICS = (
    "select coalesce(json_agg(json_build_array(indexrelname, idx_scan, "
    "pg_relation_size(indexrelid))), '[]') from pg_stat_user_indexes where schemaname = {schema}"
)


def _worker(conninfo: str) -> str:
    """``host:port`` of a task's ``Node`` (``host=127.0.0.1 port=55452 dbname=postgres``)."""
    fields = dict(part.split("=", 1) for part in conninfo.split() if "=" in part)
    return f"{fields.get('host', '?')}:{fields.get('port', '?')}"


def distributed_children(
    node: Mapping[str, Any],
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """The subplans and worker plans under a Citus node: (plan node, the columns that place it).

    ``subplan`` numbers the distributed subplans from 1; ``task`` numbers the
    tasks shown, and ``worker`` is the ``host:port`` that ran each.
    """
    distributed = node.get(DISTRIBUTED_QUERY) or {}
    for number, subplan in enumerate(distributed.get("Subplans", []), start=1):
        for statement in subplan.get("PlannedStmt", []):
            if "Plan" in statement:
                yield statement["Plan"], {"subplan": number}
    for number, task in enumerate(distributed.get("Job", {}).get("Tasks", []), start=1):
        where = {"task": number, "worker": _worker(str(task.get("Node", "")))}
        for remote in task.get("Remote Plan", []):
            # Each remote plan is EXPLAIN's own JSON output: a list of documents.
            for document in remote if isinstance(remote, list) else [remote]:
                if isinstance(document, Mapping) and "Plan" in document:
                    yield document["Plan"], where


def job_columns(node: Mapping[str, Any]) -> dict[str, Any]:
    """``task_count`` and ``tasks_shown`` of a Citus node (empty for any other node)."""
    job = (node.get(DISTRIBUTED_QUERY) or {}).get("Job")
    if not job:
        return {}
    return {"task_count": job.get("Task Count"), "tasks_shown": job.get("Tasks Shown")}


def unshard_plan(conn: Connection, plan: pd.DataFrame) -> None:
    """Rename the shards in the worker rows of ``plan`` to their tables and indexes, in place.

    The shard id goes to the ``shard`` column. A name that is no known shard's
    (a table on the coordinator, an intermediate result) stays as it is.
    """
    on_worker = plan["worker"].notna()
    shown = pd.concat([plan.loc[on_worker, "relation"], plan.loc[on_worker, "index_name"]])
    ids = sorted(
        {int(m.group(1)) for name in shown.dropna() if (m := _SHARD_SUFFIX.search(str(name)))}
    )
    if not ids:
        return
    names = shard_names(conn, shard_ids=ids)
    for column in ("relation", "index_name"):
        known = on_worker & plan[column].isin(names.names)
        plan.loc[known, "shard"] = [names.shard(n) for n in plan.loc[known, column]]
        plan.loc[known, column] = [names.names[n] for n in plan.loc[known, column]]


def distributed_tables(conn: Connection, schema: str) -> int:
    """How many tables of ``schema`` are distributed (0 without Citus)."""
    if citus_of(conn) is None:
        return 0
    return int(
        conn.execute(
            sa.text(
                "select count(*) from pg_dist_partition p "
                "join pg_class c on c.oid = p.logicalrelid "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = :schema"
            ),
            {"schema": schema},
        ).scalar_one()
    )


def shard_index_statistics(conn: Connection, schema: str) -> pd.DataFrame:
    """Bytes and scans of each index of ``schema``'s distributed tables, summed over shards.

    Columns ``index``, ``size_bytes``, ``scans``, ``workers`` (where the
    shards are). Raises :class:`~seedbed.errors.QueryError`, naming the
    worker, when a worker cannot be asked.
    """
    names = shard_names(conn, schema=schema).names
    literal = conn.execute(sa.text("select quote_literal(cast(:s as text))"), {"s": schema})
    command = _WORKER_INDEX_STATISTICS.format(schema=literal.scalar_one())
    rows: list[tuple[str, int, int, str]] = []
    results = conn.execute(
        sa.text("select nodename, nodeport, success, result from run_command_on_workers(:c)"),
        {"c": command},
    ).all()
    for host, port, success, result in results:
        worker = f"{host}:{port}"
        if not success:
            raise QueryError(
                f"cannot read the index statistics of the shards on worker {worker}: {result}"
            )
        for shard_index, scans, size in json.loads(result):
            if shard_index in names:
                rows.append((names[shard_index], int(scans or 0), int(size or 0), worker))
    found = pd.DataFrame(rows, columns=["index", "scans", "size_bytes", "workers"])
    return (
        found.groupby("index", as_index=False)
        .agg(
            scans=("scans", "sum"),
            size_bytes=("size_bytes", "sum"),
            workers=("workers", lambda w: ", ".join(sorted(set(w)))),
        )
        .astype({"scans": "int64", "size_bytes": "int64"})
    )


_ORPHANS_SQL = sa.text(
    """
    select count(*) from citus_stat_activity as w
    where w.is_worker_query and not exists (
        select 1 from citus_stat_activity as c
        where not c.is_worker_query and c.global_pid = w.global_pid)
    """
)


def wait_for_workers(conn: Connection) -> None:
    """Wait (bounded) until no backend on a worker outlives the client backend it served.

    A backend reports its index counters as it exits: once the backends of
    closed connections are gone, the shards' statistics include their work.
    """
    deadline = time.monotonic() + WORKER_EXIT_SECONDS
    while conn.execute(_ORPHANS_SQL).scalar_one() and time.monotonic() < deadline:
        conn.rollback()
        time.sleep(0.05)
