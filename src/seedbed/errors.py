"""Every error seedbed raises on purpose.

Callers catch :class:`SeedbedError` and never a driver's exception: errors from
psycopg and SQLAlchemy are mapped at the edge (``raise ... from exc``).
The CLI turns each into a one-line message and the documented exit code::

    SeedbedError                      exit 2 unless stated
    ├── ConfigError                   bad SEEDBED_SCHEMA / DATABASE_URL
    ├── DatabaseError                 cannot connect, permission denied, lost connection
    ├── MigrationError                Alembic could not generate / apply a revision
    │   └── UnsafeMigrationError      exit 1: pending revisions have error-level lint findings
    ├── BackupError                   pg_dump / pg_restore failed, or a backup file is unusable
    ├── SeedError                     a seed path that cannot be read (missing, unknown table)
    ├── QueryError                    an explore helper got an unknown table/column or bad SQL
    ├── GenerateError                 synthetic rows cannot be made for a table (names the rule)
    └── DataError                     exit 1: the data is invalid; carries a report
        └── LoadError                 the database refused a row during a load
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedbed.validation.report import ValidationReport

from seedbed.display import ReportDisplay


class SeedbedError(Exception):
    """Base class of every error seedbed raises on purpose."""

    exit_code: int = 2


class ConfigError(SeedbedError):
    """A setting (namespace, database URL) is unusable."""


class DatabaseError(SeedbedError):
    """The database could not be reached or refused the operation."""


class MigrationError(SeedbedError):
    """A migration command failed."""


class UnsafeMigrationError(MigrationError):
    """Pending revisions have error-level lint findings they do not acknowledge.

    ``report`` is the :class:`~seedbed.safety.LintReport`; nothing was applied.
    """

    exit_code = 1

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class BackupError(SeedbedError):
    """A backup or restore failed (the client program's first error line, no password)."""


class SeedError(SeedbedError):
    """A seed file or folder could not be read or mapped to a table."""


class QueryError(SeedbedError):
    """An explore helper was given a table or column the model lacks, or SQL the server refused."""


class GenerateError(SeedbedError):
    """The synthetic generator cannot make valid rows for a table; names the table and rule."""


class DataError(ReportDisplay, SeedbedError):
    """The data is invalid. ``report`` holds the details, when there are any (shown as
    HTML in Jupyter, see :mod:`seedbed.display`)."""

    exit_code = 1

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class LoadError(DataError):
    """The database refused a row; names table, file, line and constraint where known."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        file: str | None = None,
        line: int | None = None,
        constraint: str | None = None,
        report: ValidationReport | None = None,
    ) -> None:
        super().__init__(message, report)
        self.table = table
        self.file = file
        self.line = line
        self.constraint = constraint
