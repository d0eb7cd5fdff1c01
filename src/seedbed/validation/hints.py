"""What to do next about a report: the advice the CLI and the loader print with it."""

from __future__ import annotations

from seedbed.validation.report import ValidationReport

#: How a report message about a key the database already holds begins.
IN_DATABASE = "already taken"


def rows_in_database(report: ValidationReport) -> int:
    """Rows of ``report`` refused only because their key is already in the database.

    These are what ``upsert`` and ``skip-existing`` are for; the CLI suggests them.
    """
    if report.ok:
        return 0
    failures = report.failures
    taken = failures["message"].str.startswith(IN_DATABASE, na=False)
    return len(failures.loc[taken, ["file", "line"]].drop_duplicates())


def in_database_hint(report: ValidationReport) -> str:
    """What to do about rows whose key the database already holds; ``""`` when none."""
    existing = rows_in_database(report)
    if not existing:
        return ""
    rows = "1 row is" if existing == 1 else f"{existing:,} rows are"
    return (
        f"{rows} already in the database: load with --mode upsert to update them "
        "or --mode skip-existing to keep them"
    )


__all__ = ["IN_DATABASE", "in_database_hint", "rows_in_database"]
