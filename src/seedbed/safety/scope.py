"""What a lint check may ask, and the SQL of what a revision writes.

A :class:`Scope` holds the connection, the namespace and what earlier
pending steps did (tables and columns they add, types they change, enum
labels they add); :func:`revision_sql` is the SQL the database gets for a
revision's clause, and :func:`added_value` and :func:`converted_value` the
values rows get from an added column or a type change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.safety.findings import Finding, Severity
from seedbed.safety.probes import Relation
from seedbed.safety.rules import INDEX_SIZE_THRESHOLD, RULES
from seedbed.sqltext import quote_ident, quote_literal, unescaped


@dataclass
class Scope:
    """What a check may ask: the connection, the namespace, and what earlier steps did."""

    connection: sa.Connection
    namespace: str
    revision: str = ""
    index_size_threshold: int = INDEX_SIZE_THRESHOLD
    new_tables: set[str] = field(default_factory=set)
    new_columns: dict[tuple[str, str], str] = field(default_factory=dict)
    """(table, column) added by earlier pending steps -> SQL of the value rows get."""
    converted_columns: dict[tuple[str, str], str] = field(default_factory=dict)
    """(table, column) whose type earlier pending steps change -> SQL of the converted value."""
    new_enum_values: set[tuple[str, str]] = field(default_factory=set)
    """(enum type, label) added by earlier pending steps with ``ALTER TYPE ... ADD VALUE``."""
    raw_sql_before: bool = False
    """An earlier pending step ran SQL that may change rows (the counts are from before it)."""

    def relation(self, table: str, schema: str | None = None) -> Relation:
        changed = {**self.converted_columns, **self.new_columns}
        added = tuple((c, value) for (t, c), value in changed.items() if t == table)
        return Relation(self.connection, schema or self.namespace, table, added)

    def is_new(self, table: str, column: str | None = None) -> bool:
        """Created by an earlier pending step, so it holds no rows yet."""
        return table in self.new_tables or (table, column) in self.new_columns

    def finding(
        self, rule: str, target: str, effect: str, *, error: bool, affected: int = 0
    ) -> Finding:
        severity = Severity.ERROR if error else Severity.WARNING
        if affected and self.raw_sql_before:
            effect += " (counted before the op.execute of an earlier step, which lint does not run)"
        return Finding(rule, severity, self.revision, target, effect, RULES[rule].fix, affected)


def counted(value: int | None, what: str) -> str:
    return f"{value:,} {what}" if value is not None else f"an unknown number of {what}"


def converted_value(op: ops.AlterColumnOp, connection: sa.Connection) -> str:
    """SQL for a column's values after ``op`` changes its type (its ``USING``, else a cast)."""
    using = op.kw.get("postgresql_using")
    if using is not None:
        return f"({unescaped(str(using))})"
    kind = sa.types.to_instance(op.modify_type).compile(dialect=connection.dialect)
    return f"cast(t.{quote_ident(op.column_name)} as {kind})"


def added_value(column: sa.Column[Any], connection: sa.Connection) -> str:
    """SQL for the value an added column gives the rows already there: its default, or NULL."""
    default = getattr(column.server_default, "arg", None)
    if isinstance(default, str):
        value = quote_literal(default)
    else:
        value = "null" if default is None else revision_sql(default, connection)
    return f"cast({value} as {column.type.compile(dialect=connection.dialect)})"


def revision_sql(clause: Any, connection: sa.Connection, *, table: bool = True) -> str:
    """The SQL the database gets for ``clause`` (a revision's string goes through ``text()``);
    not ``table``: its columns without their table's name, as CREATE INDEX writes them."""
    if isinstance(clause, str):
        return unescaped(clause)
    options = {"literal_binds": True, **({} if table else {"include_table": False})}
    return str(clause.compile(dialect=connection.dialect, compile_kwargs=options))


__all__ = ["Scope", "added_value", "converted_value", "counted", "revision_sql"]
