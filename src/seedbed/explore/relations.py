"""Relationships in the data: cardinality per foreign key, orphans, what a cascade removes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from seedbed.errors import QueryError
from seedbed.explore._core import Bind, connection, frame, model_columns, model_table, namespace
from seedbed.facts import metadata_for, ordered_tables, relationships
from seedbed.facts.spec import columns_by_name


def foreign_keys(bind: Bind) -> pd.DataFrame:
    """One row per foreign key of the model: child, columns, parent, ``ON DELETE`` rule."""
    rows = [
        {
            "constraint": r.name,
            "child": r.child,
            "columns": ", ".join(r.columns),
            "parent": r.parent,
            "referred_columns": ", ".join(r.referred_columns),
            "on_delete": r.ondelete,
            "meaning": r.phrase,
        }
        for r in relationships(metadata_for(namespace(bind)))
    ]
    return pd.DataFrame(rows)


def _foreign_key(
    bind: Bind, child: str, column: str
) -> tuple[sa.Table, sa.Column[Any], sa.Column[Any]]:
    table = model_table(bind, child)
    (fk_column,) = model_columns(table, [column])
    if not fk_column.foreign_keys:
        raise QueryError(f"{child}.{column} is not a foreign key")
    referred = next(iter(fk_column.foreign_keys)).column
    return table, fk_column, referred


def cardinality(bind: Bind, child: str, column: str) -> pd.DataFrame:
    """How many parents have 0, 1, 2, ... child rows through ``child.column``.

    Columns ``children`` and ``parents``; computed in the database, so it
    stays small however large the tables are. Soft-deleted rows count.

    >>> cardinality(engine, "session", "user_id")           # doctest: +SKIP
       children  parents
    0         0    13534
    1         1    27067
    """
    _, fk_column, referred = _foreign_key(bind, child, column)
    per_parent = (
        sa.select(fk_column.label("key"), sa.func.count().label("n")).group_by(fk_column).subquery()
    )
    children = sa.func.coalesce(per_parent.c.n, 0).label("children")
    statement = (
        sa.select(children, sa.func.count().label("parents"))
        .select_from(referred.table.outerjoin(per_parent, per_parent.c.key == referred))
        .group_by(children)
        .order_by(children)
    )
    with connection(bind) as conn:
        return frame(conn, statement)


def orphans(bind: Bind) -> pd.DataFrame:
    """Per foreign key: child rows, orphans (no parent row) and rows whose parent is soft-deleted.

    The foreign key constraints keep ``orphans`` at 0; ``parent_deleted``
    counts rows that point at a soft-deleted parent, which the database
    allows and readers usually want hidden (``<NA>`` when the parent has no
    ``deleted_at``).
    """
    rows = []
    with connection(bind) as conn:
        for r in relationships(metadata_for(namespace(bind))):
            table, fk_column, referred = _foreign_key(conn, r.child, r.columns[0])
            parent = referred.table
            exists = sa.exists().where(referred == fk_column)
            counts = [
                sa.func.count().label("child_rows"),
                sa.func.count().filter(~exists).label("orphans"),
            ]
            parent_deleted = columns_by_name(parent).get("deleted_at")
            if parent_deleted is not None:
                deleted = exists.where(parent_deleted.is_not(None))
                counts.append(sa.func.count().filter(deleted).label("parent_deleted"))
            values = conn.execute(sa.select(*counts).select_from(table)).one()._asdict()
            rows.append({"child": r.child, "column": r.columns[0], "parent": r.parent, **values})
    result = pd.DataFrame(rows)
    result["parent_deleted"] = result["parent_deleted"].astype("Int64")
    return result


def cascade_effect(bind: Bind, table: str, where: Mapping[str, Any]) -> pd.DataFrame:
    """What ``DELETE FROM table WHERE ...`` would remove, per table, without removing anything.

    The delete really runs, cascades and all, inside a transaction that is
    rolled back. Returns ``table``, ``before``, ``after`` and ``removed`` for
    every table of the model. A delete that a foreign key refuses (``ON
    DELETE NO ACTION``) raises :class:`QueryError` naming the constraint.
    """
    model = model_table(bind, table)
    if not where:
        raise QueryError("cascade_effect needs a where mapping; it will not delete every row")
    condition = sa.and_(*(c == where[c.name] for c in model_columns(model, list(where))))
    tables = ordered_tables(metadata_for(namespace(bind)))
    counts = sa.select(
        *(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables)
    )
    with connection(bind) as conn:
        savepoint = conn.begin_nested()
        try:
            before = conn.execute(counts).one()
            conn.execute(sa.delete(model).where(condition))
            after = conn.execute(counts).one()
        finally:
            savepoint.rollback()
    return pd.DataFrame(
        {
            "table": [t.name for t in tables],
            "before": list(before),
            "after": list(after),
            "removed": [b - a for b, a in zip(before, after, strict=True)],
        }
    )
