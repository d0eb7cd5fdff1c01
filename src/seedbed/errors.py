"""Every error seedbed raises on purpose, and the one way other errors become them.

Callers catch :class:`SeedbedError` and never a driver's exception: errors from
psycopg and SQLAlchemy, the OS, pyarrow and the csv module are mapped at the
edge where they arise, by :func:`map_errors`, with :func:`reason` giving the
one line worth showing. The CLI turns each into a one-line message and the
documented exit code::

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

import html
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedbed.validation.report import ValidationReport

    _DriverErrors = tuple[type[Exception], ...]

    #: Every error the database driver raises, bare (psycopg) or wrapped (SQLAlchemy).
    DRIVER_ERRORS: _DriverErrors

#: Problem rows an error shows in a notebook (``error.report.failures`` has them all).
NOTEBOOK_ROWS = 20


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


class DataError(SeedbedError):
    """The data is invalid; ``report`` holds every problem, one row each.

    In Jupyter the error shows as its message over the report's HTML; see
    :func:`seedbed.use_notebook_display` for errors left uncaught.
    """

    exit_code = 1

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report

    def _repr_html_(self) -> str:
        title = f"<strong>{type(self).__name__}</strong>: {html.escape(str(self))}"
        body = self.report.to_html(NOTEBOOK_ROWS)
        return (
            '<div style="border-left: 4px solid #c62828; padding-left: 0.6em">'
            f"<p>{title}</p>{body}</div>"
        )


class LoadError(DataError):
    """The database refused a row; names table, file, line and constraint where known.

    ``report`` is built where the error is raised: the one row the database
    refused (``ValidationReport.refused``), or every problem found for it.
    """

    def __init__(
        self,
        message: str,
        *,
        report: ValidationReport,
        table: str | None = None,
        file: str | None = None,
        line: int | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(message, report)
        self.table = table
        self.file = file
        self.line = line
        self.constraint = constraint


def driver_errors() -> _DriverErrors:
    """Every error the database driver raises, bare (psycopg) or wrapped (SQLAlchemy).

    Asked for where a database is used, so a command that uses none (``seedbed
    validate`` without ``--against-db``, ``seedbed --help``) does not import
    the driver; :data:`DRIVER_ERRORS` is the same tuple. SQLAlchemy's errors
    are among them once SQLAlchemy is imported (before, none can be raised): a
    load that talks to psycopg alone never imports it for this.
    """
    import psycopg

    wrapped = sys.modules.get("sqlalchemy.exc")
    if wrapped is None:
        return (psycopg.Error,)
    return (wrapped.SQLAlchemyError, psycopg.Error)


class _AnyDriverError(type):
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, driver_errors())


class DriverError(Exception, metaclass=_AnyDriverError):
    """Any error of :func:`driver_errors`, decided when an error is checked, not before:
    SQLAlchemy may be imported inside a block that maps driver errors
    (``map_errors({DriverError: DatabaseError})``). Never raised."""


def __getattr__(name: str) -> Any:
    if name == "DRIVER_ERRORS":  # imports the driver when first read
        return driver_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reason(exc: BaseException) -> str:
    """The one line worth showing for ``exc``, from whichever library raised it.

    A database error gives the server's primary message (no SQL, no detail
    rows, no "Background on this error" link); an OS error its ``strerror``;
    anything else the first line of its message, or its type's name.

    >>> reason(FileNotFoundError(2, "No such file or directory", "user.csv"))
    'No such file or directory'
    """
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if primary:
        return str(primary).strip()
    if isinstance(orig, OSError) and orig.strerror:
        return orig.strerror
    lines = str(orig).strip().splitlines()
    return lines[0].strip() if lines else type(orig).__name__


@contextmanager
def map_errors(
    mapping: Mapping[type[BaseException] | tuple[type[BaseException], ...], type[SeedbedError]],
    context: str = "",
) -> Iterator[None]:
    """Raise ``mapping[type](f"{context}: {reason(exc)}")`` for an error of a mapped type.

    Used at each edge where a library's error can arise, so callers see only
    seedbed errors::

        with map_errors({OSError: SeedError}, f"cannot write {path}"):
            path.write_text(text)

    The first matching entry wins, so list subclasses first. Without ``context``
    the message is the reason alone. A :class:`SeedbedError` passes through
    unchanged; so do unmapped errors.
    """
    try:
        yield
    except SeedbedError:
        raise
    except BaseException as exc:
        for kinds, target in mapping.items():
            if isinstance(exc, kinds):
                raise target(f"{context}: {reason(exc)}" if context else reason(exc)) from exc
        raise


__all__ = [
    "DRIVER_ERRORS",
    "BackupError",
    "ConfigError",
    "DataError",
    "DatabaseError",
    "DriverError",
    "GenerateError",
    "LoadError",
    "MigrationError",
    "QueryError",
    "SeedError",
    "SeedbedError",
    "UnsafeMigrationError",
    "driver_errors",
    "map_errors",
    "reason",
]
