"""Migration verbs: plain functions taking settings first, the CLI built on them.

``upgrade`` is ``seedbed db migrate``: it lints the pending revisions, refuses
unsafe ones, backs up before acknowledged data loss, then applies them;
:func:`upgrade_unchecked` applies them with none of that. ``generate`` writes
an Alembic revision, ``downgrade`` undoes revisions, ``push`` applies the
models' diff with no revision file (dev only), ``check`` lists differences
between database and models, ``reset`` drops the namespace. (``seedbed db
pull --adopt`` is :mod:`seedbed.adopt`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.operations import Operations
from alembic.operations.ops import MigrateOperation
from alembic.runtime.migration import MigrationContext

from seedbed import autogen
from seedbed._alembic import (
    PACKAGED_MIGRATIONS,
    alembic_config,
    connected,
    current_revision,
    migrations_dir,
    new_environment,
    target_revision,
    upgrade_unchecked,
)
from seedbed.citus import allow_row_triggers
from seedbed.config import Settings, load_settings, migrations_setting
from seedbed.db import create_namespace, database_errors, get_engine
from seedbed.errors import BackupError, MigrationError, UnsafeMigrationError
from seedbed.facts import metadata_for
from seedbed.safety import LintReport, backup, lint
from seedbed.safety.owner import (
    mark_namespace,
    refuse_dropping_the_model,
    refuse_foreign_owner,
    refuse_when_database_is_model,
)
from seedbed.sqltext import quote_ident

__all__ = [
    "DATA_LOSS_RULES",
    "UpgradeOutcome",
    "alembic_config",
    "check",
    "current_revision",
    "downgrade",
    "generate",
    "migrations_dir",
    "push",
    "reset",
    "upgrade",
    "upgrade_unchecked",
]

DATA_LOSS_RULES = frozenset({"ban-drop-column", "ban-drop-table"})
"""Acknowledged findings of these rules, with rows affected, make :func:`upgrade` back up first."""


@dataclass(frozen=True)
class UpgradeOutcome:
    """What :func:`upgrade` checked, the backup it took (if any), and the revision reached."""

    report: LintReport
    backup: Path | None
    revision: str | None


def upgrade(settings: Settings | None = None, revision: str = "head") -> UpgradeOutcome:
    """Lint the revisions pending up to ``revision``, refuse or back up, then apply them.

    Raises :class:`~seedbed.errors.UnsafeMigrationError` (exit code 1, with
    the report) when a finding is an error the revision does not acknowledge;
    then nothing is applied. When a revision acknowledges losing data that is
    there now, the namespace is backed up first (:func:`~seedbed.safety.backup`).
    Lint and upgrade are separate transactions: rows written in between are
    not in the lint's counts.
    """
    settings = settings or load_settings()
    refuse_when_database_is_model("db migrate")
    refuse_foreign_owner(settings, "db migrate")
    report = lint(settings, target=revision)
    if not report.ok:
        raise UnsafeMigrationError(
            f"{len(report.blocking)} error-level finding(s) in pending revisions; nothing "
            "applied (fix them, or acknowledge them with seedbed_safety_assured in the revision)",
            report,
        )
    loses_data = any(f.rule in DATA_LOSS_RULES and f.affected > 0 for f in report)
    saved = _backup_first(settings) if loses_data else None
    upgrade_unchecked(settings, revision)
    with database_errors("migration failed"), get_engine(settings).begin() as connection:
        mark_namespace(connection, settings.schema)
    return UpgradeOutcome(report, saved, current_revision(settings))


def _backup_first(settings: Settings) -> Path:
    """The backup :func:`upgrade` takes before losing data; when it fails, nothing is applied."""
    try:
        return backup(settings)
    except BackupError as exc:
        raise BackupError(f"{exc} (nothing applied: the backup comes first)") from exc


def downgrade(settings: Settings | None = None, revision: str = "base") -> None:
    """Undo revisions down to ``revision``; refused in a namespace at no revision."""
    settings = settings or load_settings()
    refuse_foreign_owner(settings, "db downgrade")
    migrations_dir()  # refuses a model of one's own without a folder of its revisions
    target = target_revision(revision)
    if current_revision(settings) is None:  # Alembic would make an empty version table
        raise MigrationError(
            f"db downgrade: the namespace {settings.schema!r} is at no revision; nothing to undo"
        )
    with connected(settings) as config:
        command.downgrade(config, target)


def generate(
    settings: Settings | None = None,
    message: str = "change",
    *,
    metadata: sa.MetaData | None = None,
) -> Path | None:
    """Autogenerate a revision from the diff between database and models; return its path.

    None, and no file, when the database already matches. The revision is
    rendered by :mod:`seedbed.autogen`: it holds its own SQL, imports nothing
    from seedbed and names the namespace only as ``schema``. ``metadata``
    (default: the models in the settings' namespace) is what the database is
    compared with.
    """
    settings = settings or load_settings()
    if metadata is None:
        refuse_when_database_is_model("db generate")
    started = migrations_setting(new_ok=True)
    if started is not None and not (started / "env.py").is_file():
        new_environment(started)  # the first revision of a model of one's own starts its folder
    if migrations_dir() == PACKAGED_MIGRATIONS:
        raise MigrationError(
            "db generate writes revisions into a source checkout's migrations/ folder; "
            "this is an installed package: run it from the checkout or set SEEDBED_MIGRATIONS"
        )
    if not (migrations_dir() / "script.py.mako").is_file():
        raise MigrationError(
            f"{migrations_dir()} has no script.py.mako, the template revisions are written from"
        )
    with connected(settings, metadata) as config:
        script = command.revision(config, message=message, autogenerate=True)
    if isinstance(script, list):  # what Alembic returns when there was nothing to write
        if script:
            raise MigrationError("Alembic produced more than one revision")
        return None
    return Path(script.path) if script is not None else None


def _diff_ops(
    connection: sa.Connection, settings: Settings, metadata: sa.MetaData | None
) -> list[MigrateOperation]:
    return autogen.diff_ops(connection, settings.schema, metadata or metadata_for(settings.schema))


def push(settings: Settings | None = None, *, metadata: sa.MetaData | None = None) -> list[str]:
    """Make the database match the models directly, without a revision file (dev only).

    Runs the operations ``generate`` would write, and returns one readable line
    per change made, in the words of :func:`check`.
    """
    settings = settings or load_settings()
    if metadata is None:
        refuse_when_database_is_model("db push")
    refuse_foreign_owner(settings, "db push")
    target = metadata or metadata_for(settings.schema)
    with database_errors("push failed"), get_engine(settings).begin() as connection:
        allow_row_triggers(connection)
        create_namespace(connection, settings.schema)
        found = _diff_ops(connection, settings, target)
        operations = Operations(
            MigrationContext.configure(
                connection, opts=autogen.context_options(settings.schema, target)
            )
        )
        for op in found:
            operations.invoke(op)
        mark_namespace(connection, settings.schema)  # no version table says it is seedbed's
    return [_as_done(line) for op in found for line in autogen.describe(op)]


def _as_done(difference: str) -> str:
    verb, rest = difference.split(" ", 1)
    done = {"missing": "created", "extra": "dropped"}.get(verb)
    return f"{done} {rest}" if done else f"fixed: {difference}"


def check(settings: Settings | None = None, *, metadata: sa.MetaData | None = None) -> list[str]:
    """Differences between the database and the models, one readable line each.

    Empty when they match. The lines describe exactly the operations that
    ``generate`` would write and ``push`` would run.
    """
    settings = settings or load_settings()
    with database_errors("check failed"), get_engine(settings).connect() as connection:
        found = _diff_ops(connection, settings, metadata)
        connection.rollback()
    return [line for op in found for line in autogen.describe(op)]


def reset(settings: Settings | None = None) -> None:
    """Drop the namespace and everything in it.

    Refused when another tool owns it, and with ``SEEDBED_MODELS=database``
    when seedbed did not make it (there the namespace is the model).
    """
    settings = settings or load_settings()
    refuse_foreign_owner(settings, "db reset")
    refuse_dropping_the_model(settings, "db reset")
    with database_errors("reset failed"), get_engine(settings).begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")
