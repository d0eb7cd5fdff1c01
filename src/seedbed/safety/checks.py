"""The checks behind the lint rules: one function per kind of Alembic operation.

:data:`CHECKS` says which operation types each check reads. A check gets the
recorded operation and a :class:`~seedbed.safety.scope.Scope` that can ask the
database about the rows there now, and returns findings for the rules in
:mod:`seedbed.safety.rules`. The checks of raw SQL steps (and of the enum
labels they add) are in :mod:`seedbed.safety.rawsql`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.db import casts_by_assignment
from seedbed.safety import probes
from seedbed.safety.findings import Finding, Severity
from seedbed.safety.probes import Relation
from seedbed.safety.rawsql import executed_sql, used_new_enum_value
from seedbed.safety.scope import Scope, converted_value, counted, revision_sql


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
    assignable = casts_by_assignment(scope.connection, old, new)
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
        f"{lost}; readers and writers of the column fail{_renamed(op, scope)}",
        error=bool(values),
        affected=values or 0,
    )


def _renamed(op: ops.DropColumnOp, scope: Scope) -> str:
    """A rename autogenerate wrote as adding one column and dropping another of the same
    table (it cannot tell them apart): the words that say so, when the table gained exactly
    one column in the pending steps; else nothing."""
    added = [column for table, column in scope.new_columns if table == op.table_name]
    if len(added) != 1 or op.table_name in scope.new_tables:
        return ""
    table, old, new = op.table_name, op.column_name, added[0]
    return (
        f". If {new}, added before it, is {old} renamed, write "
        f"op.alter_column({table!r}, {old!r}, new_column_name={new!r}, schema=schema) "
        "instead of the add and the drop: the values stay"
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
        held = None if where is None else revision_sql(where, scope.connection)
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
    written = [
        c if isinstance(c, str) else revision_sql(c, scope.connection, table=False) for c in columns
    ]
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
    condition = revision_sql(op.condition, scope.connection)
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
