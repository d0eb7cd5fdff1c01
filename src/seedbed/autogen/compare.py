"""Comparators that teach Alembic's autogenerate the rest of what the models declare.

Registered on ``alembic.autogenerate.comparators`` (Alembic copies that registry
into every autogenerate run), they act only when the migration context names a
seedbed namespace (option ``seedbed_namespace``), and add to the ops Alembic
found:

- the ``updated_at`` function and one trigger per table with an ``updated_at``
  column: created with their table (or for a table that gains the column),
  dropped with it; the function replaced when its source differs from the model's;
- enum types: created before any table uses them, new values added with
  ``ALTER TYPE ... ADD VALUE``, dropped when no column uses them; enum columns are
  rendered with ``create_type=False`` so tables never create or drop types;
- the domains the model declares in its namespace (``MetaData.info[DOMAINS]``):
  created after the enum types and before any table uses them; one already there
  is compared part by part (its CHECKs by name and definition, DEFAULT, NOT NULL,
  each changed with ``ALTER DOMAIN``; a changed base type is named, not altered);
  one the model does not declare stays;
- CHECK constraints on existing tables, compared by name and by definition;
- the WHERE clause of partial indexes present on both sides;
- foreign keys between tables created or dropped together, a cycle's included,
  added after the tables or dropped before them (:mod:`seedbed.autogen.keys`).

Definitions are compared after PostgreSQL itself has normalized the model's SQL:
the model's CHECKs and index predicates are created on an empty temporary copy
of the table inside a savepoint that is rolled back, and read back with
``pg_get_constraintdef`` / ``pg_get_expr``, exactly as the database's own are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import comparators
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql.elements import conv

from seedbed.autogen import ops as namespace_ops
from seedbed.autogen.definitions import changed_definitions
from seedbed.autogen.keys import keys_after_tables, keys_before_drops
from seedbed.db import casts_by_assignment
from seedbed.facts import UPDATED_AT_BODY, tables_with_updated_at
from seedbed.facts.referenced import DOMAINS, DomainParts, domain_parts, domain_sql
from seedbed.facts.spec import FROM_CATALOG
from seedbed.facts.triggers import updated_at_function_body, updated_at_triggers
from seedbed.sqltext import postgres_dialect, quote_ident

NAMESPACE_OPTION = "seedbed_namespace"
_CONTINUE = PriorityDispatchResult.CONTINUE


def _namespace(autogen_context: AutogenContext) -> str | None:
    namespace = autogen_context.opts.get(NAMESPACE_OPTION)
    return str(namespace) if namespace else None


@comparators.dispatch_for("schema", priority=DispatchPriority.LAST)
def compare_namespace(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: set[str | None]
) -> PriorityDispatchResult:
    """Enum types, domains and the updated_at function and triggers, around Alembic's table ops."""
    namespace = _namespace(autogen_context)
    metadata = autogen_context.metadata
    connection = autogen_context.connection
    if namespace is None or not isinstance(metadata, sa.MetaData) or connection is None:
        return _CONTINUE
    front: list[ops.MigrateOperation] = []
    back: list[ops.MigrateOperation] = []
    reflected = _inspector(autogen_context).get_enums(namespace)
    db_enums = {e["name"]: tuple(e["labels"]) for e in reflected}
    declared = model_enums(metadata, namespace)
    if metadata.info.get(FROM_CATALOG):  # the namespace is the model: so are its enums
        declared = {**db_enums, **declared}
    _compare_enums(namespace, declared, db_enums, front, back)
    declared = metadata.info.get(DOMAINS, {})
    present = domain_parts(connection, namespace)
    front += [
        namespace_ops.CreateDomainOp(namespace, name, definition)
        for name, definition in declared.items()
        if name not in present
    ]
    kept = {name: declared[name] for name in declared if name in present}
    for name, parts in _declared_domain_parts(connection, namespace, kept).items():
        front += _domain_changes(namespace, name, present[name], parts)
    upgrade_ops.ops[:] = (
        front
        + keys_before_drops(
            keys_after_tables(
                _with_triggers(autogen_context, connection, upgrade_ops.ops, metadata, namespace)
            )
        )
        + back
    )
    for op in _walk(upgrade_ops.ops):
        _without_type_creation(op)
        if isinstance(op, ops.AlterColumnOp):
            converted_by_cast(connection, op)
    return _CONTINUE


@comparators.dispatch_for("column", subgroup="server_default", priority=DispatchPriority.FIRST)
def compare_server_default(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: sa.Column[Any],
    metadata_col: sa.Column[Any],
) -> PriorityDispatchResult:
    """Two server defaults Alembic's comparisons get wrong, ahead of them.

    - A namespace that is the model: a ``serial`` column's ``nextval(...)`` is the
      database's own default. Alembic leaves it out of the database's side only (a
      column's own sequence), so ``db check`` called it a change.
    - A model default the column's current type cannot read yet is a change.
      Alembic compares two defaults in PostgreSQL (``SELECT new = old``), which
      reads the model's default as the column's current type: a default that type
      cannot take yet (an enum label the same change adds, ``'c'`` for ``kind``;
      text for a column that becomes text) raised and stopped ``db generate`` and
      ``db check``. The same comparison runs here first, in a savepoint; when it
      cannot run, the default changed.

    Otherwise Alembic's own comparisons (identity, computed, the others) run as
    they do without this one.
    """
    new, old = metadata_col.server_default, conn_col.server_default
    connection = autogen_context.connection
    if connection is None or not isinstance(new, DefaultClause):
        return _CONTINUE
    if old is None and metadata_col.table.metadata.info.get(FROM_CATALOG):
        serial = _rendered(new).startswith("nextval(")
        return PriorityDispatchResult.STOP if serial else _CONTINUE
    if not isinstance(old, DefaultClause):  # none, an identity or a generated column
        return _CONTINUE
    rendered_old = old.arg.text if isinstance(old.arg, sa.TextClause) else str(old.arg)
    try:
        with connection.begin_nested():
            autogen_context.migration_context.impl.compare_server_default(  # type: ignore[no-untyped-call]
                conn_col, metadata_col, _rendered(new), rendered_old
            )
    except sa.exc.DBAPIError:
        alter_column_op.existing_server_default = old
        alter_column_op.modify_server_default = new
        return PriorityDispatchResult.STOP
    return _CONTINUE


def _rendered(default: DefaultClause) -> str:
    """A model's server default as SQL, as Alembic renders it for its comparison."""
    if isinstance(default.arg, str):
        return default.arg
    compiled = default.arg.compile(
        dialect=postgres_dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


_PROBE_DOMAIN = "seedbed_probe_domain"


def _declared_domain_parts(
    connection: sa.Connection, namespace: str, declared: dict[str, str]
) -> dict[str, DomainParts]:
    """The model's definitions of domains the namespace has, as PostgreSQL writes them back.

    Each is created under a probe name inside a savepoint that is rolled back,
    and read as the catalog's own are (see :mod:`seedbed.autogen.definitions`).
    """
    found: dict[str, DomainParts] = {}
    for name, definition in declared.items():
        savepoint = connection.begin_nested()
        try:
            connection.exec_driver_sql(domain_sql(namespace, _PROBE_DOMAIN, definition))
            found[name] = domain_parts(connection, namespace)[_PROBE_DOMAIN]
        finally:
            savepoint.rollback()
    return found


def _domain_changes(
    namespace: str, name: str, present: DomainParts, declared: DomainParts
) -> list[ops.MigrateOperation]:
    """What makes domain ``name`` match its declaration: one ``ALTER DOMAIN`` per part.

    CHECKs the model drops or changes go first, new ones last, so a changed
    CHECK is dropped before its new definition is added.
    """
    if present.base != declared.base:
        return [namespace_ops.KeepDomainTypeOp(namespace, name, present.base, declared.base)]
    found: list[ops.MigrateOperation] = []

    def alter(action: str, undo: str, change: str) -> None:
        found.append(namespace_ops.AlterDomainOp(namespace, name, action, undo, change))

    def drop(check: str) -> str:  # the name as SQL writes it
        return f"DROP CONSTRAINT {check}"

    def add(check: str, definition: str) -> str:
        return f"ADD CONSTRAINT {check} {definition}"

    def default(value: str | None) -> str:
        return "DROP DEFAULT" if value is None else f"SET DEFAULT {value}"

    def nulls(not_null: bool) -> str:
        return "SET NOT NULL" if not_null else "DROP NOT NULL"

    old, new = present.checks, declared.checks
    changed = sorted(c for c in old.keys() & new.keys() if old[c] != new[c])
    for check in sorted(old.keys() - new.keys()):
        alter(drop(check), add(check, old[check]), f"extra {check} {old[check]}")
    for check in changed:
        alter(drop(check), add(check, old[check]), f"{check} was {old[check]}")
    if present.default != declared.default:
        change = f"default {present.default} -> {declared.default}"
        alter(default(declared.default), default(present.default), change)
    if present.not_null != declared.not_null:
        change = "NOT NULL" if declared.not_null else "NULL allowed"
        alter(nulls(declared.not_null), nulls(present.not_null), change)
    for check in changed:
        alter(add(check, new[check]), drop(check), f"{check} is {new[check]}")
    for check in sorted(new.keys() - old.keys()):
        alter(add(check, new[check]), drop(check), f"missing {check} {new[check]}")
    return found


def _inspector(autogen_context: AutogenContext) -> Any:
    return autogen_context.inspector


def model_enums(metadata: sa.MetaData, namespace: str) -> dict[str, tuple[str, ...]]:
    """Native enum types the model's columns use in ``namespace``: name -> labels."""
    found: dict[str, tuple[str, ...]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type
            if not (isinstance(kind, sa.Enum) and kind.native_enum and kind.name):
                continue
            if (kind.schema or table.schema) == namespace:
                found.setdefault(str(kind.name), tuple(kind.enums))
    return found


def _compare_enums(
    namespace: str,
    declared: dict[str, tuple[str, ...]],
    present: dict[str, tuple[str, ...]],
    front: list[ops.MigrateOperation],
    back: list[ops.MigrateOperation],
) -> None:
    for name, labels in sorted(declared.items()):
        if name not in present:
            front.append(namespace_ops.CreateEnumOp(namespace, name, labels))
            continue
        for position, label in enumerate(labels):
            if label in present[name]:
                continue
            # After the model's previous value (present, or added just before);
            # a new first value goes before the first value already there.
            after = labels[position - 1] if position else None
            before = next((v for v in labels[position + 1 :] if v in present[name]), None)
            front.append(namespace_ops.AddEnumValueOp(namespace, name, label, after, before))
    for name, labels in sorted(present.items()):
        if name not in declared:
            back.append(namespace_ops.DropEnumOp(namespace, name, labels))


def _with_triggers(
    autogen_context: AutogenContext,
    connection: sa.Connection,
    found: list[ops.MigrateOperation],
    metadata: sa.MetaData,
    namespace: str,
) -> list[ops.MigrateOperation]:
    """``found`` with the updated_at function and trigger ops put where they belong.

    A new table's trigger follows its CREATE TABLE; a dropped table's trigger is
    dropped just before it, so the downgrade recreates it after the table.
    """
    wanted = {t.name for t in tables_with_updated_at(metadata) if t.schema == namespace}
    present = updated_at_triggers(connection, namespace)
    tables = set(_inspector(autogen_context).get_table_names(namespace))
    declared = {t.name for t in metadata.tables.values() if t.schema == namespace}
    lost = (present - wanted) & declared
    result: list[ops.MigrateOperation] = []
    body = updated_at_function_body(connection, namespace)
    if wanted and body is None:
        result.append(namespace_ops.CreateUpdatedAtFunctionOp(namespace))
    elif wanted and body is not None and body != UPDATED_AT_BODY:
        result.append(namespace_ops.ReplaceUpdatedAtFunctionOp(namespace, UPDATED_AT_BODY, body))
    for op in found:
        name = getattr(op, "table_name", None)
        if isinstance(op, ops.DropTableOp) and name in present:
            result.append(namespace_ops.DropUpdatedAtTriggerOp(namespace, op.table_name))
        elif isinstance(op, ops.ModifyTableOps) and name in lost:
            result.append(namespace_ops.DropUpdatedAtTriggerOp(namespace, op.table_name))
            lost = lost - {op.table_name}
        result.append(op)
        if isinstance(op, ops.CreateTableOp) and name in wanted:
            result.append(namespace_ops.CreateUpdatedAtTriggerOp(namespace, op.table_name))
    result += [
        namespace_ops.CreateUpdatedAtTriggerOp(namespace, table)
        for table in sorted((wanted - present) & tables)
    ]
    result += [namespace_ops.DropUpdatedAtTriggerOp(namespace, table) for table in sorted(lost)]
    if not wanted and body is not None:
        result.append(namespace_ops.DropUpdatedAtFunctionOp(namespace))
    return result


def converted_by_cast(connection: sa.Connection, op: ops.AlterColumnOp) -> None:
    """A type change PostgreSQL makes only with USING (no assignment cast from the column's
    type to the new one: ``text`` to ``integer``, ``date``...) converts each value with a
    cast, ``USING "code"::INTEGER``, as Django's migrations do: without it the ALTER fails
    whatever the data. ``db lint`` then counts the values that would not convert. A
    downgrade's op (the upgrade's, reversed, with its USING) is judged again."""
    if op.modify_type is None or op.existing_type is None:
        return
    op.kw.pop("postgresql_using", None)
    dialect = postgres_dialect()
    old = str(sa.types.to_instance(op.existing_type).compile(dialect=dialect))
    new = str(sa.types.to_instance(op.modify_type).compile(dialect=dialect))
    if casts_by_assignment(connection, old, new) is False:
        op.kw["postgresql_using"] = f"{quote_ident(op.column_name)}::{new}"


def _walk(found: Iterable[ops.MigrateOperation]) -> Iterator[ops.MigrateOperation]:
    for op in found:
        if isinstance(op, ops.OpContainer):
            yield from _walk(op.ops)
        else:
            yield op


def _without_type_creation(op: ops.MigrateOperation) -> None:
    """Enum columns that never create or drop their type; reflected CHECK names kept as is.

    Enum types are created and dropped by their own ops; a table that did it too
    would create a type twice, or drop one another table still uses. Reflected
    CHECK names are wrapped in ``conv`` so the naming convention is not applied
    to them a second time.
    """
    if isinstance(op, ops.CreateTableOp):
        op.columns = [_adapted(item) for item in op.columns]
    elif isinstance(op, ops.DropTableOp) and op._reverse is not None:
        op._reverse.columns = [_adapted(item) for item in op._reverse.columns]
    elif isinstance(op, ops.AddColumnOp):
        op.column = _adapted(op.column)
    elif isinstance(op, ops.DropColumnOp) and op._reverse is not None:
        op._reverse.column = _adapted(op._reverse.column)


def _adapted(item: Any) -> Any:
    if isinstance(item, sa.ForeignKeyConstraint):
        return _qualified(item)
    if isinstance(item, sa.CheckConstraint) and isinstance(item.name, str):
        if not isinstance(item.name, conv):
            item.name = conv(item.name)
        return item
    if not isinstance(item, sa.Column):
        return item
    schema = item.table.schema if item.table is not None else None
    kind = _without_creation(item.type, schema)
    if kind is item.type:
        return item
    copy = item._copy()
    copy.type = kind
    return copy


def _without_creation(kind: Any, schema: str | None) -> Any:
    """A native enum type (or an array of one, at any depth) as one that creates no type:
    an array's enum created its type with the table too (``type "status" already exists``
    from ``db push``); other types as they are."""
    if isinstance(kind, sa.ARRAY):
        item = _without_creation(kind.item_type, schema)
        if item is kind.item_type:
            return kind
        return postgresql.ARRAY(item, dimensions=kind.dimensions, zero_indexes=kind.zero_indexes)
    if not isinstance(kind, sa.Enum) or not kind.native_enum or not kind.name:
        return kind
    if isinstance(kind, postgresql.ENUM) and not kind.create_type:
        return kind
    return postgresql.ENUM(
        *kind.enums, name=kind.name, schema=kind.schema or schema, create_type=False
    )


def _qualified(constraint: sa.ForeignKeyConstraint) -> sa.ForeignKeyConstraint:
    """The foreign key with its targets' namespace spelled out.

    A model writes ``ForeignKey("user.id")`` and SQLAlchemy resolves it in the
    metadata's namespace; the table Alembic builds for ``create_table`` has no
    such metadata, so the target must name the namespace itself.
    """
    schema = constraint.table.schema if constraint.table is not None else None
    targets = [element.target_fullname for element in constraint.elements]
    if schema is None or all(target.count(".") == 2 for target in targets):
        return constraint
    return sa.ForeignKeyConstraint(
        # by key: the table Alembic builds holds its columns by key, as ``Table.c`` does
        [element.parent.key for element in constraint.elements],
        [t if t.count(".") == 2 else f"{schema}.{t}" for t in targets],
        name=constraint.name,
        onupdate=constraint.onupdate,
        ondelete=constraint.ondelete,
        deferrable=constraint.deferrable,
        initially=constraint.initially,
        use_alter=constraint.use_alter,
        match=constraint.match,
    )


@comparators.dispatch_for("table", priority=DispatchPriority.LAST)
def compare_definitions(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    table_name: str,
    conn_table: sa.Table | None,
    metadata_table: sa.Table | None,
) -> PriorityDispatchResult:
    """CHECK constraints by name and definition; partial index predicates by definition."""
    namespace = _namespace(autogen_context)
    connection = autogen_context.connection
    if (
        namespace is None
        or schema != namespace
        or conn_table is None
        or metadata_table is None
        or connection is None
    ):
        return _CONTINUE
    changed_definitions(connection, namespace, conn_table, metadata_table, modify_table_ops)
    return _CONTINUE


__all__ = ["NAMESPACE_OPTION", "compare_definitions", "compare_namespace", "model_enums"]
