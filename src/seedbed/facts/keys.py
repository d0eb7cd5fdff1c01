"""What a table's declaration says about its keys, indexes and foreign keys.

The one place that reads a SQLAlchemy ``Table`` for these facts. Validation
(through :mod:`seedbed.facts.spec`), load modes, the ER diagram, the data-model
document and the index audit all ask :func:`table_keys`, so a partial or an
expression index means the same thing everywhere.

>>> from seedbed.facts import metadata_for
>>> keys = table_keys(metadata_for("seedbed").tables["seedbed.post"])
>>> [(k.name, k.columns, k.where) for k in keys.unique if k.partial]
[('uq_post_slug_live', ('slug',), 'deleted_at IS NULL')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from seedbed.facts.stored import StoredTable
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import postgres_dialect

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from seedbed.models.predicates import Predicate
else:
    sa = lazy_module("sqlalchemy")
    postgresql = lazy_module("sqlalchemy.dialects.postgresql")

_IS_NULL = re.compile(r'^\(?\s*(?:"?\w+"?\.)*"?(\w+)"?\s+IS\s+(NOT\s+)?NULL\s*\)?$', re.IGNORECASE)

KeyKind = Literal["primary key", "unique constraint", "unique index"]


@dataclass(frozen=True)
class UniqueKey:
    """A primary key, unique constraint or unique index, by its database name.

    ``columns`` are the key's columns (empty for an index on expressions,
    whose SQL is in ``expressions``). A partial index has its predicate in
    ``where``; when that is ``col IS [NOT] NULL`` joined by AND, the columns
    are in ``where_null`` / ``where_not_null``; any other predicate seedbed reads
    as a rule (``status = 'active'``, ``is_primary AND deleted_at IS NULL``) is
    its ``condition``, the rows it holds those where the rule is true. seedbed
    checks those keys itself; the others (``checkable`` false) only the database
    does. ``nulls_distinct`` false (``NULLS NOT DISTINCT``): a NULL in a key
    column is a value like any other, so two rows with NULL there are one key.
    """

    name: str
    columns: tuple[str, ...]
    where_null: tuple[str, ...] = ()  # partial index: only rows where these are NULL
    where_not_null: tuple[str, ...] = ()
    kind: KeyKind = "unique constraint"
    where: str | None = None
    expressions: tuple[str, ...] = ()
    checkable: bool = True
    condition: Predicate | None = None
    nulls_distinct: bool = True

    @property
    def partial(self) -> bool:
        return self.where is not None

    @property
    def reads(self) -> tuple[str, ...]:
        """The columns that decide which rows the key holds, and what it holds."""
        found = (*self.columns, *self.where_null, *self.where_not_null)
        return tuple(dict.fromkeys((*found, *(self.condition.columns if self.condition else ()))))

    @property
    def filled(self) -> tuple[str, ...]:
        """The columns that must hold a value for the key to hold a row."""
        return (*(self.columns if self.nulls_distinct else ()), *self.where_not_null)

    @property
    def scope(self) -> str:
        """The rows a partial key holds, in words (``among rows where ...``), else ``""``."""
        if self.condition is not None or self.where_not_null:
            return f"among rows where {self.where}"
        if self.where_null:
            return f"among rows where {', '.join(self.where_null)} is NULL"
        return ""

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """The rows of ``frame`` (its :attr:`reads` columns) the key holds: every key column
        with a value, and the partial index's predicate true."""
        import numpy as np

        rows = np.ones(len(frame), dtype=bool)
        for name in self.filled:
            rows &= frame[name].notna().to_numpy()
        for name in self.where_null:
            rows &= frame[name].isna().to_numpy()
        if self.condition is not None:
            rows &= self.condition.truth(frame).to_numpy(dtype=bool, na_value=False)
        return rows

    @property
    def whole_rows(self) -> bool:
        """Unique over every row by plain columns: not partial, not on expressions."""
        return not self.partial and not self.expressions


@dataclass(frozen=True)
class IndexSpec:
    """An index as declared: what it covers, whether it is unique or partial, and why."""

    name: str
    terms: tuple[str, ...]  # column names, or the SQL of expressions
    columns: tuple[str, ...]  # the plain columns among ``terms``, in order
    unique: bool
    where: str | None
    purpose: str


@dataclass(frozen=True)
class ForeignKeySpec:
    name: str
    columns: tuple[str, ...]
    parent: sa.Table
    parent_columns: tuple[str, ...]
    ondelete: str = "NO ACTION"
    #: MATCH FULL: a row's columns are all NULL or all given (MATCH SIMPLE: any NULL skips)
    match_full: bool = False

    def in_key_order(self) -> ForeignKeySpec:
        """This key with its column pairs in the order of the parent's unique key over them.

        PostgreSQL takes ``FOREIGN KEY (y, x) REFERENCES parent (b, a)`` for a parent key
        declared on ``(a, b)``: it matches the columns as a set. Whoever holds the
        parent's keys in that key's order (the validator's key sets) asks for this form.
        """
        return _in_key_order(self)


@dataclass(frozen=True, eq=False)  # one per table (cached), compared by identity
class TableKeys:
    """Every key, index and foreign key of one table; see :func:`table_keys`."""

    primary_key: UniqueKey | None
    unique: tuple[UniqueKey, ...]  # primary key first, then constraints, then indexes, by name
    indexes: tuple[IndexSpec, ...]  # declared indexes (not the ones behind constraints), by name
    foreign_keys: tuple[ForeignKeySpec, ...]

    def unique_column_sets(self) -> list[tuple[str, ...]]:
        """Column sets unique over every row, the primary key left out, sorted."""
        return sorted({k.columns for k in self.unique if k.whole_rows and k.kind != "primary key"})


def _sql(clause: Any) -> str:
    if isinstance(clause, str):
        return clause
    return str(clause.compile(dialect=postgres_dialect(), compile_kwargs={"literal_binds": True}))


def _where(index: sa.Index) -> str | None:
    where = index.dialect_options["postgresql"].get("where")
    return None if where is None else _sql(where)


def _predicate(where: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Columns that must be NULL / NOT NULL, or None for a predicate of another form."""
    null: list[str] = []
    not_null: list[str] = []
    for part in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        match = _IS_NULL.match(part.strip())
        if not match:
            return None
        (not_null if match.group(2) else null).append(match.group(1))
    return tuple(null), tuple(not_null)


def _index_key(index: sa.Index) -> UniqueKey:
    terms = [e for e in index.expressions if not isinstance(e, sa.Column)]
    expressions = tuple(_sql(e) for e in terms)
    where = _where(index)
    parsed = _predicate(where) if where is not None else ((), ())
    null, not_null = parsed or ((), ())
    condition = None
    if parsed is None and where is not None and not expressions:
        condition = _condition(index)
    return UniqueKey(
        str(index.name),
        () if expressions else tuple(c.name for c in index.columns),
        null,
        not_null,
        "unique index",
        where,
        expressions,
        checkable=(parsed is not None or condition is not None) and not expressions,
        condition=condition,
        nulls_distinct=_nulls_distinct(index),
    )


def _nulls_distinct(item: sa.Index | sa.UniqueConstraint) -> bool:
    """False for ``NULLS NOT DISTINCT`` (PostgreSQL 15 and later)."""
    return not item.dialect_options["postgresql"].get("nulls_not_distinct")


def _condition(index: sa.Index) -> Predicate | None:
    """A partial index's predicate as a predicate seedbed judges itself (true, false or
    NULL a row), as a CHECK of that SQL is read
    (:func:`~seedbed.facts.declaration.check_rule`); None when it is not one."""
    from seedbed.facts.declaration import check_rule
    from seedbed.models.predicates import Predicate

    clause = index.dialect_options["postgresql"].get("where")
    if index.table is None or clause is None:
        return None
    if not isinstance(clause, str):  # as CREATE INDEX writes it: columns without their table
        options = {"include_table": False, "literal_binds": True}
        clause = str(clause.compile(dialect=postgres_dialect(), compile_kwargs=options))
    rule = check_rule(index.table, str(index.name), clause)
    return rule if isinstance(rule, Predicate) else None


def conflict_key(table: sa.Table, columns: Sequence[str]) -> tuple[str, ...]:
    """The key a merge (``upsert``, ``skip-existing``) of rows with ``columns`` goes by: the
    primary key, or the first declared unique key, whose columns are all in ``columns``."""
    from seedbed.errors import SeedError

    present = set(columns)
    keys = table_keys(table)
    # ON CONFLICT (columns) can arbitrate only on a key over whole rows of plain columns.
    for key in keys.unique:
        if key.whole_rows and key.columns and set(key.columns) <= present:
            return key.columns
    primary = ", ".join(keys.primary_key.columns) if keys.primary_key else "none"
    raise SeedError(
        f"table {table.name!r}: cannot upsert or skip existing rows without a key; the source "
        f"needs the columns of the primary key ({primary}) or of a unique constraint"
    )


def _unique(table: sa.Table) -> tuple[UniqueKey, ...]:
    keys: list[UniqueKey] = []
    pk = table.primary_key
    if pk.columns:
        keys.append(UniqueKey(str(pk.name), tuple(c.name for c in pk.columns), kind="primary key"))
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, sa.UniqueConstraint) and not isinstance(
            constraint, sa.PrimaryKeyConstraint
        ):
            columns = tuple(c.name for c in constraint.columns)
            distinct = _nulls_distinct(constraint)
            keys.append(UniqueKey(str(constraint.name), columns, nulls_distinct=distinct))
    keys.extend(_index_key(i) for i in sorted(table.indexes, key=lambda i: str(i.name)) if i.unique)
    return tuple(keys)


def _index(index: sa.Index) -> IndexSpec:
    terms = tuple(e.name if isinstance(e, sa.Column) else _sql(e) for e in index.expressions)
    return IndexSpec(
        name=str(index.name),
        terms=terms,
        columns=tuple(c.name for c in index.columns),
        unique=bool(index.unique),
        where=_where(index),
        purpose=str(index.info.get("purpose", "")),
    )


def _foreign_keys(table: sa.Table) -> tuple[ForeignKeySpec, ...]:
    return tuple(
        ForeignKeySpec(
            name=str(fk.name),
            columns=tuple(c.name for c in fk.columns),  # names; column_keys are keys
            parent=fk.referred_table,
            parent_columns=tuple(e.column.name for e in fk.elements),
            ondelete=str(fk.ondelete or "NO ACTION").upper(),
            match_full=str(fk.match or "").upper() == "FULL",
        )
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name))
    )


@cache
def _in_key_order(fk: ForeignKeySpec) -> ForeignKeySpec:
    keys = [k.columns for k in table_keys(fk.parent).unique if k.whole_rows]
    if fk.parent_columns in keys:
        return fk
    for columns in keys:
        if sorted(columns) == sorted(fk.parent_columns):
            pairs = dict(zip(fk.parent_columns, fk.columns, strict=True))
            return replace(fk, columns=tuple(pairs[c] for c in columns), parent_columns=columns)
    return fk


@cache
def table_keys(table: sa.Table) -> TableKeys:
    """The keys, indexes and foreign keys declared on ``table`` (a stored table's, as stored)."""
    if isinstance(table, StoredTable):
        return table.keys
    unique = _unique(table)
    primary = unique[0] if unique and unique[0].kind == "primary key" else None
    indexes = tuple(_index(i) for i in sorted(table.indexes, key=lambda i: str(i.name)))
    return TableKeys(primary, unique, indexes, _foreign_keys(table))


__all__ = ["ForeignKeySpec", "IndexSpec", "TableKeys", "UniqueKey", "conflict_key", "table_keys"]
