"""The one text a key value is hashed as and looked up by: what PostgreSQL reads as the
value, and one text for the values its equality holds equal.

:func:`key_text` writes a Polars frame's key columns as text (dates and time stamps as
PostgreSQL prints them), then puts each column in its key form
(:attr:`seedbed.facts.ColumnSpec.key_form`): the spellings of one uuid, numeric, float,
``character(n)``, inet or macaddr value become one text
(:mod:`~seedbed.validation.keyforms`). A foreign key's column takes its parent column's
form too (:func:`reference_forms`), as PostgreSQL reads the child's value as the parent's
type. Types whose equality is not reproduced here
are said so (``KEY_BY_DATABASE``): their foreign keys are left to the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from seedbed.facts import ForeignKeySpec, TableSpec, table_spec
from seedbed.facts import spec as k
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import (
    DAY_US,
    YEAR_1_DAY,
    YEAR_1_US,
    YEAR_10000_DAY,
    YEAR_10000_US,
    time_text,
)
from seedbed.validation.arrays import date_array, holds_dates
from seedbed.validation.keyforms import Forms, canonical

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
else:
    pd = lazy_module("pandas")

#: A form that reads a date as the time stamp at its midnight (a date referencing a
#: ``timestamp`` parent), before the text is written.
AS_TIMESTAMP = "timestamp"


def key_forms(spec: TableSpec, columns: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The forms of ``spec``'s ``columns`` as a key of their own table."""
    return tuple((spec.columns[str(c)].key_form,) for c in columns)


_TIMES = frozenset({k.DATE, k.TIMESTAMP, k.TIMESTAMPTZ})


def reference_forms(child: TableSpec, fk: ForeignKeySpec) -> tuple[tuple[str, ...], ...] | None:
    """The forms of foreign key ``fk``'s columns (of ``child``): each its own, then its parent
    column's, as PostgreSQL reads a child's value as the parent's type; a date referencing a
    ``timestamp`` as its midnight. None when PostgreSQL's equality is not reproduced here
    (a form ``KEY_BY_DATABASE``; other pairs of date and time types, some of which the
    session's time zone decides): the database judges such a key at load."""
    parent = table_spec(fk.parent)
    forms = []
    for name, parent_name in zip(fk.columns, fk.parent_columns, strict=True):
        mine, theirs = child.columns[name], parent.columns[parent_name]
        stored = theirs.key_form.startswith(k.KEY_ROUNDED_TIME)  # the parent's values only
        steps = tuple(dict.fromkeys((mine.key_form, k.KEY_AS_IS if stored else theirs.key_form)))
        if k.KEY_BY_DATABASE in steps:
            return None
        times = (mine.kind, theirs.kind)
        if times == (k.DATE, k.TIMESTAMP):
            steps = (AS_TIMESTAMP, *steps)
        elif mine.kind != theirs.kind and set(times) & _TIMES:
            return None
        forms.append(steps)
    return tuple(forms)


def pandas_key_text(
    frame: pd.DataFrame, columns: Sequence[str], forms: Forms = None
) -> pl.DataFrame:
    """:func:`key_text` of a pandas frame's ``columns``: typed columns go to Polars as the
    same values (dates, held as objects, as days), other columns as ``astype("str")``."""
    import polars as pl  # validation only: the writer's path never hashes keys

    parts = [_polars_values(frame[name].reset_index(drop=True)) for name in columns]
    found = pl.DataFrame([part.alias(f"k{i}") for i, part in enumerate(parts)])
    text = key_text(found, found.columns, forms)
    if text is None:  # every column above has a text form
        raise AssertionError(f"no key text for {dict(found.schema)}")
    return text.rename(dict(zip(found.columns, [str(c) for c in columns], strict=True)))


def _polars_values(values: pd.Series) -> pl.Series:
    """A typed pandas column as Polars holds it (text for the kinds without a key text)."""
    import polars as pl

    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype | pd.BooleanDtype | pd.DatetimeTZDtype) or (
        dtype.kind in "biuM"
    ):
        return pl.from_pandas(values)
    if dtype.kind == "O" and holds_dates(values.to_numpy()):
        dates, _ = date_array(values.to_numpy(), values.isna().to_numpy())
        found = pl.from_arrow(dates)
        assert isinstance(found, pl.Series)
        return found
    return pl.from_pandas(values.astype("str"))


#: The text of a date and a time stamp between years 1 and 9999 (``time_text``'s, sooner).
_DATE_FORMAT = "%Y-%m-%d"
_STAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"


def key_text(
    frame: pl.DataFrame, columns: Sequence[str], forms: Forms = None
) -> pl.DataFrame | None:
    """``frame``'s ``columns`` as the text :func:`~seedbed.validation.keys.key_hashes`
    hashes, each one text a value that PostgreSQL reads as that value (the key's look-ups
    in the database send it):

    - text as it is; integers as ``str()`` writes them (``"5"``, ``"-12"``), whatever their
      width, so an INTEGER child's values hash as its BIGINT parent's do;
    - booleans ``true`` and ``false``;
    - dates, time stamps and time stamps with zone as PostgreSQL prints them
      (:func:`~seedbed.sqltext.time_text`): six fractional digits, ``+00`` after those with
      a zone, ``infinity``, ``-infinity``, `` BC``;
    - then each column's ``forms``, which give values that PostgreSQL's equality of the
      column's type holds equal one text (:mod:`~seedbed.validation.keyforms`).

    None when a column is missing or of another type (the caller hashes those from pandas).
    """
    import polars as pl

    names = [str(c) for c in columns]
    steps = [tuple(f) for f in forms] if forms is not None else [() for _ in names]
    dated = [
        name
        for name, step in zip(names, steps, strict=True)
        if AS_TIMESTAMP in step and isinstance(frame.schema.get(name), pl.Date)
    ]
    if dated:
        frame = frame.with_columns(_midnight(pl.col(name)).alias(name) for name in dated)
    rounded = {
        name: int(form[len(k.KEY_ROUNDED_TIME) :])
        for name, step in zip(names, steps, strict=True)
        for form in step
        if form.startswith(k.KEY_ROUNDED_TIME) and isinstance(frame.schema.get(name), pl.Datetime)
    }
    if rounded:
        frame = frame.with_columns(_rounded(frame, name, p) for name, p in rounded.items())
    found = _written(frame, names)
    if found is None or not any(steps):
        return found
    return canonical(found, names, steps)


_STAMP_DAYS = (2**63 - 1) // DAY_US - 1


def _midnight(days: pl.Expr) -> pl.Expr:
    """Dates as the time stamps of their midnights (``infinity`` stays infinity)."""
    import polars as pl

    top = 2**31 - 1  # a date's infinity; a time stamp's is the largest int64
    physical = days.to_physical().cast(pl.Int64)
    micros = (
        pl.when(physical >= top)
        .then(pl.lit(2**63 - 1))
        .when(physical <= -top)
        .then(pl.lit(-(2**63) + 1))
        .when(physical.abs() <= _STAMP_DAYS)
        .then(physical * DAY_US)  # later days are no time stamp: no key (PostgreSQL refuses)
    )
    return micros.cast(pl.Datetime("us"))


#: PostgreSQL's epoch (2000-01-01) in microseconds since 1970-01-01: a time stamp with a
#: precision is rounded half away from it.
_PG_EPOCH_US = 946_684_800_000_000


def _rounded(frame: pl.DataFrame, name: str, precision: int) -> pl.Expr:
    """Time stamps as a ``timestamp(precision)`` stores them: rounded to ``precision``
    fractional digits, half away from 2000-01-01 (``infinity`` stays infinity)."""
    import polars as pl

    column = pl.col(name)
    kind = frame.schema[name]
    micros = column.dt.cast_time_unit("us").to_physical() - _PG_EPOCH_US
    step = 10 ** (6 - precision)
    whole = (micros.abs() + step // 2) // step * step
    signed = pl.when(micros < 0).then(-whole).otherwise(whole) + _PG_EPOCH_US
    special = (column.to_physical() >= 2**63 - 1) | (column.to_physical() <= -(2**63) + 1)
    kept = pl.when(special).then(column.dt.cast_time_unit("us").to_physical()).otherwise(signed)
    zone = kind.time_zone if isinstance(kind, pl.Datetime) else None
    return kept.cast(pl.Datetime("us", zone)).alias(name)


def _written(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame | None:
    """:func:`key_text` before the forms: each value as PostgreSQL prints its type."""
    import polars as pl

    schema = frame.schema  # built anew on each access
    kinds = []
    for name in names:
        kind = schema.get(name)
        if kind is None or not _has_text(kind):
            return None
        kinds.append(kind)
    if all(kind == pl.String for kind in kinds):
        return frame.select(names)
    coarse = [
        pl.col(name).dt.cast_time_unit("us")
        for name, kind in zip(names, kinds, strict=True)
        if isinstance(kind, pl.Datetime) and kind.time_unit != "us"
    ]
    if coarse:  # one text a value, whatever the unit it is held in
        frame = frame.with_columns(coarse)
        schema = frame.schema
    times = [name for name, kind in zip(names, kinds, strict=True) if kind.is_temporal()]
    odd = _odd_times(frame, times)
    found = frame.select(
        _text_expr(name, kind, name in odd) for name, kind in zip(names, kinds, strict=True)
    )
    for name, rows in odd.items():
        days = isinstance(schema[name], pl.Date)
        stamp = schema[name]
        zone = isinstance(stamp, pl.Datetime) and stamp.time_zone is not None
        physical = _physical(frame, name).gather(rows).to_list()
        texts = pl.Series([time_text(v, days=days, zone=zone) for v in physical], dtype=pl.String)
        found = found.with_columns(found.get_column(name).scatter(rows, texts))
    return found


def _has_text(kind: pl.DataType) -> bool:
    """Does :func:`key_text` write values of the Polars type ``kind``?"""
    import polars as pl

    if isinstance(kind, pl.Datetime):
        return True
    return kind in (pl.String, pl.Boolean, pl.Date, pl.Null) or kind.is_integer()


def _text_expr(name: str, kind: pl.DataType, odd: bool) -> pl.Expr:
    """Column ``name``'s text; ``odd``: it holds times :func:`_odd_times` found (left NULL
    here, for Python to write)."""
    import polars as pl

    column = pl.col(name)
    if kind == pl.String:
        return column
    if not kind.is_temporal():  # booleans, integers: Polars' casts write true, false, -12
        return column.cast(pl.String)
    if odd:
        low, high = _ORDINARY[isinstance(kind, pl.Date)]
        physical = column.to_physical()
        column = pl.when((physical >= low) & (physical < high)).then(column)
    if isinstance(kind, pl.Date):
        return column.dt.to_string(_DATE_FORMAT).alias(name)
    zone = kind.time_zone if isinstance(kind, pl.Datetime) else None
    if zone is None:
        return column.dt.to_string(_STAMP_FORMAT).alias(name)
    if zone != "UTC":
        column = column.dt.convert_time_zone("UTC")
    wall = column.dt.replace_time_zone(None)  # the instant's UTC wall time
    return (wall.dt.to_string(_STAMP_FORMAT) + "+00").alias(name)


#: The physical values (days, microseconds) of years 1 to 9999, which Polars writes itself.
_ORDINARY = {True: (YEAR_1_DAY, YEAR_10000_DAY), False: (YEAR_1_US, YEAR_10000_US)}


def _physical(frame: pl.DataFrame, name: str) -> pl.Series:
    return frame.get_column(name).to_physical()


def _odd_times(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, pl.Series]:
    """Per column of ``names``, the rows whose date or time is outside years 1 to 9999
    (infinity, BC, far years), which Polars cannot write; columns without any left out."""
    import polars as pl

    if not names:
        return {}
    schema = frame.schema
    bounds = frame.select(
        *(pl.col(n).to_physical().min().alias(f"min{i}") for i, n in enumerate(names)),
        *(pl.col(n).to_physical().max().alias(f"max{i}") for i, n in enumerate(names)),
    ).row(0)
    odd = {}
    for i, name in enumerate(names):
        low, high = _ORDINARY[isinstance(schema[name], pl.Date)]
        least, most = bounds[i], bounds[len(names) + i]
        if least is not None and (least < low or most >= high):
            physical = _physical(frame, name)
            outside = (physical < low) | (physical >= high)
            odd[name] = outside.arg_true()
    return odd


__all__ = [
    "AS_TIMESTAMP",
    "key_forms",
    "key_text",
    "pandas_key_text",
    "reference_forms",
]
