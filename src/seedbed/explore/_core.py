"""What every explore helper shares: a connection in the namespace, model lookup, error mapping."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from seedbed.db import schema_of
from seedbed.errors import DatabaseError, QueryError, map_errors
from seedbed.explore._loaders import TIME_KINDS, JsonKept, TimesAsText
from seedbed.facts import ColumnSpec, metadata_for
from seedbed.facts import spec as kinds
from seedbed.facts.spec import columns_by_name
from seedbed.sqltext import YEAR_1_US, YEAR_10000_US, quote_ident
from seedbed.validation.coerce import arrow_series, coerce_text

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
    by_name = columns_by_name(table)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        known = ", ".join(by_name)
        raise QueryError(f"{table.name} has no column {unknown[0]!r}; columns: {known}")
    return [by_name[n] for n in wanted]


def _execute(
    conn: Connection, statement: sa.Executable, params: Params, *, exact: bool = False
) -> tuple[Any, str | None]:
    """``statement`` run with the time types kept as text; the session's time zone, or
    None when they were read by psycopg's own loaders. ``exact``: JSON scalars as text too."""
    hook = JsonKept() if exact else TimesAsText()
    sa.event.listen(conn, "before_cursor_execute", hook)
    try:
        return conn.execute(statement, dict(params or {})), hook.zone
    finally:
        sa.event.remove(conn, "before_cursor_execute", hook)


def _zone(name: str) -> Any:
    """The time zone psycopg gives ``timestamptz`` values in a session of ``name``."""
    if name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not a zone Python knows: psycopg takes UTC too
        return None


#: Up to this many rows, a time column is read value by value (see :func:`_time_series`).
_FEW = 500


def _time_series(
    name: str, kind: str, values: Sequence[str | None], zone: str, oid: int, conn: Connection
) -> pd.Series:
    """A time column read as PostgreSQL's text, typed as the load path types it: ordinary
    values as psycopg gives them, ``infinity``, far years and BC as the load takes them."""
    if len(values) <= _FEW:
        try:  # few rows: psycopg's loader costs less than setting up the columnar read
            return _loaded(name, values, oid, conn, strict=True)
        except psycopg.DataError:  # a value datetime cannot hold: read them column-wise
            pass
    column = ColumnSpec(name, kind, True, False, False, kind)
    read = coerce_text(column, pa.array(values, pa.string()))
    if read.bad.any():  # what Arrow cannot hold (years past 294247, odd offsets): as before
        return _loaded(name, values, oid, conn)
    series = arrow_series(read.values)
    tz = _zone(zone) if kind == kinds.TIMESTAMPTZ else None
    if tz is None or _far(read.values):
        return series  # pandas shows years outside 1 to 9999 in UTC only
    converted: pd.Series = series.dt.tz_convert(tz)
    return converted


def _far(values: pa.Array) -> bool:
    """Do the timestamps hold a year outside 1 to 9999 (or ``infinity``)?"""
    bounds = pc.min_max(values.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return low is not None and (low < YEAR_1_US or high >= YEAR_10000_US)


def _loaded(
    name: str, values: Sequence[str | None], oid: int, conn: Connection, strict: bool = False
) -> pd.Series:
    """A column of time text read by psycopg's own loader, as without :class:`_TimesAsText`;
    a value it cannot read raises :class:`QueryError`, or its own error when ``strict``."""
    driver = conn.connection.driver_connection
    loader = psycopg.adapt.Transformer(driver).get_loader(oid, psycopg.pq.Format.TEXT)
    try:
        held = [None if v is None else loader.load(v.encode()) for v in values]
    except psycopg.DataError as exc:
        if strict:
            raise
        raise QueryError(f"column {name}: {exc}") from None
    return pd.Series(held)


def _column(values: Sequence[Any]) -> pd.Series:
    """A column of values as pandas holds them; whole numbers among NULLs as ``Int64``,
    which pandas would make ``float64`` (losing digits past 2**53, and their type), and
    numbers holding ``NaN`` as ``Float64`` with NULL as ``<NA>``, apart from ``NaN``."""
    column = pd.Series(values, dtype=None if values else object)
    if column.dtype != np.float64:
        return column
    if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
        return pd.Series(pd.array(values, dtype="Int64"))
    missing = np.fromiter((v is None for v in values), bool, len(values))
    if column.isna().sum() > missing.sum():  # a NaN among the values
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.Series(pd.arrays.FloatingArray(numbers, missing))
    return column


@contextmanager
def _iso_in_utc(conn: Connection) -> Iterator[str]:
    """``DateStyle`` ISO and ``TimeZone`` UTC for the transaction, put back afterwards:
    PostgreSQL then writes every time as seedbed reads it (BC in a zone of its own writes
    an offset in seconds, which nothing reads). Gives the session's TimeZone."""
    info = conn.connection.driver_connection.info  # type: ignore[union-attr]
    style = info.parameter_status("DateStyle") or "ISO"
    zone = info.parameter_status("TimeZone") or "UTC"
    if style.startswith("ISO") and zone == "UTC":
        yield zone
        return
    put = "SELECT set_config('DateStyle', :style, true), set_config('TimeZone', :zone, true)"
    conn.execute(sa.text(put), {"style": "ISO", "zone": "UTC"})
    try:
        yield zone
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):  # a failed transaction puts them back
            conn.execute(sa.text(put), {"style": style, "zone": zone})


def _shown_in(series: pd.Series, zone: str) -> pd.Series:
    """``timestamptz`` values read in UTC, in the session's ``zone`` as psycopg gives them
    (pandas shows years outside 1 to 9999 in UTC only)."""
    tz = _zone(zone)
    if tz is None or not isinstance(series.dtype, pd.DatetimeTZDtype):
        return series
    held = series.dropna()
    low, high = (pd.Timestamp(v, unit="us", tz="UTC") for v in (YEAR_1_US, YEAR_10000_US))
    if len(held) and (held.min() < low or held.max() >= high):
        return series
    converted: pd.Series = series.dt.tz_convert(tz)
    return converted


def frame(
    conn: Connection, statement: sa.Executable, params: Params = None, *, exact: bool = False
) -> pd.DataFrame:
    """Run ``statement`` and return its rows as a DataFrame; enum members become their values.

    ``timestamptz``, ``timestamp`` and ``date`` columns come as psycopg would give
    them, and values Python's ``datetime`` cannot hold (``infinity``, ``-infinity``,
    years past 9999 or BC) as the DataFrame load takes them (see
    :func:`~seedbed.validation.coerce.arrow_series`), so that the rows load back
    as the same values; so do the times inside arrays, ranges and multiranges.
    ``exact``: for the statements seedbed writes itself (which cast no time to text),
    run in ``DateStyle`` ISO and ``TimeZone`` UTC whatever the session's, so that
    every time is read exactly (see :func:`_iso_in_utc`), with JSON ``null`` and
    strings as their JSON text, so that every value loads back as itself.
    """
    if not exact:
        return _frame(conn, statement, params)
    with _iso_in_utc(conn) as zone:
        data = _frame(conn, statement, params, exact=True)
        if zone == "UTC":
            return data
        for i in range(data.shape[1]):
            data.isetitem(i, _shown_in(data.iloc[:, i], zone).array)
        return data


def _frame(
    conn: Connection, statement: sa.Executable, params: Params, *, exact: bool = False
) -> pd.DataFrame:
    result, zone = _execute(conn, statement, params, exact=exact)
    if not result.returns_rows:  # e.g. an UPDATE without RETURNING
        empty = pd.DataFrame()
        empty.attrs["rowcount"] = result.rowcount
        return empty
    columns = list(result.keys())
    oids = [d[1] for d in result.cursor.description or ()] if zone is not None else []
    # psycopg reads no timestamptz in a DateStyle other than ISO (NotImplementedError)
    with map_errors({NotImplementedError: QueryError}, "cannot read the rows"):
        rows = result.fetchall()
    # Column by column: faster than from_records, and names may repeat (``a.id, b.id``).
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    series = {}
    for i, v in enumerate(values):
        kind = TIME_KINDS.get(oids[i]) if oids else None
        if kind is not None and zone is not None and any(x is not None for x in v):
            series[i] = _time_series(str(columns[i]), kind, v, zone, oids[i], conn)
        else:
            series[i] = _column(v)
    data = pd.DataFrame(series)
    data.columns = pd.Index(columns)
    for column in data.columns:
        if len(data) and isinstance(data[column].iloc[0], enum.Enum):
            data[column] = data[column].map(lambda v: v.value if isinstance(v, enum.Enum) else v)
    return data


def as_statement(sql: str | sa.Executable) -> sa.Executable:
    return sa.text(sql) if isinstance(sql, str) else sql
