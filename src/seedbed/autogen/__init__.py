"""Autogenerate for the whole model, through Alembic's own extension points.

One comparison serves ``seedbed db generate``, ``check`` and ``push``: Alembic's
``produce_migrations`` with the comparators of :mod:`seedbed.autogen.compare`
(enum types, the updated_at function and triggers, CHECK definitions, partial
index predicates). ``generate`` renders its ops into a revision
(:mod:`seedbed.autogen.render`), ``check`` describes them, ``push`` invokes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.operations.ops import MigrateOperation, OpContainer
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from seedbed.autogen.compare import NAMESPACE_OPTION
from seedbed.autogen.definitions import CHANGED
from seedbed.autogen.ops import NamespaceOp
from seedbed.autogen.render import render_item, revision_directives
from seedbed.facts import PARTITIONS, CatalogType, defer_later_keys
from seedbed.facts.catalog import HISTORIES, unknown_types_quiet
from seedbed.facts.referenced import references_elsewhere
from seedbed.sqltext import postgres_dialect, qualified_name, quote_ident


def context_options(namespace: str, metadata: sa.MetaData) -> dict[str, Any]:
    """Options for ``MigrationContext.configure`` / ``context.configure`` in ``namespace``."""
    defer_later_keys(metadata)  # a cycle's keys added after its tables; no warning from Alembic

    # A partition the model declares is part of its partitioned table, not a table; a
    # migration history (seedbed's alembic_version, another tool's) is no table of a model
    # that does not declare it.
    partitions = {p["name"] for t in metadata.tables.values() for p in t.info.get(PARTITIONS, ())}
    histories = set(HISTORIES) - {t.name for t in metadata.tables.values()}

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "schema":
            return name == namespace
        if type_ == "foreign_key_constraint" and isinstance(parent_names, dict):
            return name not in references_elsewhere(metadata, parent_names.get("table_name"))
        return not (type_ == "table" and (name in histories or name in partitions))

    def include_object(
        item: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        # PostgreSQL adds, for a foreign key to a partitioned table, one to each partition.
        if type_ == "foreign_key_constraint" and reflected:
            target = item.elements[0].target_fullname.rsplit(".", 2)[-2]
            return target not in partitions
        return True

    return {
        "target_metadata": metadata,
        "version_table_schema": namespace,
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": compare_type,
        "compare_server_default": True,
        "render_item": render_item,
        "process_revision_directives": revision_directives,
        NAMESPACE_OPTION: namespace,
    }


def use_namespace(connection: sa.Connection, namespace: str) -> None:
    """Put ``namespace`` first on the search_path until the transaction ends.

    PostgreSQL then prints the namespace's own types and tables without their
    schema (``'draft'::post_status``), so SQL read back from the database (a
    partial index's WHERE, a CHECK) names no namespace and fits any namespace;
    revisions run with the same search_path. It is set after the engine has
    learned its default schema, and only for the transaction (``SET LOCAL``),
    so pooled connections are not changed.
    """
    connection.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(namespace)}, public")


def compare_type(
    context: MigrationContext,
    inspected_column: sa.Column[Any],
    metadata_column: sa.Column[Any],
    inspected_type: sa.types.TypeEngine[Any],
    metadata_type: sa.types.TypeEngine[Any],
) -> bool | None:
    """Alembic's comparison, with four corrections.

    A type SQLAlchemy does not know (:class:`CatalogType`) is reflected as
    ``NullType``, so it compares by the name the catalog prints.

    Enum and domain columns compare by type name: their values are the enum comparator's
    job, and the reflected type names no schema while the namespace is on the
    search_path; so do arrays of them, by their element.

    Text columns compare their collations too, a column without one having the
    database's default: Alembic compares a collation only when both sides name one,
    so declaring ``COLLATE "C"`` on a column, or removing it, went unseen by
    ``db check`` and ``db generate``.
    """
    if isinstance(metadata_type, CatalogType):  # reflected as NullType: ask the catalog
        return _catalog_type_name(context, inspected_column) != metadata_type.name
    if (
        isinstance(inspected_type, postgresql.ARRAY)
        and isinstance(metadata_type, postgresql.ARRAY)
        and isinstance(metadata_type.item_type, sa.Enum | postgresql.DOMAIN)
    ):  # an array of an enum or a domain: its element, by the same rules
        elements = (inspected_type.item_type, metadata_type.item_type)
        return compare_type(context, inspected_column, metadata_column, *elements)
    if isinstance(inspected_type, sa.Enum) and isinstance(metadata_type, sa.Enum):
        return inspected_type.name != metadata_type.name
    if isinstance(inspected_type, postgresql.DOMAIN) and isinstance(
        metadata_type, postgresql.DOMAIN
    ):  # a domain is a named type, like an enum: its definition is not the column's
        return inspected_type.name != metadata_type.name
    if (
        isinstance(inspected_type, sa.String)
        and isinstance(metadata_type, sa.String)
        and inspected_type.collation != metadata_type.collation
    ):
        return True
    return None  # Alembic's own comparison


def _catalog_type_name(context: MigrationContext, column: sa.Column[Any]) -> str | None:
    """The column's type as the catalog prints it (``format_type``), the namespace on the path."""
    if context.connection is None:
        return None
    found = context.connection.execute(
        sa.text(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(:table) AND a.attname = :column"
        ),
        {
            "table": qualified_name(str(column.table.schema), column.table.name),
            "column": column.name,
        },
    ).scalar()
    return None if found is None else str(found)


def diff_ops(connection: sa.Connection, namespace: str, metadata: sa.MetaData) -> list[Any]:
    """The operations that would make the namespace match ``metadata``, in order, flat."""
    use_namespace(connection, namespace)
    context = MigrationContext.configure(connection, opts=context_options(namespace, metadata))
    with unknown_types_quiet():  # compare_type names them
        script = produce_migrations(context, metadata)
    return list(_flat(script.upgrade_ops.ops if script.upgrade_ops else []))


def _flat(found: list[MigrateOperation]) -> Iterator[MigrateOperation]:
    for op in found:
        if isinstance(op, OpContainer):
            yield from _flat(op.ops)
        else:
            yield op


def describe(op: MigrateOperation) -> list[str]:
    """Readable lines for one operation, as ``seedbed db check`` prints them."""
    if isinstance(op, NamespaceOp):
        return [op.describe()]
    changed = op.info.get(CHANGED)
    if changed is True:
        return []  # the creation half of a changed definition, told by its drop
    diff = op.to_diff_tuple()
    if isinstance(changed, tuple):
        line = describe_diff(diff).replace("extra ", "changed ", 1)
        return [f"{line}: database {changed[0]}, models {changed[1]}"]
    diffs = diff if isinstance(diff, list) else [diff]
    return [describe_diff(d) for d in diffs]


def describe_diff(diff: Any) -> str:
    """One line for an Alembic diff tuple, naming the object."""
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        verb = "missing" if kind == "add_table" else "extra"
        return f"{verb} table {table.schema}.{table.name}"
    if kind in ("add_column", "remove_column"):
        verb = "missing" if kind == "add_column" else "extra"
        return f"{verb} column {diff[1]}.{diff[2]}.{diff[3].name}"
    if kind in ("add_index", "remove_index"):
        verb = "missing" if kind == "add_index" else "extra"
        return f"{verb} index {diff[1].name} on {diff[1].table.name}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        verb = "missing" if kind.startswith("add") else "extra"
        constraint = diff[1]
        return f"{verb} constraint {constraint.name} on {constraint.table.name}"
    if kind.startswith("modify_"):
        # ("modify_nullable", schema, table, column, info, existing, new)
        what = kind.removeprefix("modify_").replace("_", " ")
        column = f"{diff[2]}.{diff[3]}"
        shown = _default_sql if kind == "modify_default" else repr
        before, after = shown(diff[5]), shown(diff[6])
        return f"changed {what} of column {column}: database {before}, models {after}"
    return f"{kind}: {diff[1:]}"


def _default_sql(default: Any) -> str:
    """A server default as SQL (``now()``, ``false``), or ``none``."""
    if default is None:
        return "none"
    value = getattr(default, "arg", default)
    if isinstance(value, str):
        return value
    if isinstance(value, sa.TextClause):
        return value.text
    return str(value.compile(dialect=postgres_dialect()))


__all__ = [
    "context_options",
    "describe",
    "describe_diff",
    "diff_ops",
    "use_namespace",
]
