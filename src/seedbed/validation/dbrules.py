"""CHECKs that PostgreSQL judges: one query per table and chunk, failures as report rows.

A :class:`~seedbed.facts.SqlCheck` (a CHECK that has no in-process rule) is
left out of the chunk's Pandera schema; here a table's SqlChecks run together
on the chunk's values, in the database a catalog model was read from, or for a
declared or pulled model in the database the call validates against or loads
into (else the one the settings name), so a connection error stops validation
(exit 2) instead of becoming a report row.
Cells that could not be read are NA, pass the CHECK, and are reported once, as
``type``.

Columns of types seedbed does not read in-process (bytea, arrays, intervals,
times, tsvector, domains over them) of a model read from a catalog are read
by that database too (:meth:`~seedbed.facts.DatabaseEvaluator.unreadable`),
first: a value it cannot read is a ``type`` row, as COPY would refuse it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seedbed.facts import RuleSpec, SqlCheck, TableSpec
from seedbed.facts import spec as k
from seedbed.validation.report import ValidationReport, cell_values, display_values
from seedbed.validation.rowchecks import FullFrame, unreadable
from seedbed.validation.schemas import database_reader
from seedbed.validation.sources import SeedChunk

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from seedbed.db import Database
    from seedbed.facts import DatabaseEvaluator


def _engine(database: Database | None) -> Engine | None:
    """The engine of the call's database, for a judge that asks it (SQLAlchemy imported then:
    a model whose checks need the database is never read from the snapshot)."""
    return database.engine if database is not None else None


def base_type(table: sa.Table, name: str) -> str:
    """The SQL type of column ``name``, or of the base type of its domain."""
    return k.base_sql_type(k.named_column(table, name))


def _types_in_database(
    spec: TableSpec, chunk: SeedChunk, database: Database | None
) -> ValidationReport:
    """Values the database cannot read as their column's type; marked in ``chunk.invalid``."""
    columns = [
        column
        for name in chunk.columns
        if (column := spec.columns.get(str(name))) is not None and column.read_by_database
    ]
    reports = []
    n = chunk.rows
    for column in columns:
        read = database_reader(spec, column, _engine(database))
        if read is None:
            continue
        sql_type = base_type(spec.table, column.name)
        series = chunk.frame[column.name]
        held = ~series.isna().to_numpy(dtype=bool) & ~unreadable(chunk.invalid, [column.name], n)
        cells = series.to_numpy(dtype=object)
        values = [str(v) if keep else None for v, keep in zip(cells, held, strict=True)]
        bad = read(values)
        if not bad.any():
            continue
        chunk.invalid[column.name] = unreadable(chunk.invalid, [column.name], n) | bad
        reports.append(
            ValidationReport.from_rows(
                file=chunk.label,
                table=spec.name,
                lines=chunk.lines[np.flatnonzero(bad)],
                column=column.name,
                rule="type",
                values=display_values(cells[bad], column.sensitive),
                message=f"must be a valid {sql_type} value (read by PostgreSQL)",
            )
        )
    return ValidationReport.concat(reports)


def _verdicts(
    spec: TableSpec, full: pd.DataFrame, database: Database | None
) -> list[tuple[RuleSpec, np.ndarray]]:
    """Each SqlCheck of ``spec`` with the rows it refuses; one query per database."""
    from seedbed.facts import DatabaseEvaluator

    batches: dict[int, tuple[DatabaseEvaluator, list[RuleSpec]]] = {}
    judges: dict[int, DatabaseEvaluator] = {}  # each rule's evaluator -> the one to ask
    found: list[tuple[RuleSpec, np.ndarray]] = []
    for item in spec.rules:
        rule = item.rule
        if not isinstance(rule, SqlCheck):
            continue
        if isinstance(rule.evaluator, DatabaseEvaluator):
            judge = judges.get(id(rule.evaluator))
            if judge is None:
                judge = judges[id(rule.evaluator)] = rule.evaluator.on(_engine(database))
            batches.setdefault(id(judge), (judge, []))[1].append(item)
        else:  # no database to ask: passes() says so
            found.append((item, ~rule.passes(full).to_numpy(dtype=bool)))
    for evaluator, items in batches.values():
        rules = [item.rule for item in items if isinstance(item.rule, SqlCheck)]
        found.extend(zip(items, evaluator.refused(rules, full), strict=True))
    return found


def check_in_database(
    spec: TableSpec, chunk: SeedChunk, checked: FullFrame, database: Database | None = None
) -> ValidationReport:
    """The rows of ``chunk`` (``checked``: with the defaults a rule reads) that a SqlCheck
    refuses, judged in ``database`` (the one validated against or loaded into) where the
    model leaves the judge to the call, else in the model's own."""
    reports = [_types_in_database(spec, chunk, database)]
    n = len(checked)
    if not any(isinstance(item.rule, SqlCheck) for item in spec.rules):
        return ValidationReport.concat(reports)
    full = checked.frame
    if chunk.invalid:
        # Cells that cannot be read are NULL to the CHECKs, as they are to the rules.
        full = full.copy()
        for name, bad in chunk.invalid.items():
            if name in full.columns and bad.any():
                full[name] = full[name].astype(object).mask(bad, None)
    for item, refused in _verdicts(spec, full, database):
        rows = refused & ~unreadable(chunk.invalid, item.rule.columns, n)
        if not rows.any():
            continue
        first = item.rule.columns[0] if item.rule.columns else None
        values = (
            cell_values(full[first], rows, spec.sensitive(first))
            if first is not None and first in full.columns
            else None
        )
        reports.append(
            ValidationReport.from_rows(
                file=chunk.label,
                table=spec.name,
                lines=chunk.lines[np.flatnonzero(rows)],
                column=", ".join(item.rule.columns) or None,
                rule=item.name,
                values=values,
                message=item.rule.description,
            )
        )
    return ValidationReport.concat(reports)


__all__ = ["check_in_database"]
