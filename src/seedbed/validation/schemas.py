"""Pandera schemas derived from the models: the checks every row goes through.

Each schema is compiled from the table's :class:`~seedbed.facts.spec.TableSpec`,
so a new table module gets its schema with no other code. Checks are named
after the database constraint (``ck_user_email_format``, ``uq_user_email``,
``uq_post_slug_live``) or the report's rule name (``type``, ``enum``).

Two compilations of the same checks:

- :func:`pandera_schema` / :func:`schema_for`, for anyone's pandas code: each
  column is parsed from what ``pd.read_csv`` gives (text, or typed values)
  into its type the way COPY would read it, and a value that cannot be read
  fails the ``type`` (or ``enum``) check; the rules read their columns the
  same way, so they judge only the cells that can be read.
- :func:`chunk_schema`, for typed chunks (unreadable cells are reported and
  NA), so it has no parsers, no dtype and no type checks, and its unique-key
  checks hand the hashes they computed to the cross-chunk key check.

And two on Polars (``pandera.polars``), from the columnar form of each rule
(:mod:`seedbed.validation.columnar`):

- :func:`polars_schema_for`, for anyone's Polars code
  (``pandera_schema(table, backend="polars")``): no dtypes; every check reads
  the columns it is given as ``seedbed.validate`` reads a Polars frame's
  (:func:`_read_polars`), so a cell that cannot be read fails ``type`` alone;
- :func:`polars_chunk_schema`, the row engine ``validate`` and ``load`` run
  on every typed chunk; rules without a columnar form are left to their
  pandas frame side (:class:`PolarsChunkSchema` lists them).

Both Polars compilations are first plain functions (:class:`PolarsChunkSchema`:
:class:`PlainColumn` and :class:`PlainCheck`), from which the ``pandera.polars``
schema is built when asked for. Pandera is the engine of record for the row
engine too, and :meth:`PolarsChunkSchema.clean` is its happy path: it runs the
same checks (each rule's expression, planned once per table and frame schema,
or the check function on a :class:`FrameData`, the fields of the ``PolarsData``
Pandera gives them, reduced as Pandera reduces them) in one Polars query and
each column's NOT NULL from its null count, and says True only when Pandera's
``validate(lazy=True)`` would find nothing. On any other answer the caller runs
that ``validate``, whose failure cases make the report; a schema with dtypes
or strictness always goes through ``validate``. A clean chunk therefore
imports neither Pandera nor pandas.

>>> frame = pd.read_csv("data/seeds/user.csv")                       # doctest: +SKIP
>>> seedbed.pandera_schema("user").validate(frame, lazy=True)       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, MutableMapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from seedbed.errors import SeedError
from seedbed.facts import (
    ColumnSpec,
    Models,
    RuleSpec,
    SqlCheck,
    TableSpec,
    UniqueKey,
    declared_metadata,
    ordered_tables,
    table_spec,
    using_models,
)
from seedbed.facts import spec as k
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import YEAR_1_DAY, YEAR_1_US, YEAR_10000_DAY, YEAR_10000_US
from seedbed.validation.coerce import (
    ArrowCoerced,
    Coerced,
    coerce_arrow,
    coerce_column,
    default_series,
    length_message,
    type_message,
)
from seedbed.validation.columnar import condition_expr, passes_expr, polars_dtype, to_polars
from seedbed.validation.formats.base import pandas_column, plain_array, value_text
from seedbed.validation.formats.frame import frame_column
from seedbed.validation.keys import ChunkKeys, chunk_keys, held_expr
from seedbed.validation.keytext import key_forms, key_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa
    import pandera.polars as pap
    import polars as pl
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

# Pandera (with pydantic) is slow to import, so each function that
# builds a schema imports it: ``seedbed load`` starts its COPY first, and the
# import happens in the validation thread meanwhile.

#: The kinds a typed frame holds in a type of their own; every other kind is text.
_TYPED_KINDS = (k.BOOLEAN, k.TIMESTAMPTZ, k.TIMESTAMP, k.INTEGER, k.DATE)


@cache
def text_dtype() -> Any:
    """The pandas dtype of text in a typed frame: pandas' default ``str``."""
    return pd.StringDtype(storage="pyarrow", na_value=np.nan)


@cache
def _pandas_dtypes() -> dict[str, Any]:
    return {
        k.BOOLEAN: pd.BooleanDtype(),
        k.TIMESTAMPTZ: pd.DatetimeTZDtype("us", "UTC"),
        k.TIMESTAMP: np.dtype("datetime64[us]"),
        k.INTEGER: pd.Int64Dtype(),
        k.DATE: np.dtype(object),
    }


def _is_text(column: ColumnSpec) -> bool:
    return column.kind not in _TYPED_KINDS


#: Where chunk schemas leave each unique key's hashes: key name -> ChunkKeys.
KeySink = MutableMapping[str, ChunkKeys]


def dtype_for(column: ColumnSpec) -> Any:
    """The pandas dtype a typed frame holds for ``column``."""
    return _pandas_dtypes()[column.kind] if not _is_text(column) else text_dtype()


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


def _type_rule(column: ColumnSpec) -> str:
    return "enum" if column.kind == k.ENUM else "type"


def _failing(
    column: ColumnSpec, coerced: Coerced | ArrowCoerced, unreadable: Iterable[int]
) -> dict[str, np.ndarray]:
    """The cells that cannot be read, by the rule the report gives them: ``type`` (or
    ``enum``), and ``length`` for a value too long for its ``varchar(n)``."""
    failing: dict[str, np.ndarray] = {}
    for reason in coerced.why():
        cells = failing.setdefault(reason.rule, np.zeros(len(coerced.bad), dtype=bool))
        cells |= reason.cells
    rows = list(unreadable)  # values that cannot even be written as text
    if rows:
        cells = failing.setdefault(_type_rule(column), np.zeros(len(coerced.bad), dtype=bool))
        cells[rows] = True
    return failing


def _any(failing: dict[str, np.ndarray], n: int) -> np.ndarray:
    cells = np.zeros(n, dtype=bool)
    for failed in failing.values():
        cells |= failed
    return cells


def _read_pandas(column: ColumnSpec, values: pd.Series) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """A pandas column of anyone's frame read as :func:`seedbed.validate` reads a
    DataFrame's (so as COPY would read it): typed, NA where a cell cannot be read; and
    those cells, by rule (:func:`_failing`)."""
    ready, unreadable = frame_column(column, values)
    coerced = coerce_column(column, ready)
    failing = _failing(column, coerced, (row for row, _ in unreadable))
    if not unreadable:
        return coerced.values, failing
    return coerced.values.mask(_any(failing, len(values))), failing


def _parser(column: ColumnSpec) -> pa.Parser:
    import pandera.pandas as pa

    def parse(series: pd.Series) -> pd.Series:
        values, failing = _read_pandas(column, series)
        return series if failing else values

    return pa.Parser(parse, name=f"read as {column.kind}")


def database_reader(
    spec: TableSpec, column: ColumnSpec, engine: Engine | None = None
) -> Callable[[list[str | None]], np.ndarray] | None:
    """For a column of a type PostgreSQL reads (:attr:`ColumnSpec.read_by_database`): a
    function from its values' text to the cells the judging database cannot read, as
    :func:`seedbed.validate` asks it (``engine``: the call's database); None for other
    columns, and for a catalog model without a database (COPY judges them at load)."""
    if not column.read_by_database:
        return None
    from seedbed.facts import type_judge

    judge = type_judge(spec.table)
    if judge is None:
        return None
    judge = judge.on(engine)
    sql_type = k.base_sql_type(k.named_column(spec.table, column.name))
    schema = str(spec.table.schema)
    return lambda values: judge.unreadable(schema, sql_type, values)


def _with_database(
    read: Callable[[list[str | None]], np.ndarray],
    values: Iterable[object],
    failing: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """``failing`` with the cells ``read`` (a :func:`database_reader`) refuses as ``type``."""
    cells = [None if value is None or value is pd.NA else str(value) for value in values]
    refused = read(cells)
    if refused.any():
        failing = {**failing, "type": failing.get("type", refused) | refused}
    return failing


def _type_checks(spec: TableSpec, column: ColumnSpec) -> list[pa.Check]:
    """``type`` (or ``enum``), and ``length`` for a ``varchar(n)``: the cells that cannot
    be read (by PostgreSQL too, for a type it reads), each under the rule the report gives
    it."""
    import pandera.pandas as pa

    database = database_reader(spec, column)

    def readable(rule: str) -> Callable[[pd.Series], pd.Series]:
        def check(series: pd.Series) -> pd.Series:
            values, failing = _read_pandas(column, series)
            if database is not None:  # text, read by PostgreSQL
                failing = _with_database(database, values.astype(object), failing)
            cells = failing.get(rule)
            return pd.Series(True if cells is None else ~cells, index=series.index)

        return check

    return [
        pa.Check(readable(rule), name=rule, description=message, ignore_na=False)
        for rule, message in _read_rules(column)
    ]


def _read_rules(column: ColumnSpec) -> list[tuple[str, str]]:
    """The rules under which reading ``column`` reports a cell, with their messages."""
    rules = [(_type_rule(column), type_message(column))]
    if column.kind == k.TEXT and column.max_length is not None:
        rules.append(("length", length_message(column)))
    return rules


def _read(spec: TableSpec, frame: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    """``frame`` with its columns among ``names`` read as their types: NA where a cell cannot
    be read (its ``type`` check reports it), so a rule judges only what it would be given."""
    read = {
        name: _read_pandas(spec.columns[name], frame[name])[0]
        for name in names
        if name in frame.columns and name in spec.columns
    }
    return frame.assign(**read) if read else frame


def _column_rule_check(spec: TableSpec, name: str, item: RuleSpec, *, read: bool) -> pa.Check:
    import pandera.pandas as pa

    def passes(series: pd.Series) -> pd.Series:
        frame = series.to_frame(name)
        return item.rule.passes(_read(spec, frame, [name]) if read else frame)

    return pa.Check(passes, name=item.name, description=item.rule.description, ignore_na=False)


def _frame_rule_check(spec: TableSpec, item: RuleSpec, *, read: bool) -> pa.Check:
    import pandera.pandas as pa

    def passes(frame: pd.DataFrame) -> pd.Series:
        frame = with_defaults(spec, frame, item.rule.columns)
        if read:
            frame = _read(spec, frame, item.rule.columns)
        return item.rule.passes(frame).astype(bool)

    return pa.Check(passes, name=item.name, description=item.rule.description, ignore_na=False)


def _unique_check(spec: TableSpec, key: UniqueKey, sink: KeySink | None) -> pa.Check:
    import pandera.pandas as pa

    def passes(frame: pd.DataFrame) -> pd.Series:
        if sink is None:  # anyone's frame: read as its types first
            frame = _read(spec, with_defaults(spec, frame, key.reads), key.reads)
        keys = chunk_keys(frame, key, key_forms(spec, key.columns))
        if sink is not None:
            sink[key.name] = keys
        return pd.Series(keys.passes(), index=frame.index)

    return pa.Check(
        passes,
        name=key.name,
        description=_unique_words(key),
        ignore_na=False,
    )


def _unique_words(key: UniqueKey) -> str:
    return " ".join(filter(None, (f"{' and '.join(key.columns)} must be unique", key.scope)))


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
            single.setdefault(name, []).append(_column_rule_check(spec, name, item, read=not typed))
        else:
            frame_checks.append(_frame_rule_check(spec, item, read=not typed))
    frame_checks.extend(_unique_check(spec, key, sink) for key in spec.unique_keys)
    columns: dict[str, pa.Column] = {}
    for name, column in spec.columns.items():
        checks = single.get(name, [])
        if not typed:
            checks = [*_type_checks(spec, column), *checks]
        if typed and not checks and column.nullable:
            continue  # nothing to check in a typed chunk: spare Pandera the column
        columns[name] = pa.Column(
            None if typed else dtype_for(column),
            checks=checks,
            parsers=None if typed else [_parser(column)],
            nullable=column.nullable,
            required=column.required and not typed,
            name=name,
            description=column.doc or None,
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
    for a Polars frame as its user holds it (numbers of any Polars type,
    ``Decimal`` or text, times in any unit): each cell is read as
    :func:`seedbed.validate` reads a Polars frame, then judged by the same
    columnar rules as ``seedbed validate``'s row engine. In both schemas a cell
    that cannot be read fails ``type`` alone; the rules judge the others. A
    value of a type seedbed does not read itself (arrays, ranges, intervals...)
    is read by PostgreSQL, as :func:`seedbed.validate` has it read: the
    settings' database, or the catalog's.

    ``models`` chooses the model (default: ``SEEDBED_MODELS``): ``"database"``
    gives the schema of a table as the database holds it, its CHECKs
    included; those PostgreSQL must judge are sent to it when the schema runs.

    >>> schema = seedbed.pandera_schema("user")                 # doctest: +SKIP
    >>> schema.validate(pd.read_csv("user.csv"), lazy=True)     # doctest: +SKIP
    """
    if backend not in ("pandas", "polars"):
        raise SeedError(f"backend must be 'pandas' or 'polars', not {backend!r}")
    with using_models(models):
        tables = {t.name: t for t in ordered_tables(declared_metadata())}
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


def _pandas_side(spec: TableSpec, data: FrameData, names: Iterable[str]) -> pd.DataFrame:
    """The frame's ``names`` as a typed pandas frame, left-out columns filled as PostgreSQL
    fills them (what the pandas schema's checks see)."""
    frame = data.lazyframe.collect()
    present = [c for c in names if c in frame.columns]
    typed = pd.DataFrame(
        {c: frame[c].to_pandas().astype(dtype_for(spec.columns[c])) for c in present},
        index=pd.RangeIndex(frame.height),
    )
    return with_defaults(spec, typed, [c for c in names if c in spec.columns])


def _complete(data: FrameData, names: Iterable[str]) -> bool:
    return set(names) <= set(data.lazyframe.collect_schema().names())


class FrameData(NamedTuple):
    """What a check's function is given: the frame and the column it checks (``"*"``: the
    frame). The fields of ``pandera.polars.PolarsData``, which Pandera gives the same
    functions."""

    lazyframe: pl.LazyFrame
    key: str


@dataclass(frozen=True)
class PlainCheck:
    """A check as ``pandera.polars.Check`` takes it: a function of :class:`FrameData` that
    returns a LazyFrame of booleans (NULL passes, as Pandera's ``ignore_na`` default)."""

    fn: Callable[[FrameData], pl.LazyFrame]
    name: str
    description: str | None
    #: what ``fn`` selects when the frame holds every column of ``reads``: the happy path
    #: runs it inside its one query
    expr: pl.Expr | None = None
    reads: tuple[str, ...] = ()

    def pandera(self) -> pap.Check:
        import pandera.polars as pap

        return pap.Check(self.fn, name=self.name, description=self.description)


@dataclass(frozen=True)
class PlainColumn:
    """A column as ``pandera.polars.Column`` takes it."""

    name: str
    dtype: pl.DataType | None
    checks: tuple[PlainCheck, ...]
    nullable: bool
    required: bool
    description: str | None


@dataclass
class PolarsChunkSchema:
    """A table's checks on Polars frames, in plain functions; the ``pandera.polars`` schema
    built from them (:attr:`schema`) only when asked for, and the rules left to pandas.

    :meth:`clean` runs the same functions without Pandera, so a frame that passes never
    imports it.
    """

    name: str
    fields: tuple[PlainColumn, ...]
    checks: tuple[PlainCheck, ...]
    strict: bool
    #: rules without a columnar form: their pandas frame side judges them
    on_pandas: tuple[RuleSpec, ...]
    #: the columns the schema reads
    columns: tuple[str, ...]

    @cached_property
    def schema(self) -> pap.DataFrameSchema:
        """The ``pandera.polars`` schema of these checks (built on first use)."""
        import pandera.polars as pap

        columns = {
            column.name: pap.Column(
                column.dtype,
                checks=[check.pandera() for check in column.checks],
                nullable=column.nullable,
                required=column.required,
                name=column.name,
                description=column.description,
            )
            for column in self.fields
        }
        return pap.DataFrameSchema(
            columns,
            checks=[check.pandera() for check in self.checks],
            strict=self.strict,
            name=self.name,
            ordered=False,
        )

    def clean(self, frame: pl.DataFrame, proven: Collection[str] = ()) -> bool:
        """True only when ``schema.validate(frame, lazy=True)`` would raise nothing.

        False means "run ``validate``": a row may fail, or a check raised, or
        the schema uses what this happy path does not read (dtypes, strictness).
        ``proven``: names of checks the caller knows every row passes (not run).
        """
        if self.strict or any(column.dtype is not None for column in self.fields):
            return False
        present = frame.schema
        shape = tuple(present.items())
        if shape not in self._plans:
            self._plans[shape] = _plan(self, present)
        return _all_pass(self._plans[shape], frame, proven)

    def failure_cases(self, frame: pl.DataFrame) -> pd.DataFrame:
        """What ``schema.validate(frame, lazy=True)`` gives as failure cases (``check``,
        ``column``, ``index``), found without Pandera: Pandera turns failing rows into
        Python values for its message, and Polars cannot turn a time outside years 1 to
        9999 (``infinity``, ``BC``) into one (see :func:`holds_python_times`). Only for
        a schema without dtypes or strictness, as the row engine's (:meth:`clean`)."""

        lazy = frame.lazy()
        found: list[pd.DataFrame] = []

        def failing(check: str, column: str | None, rows: pl.Series) -> None:
            where = rows.arg_true().to_numpy()
            if len(where):
                found.append(pd.DataFrame({"check": check, "column": column, "index": where}))

        for column in self.fields:
            if column.name not in frame.columns:
                continue
            if not column.nullable:
                failing("not_nullable", column.name, frame.get_column(column.name).is_null())
            for check in column.checks:
                failing(check.name, column.name, _check_rows(check, FrameData(lazy, column.name)))
        for check in self.checks:
            failing(check.name, None, _check_rows(check, FrameData(lazy, "*")))
        if not found:
            return pd.DataFrame({"check": [], "column": [], "index": []})
        return pd.concat(found, ignore_index=True)

    @cached_property
    def _plans(self) -> dict[tuple[tuple[str, pl.DataType], ...], _Plan | None]:
        """Per frame schema (names and types), the happy path's plan: it depends on the
        table alone, so it is built once (None: a required column is missing)."""
        return {}


def holds_python_times(frame: pl.DataFrame) -> bool:
    """Every date and timestamp of ``frame`` is one Python's ``datetime`` holds (years 1
    to 9999): Polars can turn its rows into Python values."""
    import polars as pl

    per_unit = {"ns": 1000, "us": 1, "ms": 0.001}
    edges: list[tuple[str, float, float]] = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Date):
            edges.append((name, YEAR_1_DAY, YEAR_10000_DAY))
        elif isinstance(dtype, pl.Datetime):
            scale = per_unit[dtype.time_unit or "us"]
            edges.append((name, YEAR_1_US * scale, YEAR_10000_US * scale))
    if not edges:
        return True
    physical = [pl.col(name).to_physical() for name, _, _ in edges]
    bounds = frame.select(
        [e.min().alias(f"min{i}") for i, e in enumerate(physical)]
        + [e.max().alias(f"max{i}") for i, e in enumerate(physical)]
    ).row(0)
    for i, (_, low, high) in enumerate(edges):
        least, most = bounds[i], bounds[len(edges) + i]
        if least is not None and (least < low or most >= high):
            return False
    return True


def _check_rows(check: PlainCheck, data: FrameData) -> pl.Series:
    """The rows failing ``check``, as Pandera's Polars check backend finds them: several
    output columns ANDed, NULL a pass (``ignore_na``); a scalar verdict names no row."""
    import polars as pl

    out: pl.LazyFrame | bool = check.fn(data)
    if isinstance(out, bool):
        return pl.Series([], dtype=pl.Boolean)
    names = out.collect_schema().names()
    result = pl.all_horizontal(names) if len(names) > 1 else pl.col(names[0])
    return out.select((~result.fill_null(True)).alias("failing")).collect().to_series()


def _check_passes(check: PlainCheck, data: FrameData) -> pl.LazyFrame | bool:
    """Pandera's verdict on the whole frame for ``check``, as its Polars check backend
    reaches it: several output columns ANDed, NULL a pass (``ignore_na``)."""
    import polars as pl

    out: pl.LazyFrame | bool = check.fn(data)
    if isinstance(out, bool):
        return out
    names = out.collect_schema().names()
    result = pl.all_horizontal(names) if len(names) > 1 else pl.col(names[0])
    return out.select(result.fill_null(True).all())


class _Plan(NamedTuple):
    """The happy path over frames of one schema: the columns whose NOT NULL a null count
    answers, and each check's verdict, an expression (by check name) or, for a check
    without one, the check and the column it is given."""

    counted: tuple[str, ...]
    exprs: tuple[tuple[str, pl.Expr], ...]
    generic: tuple[tuple[PlainCheck, str], ...]


def _plan(schema: PolarsChunkSchema, present: pl.Schema) -> _Plan | None:
    import polars as pl

    counted: list[str] = []
    exprs: list[tuple[str, pl.Expr]] = []
    generic: list[tuple[PlainCheck, str]] = []

    def add(check: PlainCheck, key: str) -> None:
        if check.expr is not None and all(c in present for c in check.reads):
            exprs.append((check.name, check.expr.fill_null(True).all()))
        else:
            generic.append((check, key))

    for column in schema.fields:
        name = column.name
        if name not in present:
            if column.required:
                return None
            continue
        if not column.nullable:
            if present[name].is_float():  # NaN is missing too: a query answers
                value = pl.col(name)
                exprs.append(("not_nullable", (value.is_not_null() & value.is_not_nan()).all()))
            else:
                counted.append(name)
        for check in column.checks:
            add(check, name)
    for check in schema.checks:
        add(check, "*")
    return _Plan(tuple(counted), tuple(exprs), tuple(generic))


def _all_pass(plan: _Plan | None, frame: pl.DataFrame, proven: Collection[str]) -> bool:
    import polars as pl

    if plan is None:
        return False
    if any(frame.get_column(name).null_count() for name in plan.counted):
        return False
    exprs = [expr for name, expr in plan.exprs if name not in proven]
    try:
        if not plan.generic:
            if not exprs:
                return True
            result = frame.select(expr.alias(f"v{i}") for i, expr in enumerate(exprs))
            return all(value is True for value in result.row(0))
        lazy = frame.lazy()
        verdicts: list[pl.LazyFrame] = []
        if exprs:
            verdicts.append(lazy.select(e.alias(f"e{i}") for i, e in enumerate(exprs)))
        for check, key in plan.generic:
            if check.name in proven:
                continue
            found = _check_passes(check, FrameData(lazy, key))
            if found is False:
                return False
            if found is not True:
                verdicts.append(found)
        if not verdicts:
            return True
        named = [found.select(pl.all().name.prefix(f"v{i}_")) for i, found in enumerate(verdicts)]
        result = pl.concat(named, how="horizontal").collect()  # one collect: one plan
    except Exception:  # validate runs the check again, and reports what it raised
        return False
    return all(value is True for value in result.row(0))


def _read_polars(column: ColumnSpec, values: pl.Series) -> tuple[pl.Series, dict[str, np.ndarray]]:
    """A Polars column of anyone's frame read as seedbed reads a Polars frame's (as its Arrow
    column, so as COPY would read it): the typed chunk's column, null where a cell cannot
    be read, and those cells, by rule (:func:`_failing`)."""
    import polars as pl

    if column.kind == k.TEXT and column.max_length is None and values.dtype == pl.String():
        # text as it is, but a NUL (coerce_text's one refusal of it), without leaving Polars
        nul = values.str.contains("\x00", literal=True).fill_null(False)
        if not nul.any():
            return values, {}
        nulls = pl.repeat(None, len(values), dtype=pl.String(), eager=True)
        return values.zip_with(~nul, nulls), {"type": nul.to_numpy()}
    # as validate() reads a Polars frame
    plain, unreadable = plain_array(values.to_arrow(), bytes_as=column.bytes_as)
    text = value_text(column, plain)  # lists, durations...: their text
    plain = plain if text is None else text
    coerced: ArrowCoerced | Coerced | None = coerce_arrow(column, plain)
    if coerced is None:
        coerced = coerce_column(column, pandas_column(plain))
    failing = _failing(column, coerced, (row for row, _ in unreadable))
    read = to_polars({values.name: coerced.values}, [values.name]).to_series()
    if read.null_count() == len(read):  # nothing read (as text, maybe): nulls of its type
        read = pl.repeat(None, len(read), dtype=polars_dtype(column), eager=True)
    return read.alias(values.name), failing


def _read_lazy(spec: TableSpec, data: FrameData, names: Iterable[str]) -> FrameData:
    """``data`` with its columns among ``names`` read (see :func:`_read_polars`)."""
    frame = data.lazyframe.collect()
    read = [
        _read_polars(spec.columns[name], frame.get_column(name))[0]
        for name in names
        if name in frame.columns and name in spec.columns
    ]
    return FrameData(frame.with_columns(read).lazy(), data.key)


def _polars_rule_check(
    spec: TableSpec, item: RuleSpec, expr: pl.Expr | None, *, read: bool
) -> PlainCheck:
    """A rule's columnar form; its pandas frame side when it has none, or when a column it
    reads is left out of the frame (then it takes the column's default, as the database).
    ``read``: the frame is anyone's, its columns are read first."""
    import polars as pl

    def passes(data: FrameData) -> pl.LazyFrame:
        if read:
            data = _read_lazy(spec, data, item.rule.columns)
        if expr is not None and _complete(data, item.rule.columns):
            return data.lazyframe.select(expr)
        ok = item.rule.passes(_pandas_side(spec, data, item.rule.columns))
        return pl.LazyFrame({item.name: ok.to_numpy(dtype=bool)})

    return PlainCheck(
        passes,
        str(item.name),
        item.rule.description,
        expr=expr,
        reads=tuple(str(c) for c in item.rule.columns),
    )


def _polars_unique(spec: TableSpec, key: UniqueKey) -> PlainCheck:
    import polars as pl

    read = key.reads
    condition = condition_expr(key, polars_dtypes(spec))
    held = held_expr(key, condition)
    first = pl.struct(list(key.columns)).is_first_distinct().over(held)
    forms = key_forms(spec, key.columns)
    as_is = all(form == (k.KEY_AS_IS,) for form in forms)

    def passes(data: FrameData) -> pl.LazyFrame:
        data = _read_lazy(spec, data, read)  # anyone's frame: read as its types first
        if _complete(data, read) and (key.condition is None or condition is not None):
            frame = data.lazyframe
            if not as_is:  # spellings of one value are one key: compare their key texts
                collected = frame.collect()
                text = key_text(collected, key.columns, forms)
                if text is not None:
                    frame = collected.with_columns(text.get_columns()).lazy()
            return frame.select((~held | first).alias(key.name))
        keys = chunk_keys(_pandas_side(spec, data, read), key, key_forms(spec, key.columns))
        return pl.LazyFrame({key.name: keys.passes()})

    return PlainCheck(passes, str(key.name), _unique_words(key))


def _not_null(data: FrameData) -> pl.LazyFrame:
    import polars as pl

    return data.lazyframe.select(pl.col(data.key).is_not_null())


#: NOT NULL on anyone's Polars frame, named as Pandera names its own: NULL is NULL, and a
#: float's NaN is a value (``numeric``, ``real`` and ``double precision`` hold it).
_POLARS_NOT_NULL = PlainCheck(_not_null, "not_nullable", "must not be NULL")


def _polars_type_checks(spec: TableSpec, column: ColumnSpec) -> list[PlainCheck]:
    """Cells the column's type cannot read: text, or typed values it cannot hold (the
    reading of :func:`seedbed.validate`, PostgreSQL's for a type it reads), each under the
    rule the report gives it."""
    import polars as pl

    database = database_reader(spec, column)

    def readable(rule: str) -> Callable[[FrameData], pl.LazyFrame]:
        def check(data: FrameData) -> pl.LazyFrame:
            values = data.lazyframe.select(data.key).collect().to_series()
            read, failing = _read_polars(column, values)
            if database is not None:  # text, read by PostgreSQL
                failing = _with_database(database, read.to_list(), failing)
            cells = failing.get(rule)
            return pl.LazyFrame({data.key: np.ones(len(values), bool) if cells is None else ~cells})

        return check

    return [PlainCheck(readable(rule), rule, message) for rule, message in _read_rules(column)]


def _compile_polars(spec: TableSpec, *, typed: bool) -> PolarsChunkSchema:
    dtypes = polars_dtypes(spec)
    single: dict[str, list[PlainCheck]] = {}
    frame_checks: list[PlainCheck] = []
    on_pandas: list[RuleSpec] = []
    for item in spec.rules:
        if typed and isinstance(item.rule, SqlCheck):
            continue  # the validator sends these to the database, a chunk at a time
        expr = passes_expr(item.rule, dtypes)
        if expr is None and typed:
            on_pandas.append(item)
        elif expr is not None and len(item.rule.columns) == 1:
            check = _polars_rule_check(spec, item, expr, read=not typed)
            single.setdefault(item.rule.columns[0], []).append(check)
        else:
            frame_checks.append(_polars_rule_check(spec, item, expr, read=not typed))
    if not typed:
        frame_checks.extend(_polars_unique(spec, key) for key in spec.unique_keys)
    columns: list[PlainColumn] = []
    for name, column in spec.columns.items():
        checks = single.get(name, [])
        if not typed:
            checks = [*_polars_type_checks(spec, column), *checks]
            if not column.nullable:  # Pandera's own takes a float's NaN for NULL
                checks = [_POLARS_NOT_NULL, *checks]
        if typed and not checks and column.nullable:
            continue
        # Plain str: SQLAlchemy's quoted_name is a str subclass that Polars would take for
        # a record when it builds the failure cases.
        columns.append(
            PlainColumn(
                str(name),
                None,  # any type: each cell is read as its column's (the type check)
                tuple(checks),
                nullable=column.nullable or not typed,
                required=column.required and not typed,
                description=column.doc or None,
            )
        )
    read = {column.name: None for column in columns}
    for item in spec.rules:
        read.update(dict.fromkeys(c for c in item.rule.columns if c in spec.columns))
    return PolarsChunkSchema(
        str(spec.name),
        tuple(columns),
        tuple(frame_checks),
        not typed,
        tuple(on_pandas),
        tuple(read),
    )


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
    "FrameData",
    "PlainCheck",
    "PlainColumn",
    "PolarsChunkSchema",
    "chunk_schema",
    "coerce_frame",
    "dtype_for",
    "pandera_schema",
    "polars_chunk_schema",
    "polars_dtypes",
    "polars_schema_for",
    "schema_for",
    "text_dtype",
    "with_defaults",
]
