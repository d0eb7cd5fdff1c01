"""Tables as DataFrames: reading, counting, paginating, and a sample namespace to explore."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.config import Settings, check_identifier, load_settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import QueryError
from seedbed.explore._core import (
    Bind,
    Params,
    as_statement,
    connection,
    frame,
    model_columns,
    model_table,
    namespace,
)
from seedbed.facts import metadata_for, ordered_tables
from seedbed.facts.spec import columns_by_name
from seedbed.loading import load
from seedbed.sqltext import (
    YEAR_1_DAY,
    YEAR_1_US,
    YEAR_10000_DAY,
    YEAR_10000_US,
    qualified_name,
    time_text,
)
from seedbed.synthetic import generate_seed_set

SOFT_DELETE_COLUMN = "deleted_at"


def _select(
    table: sa.Table,
    columns: Sequence[str] | None,
    where: Mapping[str, Any] | None,
    include_deleted: bool,
) -> sa.Select[Any]:
    selected = model_columns(table, columns) if columns is not None else list(table.columns)
    statement = sa.select(*selected)
    deleted = columns_by_name(table).get(SOFT_DELETE_COLUMN)
    if not include_deleted and deleted is not None:
        statement = statement.where(deleted.is_(None))
    for name, value in (where or {}).items():
        (column,) = model_columns(table, [name])
        if value is None:
            statement = statement.where(column.is_(None))
        elif isinstance(value, list | tuple | set | frozenset):
            statement = statement.where(column.in_(list(value)))
        else:
            statement = statement.where(column == value)
    return statement


def _typed(data: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Timestamp columns as ``datetime64`` even when every value is NULL (e.g. ``deleted_at``)."""
    by_name = columns_by_name(table)
    for column in data.columns:
        timestamps = column in by_name and isinstance(by_name[column].type, sa.DateTime)
        if timestamps and data[column].dtype == object:
            data[column] = pd.to_datetime(data[column], utc=True)
    return data


def _order(table: sa.Table, order_by: str | Sequence[str] | None) -> list[sa.Column[Any]]:
    if order_by is None:
        return list(table.primary_key.columns)
    return model_columns(table, order_by)


def read_table(
    bind: Bind,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
    include_deleted: bool = False,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` as a DataFrame, ordered by primary key unless ``order_by`` says.

    Soft-deleted rows (``deleted_at`` set) are left out unless ``include_deleted``.
    ``where`` maps column names to values: a value matches by equality, a list
    by membership, ``None`` by ``IS NULL``. Values are bound parameters.

    >>> read_table(engine, "post", columns=["id", "slug"], where={"status": "published"}, limit=5)
    ...                                                     # doctest: +SKIP
    """
    model = model_table(bind, table)
    statement = _select(model, columns, where, include_deleted).order_by(*_order(model, order_by))
    if limit is not None:
        statement = statement.limit(limit)
    with connection(bind) as conn:
        return _typed(frame(conn, statement, exact=True), model)


def read_query(bind: Bind, sql: str | sa.Executable, params: Params = None) -> pd.DataFrame:
    """The rows of a SQL query as a DataFrame.

    Table names resolve in the namespace, so ``select count(*) from session``
    works as written (quote ``"user"``: it is a reserved word). Pass values
    as ``:name`` placeholders with ``params``, never inside the SQL text.
    """
    with connection(bind) as conn:
        return frame(conn, as_statement(sql), params)


def row_counts(bind: Bind) -> pd.Series:
    """Rows per table of the model, in foreign-key order (soft-deleted rows included)."""
    schema = namespace(bind)
    tables = ordered_tables(metadata_for(schema))
    counts = sa.select(
        *(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables)
    )
    with connection(bind) as conn:
        values = conn.execute(counts).one()
    return pd.Series(list(values), index=[t.name for t in tables], name="rows")


def _key_value(value: Any, key: sa.Column[Any]) -> Any:
    """A key as a page gives it, bound so that PostgreSQL reads the same value: times
    Python's ``datetime`` cannot hold (``infinity``, far years, BC) as their text."""
    held = value.asm8 if isinstance(value, pd.Timestamp) else value  # in UTC
    if not isinstance(held, np.datetime64):
        return value
    days = np.datetime_data(held.dtype)[0] == "D"
    number = int(held.astype("int64" if days else "datetime64[us]").astype("int64"))
    first, last = (YEAR_1_DAY, YEAR_10000_DAY) if days else (YEAR_1_US, YEAR_10000_US)
    if first <= number < last:
        return value
    zone = isinstance(key.type, sa.DateTime) and bool(key.type.timezone)
    return sa.cast(sa.literal(time_text(number, days=days, zone=zone), sa.Text), key.type)


def keyset_page(
    bind: Bind,
    table: str,
    *,
    after: Any = None,
    order_by: str | Sequence[str] | None = None,
    limit: int = 50,
    columns: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> pd.DataFrame:
    """The ``limit`` rows that follow the key ``after`` in ``order_by`` order (default: the PK).

    ``after`` is the last row's key on the previous page (a value, or a tuple
    for a multi-column key); ``None`` gives the first page. The key of the
    next page is in ``page.attrs["next_after"]`` (``None`` after the last page).
    Keyset pagination seeks straight to the key through the index, so every
    page costs the same, however deep. ``order_by`` should be unique.
    """
    model = model_table(bind, table)
    keys = _order(model, order_by)
    statement = _select(model, columns, None, include_deleted)
    if after is not None:
        values = after if isinstance(after, tuple | list) else (after,)
        if len(values) != len(keys):
            raise QueryError(f"after has {len(values)} values for {len(keys)} order_by columns")
        values = [_key_value(v, key) for v, key in zip(values, keys, strict=True)]
        if len(keys) == 1:
            statement = statement.where(keys[0] > values[0])
        else:
            statement = statement.where(sa.tuple_(*keys) > sa.tuple_(*values))
    statement = statement.add_columns(*(k.label(f"_key_{i}") for i, k in enumerate(keys))).order_by(
        *keys
    )
    with connection(bind) as conn:
        page = _typed(frame(conn, statement.limit(limit), exact=True), model)
    key_names = [f"_key_{i}" for i in range(len(keys))]
    last = page[key_names].iloc[-1].tolist() if len(page) == limit else None
    page = page.drop(columns=key_names)
    page.attrs["next_after"] = (
        None if last is None else (last[0] if len(last) == 1 else tuple(last))
    )
    return page


def offset_page(
    bind: Bind,
    table: str,
    *,
    page: int,
    order_by: str | Sequence[str] | None = None,
    limit: int = 50,
    columns: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> pd.DataFrame:
    """Page number ``page`` (1 is the first) with ``LIMIT``/``OFFSET``, for comparison.

    The server reads and throws away every row before the page, so a page
    costs more the deeper it is; prefer :func:`keyset_page`.
    """
    if page < 1:
        raise QueryError(f"page numbers start at 1, got {page}")
    model = model_table(bind, table)
    statement = _select(model, columns, None, include_deleted).order_by(*_order(model, order_by))
    with connection(bind) as conn:
        statement = statement.offset((page - 1) * limit).limit(limit)
        return _typed(frame(conn, statement, exact=True), model)


def keyset_pages(
    bind: Bind,
    table: str,
    *,
    order_by: str | Sequence[str] | None = None,
    limit: int = 50,
    columns: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> Iterator[pd.DataFrame]:
    """Every page of ``table`` in order, one DataFrame each, by :func:`keyset_page`."""
    after: Any = None
    while True:
        page = keyset_page(
            bind,
            table,
            after=after,
            order_by=order_by,
            limit=limit,
            columns=columns,
            include_deleted=include_deleted,
        )
        if len(page):
            yield page
        after = page.attrs["next_after"]
        if after is None:
            return


def sample_settings(suffix: str, settings: Settings | None = None) -> Settings:
    """The configured settings with the namespace ``<SEEDBED_SCHEMA>_<suffix>``."""
    base = settings or load_settings()
    return dataclasses.replace(base, schema=check_identifier(f"{base.schema}_{suffix}"))


def prepare_sample(
    suffix: str, users: int, *, seed: int = 0, settings: Settings | None = None
) -> Engine:
    """Drop and rebuild the namespace ``<SEEDBED_SCHEMA>_<suffix>`` with synthetic data.

    Migrates it to head, loads a :func:`seedbed.synthetic.generate_seed_set`
    of ``users`` users (other tables in proportion) with :func:`seedbed.load`, then runs
    ``VACUUM ANALYZE`` so plans see the statistics a live database would have.
    Returns the engine for that namespace.
    """
    # Imported here: ``import seedbed`` stays without Alembic until a sample is prepared.
    from seedbed import migrate

    sample = sample_settings(suffix, settings)
    migrate.reset(sample)
    migrate.upgrade_unchecked(sample)
    engine = get_engine(sample)
    with tempfile.TemporaryDirectory(prefix="seedbed-sample-") as folder:
        generate_seed_set(users, folder, seed=seed)
        load(folder, engine=engine, progress=False)
    vacuum_analyze(engine)
    return engine


def vacuum_analyze(engine: Engine) -> None:
    """``VACUUM ANALYZE`` every table of the namespace (fresh statistics and visibility map)."""
    schema = namespace(engine)
    with database_errors("VACUUM ANALYZE failed"), engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ordered_tables(metadata_for(schema)):
            conn.exec_driver_sql(f"VACUUM ANALYZE {qualified_name(schema, table.name)}")
