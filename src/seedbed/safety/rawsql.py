"""Raw SQL steps (``op.execute``): whether one may change rows, and the enum labels
``ALTER TYPE ... ADD VALUE`` adds, which PostgreSQL lets no one use before its transaction
commits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.safety.findings import Finding
from seedbed.safety.scope import Scope, revision_sql
from seedbed.sqltext import quote_literal

_HARMLESS_SQL = (
    "create schema",
    "create function",
    "create or replace function",
    "create trigger",
    "create or replace trigger",
    "drop trigger",
    "drop function",
    "create type",
    "alter type",
    "drop type",
    "create extension",
    "create domain",  # a new domain or sequence holds no rows: a baseline creates them
    "create sequence",
    "comment on",
    "grant",
)


def may_change_rows(op: ops.MigrateOperation, connection: sa.Connection) -> bool:
    """Whether ``op`` is raw SQL that may change tables or rows."""
    if not isinstance(op, ops.ExecuteSQLOp):
        return False
    text = " ".join(revision_sql(op.sqltext, connection).split())
    return not text.lower().startswith(_HARMLESS_SQL)


def executed_sql(op: ops.ExecuteSQLOp, scope: Scope) -> Iterable[Finding]:
    if not may_change_rows(op, scope.connection):
        return
    text = " ".join(revision_sql(op.sqltext, scope.connection).split())
    shown = text if len(text) <= 60 else text[:57] + "..."
    yield scope.finding(
        "unchecked-sql",
        "(raw SQL)",
        f"op.execute({shown!r}) is not checked against the data",
        error=False,
    )


_NAME = r'(?:"(?:[^"]|"")+"|[^\s."]+)'
_ADD_VALUE = re.compile(
    rf"\s*alter\s+type\s+(?:{_NAME}\s*\.\s*)?(?P<type>{_NAME})\s+add\s+value\s+"
    r"(?:if\s+not\s+exists\s+)?'(?P<label>(?:[^']|'')*)'",
    re.IGNORECASE,
)


def enum_value_added(op: ops.MigrateOperation, connection: sa.Connection) -> tuple[str, str] | None:
    """(type, label) when ``op`` is ``ALTER TYPE ... ADD VALUE``, else None."""
    if not isinstance(op, ops.ExecuteSQLOp):
        return None
    found = _ADD_VALUE.match(revision_sql(op.sqltext, connection))
    if found is None:
        return None
    name = found["type"]
    if name.startswith('"'):
        name = name[1:-1].replace('""', '"')
    return name, found["label"].replace("''", "'")


def used_new_enum_value(op: ops.MigrateOperation, scope: Scope) -> Iterable[Finding]:
    """A label that ``ADD VALUE`` added earlier in the transaction, used by a default, a CHECK
    or an index predicate: PostgreSQL refuses it ("unsafe use of new value") until the
    transaction that added it commits, and ``db migrate`` applies every pending revision in one
    transaction."""
    if not scope.new_enum_values:
        return
    uses: list[tuple[str, str, sa.types.TypeEngine[Any] | None]] = []  # target, SQL, type
    if isinstance(op, (ops.AddColumnOp, ops.CreateTableOp)):
        table = op.table_name
        columns = [op.column] if isinstance(op, ops.AddColumnOp) else op.columns
        for column in columns:
            default = getattr(column, "server_default", None)
            if isinstance(column, sa.Column) and default is not None:
                uses.append((f"{table}.{column.name}", _default_sql(default, scope), column.type))
            elif isinstance(column, sa.CheckConstraint):
                uses.append(
                    (
                        f"{table} ({column.name})",
                        revision_sql(column.sqltext, scope.connection),
                        None,
                    )
                )
    elif isinstance(op, ops.AlterColumnOp) and op.modify_server_default not in (False, None):
        kind = op.modify_type if op.modify_type is not None else op.existing_type
        target = f"{op.table_name}.{op.column_name}"
        uses.append((target, _default_sql(op.modify_server_default, scope), kind))
    elif isinstance(op, ops.CreateCheckConstraintOp):
        target = f"{op.table_name} ({op.constraint_name})"
        uses.append((target, revision_sql(op.condition, scope.connection), None))
    elif isinstance(op, ops.CreateIndexOp) and op.kw.get("postgresql_where") is not None:
        where = revision_sql(op.kw["postgresql_where"], scope.connection)
        uses.append((f"{op.table_name} ({op.index_name})", where, None))
    for target, sql, kind in uses:
        for type_name, label in sorted(scope.new_enum_values):
            if not _may_be_enum(kind, type_name):
                continue  # a default of a column of another type: no use of this label
            if quote_literal(label) in sql:
                yield scope.finding(
                    "enum-value-used-in-same-transaction",
                    target,
                    f"{quote_literal(label)} is added to enum {type_name} by a pending step; "
                    f"PostgreSQL refuses to use it before that transaction commits (unsafe use "
                    "of new value) and nothing changes",
                    error=True,
                )


def _may_be_enum(kind: Any, name: str) -> bool:
    """Whether a column of type ``kind`` (None: not known) may be of the enum ``name``."""
    if kind is None or isinstance(sa.types.to_instance(kind), sa.types.NullType):
        return True
    kind = sa.types.to_instance(kind)
    return isinstance(kind, sa.Enum) and kind.name == name


def _default_sql(default: Any, scope: Scope) -> str:
    value = getattr(default, "arg", default)
    return quote_literal(value) if isinstance(value, str) else revision_sql(value, scope.connection)


__all__ = ["enum_value_added", "executed_sql", "may_change_rows", "used_new_enum_value"]
