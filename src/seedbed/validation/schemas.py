"""Pandera schemas derived from the models: ``schema_for(table)``.

Each schema is compiled from the table's :class:`~seedbed.validation.spec.TableSpec`,
so a new table module gets its schema with no other code. Checks carry the
database constraint's name (``ck_user_email_format``, ``uq_user_email``,
``uq_post_slug_live``) or the report rule name (``type``, ``enum``). The
schema validates typed frames: :func:`coerce_frame` reads text (a CSV read
with every column as ``str``) the way COPY would.

>>> schema = schema_for(metadata.tables["seedbed.user"])        # doctest: +SKIP
>>> schema.validate(coerce_frame(table, raw), lazy=True)         # doctest: +SKIP
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import sqlalchemy as sa

from seedbed.validation import spec as k
from seedbed.validation.coerce import coerce_column, default_series, type_message
from seedbed.validation.keys import first_duplicates, key_hashes
from seedbed.validation.spec import ColumnSpec, RuleSpec, TableSpec, UniqueKey, table_spec

TEXT_DTYPE = pd.StringDtype(storage="pyarrow", na_value=np.nan)
_DTYPES: dict[str, Any] = {
    k.BOOLEAN: pd.BooleanDtype(),
    k.TIMESTAMPTZ: pd.DatetimeTZDtype("us", "UTC"),
    k.TIMESTAMP: np.dtype("datetime64[us]"),
    k.INTEGER: pd.Int64Dtype(),
    k.DATE: np.dtype(object),
}


def dtype_for(column: ColumnSpec) -> Any:
    """The pandas dtype a typed frame holds for ``column``."""
    return _DTYPES.get(column.kind, TEXT_DTYPE)


def _with_defaults(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    missing = {
        name: default_series(column, len(frame), frame.index)
        for name, column in spec.columns.items()
        if name not in frame.columns
    }
    return (
        pd.concat([frame, pd.DataFrame(missing, index=frame.index)], axis=1) if missing else frame
    )


def _type_check(column: ColumnSpec) -> pa.Check:
    def readable(series: pd.Series) -> pd.Series:
        return pd.Series(~coerce_column(column, series).bad, index=series.index)

    return pa.Check(
        readable, name="enum" if column.kind == k.ENUM else "type", error=type_message(column)
    )


def _column_rule_check(name: str, item: RuleSpec) -> pa.Check:
    def passes(series: pd.Series) -> pd.Series:
        return item.rule.passes(series.to_frame(name))

    return pa.Check(passes, name=item.name, error=item.rule.description)


def _frame_rule_check(spec: TableSpec, item: RuleSpec) -> pa.Check:
    def passes(frame: pd.DataFrame) -> pd.Series:
        return item.rule.passes(_with_defaults(spec, frame)).astype(bool)

    return pa.Check(passes, name=item.name, error=item.rule.description, ignore_na=False)


def unique_key_passes(spec: TableSpec, key: UniqueKey, frame: pd.DataFrame) -> pd.Series:
    """True for every row except the second and later rows sharing a key."""
    full = _with_defaults(spec, frame)
    rows = np.ones(len(full), dtype=bool)
    for name in key.columns:
        rows &= full[name].notna().to_numpy()
    for name in key.where_null:
        rows &= full[name].isna().to_numpy()
    for name in key.where_not_null:
        rows &= full[name].notna().to_numpy()
    ok = np.ones(len(full), dtype=bool)
    if rows.any():
        ok[np.flatnonzero(rows)] = first_duplicates(key_hashes(full.loc[rows], key.columns)) < 0
    return pd.Series(ok, index=frame.index)


def _unique_check(spec: TableSpec, key: UniqueKey) -> pa.Check:
    def passes(frame: pd.DataFrame) -> pd.Series:
        return unique_key_passes(spec, key, frame)

    where = f" among rows where {', '.join(key.where_null)} is NULL" if key.where_null else ""
    return pa.Check(
        passes,
        name=key.name,
        error=f"{' and '.join(key.columns)} must be unique{where}",
        ignore_na=False,
    )


@cache
def schema_for(table: sa.Table) -> pa.DataFrameSchema:
    """The Pandera schema of ``table``'s typed rows, derived from its declaration."""
    spec = table_spec(table)
    columns: dict[str, pa.Column] = {}
    single_rules: dict[str, list[pa.Check]] = {}
    frame_checks: list[pa.Check] = []
    for item in spec.rules:
        if len(item.rule.columns) == 1:
            name = item.rule.columns[0]
            single_rules.setdefault(name, []).append(_column_rule_check(name, item))
        else:
            frame_checks.append(_frame_rule_check(spec, item))
    for name, column in spec.columns.items():
        checks: list[pa.Check] = []
        if dtype_for(column) is TEXT_DTYPE:
            checks.append(_type_check(column))
        checks.extend(single_rules.get(name, []))
        columns[name] = pa.Column(
            dtype_for(column),
            checks=checks,
            nullable=column.nullable,
            required=column.required,
            name=name,
            description=str(table.c[name].info.get("doc", "")) or None,
        )
    frame_checks.extend(_unique_check(spec, key) for key in spec.unique_keys)
    return pa.DataFrameSchema(
        columns, checks=frame_checks, strict=True, name=table.name, ordered=False
    )


def coerce_frame(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each known column read as its type, for :func:`schema_for`.

    A column with a value that cannot be read is left as it was, so the
    schema's dtype check reports it. Unknown columns are kept (and reported
    by the strict schema).
    """
    spec = table_spec(table)
    out = {}
    for name in frame.columns:
        column = spec.columns.get(str(name))
        if column is None:
            out[name] = frame[name]
            continue
        coerced = coerce_column(column, frame[name])
        out[name] = frame[name] if coerced.bad.any() else coerced.values
    return pd.DataFrame(out, index=frame.index)


__all__ = ["coerce_frame", "dtype_for", "schema_for", "unique_key_passes"]
