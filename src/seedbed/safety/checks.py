"""The checks behind the lint rules: one function per kind of Alembic operation.

:data:`CHECKS` says which operation types each check reads. A check gets the
recorded operation and a :class:`Scope` that can ask the database about the
rows there now, and returns findings for the rules in
:mod:`seedbed.safety.rules`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.safety import probes
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
    raw_sql_before: bool = False
    """An earlier pending step ran SQL that may change rows (the counts are from before it)."""
    """(enum type, label) added by earlier pending steps with ``ALTER TYPE ... ADD VALUE``."""

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


def adding_required_field(op: ops.AddColumnOp, scope: Scope) -> Iterable[Finding]:
    column = op.column
    if column.nullable or column.server_default is not None or column.computed is not None:
        return
    if column.identity is not None or scope.is_new(op.table_name):
        return
    rows = probes.row_count(scope.relation(op.table_name, op.schema))
    if rows == 0:
        return
    yield scope.finding(
        "adding-required-field",
        f"{op.table_name}.{column.name}",
        f"{op.table_name} has {counted(rows, 'row(s)')}; adding {column.name} NOT NULL without "
        "a server default fails on them (column contains null values) and nothing changes",
        error=rows is not None,
        affected=rows or 0,
    )


def altered_column(op: ops.AlterColumnOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.table_name):
        return
    relation = scope.relation(op.table_name, op.schema)
    target = f"{op.table_name}.{op.column_name}"
    # A column an earlier step adds holds its default (or NULL) in every row: only SET NOT
    # NULL can fail on those values.
    added = scope.is_new(op.table_name, op.column_name)
    if op.modify_type is not None and not added:
        changed = changed_type(op, scope, relation, target)
        yield changed
        if changed.severity is not Severity.ERROR:
            yield from _kept_constraints(op, scope, relation)
    if op.modify_nullable is False and op.existing_nullable is not False:
        nulls = probes.value_count(relation, op.column_name, null=True)
        if nulls != 0:
            yield scope.finding(
                "adding-not-nullable-field",
                target,
                f"{counted(nulls, 'row(s)')} hold NULL in {target}; SET NOT NULL fails on them",
                error=nulls is not None,
                affected=nulls or 0,
            )
    if op.modify_name is not None and not added:
        values = probes.value_count(relation, op.column_name)
        yield scope.finding(
            "renaming-column",
            target,
            f"{target} becomes {op.table_name}.{op.modify_name} ({counted(values, 'value(s)')} "
            "kept); readers and writers that use the old name fail from then on",
            error=False,
        )


def changed_type(op: ops.AlterColumnOp, scope: Scope, relation: Relation, target: str) -> Finding:
    """How many current values would not convert; an error when any would not."""
    kind = sa.types.to_instance(op.modify_type)
    new = str(kind.compile(dialect=scope.connection.dialect))
    old = probes.column_type(relation, op.column_name) or "its current type"
    if _collation_change(kind, old, relation, op.column_name, scope.connection.dialect):
        effect = (
            f"only the collation of {target} changes ({new}): every value is kept and the "
            "table is not rewritten, but its indexes on the column are rebuilt under an ACCESS "
            "EXCLUSIVE lock, and sorting and comparing it follow the new collation"
        )
        return scope.finding("changing-column-type", target, effect, error=False)
    using: str | None = op.kw.get("postgresql_using")
    values = probes.value_count(relation, op.column_name)
    column = relation.column(op.column_name)
    assignable = probes.casts_by_assignment(scope.connection, old, new)
    if assignable is None and isinstance(kind, sa.Enum):
        assignable = False  # a type an earlier step creates; no type casts to an enum by assignment
    if using is None and assignable is False:
        bad = probes.unconvertible_count(relation, op.column_name, new, f"{column}::{new}")
        effect = (
            f"PostgreSQL has no automatic cast from {old} to {new}: the ALTER fails whatever "
            "the data"
        )
        if bad is not None:
            effect += (
                f"; with postgresql_using='{column}::{new}', {bad:,} of "
                f"{counted(values, 'non-null value(s)')} would not convert"
            )
        return scope.finding("changing-column-type", target, effect, error=True, affected=bad or 0)
    bad = probes.unconvertible_count(relation, op.column_name, new, using)
    if bad is None:
        effect = f"could not test the conversion of {target} from {old} to {new}"
        return scope.finding("changing-column-type", target, effect, error=False)
    if bad == 0:
        effect = (
            f"all {counted(values, 'non-null value(s)')} convert from {old} to {new}; the table "
            "is rewritten under an ACCESS EXCLUSIVE lock"
        )
        return scope.finding("changing-column-type", target, effect, error=False)
    effect = (
        f"{bad:,} of {counted(values, 'non-null value(s)')} in {target} would not convert "
        f"from {old} to {new}; the ALTER fails and nothing changes"
    )
    return scope.finding("changing-column-type", target, effect, error=True, affected=bad)


def _kept_constraints(op: ops.AlterColumnOp, scope: Scope, relation: Relation) -> Iterable[Finding]:
    """The table's CHECKs and unique keys on the column, which the ALTER checks again on the
    converted values (numeric(10,2) to numeric(10,0) makes 2.6 and 3.4 both 3)."""
    value = converted_value(op, scope.connection)
    after = dataclasses.replace(relation, added=(*relation.added, (op.column_name, value)))
    column = op.column_name
    for name, condition in probes.checks_on(relation, column):
        broken = probes.check_violations(after, condition)
        if broken:
            yield _broken_by_conversion(scope, op, name, broken)
    for name, columns, where in probes.unique_keys_on(relation, column):
        duplicated = probes.duplicate_rows(after, columns, where)
        if duplicated:
            yield _broken_by_conversion(scope, op, name, duplicated)


def _broken_by_conversion(scope: Scope, op: ops.AlterColumnOp, name: str, rows: int) -> Finding:
    return scope.finding(
        "constraint-violated-by-data",
        f"{op.table_name} ({name})",
        f"{rows:,} row(s) of {op.table_name} break {name} once {op.column_name} is converted; "
        "the ALTER fails and nothing changes",
        error=True,
        affected=rows,
    )


def _collation_change(
    kind: sa.types.TypeEngine[Any], old: str, relation: Relation, column: str, dialect: sa.Dialect
) -> bool:
    """True when ``kind`` is the column's current type (``old``, as PostgreSQL names it)
    with another collation: PostgreSQL keeps the data and rebuilds the indexes."""
    if not isinstance(kind, sa.String) or isinstance(kind, sa.Enum):
        return False
    plain = copy.copy(kind)
    plain.collation = None
    same_type = str(plain.compile(dialect=dialect)).lower() == old.lower()
    return same_type and kind.collation != probes.column_collation(relation, column)


def dropped_column(op: ops.DropColumnOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.table_name, op.column_name):
        return
    values = probes.value_count(scope.relation(op.table_name, op.schema), op.column_name)
    target = f"{op.table_name}.{op.column_name}"
    lost = f"{counted(values, 'non-null value(s)')} in {target} are lost"
    yield scope.finding(
        "ban-drop-column",
        target,
        f"{lost}; readers and writers of the column fail",
        error=bool(values),
        affected=values or 0,
    )


def dropped_table(op: ops.DropTableOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.table_name):
        return
    rows = probes.row_count(scope.relation(op.table_name, op.schema))
    yield scope.finding(
        "ban-drop-table",
        op.table_name,
        f"{counted(rows, 'row(s)')} of {op.table_name} are lost; its readers and writers fail",
        error=bool(rows),
        affected=rows or 0,
    )


def renamed_table(op: ops.RenameTableOp, scope: Scope) -> Iterable[Finding]:
    yield scope.finding(
        "renaming-table",
        op.table_name,
        f"{op.table_name} becomes {op.new_table_name}; readers and writers that use the old "
        "name fail from then on",
        error=False,
    )


def created_index(op: ops.CreateIndexOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.table_name):
        return
    relation = scope.relation(op.table_name, op.schema)
    if op.unique:
        where = op.kw.get("postgresql_where")
        held = None if where is None else _sql(where, scope.connection)
        distinct = not op.kw.get("postgresql_nulls_not_distinct")
        yield from _duplicates(scope, relation, op.columns, str(op.index_name), held, distinct)
    if op.kw.get("postgresql_concurrently"):
        return
    size = probes.table_bytes(relation)
    if size is None or size < scope.index_size_threshold:
        return
    rows = probes.row_count(relation)
    yield scope.finding(
        "require-concurrent-index-creation",
        f"{op.table_name}.{','.join(str(c) for c in op.columns)}",
        f"{op.table_name} holds {counted(rows, 'row(s)')} ({size / 2**20:.1f} MB); building "
        f"{op.index_name} without CONCURRENTLY blocks writes to it until the index is done",
        error=False,
    )


def added_unique(op: ops.CreateUniqueConstraintOp, scope: Scope) -> Iterable[Finding]:
    if not scope.is_new(op.table_name):
        relation = scope.relation(op.table_name, op.schema)
        distinct = not op.kw.get("postgresql_nulls_not_distinct")
        name = str(op.constraint_name)
        yield from _duplicates(scope, relation, op.columns, name, nulls_distinct=distinct)


def _duplicates(
    scope: Scope,
    relation: Relation,
    columns: Sequence[Any],
    name: str,
    where: str | None = None,
    nulls_distinct: bool = True,
) -> Iterable[Finding]:
    """Rows sharing a key, for a unique index or constraint on columns and expressions (a
    partial index's: among the rows ``where`` holds)."""
    written = [c if isinstance(c, str) else _sql(c, scope.connection, table=False) for c in columns]
    terms = [
        relation.column(w) if isinstance(c, str) else w
        for c, w in zip(columns, written, strict=True)
    ]
    target = f"{relation.table}.{','.join(written)}"
    duplicated = probes.duplicate_rows(relation, terms, where, nulls_distinct)
    if duplicated is None and probes.row_count(relation):
        effect = (
            f"could not count the rows of {relation.table} that share a key of {name}; "
            "`db migrate --dry-run` tells"
        )
        yield scope.finding("constraint-violated-by-data", target, effect, error=False)
    if duplicated:
        yield scope.finding(
            "constraint-violated-by-data",
            target,
            f"{duplicated:,} row(s) of {relation.table} share their key with another row; "
            f"building {name} fails and nothing changes",
            error=True,
            affected=duplicated,
        )


def added_check(op: ops.CreateCheckConstraintOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.table_name):
        return
    relation = scope.relation(op.table_name, op.schema)
    condition = _sql(op.condition, scope.connection)
    broken = probes.check_violations(relation, condition)
    target = f"{op.table_name} ({op.constraint_name})"
    yield from _added_constraint(scope, relation, target, op.kw, broken)


def added_foreign_key(op: ops.CreateForeignKeyOp, scope: Scope) -> Iterable[Finding]:
    if scope.is_new(op.source_table):
        return
    relation = scope.relation(op.source_table, op.kw.get("source_schema"))
    referred = scope.relation(op.referent_table, op.kw.get("referent_schema"))
    if scope.is_new(op.referent_table):
        broken = probes.value_count(relation, op.local_cols[0]) if len(op.local_cols) == 1 else None
    else:
        broken = probes.foreign_key_violations(relation, op.local_cols, referred, op.remote_cols)
    target = f"{op.source_table}.{','.join(op.local_cols)}"
    yield from _added_constraint(scope, relation, target, op.kw, broken)


def _added_constraint(
    scope: Scope, relation: Relation, target: str, kw: dict[str, Any], broken: int | None
) -> Iterable[Finding]:
    not_valid = bool(kw.get("postgresql_not_valid"))
    rows = probes.row_count(relation)
    if rows and not not_valid:
        yield scope.finding(
            "constraint-missing-not-valid",
            target,
            f"all {counted(rows, 'row(s)')} of {relation.table} are checked while writes wait",
            error=False,
        )
    if broken is None and rows:
        effect = (
            f"could not count the rows of {relation.table} that break it (it names a column "
            "an earlier step adds?); `db migrate --dry-run` tells"
        )
        yield scope.finding("constraint-violated-by-data", target, effect, error=False)
    elif broken and rows:
        effect = f"{broken:,} row(s) of {relation.table} break it now; " + (
            "VALIDATE CONSTRAINT will fail until they are fixed"
            if not_valid
            else "adding it fails and nothing changes"
        )
        yield scope.finding(
            "constraint-violated-by-data", target, effect, error=not not_valid, affected=broken
        )


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
    text = " ".join(_sql(op.sqltext, connection).split())
    return not text.lower().startswith(_HARMLESS_SQL)


def executed_sql(op: ops.ExecuteSQLOp, scope: Scope) -> Iterable[Finding]:
    if not may_change_rows(op, scope.connection):
        return
    text = " ".join(_sql(op.sqltext, scope.connection).split())
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
    found = _ADD_VALUE.match(_sql(op.sqltext, connection))
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
                    (f"{table} ({column.name})", _sql(column.sqltext, scope.connection), None)
                )
    elif isinstance(op, ops.AlterColumnOp) and op.modify_server_default not in (False, None):
        kind = op.modify_type if op.modify_type is not None else op.existing_type
        target = f"{op.table_name}.{op.column_name}"
        uses.append((target, _default_sql(op.modify_server_default, scope), kind))
    elif isinstance(op, ops.CreateCheckConstraintOp):
        target = f"{op.table_name} ({op.constraint_name})"
        uses.append((target, _sql(op.condition, scope.connection), None))
    elif isinstance(op, ops.CreateIndexOp) and op.kw.get("postgresql_where") is not None:
        where = _sql(op.kw["postgresql_where"], scope.connection)
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
    return quote_literal(value) if isinstance(value, str) else _sql(value, scope.connection)


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
        value = "null" if default is None else _sql(default, connection)
    return f"cast({value} as {column.type.compile(dialect=connection.dialect)})"


def _sql(clause: Any, connection: sa.Connection, *, table: bool = True) -> str:
    """The SQL the database gets for ``clause`` (a revision's string goes through ``text()``);
    not ``table``: its columns without their table's name, as CREATE INDEX writes them."""
    if isinstance(clause, str):
        return unescaped(clause)
    options = {"literal_binds": True, **({} if table else {"include_table": False})}
    return str(clause.compile(dialect=connection.dialect, compile_kwargs=options))


Check = Callable[[Any, Scope], Iterable[Finding]]

CHECKS: dict[type[ops.MigrateOperation], tuple[Check, ...]] = {
    ops.AddColumnOp: (adding_required_field, used_new_enum_value),
    ops.AlterColumnOp: (altered_column, used_new_enum_value),
    ops.CreateTableOp: (used_new_enum_value,),
    ops.DropColumnOp: (dropped_column,),
    ops.DropTableOp: (dropped_table,),
    ops.RenameTableOp: (renamed_table,),
    ops.CreateIndexOp: (created_index, used_new_enum_value),
    ops.CreateCheckConstraintOp: (added_check, used_new_enum_value),
    ops.CreateUniqueConstraintOp: (added_unique,),
    ops.CreateForeignKeyOp: (added_foreign_key,),
    ops.ExecuteSQLOp: (executed_sql,),
}
"""Which checks read which operation type (an operation's subclasses included)."""


def check(operation: ops.MigrateOperation, scope: Scope) -> list[Finding]:
    """Every finding of every check that reads ``operation``'s type."""
    found: list[Finding] = []
    for kind in type(operation).__mro__:
        for rule_check in CHECKS.get(kind, ()):
            found.extend(rule_check(operation, scope))
    return found
