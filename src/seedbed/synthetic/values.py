"""Values for one column from its type alone, before any rule has a say.

:func:`column_values` gives ``n`` non-null values of a column's kind (as
:mod:`seedbed.facts.spec` reads it), typed as pyarrow arrays. With
``distinct=True`` every value differs, so a unique key that holds the
column is unique too (booleans and enums cannot be; the generator drops the
duplicate rows of those).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from seedbed.facts import spec as kinds
from seedbed.synthetic import arrays
from seedbed.synthetic.pgtypes import typed_text


class NoValues(ValueError):
    """seedbed cannot write values of a column's type (the column, with its type)."""


def _text(
    name: str, n: int, rng: np.random.Generator, distinct: bool, limit: int | None
) -> pa.Array:
    if distinct:
        values = arrays.join(f"syn-{name}-", arrays.numbers(np.arange(n)))
    else:
        values = arrays.join(
            arrays.pick(rng, arrays.WORDS, n), " ", arrays.numbers(rng.integers(0, 1000, size=n))
        )
    if limit is not None:
        values = pc.utf8_slice_codeunits(values, start=-limit)
    return values


def _integers(
    n: int, rng: np.random.Generator, distinct: bool, bounds: tuple[int, int]
) -> pa.Array:
    low, high = max(bounds[0], 0), bounds[1]
    if distinct:
        return pa.array(np.minimum(np.arange(1, n + 1), high), pa.int64())
    return pa.array(rng.integers(low, min(high, 1000) + 1, size=n), pa.int64())


def _decimals(column: sa.Column[Any], n: int, rng: np.random.Generator, distinct: bool) -> pa.Array:
    precision = getattr(column.type, "precision", None)
    scale = getattr(column.type, "scale", None)
    if distinct:
        return pa.array(np.arange(n, dtype=np.float64))
    whole = min(10.0 ** ((precision or 8) - (scale or 0)), 1e6)
    digits = 2 if scale is None else scale
    values = np.floor(rng.random(n) * whole * 10**digits) / 10**digits
    return pa.array(values)


def _ip_range(n: int) -> pa.Array:
    """Distinct IPv4 addresses counting up from 10.0.0.1."""
    value = np.arange(n, dtype=np.int64) + (10 << 24) + 1
    octets = [(value >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*(arrays.numbers(o) for o in octets), ".")


def column_values(
    column: sa.Column[Any],
    spec: kinds.ColumnSpec,
    n: int,
    rng: np.random.Generator,
    *,
    distinct: bool = False,
) -> pa.Array:
    """``n`` non-null values for ``column``, typed as pyarrow arrays (see the module doc)."""
    kind = spec.kind
    if kind == kinds.TEXT:
        sql_type = kinds.base_sql_type(column)
        if kinds.read_as_text(sql_type):
            return _text(column.name, n, rng, distinct, spec.max_length)
        typed = typed_text(sql_type, n, rng, distinct=distinct)
        if typed is None:
            raise NoValues(f"{column.table.name}.{column.name} ({sql_type})")
        return typed
    if kind == kinds.UUID:
        return arrays.uuid4_strings(rng, n)
    if kind == kinds.INTEGER:
        return _integers(n, rng, distinct, spec.int_range or (0, 2**31 - 1))
    if kind == kinds.NUMERIC:
        return _decimals(column, n, rng, distinct)
    if kind == kinds.BOOLEAN:
        return pa.array(rng.random(n) < 0.5)
    if kind in (kinds.TIMESTAMPTZ, kinds.TIMESTAMP):
        if distinct:
            instants = arrays.EPOCH + (np.arange(n) * 1_000_000).astype("timedelta64[us]")
        else:
            instants = arrays.timestamps(rng, n)
        if spec.key_form.startswith(kinds.KEY_ROUNDED_TIME):  # timestamp(p): as it is stored
            step = 10 ** (6 - int(spec.key_form.removeprefix(kinds.KEY_ROUNDED_TIME)))
            instants = instants - (instants.astype("int64") % step).astype("timedelta64[us]")
        return arrays.timestamp_array(instants, utc=kind == kinds.TIMESTAMPTZ)
    if kind == kinds.DATE:
        start = np.datetime64("2024-01-01", "D")
        days = np.arange(n) if distinct else rng.integers(0, 365, size=n)
        return pa.array(start + days.astype("timedelta64[D]"), pa.date32())
    if kind == kinds.ENUM:
        return arrays.pick(rng, pa.array(list(spec.enum_values), pa.string()), n)
    if kind == kinds.INET:
        return _ip_range(n) if distinct else arrays.ip_addresses(rng, n)
    if kind == kinds.JSON:
        return pa.array(["{}"] * n, pa.string())
    raise NotImplementedError(f"no synthetic values for {column.table.name}.{column.name} ({kind})")
