"""Row checks through Pandera: one ``validate(lazy=True)`` per chunk, failures as report rows.

:class:`RowChecks` runs a table's checks on a typed chunk: NOT NULL, every
rule, and uniqueness within the chunk. Two engines give the same verdicts:

- ``"polars"`` (the default): the chunk's checked columns as one Polars frame,
  the table's :func:`~seedbed.validation.schemas.polars_chunk_schema` run by
  ``pandera.polars`` (each rule's columnar form, see
  :mod:`seedbed.validation.columnar`), the rules without one by their pandas
  frame side, and unique keys hashed from that frame once for within and
  across chunks. The schema's happy path
  (:meth:`~seedbed.validation.schemas.PolarsChunkSchema.clean`: its own checks
  in one Polars query, NOT NULLs from null counts) comes first; only a chunk it
  does not pass goes through ``validate(lazy=True)``, which makes the report.
  The happy path reads no more than it must: a column whose only check is NOT
  NULL is answered by its Arrow array's null count, without Polars, and a rule
  that a column's Arrow bytes show every row passes
  (:func:`~seedbed.validation.columnar.all_pass`: fixed-width patterns such as
  version 4 UUIDs, lengths) is left out of the query;
- ``"pandas"``: the table's :func:`~seedbed.validation.schemas.chunk_schema`
  on the pandas frame, the reference the tests compare the first with.

On the happy path that is all it costs; when Pandera raises ``SchemaErrors``,
its failure cases (check name and row index) are mapped to file, line,
column, rule and value. Cells that could not be read are NA in the chunk and
already reported as ``type``; their NOT NULL and rule failures are dropped
here, so each problem is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from seedbed.facts import TableSpec, table_spec
from seedbed.lazymodules import lazy_module
from seedbed.validation.coerce import arrow_series, default_array, default_series
from seedbed.validation.columnar import all_pass, condition_expr, to_polars
from seedbed.validation.keyforms import Forms, unsure_rows
from seedbed.validation.keys import ChunkKeys, chunk_keys, polars_chunk_keys
from seedbed.validation.keytext import key_forms, key_text, pandas_key_text
from seedbed.validation.report import ValidationReport, cell_values
from seedbed.validation.schemas import (
    chunk_schema,
    holds_python_times,
    polars_chunk_schema,
    polars_dtypes,
)
from seedbed.validation.sources import SeedChunk, TypedColumn

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import sqlalchemy as sa
else:
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")

#: The row engines :class:`RowChecks` runs.
ROW_ENGINES = ("polars", "pandas")
NOT_NULL = "must not be NULL (in a CSV file: an unquoted empty field)"


def unreadable(invalid: dict[str, np.ndarray], columns: Sequence[str], n: int) -> np.ndarray:
    """Rows where any of ``columns`` held a value that could not be read."""
    bad = np.zeros(n, dtype=bool)
    for name in columns:
        if name in invalid:
            bad |= invalid[name]
    return bad


def _rows(cases: pd.DataFrame, n: int) -> np.ndarray:
    """The rows named by failure cases' ``index`` (cases without one name no row)."""
    index = pd.to_numeric(cases["index"], errors="coerce").dropna().astype(np.int64)
    rows = np.zeros(n, dtype=bool)
    rows[index.to_numpy()] = True
    return rows


class FullFrame:
    """A chunk with the left-out columns among ``names`` (those a check reads), filled as
    PostgreSQL fills them: for the row engine as a Polars frame (Arrow columns without a
    copy), and as a pandas frame only when something asks for ``frame``."""

    def __init__(self, spec: TableSpec, chunk: SeedChunk, names: Sequence[str]) -> None:
        self.spec = spec
        self.chunk = chunk
        self.names = tuple(names)
        self._texts: dict[tuple[object, ...], pl.DataFrame | None] = {}
        self._series: dict[str, pl.Series] = {}  # each column converted to Polars once

    def __len__(self) -> int:
        return self.chunk.rows

    @cached_property
    def _left_out(self) -> list[str]:
        return [name for name in self.names if name not in self.chunk.columns]

    @cached_property
    def _defaults(self) -> dict[str, pd.Series]:
        if not self._left_out:  # the usual case, which needs no pandas
            return {}
        index = pd.RangeIndex(self.chunk.rows)
        arrow = self._arrow_defaults  # its instant for "now": the Polars frame's
        return {
            name: arrow_series(arrow[name], index)
            if pa.types.is_timestamp(arrow[name].type)
            else default_series(self.spec.columns[name], self.chunk.rows, index)
            for name in self._left_out
        }

    @cached_property
    def _arrow_defaults(self) -> dict[str, pa.Array]:
        """:attr:`_defaults` in Arrow, for Polars (the same types there)."""
        n = self.chunk.rows
        return {name: default_array(self.spec.columns[name], n) for name in self._left_out}

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The chunk's pandas frame plus the left-out columns."""
        frame = self.chunk.frame
        if not self._defaults:
            return frame
        return pd.concat([frame, pd.DataFrame(self._defaults, index=frame.index)], axis=1)

    def polars(self, names: Sequence[str]) -> pl.DataFrame:
        """The columns ``names`` (those it holds) as a Polars frame."""
        import polars as pl

        columns = {**self.chunk.columns, **self._arrow_defaults}
        new = [name for name in names if name not in self._series and name in columns]
        if new:
            self._series.update((s.name, s) for s in to_polars(columns, new).get_columns())
        found = [self._series[name] for name in names if name in self._series]
        return pl.DataFrame(found) if found else pl.DataFrame(schema={})

    def held(
        self, columns: Sequence[str], invalid: dict[str, np.ndarray], forms: Forms = None
    ) -> np.ndarray:
        """The rows whose ``columns`` all hold a value that could be read (``forms``: as
        :meth:`hashes` will be asked)."""
        rows = ~unreadable(invalid, columns, len(self))
        text = self._text(columns, forms)
        for name in columns:
            if text is None:
                rows &= self.frame[name].notna().to_numpy()
            elif (values := text.get_column(name)).null_count():
                rows &= values.is_not_null().to_numpy()
        return rows

    def hashes(self, columns: Sequence[str], rows: np.ndarray, forms: Forms = None) -> np.ndarray:
        """:func:`~seedbed.validation.keys.key_hashes` of ``columns`` over ``rows``: from
        Polars when each column's type has a key text (every kind a chunk holds), else from
        ``frame``. ``forms``: the columns' key forms (default: their own, as a key of this
        table; a foreign key gives its parent's too)."""
        held = self._held_text(columns, rows, forms)
        return np.asarray(held.hash_rows(seed=0).to_numpy(), dtype=np.uint64)

    def key_texts(
        self, columns: Sequence[str], rows: np.ndarray, forms: Forms = None
    ) -> list[tuple[str, ...]]:
        """The values of ``columns`` at ``rows`` (all held) as their key text (see
        :func:`~seedbed.validation.keytext.key_text`: text PostgreSQL reads as the value), one
        tuple a row (``forms`` as for :meth:`hashes`)."""
        held = self._held_text(columns, rows, forms)
        parts = [held.get_column(str(c)).to_list() for c in columns]
        return list(zip(*parts, strict=True))

    def _held_text(self, columns: Sequence[str], rows: np.ndarray, forms: Forms) -> pl.DataFrame:
        """The key text of ``columns`` at ``rows``: from Polars, else from ``frame``."""
        import polars as pl

        text = self._text(columns, forms)
        if text is None:
            return pandas_key_text(self.frame.loc[rows], columns, self._forms(columns, forms))
        return text if rows.all() else text.filter(pl.Series(rows))

    def unsure(self, columns: Sequence[str], forms: Forms) -> np.ndarray:
        """The rows whose key may equal a key of another text (see
        :func:`~seedbed.validation.keyforms.unsure_rows`): not to be reported missing."""
        names = [str(c) for c in columns]
        return unsure_rows(self.polars(names), names, self._forms(names, forms))

    def _forms(self, columns: Sequence[str], forms: Forms) -> tuple[tuple[str, ...], ...]:
        if forms is None:
            return key_forms(self.spec, columns)
        return tuple(tuple(f) for f in forms)

    def _text(self, columns: Sequence[str], forms: Forms = None) -> pl.DataFrame | None:
        """The ``columns`` as their key text from the Polars frame (see
        :func:`~seedbed.validation.keytext.key_text`), None when a type has none."""
        names = tuple(str(c) for c in columns)
        steps = self._forms(names, forms)
        if (names, steps) not in self._texts:
            self._texts[(names, steps)] = key_text(self.polars(names), names, steps)
        return self._texts[(names, steps)]


def _counted(name: str, counted: frozenset[str], columns: dict[str, TypedColumn]) -> bool:
    """True when ``name``'s only check is NOT NULL and its Arrow column holds no NULL (a
    count the array keeps), so the row engine need not read it."""
    values = columns.get(name)
    return (
        name in counted
        and isinstance(values, pa.Array)
        and not pa.types.is_floating(values.type)
        and values.null_count == 0
    )


class RowChecks:
    """One table's Pandera row checks, run chunk by chunk, by the ``engine`` named."""

    def __init__(self, table: sa.Table, engine: str = "polars") -> None:
        if engine not in ROW_ENGINES:
            raise ValueError(f"row engine must be one of {', '.join(ROW_ENGINES)}")
        self.spec = table_spec(table)
        self.engine = engine
        #: per unique key, what its check computed on the last chunk (hashes, duplicates)
        self.keys: dict[str, ChunkKeys] = {}
        if engine == "pandas":
            self.schema = chunk_schema(table, self.keys)
        else:
            self.polars = polars_chunk_schema(table)
            self._dtypes = polars_dtypes(self.spec)
            # what the schema reads, and the unique keys' columns: hashed from the same frame
            read = dict.fromkeys(self.polars.columns)
            for key in self.spec.unique_keys:
                read.update(dict.fromkeys(key.reads))
            self._read = tuple(str(name) for name in read if name in self.spec.columns)
            # NOT NULL alone: an Arrow column's null count answers, without Polars
            checked = {name for item in self.spec.rules for name in item.rule.columns}
            for key in self.spec.unique_keys:
                checked.update(key.reads)
            self._counted = frozenset(
                column.name
                for column in self.polars.fields
                if not column.checks and not column.nullable and column.name not in checked
            )
            # rules an Arrow column's buffers can show every row passes (one column each)
            judged = {check.name for column in self.polars.fields for check in column.checks}
            self._provable = tuple(
                (str(item.name), str(item.rule.columns[0]), item.rule)
                for item in self.spec.rules
                if item.name in judged and len(item.rule.columns) == 1
            )
            # partial keys' predicates (true, not NULL), where they have a columnar form
            self._conditions = {
                key.name: expr
                for key in self.spec.unique_keys
                if (expr := condition_expr(key, self._dtypes)) is not None
            }
        self._rules = {item.name: item for item in self.spec.rules}
        self._unique = {key.name for key in self.spec.unique_keys}

    def run(
        self, chunk: SeedChunk, full: FullFrame
    ) -> tuple[ValidationReport, dict[str, np.ndarray]]:
        """The chunk's NOT NULL and rule problems, and per unique key its duplicate rows.

        ``full`` is the chunk with the left-out columns a check reads.
        Not thread-safe (``keys``): one instance per thread.
        """
        self.keys.clear()
        if self.engine == "polars":
            return self._run_polars(chunk, full)
        from pandera.errors import SchemaErrors  # imported with the schema, in __init__

        try:
            self.schema.validate(full.frame, lazy=True, inplace=True)
        except SchemaErrors as exc:
            return self._mapped(chunk, full, exc.failure_cases)
        return ValidationReport(), {}

    def _run_polars(
        self, chunk: SeedChunk, full: FullFrame
    ) -> tuple[ValidationReport, dict[str, np.ndarray]]:

        reports = []
        columns = chunk.columns
        read = [name for name in self._read if not _counted(name, self._counted, columns)]
        frame = self._typed(full.polars(read))
        proven = [
            name
            for name, column, rule in self._provable
            if isinstance(columns.get(column), pa.Array) and all_pass(rule, columns[column])
        ]
        if not self.polars.clean(frame, proven):  # Pandera (and pandas) only for a failing chunk
            from pandera.errors import SchemaErrors

            whole = self._typed(full.polars(self._read))
            if not holds_python_times(whole):  # infinity, BC: Pandera's message cannot show
                reports.append(self._mapped(chunk, full, self.polars.failure_cases(whole))[0])
            else:
                try:
                    self.polars.schema.validate(whole, lazy=True)
                except SchemaErrors as exc:
                    cases = exc.failure_cases.to_pandas()
                    reports.append(self._mapped(chunk, full, cases)[0])
        for item in self.polars.on_pandas:
            failed = ~item.rule.passes(full.frame).to_numpy(dtype=bool)
            if failed.any():
                cases = pd.DataFrame(
                    {"check": item.name, "column": None, "index": np.flatnonzero(failed)}
                )
                reports.append(self._mapped(chunk, full, cases)[0])
        duplicates = {}
        hashed = polars_chunk_keys(frame, self.spec.unique_keys, self.spec, self._conditions)
        for key in self.spec.unique_keys:
            keys = self.keys[key.name] = hashed.get(key.name) or chunk_keys(
                full.frame, key, key_forms(self.spec, key.columns)
            )
            if keys.starts.all():  # each hash once: no row repeats a key
                continue
            duplicate = ~keys.passes()
            if duplicate.any():
                duplicates[key.name] = duplicate
        return ValidationReport.concat(reports), duplicates

    def _typed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with each column in its type (all-NA columns, dates held as objects)."""
        import polars as pl

        schema = frame.schema  # built anew on each access
        wrong = [c for c, dtype in schema.items() if dtype != self._dtypes[c]]
        if wrong:
            frame = frame.with_columns(pl.col(c).cast(self._dtypes[c]) for c in wrong)
        return frame

    def _mapped(
        self, chunk: SeedChunk, full: FullFrame, cases: pd.DataFrame
    ) -> tuple[ValidationReport, dict[str, np.ndarray]]:
        reports = []
        duplicates: dict[str, np.ndarray] = {}
        n = len(full)
        for check, group in cases.groupby("check", sort=False):
            name = str(check)
            if name == "not_nullable":
                for column, cells in group.groupby("column", sort=False):
                    rows = _rows(cells, n) & ~unreadable(chunk.invalid, [str(column)], n)
                    if str(column) in chunk.columns:
                        reports.append(
                            self._report(chunk, rows, str(column), "not_null", None, NOT_NULL)
                        )
            elif name in self._rules:
                item = self._rules[name]
                rows = _rows(group, n) & ~unreadable(chunk.invalid, item.rule.columns, n)
                first = item.rule.columns[0]
                shown = cell_values(full.frame[first], rows, self.spec.sensitive(first))
                reports.append(self._report(chunk, rows, first, name, shown, item.rule.description))
            elif name in self._unique:
                duplicates[name] = _rows(group, n)
            else:  # a check that could not run: say so rather than drop it
                message = f"check failed: {group['failure_case'].iloc[0]}"
                column = group["column"].iloc[0]
                reports.append(self._report(chunk, _rows(group, n), column, name, None, message))
        return ValidationReport.concat(reports), duplicates

    def _report(
        self,
        chunk: SeedChunk,
        rows: np.ndarray,
        column: str | None,
        rule: str,
        values: list[str | None] | None,
        message: str,
    ) -> ValidationReport:
        if not rows.any():
            return ValidationReport()
        return ValidationReport.from_rows(
            file=chunk.label,
            table=self.spec.name,
            lines=chunk.lines[rows],
            column=column,
            rule=rule,
            values=values,
            message=message,
        )


__all__ = ["FullFrame", "RowChecks", "unreadable"]
