"""Pandera schemas derived from the models: the checks every row goes through.

Each schema is compiled from the table's :class:`~seedbed.facts.spec.TableSpec`,
so a new table module gets its schema with no other code. Checks are named
after the database constraint (``ck_user_email_format``, ``uq_user_email``,
``uq_post_slug_live``) or the report's rule name (``type``, ``enum``).

Two compilations of the same checks:

- :func:`pandera_schema` / :func:`schema_for`, for anyone's pandas code: each
  column is parsed from what ``pd.read_csv`` gives (text, or typed values)
  into its type the way COPY would read it, and a value that cannot be read
  fails the ``type`` (or ``enum``) check.
- :func:`chunk_schema`, for typed chunks (unreadable cells are reported and
  NA), so it has no parsers, no dtype and no type checks, and its unique-key
  checks hand the hashes they computed to the cross-chunk key check.

And two on Polars (``pandera.polars``), from the columnar form of each rule
(:mod:`seedbed.validation.columnar`):

- :func:`polars_schema_for`, for anyone's Polars code
  (``pandera_schema(table, backend="polars")``);
- :func:`polars_chunk_schema`, the row engine ``validate`` and ``load`` run
  on every typed chunk; rules without a columnar form are left to their
  pandas frame side (:class:`PolarsChunkSchema` lists them).

Pandera is the engine of record for the row engine too, and
:meth:`PolarsChunkSchema.clean` is its happy path: it runs the schema's own
checks (each ``pandera.polars`` Check's function, on the same ``PolarsData``
Pandera gives it, reduced as Pandera reduces it) and each Column's NOT NULL
in one Polars collect, and says True only when Pandera's
``validate(lazy=True)`` would find nothing. On any other answer the caller runs
that ``validate``, whose failure cases make the report; a schema using what
the happy path does not read (dtypes, coercion, parsers, uniqueness, regex
columns, element-wise or grouped checks) always goes through ``validate``. The
happy path reads the schema object; it holds no list of checks of its own.

>>> frame = pd.read_csv("data/seeds/user.csv")                       # doctest: +SKIP
>>> seedbed.pandera_schema("user").validate(frame, lazy=True)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from seedbed.errors import SeedError
from seedbed.facts import (
    ColumnSpec,
    Models,
    RuleSpec,
    SqlCheck,
    TableSpec,
    UniqueKey,
    declared_metadata,
    table_spec,
    using_models,
)
from seedbed.facts import spec as k
from seedbed.validation.coerce import coerce_column, default_series, type_message
from seedbed.validation.columnar import passes_expr, polars_dtype
from seedbed.validation.keys import ChunkKeys, chunk_keys

if TYPE_CHECKING:
    import pandera.pandas as pa
    import pandera.polars as pap
    import polars as pl

# Pandera (with pydantic) is slow to import, so each function that
# builds a schema imports it: ``seedbed load`` starts its COPY first, and the
# import happens in the validation thread meanwhile.

TEXT_DTYPE = pd.StringDtype(storage="pyarrow", na_value=np.nan)
_DTYPES: dict[str, Any] = {
    k.BOOLEAN: pd.BooleanDtype(),
    k.TIMESTAMPTZ: pd.DatetimeTZDtype("us", "UTC"),
    k.TIMESTAMP: np.dtype("datetime64[us]"),
    k.INTEGER: pd.Int64Dtype(),
    k.DATE: np.dtype(object),
}

#: Where chunk schemas leave each unique key's hashes: key name -> ChunkKeys.
KeySink = MutableMapping[str, ChunkKeys]


def dtype_for(column: ColumnSpec) -> Any:
    """The pandas dtype a typed frame holds for ``column``."""
    return _DTYPES.get(column.kind, TEXT_DTYPE)


def with_defaults(
    spec: TableSpec, frame: pd.DataFrame, names: Iterable[str] | None = None
) -> pd.DataFrame:
    """``frame`` plus the left-out columns among ``names`` (default: all), filled as
    PostgreSQL fills them."""
    wanted = spec.columns if names is None else names
    missing = {
        name: default_series(spec.columns[name], len(frame), frame.index)
        for name in wanted
        if name not in frame.columns
    }
    if not missing:
        return frame
    return pd.concat([frame, pd.DataFrame(missing, index=frame.index)], axis=1)


def _parser(column: ColumnSpec) -> pa.Parser:
    import pandera.pandas as pa

    def parse(series: pd.Series) -> pd.Series:
        coerced = coerce_column(column, series)
        return series if coerced.bad.any() else coerced.values

    return pa.Parser(parse, name=f"read as {column.kind}")


def _type_check(column: ColumnSpec) -> pa.Check:
    import pandera.pandas as pa

    def readable(series: pd.Series) -> pd.Series:
        return pd.Series(~coerce_column(column, series).bad, index=series.index)

    name = "enum" if column.kind == k.ENUM else "type"
    return pa.Check(readable, name=name, description=type_message(column), ignore_na=False)


def _column_rule_check(name: str, item: RuleSpec) -> pa.Check:
    import pandera.pandas as pa

    def passes(series: pd.Series) -> pd.Series:
        return item.rule.passes(series.to_frame(name))

    return pa.Check(passes, name=item.name, description=item.rule.description, ignore_na=False)


def _frame_rule_check(spec: TableSpec, item: RuleSpec) -> pa.Check:
    import pandera.pandas as pa

    def passes(frame: pd.DataFrame) -> pd.Series:
        return item.rule.passes(with_defaults(spec, frame, item.rule.columns)).astype(bool)

    return pa.Check(passes, name=item.name, description=item.rule.description, ignore_na=False)


def _unique_check(spec: TableSpec, key: UniqueKey, sink: KeySink | None) -> pa.Check:
    import pandera.pandas as pa

    def passes(frame: pd.DataFrame) -> pd.Series:
        read = (*key.columns, *key.where_null, *key.where_not_null)
        keys = chunk_keys(frame if sink is not None else with_defaults(spec, frame, read), key)
        if sink is not None:
            sink[key.name] = keys
        return pd.Series(keys.passes(), index=frame.index)

    where = f" among rows where {', '.join(key.where_null)} is NULL" if key.where_null else ""
    return pa.Check(
        passes,
        name=key.name,
        description=f"{' and '.join(key.columns)} must be unique{where}",
        ignore_na=False,
    )


def _compile(spec: TableSpec, *, typed: bool, sink: KeySink | None) -> pa.DataFrameSchema:
    """The table's checks as a schema; ``typed``: for chunks seedbed has already typed."""
    import pandera.pandas as pa

    table = spec.table
    single: dict[str, list[pa.Check]] = {}
    frame_checks: list[pa.Check] = []
    for item in spec.rules:
        if typed and isinstance(item.rule, SqlCheck):
            continue  # the validator sends these to the database, a chunk at a time
        if len(item.rule.columns) == 1:
            name = item.rule.columns[0]
            single.setdefault(name, []).append(_column_rule_check(name, item))
        else:
            frame_checks.append(_frame_rule_check(spec, item))
    frame_checks.extend(_unique_check(spec, key, sink) for key in spec.unique_keys)
    columns: dict[str, pa.Column] = {}
    for name, column in spec.columns.items():
        checks = single.get(name, [])
        if not typed and dtype_for(column) is TEXT_DTYPE:
            checks = [_type_check(column), *checks]
        if typed and not checks and column.nullable:
            continue  # nothing to check in a typed chunk: spare Pandera the column
        columns[name] = pa.Column(
            None if typed else dtype_for(column),
            checks=checks,
            parsers=None if typed else [_parser(column)],
            nullable=column.nullable,
            required=column.required and not typed,
            name=name,
            description=str(table.c[name].info.get("doc", "")) or None,
        )
    return pa.DataFrameSchema(
        columns, checks=frame_checks, strict=not typed, name=table.name, ordered=False
    )


@cache
def schema_for(table: sa.Table) -> pa.DataFrameSchema:
    """The Pandera schema of ``table``, for frames as pandas reads them (see the module doc)."""
    return _compile(table_spec(table), typed=False, sink=None)


def chunk_schema(table: sa.Table, sink: KeySink) -> pa.DataFrameSchema:
    """The same checks for typed chunks; unique keys leave their hashes in ``sink``."""
    return _compile(table_spec(table), typed=True, sink=sink)


def pandera_schema(
    table_name: str, *, backend: str = "pandas", models: Models = None
) -> pa.DataFrameSchema | pap.DataFrameSchema:
    """The Pandera schema of the model's table ``table_name``: every rule the loader checks.

    Use it in your own pandas code; it gives the verdicts ``seedbed validate``
    gives for one file (foreign keys, and keys across files, need the other
    files and are left to :func:`seedbed.validate`). Failure cases name the
    column and the check: the database constraint (``ck_user_email_format``,
    ``uq_user_email``), ``not_nullable``, or ``type`` / ``enum``.

    ``backend="polars"`` gives a ``pandera.polars`` schema of the same checks
    for a Polars frame of typed columns (text as ``String``, booleans,
    ``Datetime("us", "UTC")`` for ``timestamptz``, ``Int64``, ``Date``),
    built from the same columnar rules as ``seedbed validate``'s row engine.

    ``models`` chooses the model (default: ``SEEDBED_MODELS``): ``"database"``
    gives the schema of a table as the database holds it, its CHECKs
    included; those PostgreSQL must judge are sent to it when the schema runs.

    >>> schema = seedbed.pandera_schema("user")                 # doctest: +SKIP
    >>> schema.validate(pd.read_csv("user.csv"), lazy=True)     # doctest: +SKIP
    """
    if backend not in ("pandas", "polars"):
        raise SeedError(f"backend must be 'pandas' or 'polars', not {backend!r}")
    with using_models(models):
        tables = {t.name: t for t in declared_metadata().sorted_tables}
    if table_name not in tables:
        known = ", ".join(sorted(tables))
        raise SeedError(f"no table named {table_name!r} (tables: {known})")
    if backend == "polars":
        return polars_schema_for(tables[table_name])
    return schema_for(tables[table_name])


# -- Polars -------------------------------------------------------------------


def polars_dtypes(spec: TableSpec) -> dict[str, pl.DataType]:
    """Each column's Polars type in a typed frame."""
    return {name: polars_dtype(column) for name, column in spec.columns.items()}


def _pandas_side(spec: TableSpec, data: pap.PolarsData, names: Iterable[str]) -> pd.DataFrame:
    """The frame's ``names`` as a typed pandas frame, left-out columns filled as PostgreSQL
    fills them (what the pandas schema's checks see)."""
    frame = data.lazyframe.collect()
    present = [c for c in names if c in frame.columns]
    typed = pd.DataFrame(
        {c: frame[c].to_pandas().astype(dtype_for(spec.columns[c])) for c in present},
        index=pd.RangeIndex(frame.height),
    )
    return with_defaults(spec, typed, [c for c in names if c in spec.columns])


def _complete(data: pap.PolarsData, names: Iterable[str]) -> bool:
    return set(names) <= set(data.lazyframe.collect_schema().names())


def _polars_rule_check(spec: TableSpec, item: RuleSpec, expr: pl.Expr | None) -> pap.Check:
    """A rule's columnar form; its pandas frame side when it has none, or when a column it
    reads is left out of the frame (then it takes the column's default, as the database)."""
    import pandera.polars as pap
    import polars as pl

    def passes(data: pap.PolarsData) -> pl.LazyFrame:
        if expr is not None and _complete(data, item.rule.columns):
            return data.lazyframe.select(expr)
        ok = item.rule.passes(_pandas_side(spec, data, item.rule.columns))
        return pl.LazyFrame({item.name: ok.to_numpy(dtype=bool)})

    return pap.Check(passes, name=str(item.name), description=item.rule.description)


def _polars_unique(spec: TableSpec, key: UniqueKey) -> pap.Check:
    import pandera.polars as pap
    import polars as pl

    read = (*key.columns, *key.where_null, *key.where_not_null)
    held = pl.all_horizontal(
        *(pl.col(c).is_not_null() for c in (*key.columns, *key.where_not_null)),
        *(pl.col(c).is_null() for c in key.where_null),
    )
    first = pl.struct(list(key.columns)).is_first_distinct().over(held)

    def passes(data: pap.PolarsData) -> pl.LazyFrame:
        if _complete(data, read):
            return data.lazyframe.select((~held | first).alias(key.name))
        keys = chunk_keys(_pandas_side(spec, data, read), key)
        return pl.LazyFrame({key.name: keys.passes()})

    where = f" among rows where {', '.join(key.where_null)} is NULL" if key.where_null else ""
    return pap.Check(
        passes, name=str(key.name), description=f"{' and '.join(key.columns)} must be unique{where}"
    )


def _polars_type_check(column: ColumnSpec) -> pap.Check:
    """Text that the column's type cannot read (the same reading as the pandas schema)."""
    import pandera.polars as pap
    import polars as pl

    def readable(data: pap.PolarsData) -> pl.LazyFrame:
        values = data.lazyframe.select(data.key).collect().to_series()
        bad = coerce_column(column, values.to_pandas().astype(TEXT_DTYPE)).bad
        return pl.LazyFrame({data.key: ~bad})

    name = "enum" if column.kind == k.ENUM else "type"
    return pap.Check(readable, name=name, description=type_message(column))


@dataclass
class PolarsChunkSchema:
    """The row engine's schema of one table, and the rules it leaves to pandas."""

    schema: pap.DataFrameSchema
    #: rules without a columnar form: their pandas frame side judges them
    on_pandas: tuple[RuleSpec, ...]
    #: the columns the schema reads
    columns: tuple[str, ...]

    def clean(self, frame: pl.DataFrame) -> bool:
        """True only when ``schema.validate(frame, lazy=True)`` would raise nothing.

        False means "run ``validate``": a row may fail, or a check raised, or
        the schema uses what this happy path does not read (see the module doc).
        """
        return self._readable and _all_pass(self.schema, frame)

    @cached_property
    def _readable(self) -> bool:
        """Whether the happy path reads all of the schema (computed once)."""
        return _happy_path(self.schema)


def _plain_check(check: pap.Check) -> bool:
    """A check whose function takes the ``PolarsData`` and returns a bool or a LazyFrame."""
    return bool(
        check._check_fn is not None
        and not check.element_wise
        and check.groupby is None
        and not check.raise_warning
    )


def _happy_path(schema: pap.DataFrameSchema) -> bool:
    """Whether :func:`_all_pass` reads every part of ``schema`` that can fail a frame."""
    if (
        schema.dtype is not None
        or schema.coerce
        or schema.parsers
        or schema.unique
        or schema.unique_column_names
        or schema.add_missing_columns
        or schema.strict is not False
        or schema.drop_invalid_rows
        or schema.index is not None
        or not all(_plain_check(c) for c in schema.checks)
    ):
        return False
    return all(
        column.dtype is None
        and not column.coerce
        and not column.parsers
        and not column.unique
        and not column.regex
        and column.default is None
        and not column.drop_invalid_rows
        and all(_plain_check(c) for c in column.checks)
        for column in schema.columns.values()
    )


def _check_passes(check: pap.Check, data: pap.PolarsData) -> pl.LazyFrame | bool:
    """Pandera's verdict on the whole frame for ``check``, as its Polars check backend
    reaches it: several output columns ANDed, NULL a pass when ``ignore_na``."""
    import polars as pl

    out: pl.LazyFrame | bool = check._check_fn(data, **check._check_kwargs)
    if isinstance(out, bool):
        return out
    names = out.collect_schema().names()
    result = pl.all_horizontal(names) if len(names) > 1 else pl.col(names[0])
    result = result.fill_null(True) if check.ignore_na else result.fill_null(False)
    return out.select(result.all())


def _all_pass(schema: pap.DataFrameSchema, frame: pl.DataFrame) -> bool:
    import polars as pl
    from pandera.api.polars.types import PolarsData

    lazy = frame.lazy()
    present = frame.schema
    verdicts: list[pl.LazyFrame] = []
    not_null: list[pl.Expr] = []
    try:
        for name, column in schema.columns.items():
            if name not in present:
                if column.required:
                    return False
                continue
            if not column.nullable:
                value = pl.col(name)
                filled = value.is_not_null()
                if present[name].is_float():
                    filled &= value.is_not_nan()
                not_null.append(filled.all())
            for check in column.checks:
                found = _check_passes(check, PolarsData(lazy, name))
                if found is False:
                    return False
                if found is not True:
                    verdicts.append(found)
        for check in schema.checks:
            found = _check_passes(check, PolarsData(lazy, "*"))
            if found is False:
                return False
            if found is not True:
                verdicts.append(found)
        if not_null:
            verdicts.append(lazy.select(pl.all_horizontal(not_null)))
        if not verdicts:
            return True
        named = [found.select(pl.all().alias(f"v{i}")) for i, found in enumerate(verdicts)]
        result = pl.concat(named, how="horizontal").collect()  # one collect: one plan
    except Exception:  # validate runs the check again, and reports what it raised
        return False
    return all(value is True for value in result.row(0))


def _compile_polars(spec: TableSpec, *, typed: bool) -> PolarsChunkSchema:
    import pandera.polars as pap

    dtypes = polars_dtypes(spec)
    single: dict[str, list[pap.Check]] = {}
    frame_checks: list[pap.Check] = []
    on_pandas: list[RuleSpec] = []
    for item in spec.rules:
        if typed and isinstance(item.rule, SqlCheck):
            continue  # the validator sends these to the database, a chunk at a time
        expr = passes_expr(item.rule, dtypes)
        if expr is None and typed:
            on_pandas.append(item)
        elif expr is not None and len(item.rule.columns) == 1:
            check = _polars_rule_check(spec, item, expr)
            single.setdefault(item.rule.columns[0], []).append(check)
        else:
            frame_checks.append(_polars_rule_check(spec, item, expr))
    if not typed:
        frame_checks.extend(_polars_unique(spec, key) for key in spec.unique_keys)
    columns: dict[str, pap.Column] = {}
    for name, column in spec.columns.items():
        checks = single.get(name, [])
        if not typed and dtype_for(column) is TEXT_DTYPE:
            checks = [_polars_type_check(column), *checks]
        if typed and not checks and column.nullable:
            continue
        # Plain str: SQLAlchemy's quoted_name is a str subclass that Polars would take for
        # a record when it builds the failure cases.
        columns[str(name)] = pap.Column(
            None if typed else dtypes[name],
            checks=checks,
            nullable=column.nullable,
            required=column.required and not typed,
            name=str(name),
            description=str(spec.table.c[name].info.get("doc", "")) or None,
        )
    read = {name: None for name in columns}
    for item in spec.rules:
        read.update(dict.fromkeys(c for c in item.rule.columns if c in spec.columns))
    schema = pap.DataFrameSchema(
        columns, checks=frame_checks, strict=not typed, name=str(spec.name), ordered=False
    )
    return PolarsChunkSchema(schema, tuple(on_pandas), tuple(read))


@cache
def polars_schema_for(table: sa.Table) -> pap.DataFrameSchema:
    """The ``pandera.polars`` schema of ``table``, for typed Polars frames."""
    return _compile_polars(table_spec(table), typed=False).schema


@cache
def polars_chunk_schema(table: sa.Table) -> PolarsChunkSchema:
    """The row engine's checks of ``table`` for typed chunks (no dtypes, no type checks)."""
    return _compile_polars(table_spec(table), typed=True)


def coerce_frame(table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each known column read as its type.

    A column with a value that cannot be read is left as it was, so the
    schema's checks report it. Unknown columns are kept (and reported by the
    strict schema).
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


__all__ = [
    "PolarsChunkSchema",
    "chunk_schema",
    "coerce_frame",
    "dtype_for",
    "pandera_schema",
    "polars_chunk_schema",
    "polars_dtypes",
    "polars_schema_for",
    "schema_for",
    "with_defaults",
]
