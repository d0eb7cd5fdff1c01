"""Citus: whether the server is a Citus coordinator, where a namespace lives, what to set.

With Citus's schema-based sharding (``citus.enable_schema_based_sharding``),
each new schema is a *distributed schema*: its tables are colocated on one
worker, and different schemas spread over the cluster. That is seedbed's model
(one project, one namespace), so seedbed needs no distribution keys there. It
only has to know that it talks to Citus (:func:`citus_of`, asked once per
engine), say where the namespace lives (:func:`describe_namespace`), read the
names a worker gives its shards back as the coordinator's
(:func:`shard_names`), and set, for its own transactions only, what Citus
needs:

- :func:`allow_row_triggers`: Citus refuses ``CREATE TRIGGER`` (and ``DROP``)
  on a distributed table unless ``citus.enable_unsafe_triggers`` is on. The
  only trigger seedbed writes sets the row's own ``updated_at`` in a ``BEFORE
  UPDATE`` row trigger and reads no other row, which is the kind that runs on
  a shard as it does on a table; the setting is checked when a trigger is
  created or dropped, so ``SET LOCAL`` in the transaction that does it is
  enough, and later writes need nothing.
- :data:`PROPAGATE_SETTINGS_SQL`: ``SET LOCAL`` reaches the workers only with
  ``citus.propagate_set_commands = 'local'``; the rebuild's
  ``maintenance_work_mem`` and ``lock_timeout`` are meant for the servers that
  build the indexes and take the locks.

On a server without Citus every function here costs one cached catalog
lookup per engine and sets nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seedbed.db import Database, database_errors

if TYPE_CHECKING:
    import psycopg
    import sqlalchemy as sa

__all__ = [
    "ALLOW_ROW_TRIGGERS_SQL",
    "PROPAGATE_SETTINGS_SQL",
    "Citus",
    "ShardNames",
    "allow_row_triggers",
    "citus_of",
    "describe_namespace",
    "schema_worker",
    "shard_names",
]


@dataclass(frozen=True)
class Citus:
    """The Citus extension on the server seedbed talks to."""

    version: str
    """``major.minor`` of the installed extension, e.g. ``13.2``."""

    def __str__(self) -> str:
        return f"Citus {self.version}"


_detected: dict[str, Citus | None] = {}


def citus_of(
    bind: sa.Engine | sa.Connection | Database, connection: psycopg.Connection[Any] | None = None
) -> Citus | None:
    """The Citus extension of ``bind``'s database, or None; asked once per engine URL.

    A :class:`~seedbed.db.Database` is asked on ``connection`` if given (a
    connection of its own, in use), else on one of its own.

    >>> citus_of(get_engine())                              # doctest: +SKIP
    Citus(version='13.2')
    """
    if isinstance(bind, Database):
        key = bind.url if bind.given_engine is None else _url_key(bind.given_engine)
    else:
        key = _url_key(bind.engine)
    if key not in _detected:
        sql = "SELECT extversion FROM pg_extension WHERE extname = 'citus'"
        if isinstance(bind, Database):
            with contextlib.ExitStack() as stack:
                if connection is None:
                    stack.enter_context(database_errors("cannot read the server's extensions"))
                    connection = stack.enter_context(bind.connect())
                row = connection.execute(sql).fetchone()
            version = row[0] if row else None
        elif _is_connection(bind):
            version = bind.exec_driver_sql(sql).scalar()  # type: ignore[union-attr]
        else:
            failed = database_errors("cannot read the server's extensions")
            with failed, bind.connect() as conn:  # type: ignore[union-attr]
                version = conn.exec_driver_sql(sql).scalar()
        _detected[key] = None if version is None else Citus(_major_minor(str(version)))
    return _detected[key]


def _url_key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _is_connection(bind: object) -> bool:
    import sqlalchemy as sa

    return isinstance(bind, sa.Connection)


def _major_minor(extversion: str) -> str:
    """``13.2-1`` (the extension's catalog version) as ``13.2``."""
    return ".".join(extversion.split("-", 1)[0].split(".")[:2])


def schema_worker(connection: sa.Connection, schema: str) -> str | None:
    """``host:port`` of the worker that holds a distributed schema's tables, if placed yet."""
    import sqlalchemy as sa

    return connection.execute(
        sa.text(
            "SELECT n.nodename || ':' || n.nodeport FROM pg_dist_schema AS ds "
            "JOIN pg_dist_partition AS p ON p.colocationid = ds.colocationid "
            "JOIN pg_dist_shard AS s ON s.logicalrelid = p.logicalrelid "
            "JOIN pg_dist_placement AS pl ON pl.shardid = s.shardid "
            "JOIN pg_dist_node AS n ON n.groupid = pl.groupid "
            "JOIN pg_namespace AS ns ON ns.oid = ds.schemaid "
            "WHERE ns.nspname = :schema "
            "ORDER BY n.nodeid LIMIT 1"
        ),
        {"schema": schema},
    ).scalar()


def describe_namespace(connection: sa.Connection, schema: str) -> str:
    """Where ``schema`` lives on a Citus cluster, in a few words.

    ``distributed schema on worker 127.0.0.1:55451``; ``distributed schema,
    no tables placed yet``; ``not created yet, will be a distributed schema``;
    or, for a schema that is not distributed, where its tables are.
    """
    import sqlalchemy as sa

    exists, distributed, sharding, citus_tables = connection.execute(
        sa.text(
            "SELECT ns.oid IS NOT NULL, "
            "EXISTS (SELECT FROM pg_dist_schema WHERE schemaid = ns.oid), "
            "current_setting('citus.enable_schema_based_sharding', true), "
            "(SELECT count(*) FROM pg_dist_partition AS p JOIN pg_class AS c "
            " ON c.oid = p.logicalrelid WHERE c.relnamespace = ns.oid) "
            "FROM (SELECT 1) AS one LEFT JOIN pg_namespace AS ns ON ns.nspname = :schema"
        ),
        {"schema": schema},
    ).one()
    if distributed:
        worker = schema_worker(connection, schema)
        if worker is None:
            return "distributed schema, no tables placed yet"
        return f"distributed schema on worker {worker}"
    if not exists:
        if sharding == "on":
            return "not created yet, will be a distributed schema"
        return "not created yet; schema-based sharding is off, so it will stay on the coordinator"
    if citus_tables:
        return f"not a distributed schema; {citus_tables} of its tables are Citus tables"
    return "not a distributed schema; its tables are on the coordinator"


# A name as messages quote it: in double quotes, as it is (messages do not escape it).
_QUOTED = re.compile(r'"([^"]+)"')
_SHARDS_BY_SCHEMA_SQL = """
SELECT c.oid, c.relname, s.shardid
FROM pg_dist_shard AS s
JOIN pg_class AS c ON c.oid = s.logicalrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s
"""
_SHARDS_BY_ID_SQL = """
SELECT c.oid, c.relname, s.shardid
FROM pg_dist_shard AS s
JOIN pg_class AS c ON c.oid = s.logicalrelid
WHERE s.shardid = ANY(CAST(%(ids)s AS bigint[]))
"""
# The constraints and indexes of the given tables; kind is pg_constraint.contype, 'i' for a
# unique index that is no constraint, NULL for any other index.
_NAMES_SQL = """
SELECT k.conrelid, k.conname, k.contype::text
FROM pg_constraint AS k
WHERE k.conrelid = ANY(CAST(%(tables)s AS oid[]))
UNION ALL
SELECT x.indrelid, i.relname,
       CASE WHEN x.indisunique AND NOT EXISTS (
           SELECT 1 FROM pg_constraint AS k WHERE k.conindid = x.indexrelid) THEN 'i' END
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
WHERE x.indrelid = ANY(CAST(%(tables)s AS oid[]))
"""


@dataclass(frozen=True)
class ShardNames:
    """Names as a worker spells them, ``<name>_<shard id>``, mapped to the coordinator's ``<name>``.

    The names are those of the sharded tables, their constraints and indexes.
    """

    names: dict[str, str]
    """``<name>_<shard id>`` to ``<name>``."""
    kinds: dict[str, str]
    """A constraint's or unique index's name to its kind (``pg_constraint.contype``; ``i``: a
    unique index that is no constraint)."""

    def shard(self, sharded: str) -> int:
        """The shard id of a known shard name (``102052`` for ``pk_tag_102052``)."""
        return int(sharded[len(self.names[sharded]) + 1 :])

    def unshard(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every quoted shard name replaced by its own; the names so found."""
        found: list[str] = []

        def own(match: re.Match[str]) -> str:
            name = self.names.get(match.group(1))
            if name is None:
                return match.group(0)
            found.append(name)
            return f'"{name}"'

        return _QUOTED.sub(own, text), found


def _rows(
    bind: sa.Connection | psycopg.Cursor[Any], sql: str, params: dict[str, Any]
) -> Sequence[Sequence[Any]]:
    import psycopg

    if isinstance(bind, psycopg.Cursor):
        bind.execute(sql, params)
        return bind.fetchall()
    return bind.exec_driver_sql(sql, params).all()


def shard_names(
    bind: sa.Connection | psycopg.Cursor[Any],
    *,
    schema: str | None = None,
    shard_ids: Iterable[int] = (),
) -> ShardNames:
    """The shard names of ``schema``'s distributed tables, or of the shards ``shard_ids``.

    Read from the coordinator's catalog on ``bind`` (a connection, or a
    cursor of the driver's own); needs Citus.
    """
    if schema is not None:
        shards = _rows(bind, _SHARDS_BY_SCHEMA_SQL, {"schema": schema})
    else:
        shards = _rows(bind, _SHARDS_BY_ID_SQL, {"ids": sorted(set(shard_ids))})
    by_table: dict[int, list[int]] = {}
    names: dict[str, str] = {}
    for table, relation, shard in shards:
        by_table.setdefault(int(table), []).append(int(shard))
        names[f"{relation}_{shard}"] = str(relation)
    kinds: dict[str, str] = {}
    if by_table:
        for table, name, kind in _rows(bind, _NAMES_SQL, {"tables": sorted(by_table)}):
            if kind is not None:
                kinds.setdefault(str(name), str(kind))
            names.update({f"{name}_{shard}": str(name) for shard in by_table[int(table)]})
    return ShardNames(names, kinds)


ALLOW_ROW_TRIGGERS_SQL = "SET LOCAL citus.enable_unsafe_triggers = on"
PROPAGATE_SETTINGS_SQL = "SET LOCAL citus.propagate_set_commands = 'local'"
"""Send the transaction's later ``SET LOCAL`` to every worker connection it uses."""


def allow_row_triggers(connection: sa.Connection) -> None:
    """Let this transaction create and drop seedbed's ``updated_at`` trigger on Citus tables.

    Sets ``citus.enable_unsafe_triggers`` for the transaction only (``SET
    LOCAL``); nothing on a server without Citus. See the module docstring for
    why the trigger is one that Citus can run.
    """
    if citus_of(connection) is not None:
        connection.exec_driver_sql(ALLOW_ROW_TRIGGERS_SQL)
