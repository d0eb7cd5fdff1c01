"""The declarative base every table module uses: namespace, naming, shared columns.

The namespace comes from ``SEEDBED_SCHEMA`` at import time (default
``seedbed``); :func:`metadata_for` gives the same model in any other namespace.
Every constraint and index is named through ``NAMING_CONVENTION``.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import DDL, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from seedbed.config import DEFAULT_SCHEMA, check_identifier
from seedbed.errors import ConfigError
from seedbed.models import rules
from seedbed.sqltext import qualified_name, quote_ident

#: An identifier in a CHECK's SQL: quoted (its case kept) or bare (folded to lower case).
_IDENTIFIER = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def check_name(constraint: sa.Constraint, table: sa.Table) -> str:
    """The ``%(constraint_name)s`` of a CHECK: the name it was declared with; for one
    declared without a name (``sa.CheckConstraint("qty > 0")``), the table's columns its
    SQL reads, joined by ``_`` (``qty``; ``check`` when it reads none), numbered from the
    second of a table with the same columns (``qty_2``), much as PostgreSQL names an
    unnamed one ``item_qty_check``."""
    if isinstance(constraint.name, str):
        return constraint.name
    if not isinstance(constraint, sa.CheckConstraint):
        raise sa.exc.InvalidRequestError(
            f"a constraint of {table.name} needs a name: the naming convention names it "
            "%(constraint_name)s"
        )
    read = {
        quoted.replace('""', '"') if quoted else bare.lower()
        for quoted, bare in _IDENTIFIER.findall(str(constraint.sqltext))
    }
    found = "_".join(column.name for column in table.columns if column.name in read) or "check"
    others = [*table.constraints, *(c for column in table.columns for c in column.constraints)]
    taken = {str(c.name) for c in others if c is not constraint and c.name}
    name, count = found, 1
    while NAMING_CONVENTION["ck"] % {"table_name": table.name, "constraint_name": name} in taken:
        count += 1
        name = f"{found}_{count}"
    return name


NAMING_CONVENTION: dict[str, Any] = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "constraint_name": check_name,  # a token of the patterns above, not a kind
}

UPDATED_AT_FUNCTION = "set_updated_at"
#: ``MetaData.info`` key set on a model seedbed did not declare (a catalog): no trigger there.
NO_UPDATED_AT_TRIGGER = "no_updated_at_trigger"
#: ``Table.info`` key of a partitioned table: its partitions, parents before their own
#: partitions, each a dict with ``name``, ``of`` (the table it is a partition of),
#: ``bound`` (``FOR VALUES ...`` or ``DEFAULT``, as ``pg_get_expr`` prints it) and,
#: for a partition that is partitioned itself, ``partition_by``.
PARTITIONS = "partitions"


def partition_sql(schema: str | None, partition: dict[str, str]) -> str:
    """``CREATE TABLE ... PARTITION OF ...`` for one entry of ``Table.info[PARTITIONS]``."""
    name, parent = (
        qualified_name(schema, partition[k]) if schema else quote_ident(partition[k])
        for k in ("name", "of")
    )
    sql = f"CREATE TABLE {name} PARTITION OF {parent} {partition['bound']}"
    if partition.get("partition_by"):
        sql += f" PARTITION BY {partition['partition_by']}"
    return sql


def _create_partitions(table: sa.Table, connection: sa.Connection, **kw: Any) -> None:
    """A partitioned table's partitions, right after it, whoever creates it.

    Listened for on every ``Table``: Alembic's ``op.create_table`` (``db push``,
    revisions) builds a table of its own from the declaration's ``info`` and
    ``postgresql_partition_by``, and fires this event on that one.
    """
    for partition in table.info.get(PARTITIONS, ()):
        connection.exec_driver_sql(partition_sql(table.schema, partition))


event.listen(sa.Table, "after_create", _create_partitions)


def _import_time_schema() -> str:
    try:
        return check_identifier(os.environ.get("SEEDBED_SCHEMA") or DEFAULT_SCHEMA)
    except ConfigError:
        # Importing must not fail; load_settings() refuses the bad name before any SQL.
        return DEFAULT_SCHEMA


class Base(DeclarativeBase):
    metadata = MetaData(schema=_import_time_schema(), naming_convention=NAMING_CONVENTION)


def uuid_pk() -> Mapped[str]:
    """A text primary key that must hold a UUID v4 (checked by ``rules.uuid_v4``)."""
    return mapped_column(sa.Text, primary_key=True, info={"doc": "UUID v4, as text"})


def created_at() -> Mapped[datetime]:
    return mapped_column(
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        info={"doc": "when the row was created"},
    )


def updated_at() -> Mapped[datetime]:
    return mapped_column(
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        info={"doc": "kept current by the set_updated_at trigger on every UPDATE"},
    )


def sensitive(doc: str) -> dict[str, Any]:
    """Column ``info`` for a secret: its values never appear in reports, logs or errors."""
    return {"sensitive": True, "doc": doc}


UPDATED_AT_BODY = "\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n"


class CatalogType(sa.types.UserDefinedType[str]):
    """A type SQLAlchemy does not know (``point``, a composite type, an extension's
    type), under the name the catalog gives it (``format_type``). Its values are
    read as text: PostgreSQL judges them, when the model is read from a database
    before load, else at COPY. ``db pull`` writes such columns with it."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


def updated_at_function_sql(schema: str, body: str = UPDATED_AT_BODY) -> str:
    """The trigger function; ``body`` is its PL/pgSQL source (``pg_proc.prosrc``)."""
    return (
        f"CREATE OR REPLACE FUNCTION {quote_ident(schema)}.{UPDATED_AT_FUNCTION}() "
        "RETURNS trigger\n"
        f"LANGUAGE plpgsql AS $${body}$$"
    )


def updated_at_trigger(table: str) -> str:
    """The name of ``table``'s updated_at trigger."""
    return f"trg_{table}_updated_at"


def updated_at_trigger_sql(schema: str, table: str) -> str:
    return (
        f"CREATE TRIGGER {quote_ident(updated_at_trigger(table))} BEFORE UPDATE "
        f"ON {qualified_name(schema, table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {quote_ident(schema)}.{UPDATED_AT_FUNCTION}()"
    )


def tables_with_updated_at(metadata: MetaData) -> list[sa.Table]:
    """Tables the ``updated_at`` trigger serves: none in a model seedbed did not declare."""
    if metadata.info.get(NO_UPDATED_AT_TRIGGER):
        return []
    # By name: the trigger of each is independent of the others (and ``sorted_tables``
    # would warn about a cycle of foreign keys; the model-facts layer orders tables).
    stamped = (
        t for t in metadata.tables.values() if any(c.name == "updated_at" for c in t.columns)
    )
    return sorted(stamped, key=lambda t: t.key)


def create_updated_at_triggers(connection: sa.Connection, metadata: MetaData) -> None:
    """(Re)create the updated_at function and one trigger per table that has the column."""
    schema = metadata.schema
    connection.exec_driver_sql(updated_at_function_sql(str(schema)))
    for table in tables_with_updated_at(metadata):
        connection.exec_driver_sql(
            f"DROP TRIGGER IF EXISTS {quote_ident(updated_at_trigger(table.name))} "
            f"ON {qualified_name(str(schema), table.name)}"
        )
        connection.exec_driver_sql(updated_at_trigger_sql(str(schema), table.name))


def _attach_ddl(metadata: MetaData) -> None:
    """Create the schema, the updated_at function and its triggers with ``create_all``."""
    create_schema = DDL(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(str(metadata.schema))}")  # type: ignore[no-untyped-call]
    event.listen(metadata, "before_create", create_schema)

    def after_create(target: MetaData, connection: sa.Connection, **kw: Any) -> None:
        create_updated_at_triggers(connection, target)

    event.listen(metadata, "after_create", after_create)


_attach_ddl(Base.metadata)


def new_base() -> type[DeclarativeBase]:
    """A declarative base for a model of your own, outside this package (``SEEDBED_MODELS``).

    Its ``MetaData`` is fresh (the shipped tables are not in it), in the
    namespace ``SEEDBED_SCHEMA`` names, with seedbed's naming convention and
    the ``updated_at`` trigger, like :class:`Base`.
    """

    class ModelBase(DeclarativeBase):
        metadata = MetaData(schema=_import_time_schema(), naming_convention=NAMING_CONVENTION)

    _attach_ddl(ModelBase.metadata)
    return ModelBase


@cache
def metadata_for(schema: str) -> MetaData:
    """The whole model in namespace ``schema`` (validated as a plain identifier)."""
    check_identifier(schema)
    if schema == Base.metadata.schema:
        return Base.metadata
    return moved_metadata(Base.metadata, schema)


def moved_metadata(metadata: MetaData, schema: str) -> MetaData:
    """A copy of every table of ``metadata`` in namespace ``schema``, with its DDL."""
    copy = MetaData(
        schema=schema, naming_convention=metadata.naming_convention, info=dict(metadata.info)
    )
    for table in metadata.tables.values():  # any order: a foreign key finds its parent by name
        moved = table.to_metadata(copy, schema=schema)
        for column in moved.columns:  # to_metadata moves a type kept in another namespace too
            kept = getattr(table.c[column.key].type, "schema", None)
            if kept not in (None, metadata.schema) and hasattr(column.type, "schema"):
                column.type.schema = kept
        # to_metadata does not carry Index.info (the documented purpose); copy it by name.
        purposes = {index.name: index.info for index in table.indexes}
        for index in moved.indexes:
            index.info.update(purposes.get(index.name, {}))
    _attach_ddl(copy)
    return copy


__all__ = [
    "NAMING_CONVENTION",
    "NO_UPDATED_AT_TRIGGER",
    "PARTITIONS",
    "Base",
    "CatalogType",
    "created_at",
    "metadata_for",
    "moved_metadata",
    "new_base",
    "partition_sql",
    "rules",
    "sensitive",
    "updated_at",
    "uuid_pk",
]
