"""CHECKs that PostgreSQL judges: one query per table and chunk, failures as report rows.

A :class:`~seedbed.facts.SqlCheck` (a CHECK read from a catalog that has no
in-process rule) is left out of the chunk's Pandera schema; here a table's
SqlChecks run together on the chunk's values, in the database they were read
from, so a connection error stops validation (exit 2) instead of becoming a
report row.
Cells that could not be read are NA, pass the CHECK, and are reported once, as
``type``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedbed.facts import DatabaseEvaluator, RuleSpec, SqlCheck, TableSpec
from seedbed.validation.report import ValidationReport, display_values
from seedbed.validation.rowchecks import unreadable
from seedbed.validation.sources import SeedChunk


def _verdicts(spec: TableSpec, full: pd.DataFrame) -> list[tuple[RuleSpec, np.ndarray]]:
    """Each SqlCheck of ``spec`` with the rows it refuses; one query per database."""
    batches: dict[int, tuple[DatabaseEvaluator, list[RuleSpec]]] = {}
    found: list[tuple[RuleSpec, np.ndarray]] = []
    for item in spec.rules:
        rule = item.rule
        if not isinstance(rule, SqlCheck):
            continue
        if isinstance(rule.evaluator, DatabaseEvaluator):
            batches.setdefault(id(rule.evaluator), (rule.evaluator, []))[1].append(item)
        else:  # no database to ask: passes() says so
            found.append((item, ~rule.passes(full).to_numpy(dtype=bool)))
    for evaluator, items in batches.values():
        rules = [item.rule for item in items if isinstance(item.rule, SqlCheck)]
        found.extend(zip(items, evaluator.refused(rules, full), strict=True))
    return found


def check_in_database(spec: TableSpec, chunk: SeedChunk, full: pd.DataFrame) -> ValidationReport:
    """The rows of ``chunk`` (``full``: with the defaults a rule reads) that a SqlCheck refuses."""
    reports = []
    n = len(full)
    for item, refused in _verdicts(spec, full):
        rows = refused & ~unreadable(chunk.invalid, item.rule.columns, n)
        if not rows.any():
            continue
        first = item.rule.columns[0] if item.rule.columns else None
        values = (
            display_values(full[first].to_numpy()[rows], spec.sensitive(first))
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
