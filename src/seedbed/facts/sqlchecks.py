"""CHECKs that PostgreSQL judges, on a frame's values: one query for a table's chunk.

A :class:`~seedbed.models.rules.SqlCheck` (a CHECK read from a catalog that
has no in-process rule) carries a :class:`DatabaseEvaluator`. It groups the
rules by the columns they read, sends only the distinct combinations of those
columns' values (as text array literals, bound parameters, never SQL text),
casts them to the columns' types, and asks which combinations each
expression refuses, all groups in one ``UNION ALL`` query. NULL passes, as it
does in a CHECK.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.config import load_settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import DatabaseError
from seedbed.lazymodules import lazy_module
from seedbed.models.rules import SqlCheck
from seedbed.sqltext import YEAR_1_US, YEAR_10000_US, escaped, quote_ident, time_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: The row number column of the evaluation query; quoted, so no table column collides.
_ROW = quote_ident("seedbed row")

#: The values of a JSON array of strings bound as ``:v``, as rows of text.
_JSON_VALUES = "json_array_elements_text(CAST(:v AS json))"


class DatabaseEvaluator:
    """Judges :class:`SqlCheck` rules on a frame in the database: one query for all of them.

    Rules that read the same columns form a group. For each group, only the
    frame's distinct combinations of those columns are sent: each column as
    one text array literal (a bound parameter, never SQL text), cast to the
    column's type. One query (a ``UNION ALL`` of the groups) returns, for each
    combination some rule refuses, which of its group's rules refuse it. NULL
    passes, as it does in a CHECK.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def on(self, engine: Engine | None) -> DatabaseEvaluator:
        """The judge for a call that names ``engine``: this one, which judges in the
        database its model was read from."""
        return self

    def __call__(self, rule: SqlCheck, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(~self.refused([rule], frame)[0], index=frame.index)

    def refused(self, rules: Sequence[SqlCheck], frame: pd.DataFrame) -> list[np.ndarray]:
        """Per rule, a boolean array over ``frame``'s rows: True where the rule refuses it."""
        n = len(frame)
        out = [np.zeros(n, dtype=bool) for _ in rules]
        if not rules or not n:
            return out
        types = {
            c: t for rule in rules for c, t in zip(rule.columns, rule.column_types, strict=True)
        }
        groups: dict[tuple[str, ...], list[int]] = {}
        for k, rule in enumerate(rules):
            groups.setdefault(rule.columns, []).append(k)
        columns = {c: _distinct_text(frame[c]) if c in frame.columns else None for c in types}
        batches = [_Batch.of(cols, ks, columns, n) for cols, ks in groups.items()]
        combinations = {k: np.zeros(b.count, dtype=bool) for b in batches for k in b.rules}
        for g, index, flags in self._refusals(rules, batches, types):
            for k, flag in zip(batches[g].rules, flags, strict=True):
                combinations[k][index] |= flag
        for batch in batches:
            for k in batch.rules:
                out[k] = combinations[k][batch.codes]
        return out

    def unreadable(self, schema: str, sql_type: str, values: Sequence[str | None]) -> np.ndarray:
        """True where PostgreSQL cannot read a value as ``sql_type``.

        For the types seedbed does not read in-process (bytea, arrays,
        intervals, times, tsvector, bounded numbers...). The distinct
        values go in one query, bound as one JSON array (several times
        faster to send than a text array); ``pg_input_is_valid``
        judges them on PostgreSQL 16 and later, and on older servers a cast
        of the whole batch is split in halves until the values that fail are
        found. Type names resolve in ``schema`` first, as the table's do.
        """
        distinct = list(dict.fromkeys(v for v in values if v is not None))
        bad = np.zeros(len(values), dtype=bool)
        if not distinct:
            return bad
        with (
            database_errors(f"reading values as {sql_type} in the database"),
            self.engine.begin() as conn,
        ):
            conn.execute(
                sa.text("SELECT set_config('search_path', :path, true)"),
                {"path": f"{quote_ident(schema)}, public"},
            )
            if (conn.dialect.server_version_info or (0,)) >= (16,):
                sql = f"SELECT u.v FROM {_JSON_VALUES} AS u(v) WHERE NOT pg_input_is_valid(u.v, :t)"
                params = {"v": json.dumps(distinct), "t": sql_type}
                refused = set(conn.execute(sa.text(sql), params).scalars())
            else:
                refused = _uncastable(conn, sql_type, distinct)
        if refused:
            bad[:] = [v in refused for v in values]
        return bad

    def _refusals(
        self, rules: Sequence[SqlCheck], batches: Sequence[_Batch], types: dict[str, str]
    ) -> list[tuple[int, int, tuple[bool, ...]]]:
        """(group, position among its combinations, which of its rules refuse it) per refusal.

        A CHECK that raises an error for some values (a division by zero, a
        cast that fails) would make COPY refuse those rows: each group's
        combinations are then split in halves until the ones that raise are
        found, and the rule that raises for a combination refuses it. Only a
        failing chunk pays for this.
        """
        try:
            return self._query(rules, batches, types)
        except DatabaseError as exc:
            if not _raised_by_values(exc):
                raise
        found: list[tuple[int, int, tuple[bool, ...]]] = []
        for g, batch in enumerate(batches):
            for index, flags in self._halving(rules, batch, types, list(range(batch.count))):
                found.append((g, index, flags))
        return found

    def _halving(
        self,
        rules: Sequence[SqlCheck],
        batch: _Batch,
        types: dict[str, str],
        positions: list[int],
    ) -> list[tuple[int, tuple[bool, ...]]]:
        """:meth:`_refusals` for the combinations at ``positions`` of one group."""
        part = batch.only(positions)
        try:
            return [(positions[i], flags) for _, i, flags in self._query(rules, [part], types)]
        except DatabaseError as exc:
            if not _raised_by_values(exc):
                raise
        if len(positions) > 1:
            half = len(positions) // 2
            return self._halving(rules, batch, types, positions[:half]) + self._halving(
                rules, batch, types, positions[half:]
            )
        flags = []
        for k in batch.rules:
            alone = dataclasses.replace(part, rules=(k,))
            try:
                refused = bool(self._query(rules, [alone], types))
            except DatabaseError as exc:
                if not _raised_by_values(exc):
                    raise
                refused = True
            flags.append(refused)
        return [(positions[0], tuple(flags))] if any(flags) else []

    def _query(
        self, rules: Sequence[SqlCheck], batches: Sequence[_Batch], types: dict[str, str]
    ) -> list[tuple[int, int, tuple[bool, ...]]]:
        """:meth:`_refusals` in one query; a value a rule cannot judge raises DatabaseError."""
        selects: list[str] = []
        params: dict[str, str] = {}
        for g, batch in enumerate(batches):
            tests = [f"({escaped(rules[k].expression)}) IS FALSE" for k in batch.rules]
            if batch.columns:
                names = [f"g{g}v{i}" for i in range(len(batch.columns))]
                arrays = ", ".join(f"CAST(:{name} AS TEXT[])" for name in names)
                typed = ", ".join(
                    f"CAST(u.{name} AS {types[column]}) AS {quote_ident(column)}"
                    for name, column in zip(names, batch.columns, strict=True)
                )
                source = (
                    f"(SELECT {typed}, u.{_ROW} FROM unnest({arrays}) "
                    f"WITH ORDINALITY AS u({', '.join(names)}, {_ROW})) AS t"
                )
                params.update(zip(names, batch.literals, strict=True))
            else:  # CHECKs that read no column: one verdict for every row
                source = f"(SELECT CAST(1 AS BIGINT) AS {_ROW}) AS t"
            selects.append(
                f"SELECT {g} AS g, t.{_ROW} AS r, ARRAY[{', '.join(tests)}] AS refused"
                f" FROM {source} WHERE {' OR '.join(tests)}"
            )
        what = ", ".join(rule.name for rule in rules)
        with (
            database_errors(f"checking {what} in the database"),
            self.engine.connect() as conn,
        ):
            found = conn.execute(sa.text(" UNION ALL ".join(selects)), params).all()
        return [(int(g), int(r) - 1, tuple(bool(f) for f in flags)) for g, r, flags in found]


class _SettingsEvaluator(DatabaseEvaluator):
    """A :class:`DatabaseEvaluator` on the database the settings name when it is used (a
    notebook or a test may change them between calls; ``get_engine`` keeps one pool per
    server), unless an engine was given to it."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        return self._engine if self._engine is not None else get_engine(load_settings())

    @engine.setter
    def engine(self, value: Engine) -> None:
        self._engine = value

    def on(self, engine: Engine | None) -> DatabaseEvaluator:
        """The judge for a call that names ``engine``: that database (the one the caller
        validates against or loads into), else the settings'."""
        return self if engine is None else DatabaseEvaluator(engine)


#: The database the settings name, as judge of the CHECKs of a pulled model, and of a
#: declared model's plain CHECKs that only PostgreSQL can judge, when the call names
#: no engine of its own (:meth:`DatabaseEvaluator.on`).
SETTINGS_EVALUATOR: DatabaseEvaluator = _SettingsEvaluator()


@dataclass(frozen=True)
class _Batch:
    """Rules that read the same columns, and the distinct combinations of those columns."""

    columns: tuple[str, ...]
    rules: tuple[int, ...]
    count: int  # how many distinct combinations
    codes: np.ndarray  # per frame row: its combination's position (all 0 without columns)
    values: tuple[list[str | None], ...]  # per column: its value in each combination

    @property
    def literals(self) -> tuple[str, ...]:
        """Per column, its values in each combination as a text array literal."""
        return tuple(_array_literal(values) for values in self.values)

    def only(self, positions: Sequence[int]) -> _Batch:
        """The same rules on the combinations at ``positions`` only (numbered from 0 again)."""
        values = tuple([column[i] for i in positions] for column in self.values)
        return dataclasses.replace(self, count=len(positions), values=values)

    @classmethod
    def of(
        cls,
        columns: tuple[str, ...],
        rules: Sequence[int],
        texts: dict[str, tuple[np.ndarray, list[str | None]] | None],
        n: int,
    ) -> _Batch:
        key = np.zeros(n, dtype=np.int64)
        for column in columns:
            codes = _codes(texts[column], n)
            key, _ = pd.factorize(key * (int(codes.max()) + 1) + codes)
            key = key.astype(np.int64)
        count = int(key.max()) + 1
        first = np.full(count, n, dtype=np.int64)
        np.minimum.at(first, key, np.arange(n, dtype=np.int64))
        kept: list[list[str | None]] = []
        for column in columns:
            found = texts[column]
            if found is None:
                kept.append([None] * count)
            else:
                codes, values = found
                kept.append([values[i] for i in codes[first]])
        return cls(columns, tuple(rules), count, key, tuple(kept))


def _uncastable(conn: sa.Connection, sql_type: str, values: list[str]) -> set[str]:
    """The ``values`` a cast to ``sql_type`` refuses, found by halving a failing batch."""
    sql = sa.text(f"SELECT count(CAST(u.v AS {sql_type})) FROM {_JSON_VALUES} AS u(v)")
    try:
        with conn.begin_nested():
            conn.execute(sql, {"v": json.dumps(values)})
        return set()
    except sa.exc.DBAPIError as exc:
        if not (getattr(exc.orig, "sqlstate", None) or "").startswith(("22", "23")):
            raise
    if len(values) == 1:
        return set(values)
    half = len(values) // 2
    return _uncastable(conn, sql_type, values[:half]) | _uncastable(conn, sql_type, values[half:])


def _raised_by_values(exc: DatabaseError) -> bool:
    """Did the server refuse the values themselves (a data exception, a domain's CHECK)?"""
    state = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None) or ""
    return state.startswith(("22", "23"))


def _codes(found: tuple[np.ndarray, list[str | None]] | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64) if found is None else found[0]


#: What ``infer_dtype`` calls values that are equal exactly when their text is.
_SAME_AS_TEXT = {"string", "integer", "boolean", "date", "datetime", "time"}


def _distinct_text(series: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Per row, the position of its value among the distinct ones, and those values as text.

    Values are told apart as they are (hashable ones) or as text, and written
    as PostgreSQL reads them from text; NA is None.
    """
    values: Any = series
    if pd.api.types.is_float_dtype(series.dtype) or (
        series.dtype == object
        and pd.api.types.infer_dtype(series, skipna=True) not in _SAME_AS_TEXT
    ):
        values = pd.Series(_as_text(series), dtype=object)  # -0.0 is not 0.0; dicts hash as text
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = _as_text(pd.Series(uniques, dtype=object))
    codes = np.where(codes < 0, len(texts), codes).astype(np.int64)
    return codes, [*texts, None]


def _array_literal(values: Sequence[str | None]) -> str:
    """A text array literal of ``values``: each quoted, backslashes and quotes escaped."""
    given = [v for v in values if v is not None]
    joined = "".join(given)
    if "\\" in joined or '"' in joined:
        given = [v.replace("\\", "\\\\").replace('"', '\\"') for v in given]
    if len(given) == len(values):
        return '{"' + '","'.join(given) + '"}' if given else "{}"
    it = iter(given)
    return "{" + ",".join("NULL" if v is None else f'"{next(it)}"' for v in values) + "}"


#: What ``infer_dtype`` calls values whose ``str`` is what PostgreSQL reads.
_PLAIN = {"integer", "decimal", "floating", "boolean", "mixed-integer-float"}


def _as_text(series: pd.Series) -> list[str | None]:
    """Values as PostgreSQL reads them from text; NA as None."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series
        zone = getattr(series.dt, "tz", None) is not None
        if zone:
            stamps = series.dt.tz_convert("UTC").dt.tz_localize(None)
        micros = stamps.to_numpy(dtype="datetime64[us]")
        text = np.datetime_as_string(micros, unit="us")
        missing = series.isna().to_numpy()
        found = [
            None if m else f"{t}+00" if zone else str(t) for t, m in zip(text, missing, strict=True)
        ]
        held = micros.view("i8")
        for row in np.flatnonzero(~missing & ((held < YEAR_1_US) | (held >= YEAR_10000_US))):
            found[row] = time_text(int(held[row]), zone=zone)  # infinity, BC, past 9999
        return found
    values = series.to_numpy(dtype=object, copy=True)
    missing = pd.isna(values)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":
        values[missing] = None
        return list(values)
    if kind in _PLAIN:
        return [None if m else str(v) for v, m in zip(values, missing, strict=True)]
    out: list[str | None] = []
    for value, absent in zip(values, missing, strict=True):
        if absent:
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict | list):
            out.append(json.dumps(value))
        elif isinstance(value, datetime | date | time):
            out.append(value.isoformat())
        elif isinstance(value, np.datetime64):  # a date Python cannot hold, or infinity
            days = np.datetime_data(value.dtype)[0] == "D"
            out.append(time_text(int(value.view("i8")), days=days))
        else:
            out.append(str(value))
    return out


__all__ = ["SETTINGS_EVALUATOR", "DatabaseEvaluator"]
