"""What every explore helper shares: a connection in the namespace, model lookup, error mapping."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedbed.db import schema_of
from seedbed.errors import DatabaseError, QueryError, map_errors
from seedbed.facts import metadata_for
from seedbed.sqltext import quote_ident

Bind: TypeAlias = Engine | Connection
"""An engine from :func:`seedbed.get_engine`, or a connection from one (its transaction is kept)."""

Params: TypeAlias = Mapping[str, Any] | None


def namespace(bind: Bind) -> str:
    engine = bind.engine if isinstance(bind, Connection) else bind
    return schema_of(engine)


@contextmanager
def connection(bind: Bind) -> Iterator[Connection]:
    """A connection whose ``search_path`` is the namespace, with driver errors mapped.

    Given an engine, the connection is closed afterwards without a commit, so
    anything the caller changed is rolled back. Given a connection, it is used
    as it is, inside the caller's transaction.
    """
    # A lost server is the database's fault; bad SQL or a :placeholder without a value, the query's.
    with map_errors({sa.exc.OperationalError: DatabaseError, sa.exc.StatementError: QueryError}):
        if isinstance(bind, Connection):
            use_namespace(bind)
            yield bind
        else:
            with bind.connect() as conn:
                use_namespace(conn)
                yield conn


def use_namespace(conn: Connection) -> None:
    """Resolve unqualified table names in the namespace for the current transaction."""
    schema = namespace(conn)
    conn.execute(
        sa.text("select set_config('search_path', :path, true)"),
        {"path": f"{quote_ident(schema)}, public"},
    )


def model_table(bind: Bind, name: str) -> sa.Table:
    """The model's table ``name`` in the namespace of ``bind``; :class:`QueryError` if none."""
    schema = namespace(bind)
    tables = metadata_for(schema).tables
    table = tables.get(f"{schema}.{name}")
    if table is None:
        known = ", ".join(sorted(t.name for t in tables.values()))
        raise QueryError(f"no table {name!r} in the model; tables: {known}")
    return table


def model_columns(table: sa.Table, names: Any) -> list[sa.Column[Any]]:
    """Columns of ``table`` by name (one name or several); :class:`QueryError` for unknown ones."""
    wanted = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in wanted if n not in table.c]
    if unknown:
        known = ", ".join(table.c.keys())
        raise QueryError(f"{table.name} has no column {unknown[0]!r}; columns: {known}")
    return [table.c[n] for n in wanted]


def frame(conn: Connection, statement: sa.Executable, params: Params = None) -> pd.DataFrame:
    """Run ``statement`` and return its rows as a DataFrame; enum members become their values."""
    result = conn.execute(statement, dict(params or {}))
    if not result.returns_rows:  # e.g. an UPDATE without RETURNING
        empty = pd.DataFrame()
        empty.attrs["rowcount"] = result.rowcount
        return empty
    columns = list(result.keys())
    rows = result.fetchall()
    # Column by column: faster than from_records, and names may repeat (``a.id, b.id``).
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    data = pd.DataFrame(
        {i: pd.Series(v, dtype=None if v else object) for i, v in enumerate(values)}
    )
    data.columns = pd.Index(columns)
    for column in data.columns:
        if len(data) and isinstance(data[column].iloc[0], enum.Enum):
            data[column] = data[column].map(lambda v: v.value if isinstance(v, enum.Enum) else v)
    return data


def as_statement(sql: str | sa.Executable) -> sa.Executable:
    return sa.text(sql) if isinstance(sql, str) else sql
