"""How the tables relate: foreign keys as relationships, key markers, type names.

Read from a ``MetaData`` through :func:`seedbed.facts.keys.table_keys`, in the
model's one table order (:mod:`seedbed.facts.order`), so the ER diagram, the
data-model document and explore's relationship helpers describe the same
relationships in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from seedbed.facts.declaration import named_column
from seedbed.facts.keys import table_keys
from seedbed.facts.order import ordered_tables
from seedbed.sqltext import postgres_dialect


@dataclass(frozen=True)
class Relationship:
    """One foreign key seen as a relationship: ``parent`` has many (or one) ``child``.

    ``parent_optional`` is true when the child's key columns may be NULL (the
    child need not have a parent); ``child_many`` is false when the key
    columns are unique in the child, making the relationship one-to-one.
    """

    parent: str
    child: str
    columns: tuple[str, ...]
    referred_columns: tuple[str, ...]
    name: str
    ondelete: str
    parent_optional: bool
    child_many: bool

    @property
    def parent_cardinality(self) -> str:
        """Mermaid marker on the parent's end: ``||`` exactly one, ``|o`` zero or one."""
        return "|o" if self.parent_optional else "||"

    @property
    def child_cardinality(self) -> str:
        """Mermaid marker on the child's end: ``o{`` zero or more, ``o|`` zero or one."""
        return "o{" if self.child_many else "o|"

    @property
    def phrase(self) -> str:
        """The relationship in words, e.g. ``one user has zero or more session rows``."""
        parent = "zero or one" if self.parent_optional else "one"
        child = "zero or more" if self.child_many else "zero or one"
        return f"{parent} {self.parent} has {child} {self.child} rows"


def column_type(column: sa.Column[object]) -> str:
    """A short, namespace-free PostgreSQL type name: ``text``, ``timestamptz``, ``post_status``."""
    if isinstance(column.type, sa.Enum | postgresql.DOMAIN) and column.type.name:
        return str(column.type.name)  # a domain compiles with its namespace
    compiled = column.type.compile(dialect=postgres_dialect()).lower()
    return {
        "timestamp with time zone": "timestamptz",
        "timestamp without time zone": "timestamp",
        "time with time zone": "timetz",
        "double precision": "float8",
        "character varying": "varchar",
    }.get(compiled, compiled)


def unique_column_sets(table: sa.Table) -> list[tuple[str, ...]]:
    """Column sets that are unique over every row: unique constraints and full unique indexes.

    The primary key is not included; partial unique indexes are not either,
    since they leave some rows out.
    """
    return table_keys(table).unique_column_sets()


def column_keys(table: sa.Table, column: sa.Column[object]) -> list[str]:
    """Mermaid key markers for ``column``: ``PK``, ``FK``, ``UK`` (unique on its own)."""
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.foreign_keys:
        keys.append("FK")
    if (column.name,) in unique_column_sets(table):
        keys.append("UK")
    return keys


def relationships(metadata: sa.MetaData) -> list[Relationship]:
    """Every foreign key in ``metadata`` as a :class:`Relationship`, in a stable order."""
    found = []
    for table in ordered_tables(metadata):
        keys = table_keys(table)
        unique_sets = {frozenset(s) for s in keys.unique_column_sets()}
        primary = frozenset(keys.primary_key.columns if keys.primary_key else ())
        for fk in keys.foreign_keys:
            key = frozenset(fk.columns)
            found.append(
                Relationship(
                    parent=fk.parent.name,
                    child=table.name,
                    columns=fk.columns,
                    referred_columns=fk.parent_columns,
                    name=fk.name,
                    ondelete=fk.ondelete,
                    parent_optional=any(named_column(table, c).nullable for c in fk.columns),
                    child_many=key not in unique_sets and key != primary,
                )
            )
    return found


__all__ = [
    "Relationship",
    "column_keys",
    "column_type",
    "relationships",
    "unique_column_sets",
]
