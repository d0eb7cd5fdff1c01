"""Partitioned tables as the catalog holds them: one table of the model each, with its partitions.

A partition is part of its partitioned table, never a table of the model:
:func:`catalog_partitions` reads, for every partitioned table of a namespace
that is not a partition itself, its key (``pg_get_partkeydef``) and its
partitions at every level, parents first, each with its bound
(``pg_get_expr(relpartbound)``) and, when partitioned again, its own key.
:meth:`CatalogPartitions.apply` puts them on the reflected tables as pulled
code declares them (``postgresql_partition_by`` and ``info[PARTITIONS]``),
which :func:`seedbed.models.base.partition_sql` creates again.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from seedbed.models.base import PARTITIONS

#: Every partition in the namespace, parents before their partitions, with its bound,
#: and every partitioned table with its partition key.
_PARTITIONS_SQL = """
WITH RECURSIVE tree AS (
    SELECT c.oid, c.relname, NULL::name AS parent, NULL::text COLLATE "C" AS bound, 0 AS depth
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind = 'p' AND NOT c.relispartition
  UNION ALL
    SELECT c.oid, c.relname, tree.relname, pg_get_expr(c.relpartbound, c.oid) COLLATE "C",
           tree.depth + 1
    FROM tree JOIN pg_inherits AS i ON i.inhparent = tree.oid
    JOIN pg_class AS c ON c.oid = i.inhrelid
)
SELECT relname, parent, bound,
       CASE WHEN (SELECT relkind FROM pg_class WHERE oid = tree.oid) = 'p'
            THEN pg_get_partkeydef(tree.oid) END
FROM tree
ORDER BY depth, (bound = 'DEFAULT'), relname
"""


@dataclass(frozen=True)
class CatalogPartitions:
    """The namespace's partitioned tables: each one's key and its partitions, all levels."""

    keys: dict[str, str]  # partitioned table that is no partition -> PARTITION BY text
    partitions: dict[str, list[dict[str, str]]]  # that table -> Table.info[PARTITIONS]

    @property
    def names(self) -> frozenset[str]:
        """Every partition, at any level: none is a table of the model."""
        return frozenset(p["name"] for found in self.partitions.values() for p in found)

    def apply(self, metadata: sa.MetaData) -> None:
        """Give each partitioned table of ``metadata`` its key and partitions, as pulled code does.

        Foreign keys that point at a partition (PostgreSQL adds one per partition
        for each key that points at a partitioned table) are dropped: the key on
        the partitioned table itself stays.
        """
        for table in metadata.tables.values():
            if table.name in self.keys:
                table.dialect_options["postgresql"]["partition_by"] = self.keys[table.name]
                table.info[PARTITIONS] = self.partitions[table.name]
        names = self.names
        for table in metadata.tables.values():
            for constraint in list(table.foreign_key_constraints):
                target = constraint.elements[0].target_fullname.rsplit(".", 1)[0]
                if target.rsplit(".", 1)[-1] in names:
                    _drop_key(table, constraint)


def catalog_partitions(conn: sa.Connection, schema: str) -> CatalogPartitions:
    """The partitioned tables of namespace ``schema`` and their partitions, as the catalog has them.

    A bound holds constants only, so it names no namespace, whatever the search_path.
    """
    keys: dict[str, str] = {}
    root: dict[str, str] = {}
    partitions: dict[str, list[dict[str, str]]] = {}
    for name, parent, bound, key in conn.execute(sa.text(_PARTITIONS_SQL), {"schema": schema}):
        if parent is None:
            keys[name] = key
            root[name] = name
            partitions[name] = []
            continue
        root[name] = root[parent]
        partition = {"name": name, "of": parent, "bound": bound}
        if key is not None:
            partition["partition_by"] = key
        partitions[root[name]].append(partition)
    return CatalogPartitions(keys, partitions)


def _drop_key(table: sa.Table, constraint: sa.ForeignKeyConstraint) -> None:
    table.constraints.discard(constraint)
    for element in constraint.elements:
        element.parent.foreign_keys.discard(element)
        table.foreign_keys.discard(element)


__all__ = ["CatalogPartitions", "catalog_partitions"]
