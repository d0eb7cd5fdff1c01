"""The namespace's indexes: what each is for, its size, and whether a workload used it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedbed.citus import citus_of
from seedbed.explore import distributed
from seedbed.explore._core import Bind, connection, frame, namespace
from seedbed.facts import declared_metadata, metadata_for, ordered_tables, table_keys

_CATALOG = sa.text(
    """
    select t.relname as "table", i.relname as index,
           ix.indisprimary as "primary", ix.indisunique as "unique",
           pg_get_expr(ix.indpred, ix.indrelid) as predicate,
           pg_relation_size(i.oid) as size_bytes,
           coalesce(s.idx_scan, 0) as scans,
           pg_get_indexdef(i.oid) as definition
    from pg_index ix
    join pg_class i on i.oid = ix.indexrelid
    join pg_class t on t.oid = ix.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    left join pg_stat_user_indexes s on s.indexrelid = i.oid
    where n.nspname = :schema and t.relname in :tables
    order by t.relname, i.relname
    """
).bindparams(sa.bindparam("tables", expanding=True))


def _purposes() -> dict[str, str]:
    """Why each index exists, from the model: ``info["purpose"]`` or the constraint it backs.

    Read from the declared metadata: names do not depend on the namespace, and
    ``Table.to_metadata`` (behind ``metadata_for``) does not copy ``Index.info``.
    """
    purposes: dict[str, str] = {}
    for table in ordered_tables(declared_metadata()):
        keys = table_keys(table)
        for index in keys.indexes:
            purposes[index.name] = index.purpose
        for key in keys.unique:
            columns = ", ".join(key.columns)
            if key.kind == "primary key":
                purposes[key.name] = f"primary key ({columns}); foreign keys point here"
            elif key.kind == "unique constraint":
                purposes[key.name] = f"enforces unique ({columns})"
    return purposes


def index_catalog(bind: Bind) -> pd.DataFrame:
    """Every index in the namespace: table, name, purpose, size and scans so far.

    ``purpose`` comes from the model (``info["purpose"]`` on the index, or
    the primary key / unique constraint it enforces). ``scans`` is
    ``pg_stat_user_indexes.idx_scan``: cumulative since the index was made.

    On a Citus distributed schema the coordinator's tables are empty shells:
    ``size_bytes`` and ``scans`` are then summed over the index's shards, read
    on the workers, and ``workers`` says where they are. When a worker cannot
    be asked, :class:`~seedbed.errors.QueryError` says which.
    """
    schema = namespace(bind)
    tables = [t.name for t in ordered_tables(metadata_for(schema))]
    with connection(bind) as conn:
        catalog = frame(conn, _CATALOG, {"schema": schema, "tables": tables})
        if distributed.distributed_tables(conn, schema):
            catalog = _with_shards(catalog, distributed.shard_index_statistics(conn, schema))
    catalog.insert(2, "purpose", catalog["index"].map(_purposes()).fillna(""))
    catalog["enforces_constraint"] = catalog["primary"] | catalog["unique"]
    return catalog


def _with_shards(catalog: pd.DataFrame, shards: pd.DataFrame) -> pd.DataFrame:
    """``catalog`` with each index's shard sizes and scans added to the coordinator's."""
    found = catalog.merge(shards, on="index", how="left", suffixes=("", "_shards"))
    for column in ("size_bytes", "scans"):
        found[column] = found[column] + found.pop(f"{column}_shards").fillna(0).astype("int64")
    found["workers"] = found["workers"].fillna("")
    return found


def _flush_statistics(conn: Connection) -> None:
    """Make this backend's pending index counters visible to the next transaction."""
    version = int(conn.exec_driver_sql("show server_version_num").scalar_one())
    if version >= 150000:
        conn.exec_driver_sql("select pg_stat_force_next_flush()")
        conn.commit()
    else:  # PostgreSQL 14's statistics collector reports within about half a second
        conn.commit()
        time.sleep(1.0)


def _settled_scans(engine: Engine) -> pd.Series:
    """Scans per index once earlier activity has been reported.

    Pooled connections may hold counters not yet reported; closing them makes
    their backends report as they exit, which takes a moment.
    """
    engine.dispose()
    with connection(engine) as conn:
        if citus_of(conn) is not None:
            distributed.wait_for_workers(conn)
    scans = index_catalog(engine).set_index("index")["scans"]
    for _ in range(20):
        time.sleep(0.05)
        again = index_catalog(engine).set_index("index")["scans"]
        if again.equals(scans):
            break
        scans = again
    return scans


def index_scans_during(engine: Engine, workload: Callable[[Connection], object]) -> pd.DataFrame:
    """Index scans a workload caused: :func:`index_catalog` plus ``workload_scans``.

    ``workload(conn)`` runs on one connection (pass it to the explore helpers,
    e.g. ``read_query(conn, ...)``); its changes are rolled back. Indexes with
    ``workload_scans == 0`` and ``enforces_constraint == False`` are the
    candidates for dropping; a unique or primary-key index is kept for the
    rule it enforces even when no query reads it. On Citus the workload's
    connection is closed first, and its backends on the workers awaited:
    they report their counters as they exit.
    """
    before = _settled_scans(engine)
    with connection(engine) as conn:
        citus = citus_of(conn) is not None
        workload(conn)
        conn.rollback()
        if citus:
            conn.invalidate()  # closed, not pooled: its backend and theirs on the workers end
        else:
            _flush_statistics(conn)
            conn.exec_driver_sql("select pg_stat_clear_snapshot()")
            after = index_catalog(conn)
            conn.rollback()
    if citus:
        # On Citus the scans happened in the workers' backends serving that connection;
        # they report their counters as they exit, once it is closed.
        with connection(engine) as conn:
            distributed.wait_for_workers(conn)
            after = index_catalog(conn)
    after["workload_scans"] = after["scans"] - after["index"].map(before).fillna(0).astype(int)
    return after
