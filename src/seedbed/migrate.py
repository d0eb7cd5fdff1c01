"""Migration verbs: plain functions taking settings first, the CLI built on them.

``upgrade`` is ``seedbed db migrate``: it lints the pending revisions, refuses
unsafe ones, backs up before acknowledged data loss, then applies them;
:func:`upgrade_unchecked` applies them with none of that. ``generate`` writes
an Alembic revision, ``downgrade`` undoes revisions, ``push`` applies the
models' diff with no revision file (dev only), ``check`` lists differences
between database and models, ``reset`` drops the namespace. ``adopt`` is
``seedbed db pull --adopt``: it pulls the namespace into model modules and
starts seedbed's history of it with a baseline revision, at which it stamps it.
"""

from __future__ import annotations

import argparse
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.operations import Operations
from alembic.operations import ops as alembic_ops
from alembic.operations.ops import MigrateOperation
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from seedbed import autogen
from seedbed._alembic import (
    ENVIRONMENT_FILES,
    PACKAGED_MIGRATIONS,
    alembic_config,
    alembic_errors,
    connected,
    current_revision,
    migrations_dir,
    new_environment,
    target_revision,
    upgrade_unchecked,
)
from seedbed.autogen.ops import NamespaceOp
from seedbed.autogen.render import SchemaVariable
from seedbed.config import Settings, load_settings, migrations_setting
from seedbed.db import database_errors, get_engine
from seedbed.errors import BackupError, MigrationError, UnsafeMigrationError
from seedbed.facts import FolderSource, metadata_for
from seedbed.facts.pull import NAMESPACE, NamespaceObject, PullResult, keys_elsewhere, pull
from seedbed.safety import LintReport, backup, lint
from seedbed.safety.owner import (
    mark_namespace,
    namespace_owner,
    refuse_dropping_the_model,
    refuse_foreign_owner,
    refuse_when_database_is_model,
)
from seedbed.sqltext import quote_ident

__all__ = [
    "DATA_LOSS_RULES",
    "Adoption",
    "UpgradeOutcome",
    "adopt",
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
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(settings.schema)}")
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


@dataclass(frozen=True)
class Adoption:
    """What :func:`adopt` wrote: the pulled model, the Alembic folder and its baseline revision."""

    pulled: PullResult
    migrations: Path
    baseline: Path
    revision: str

    def lines(self) -> list[str]:
        schema, models = self.pulled.schema, self.pulled.out
        return [
            *self.pulled.lines(),
            f"baseline: wrote {self.baseline}",
            f"{schema}: stamped at revision {self.revision}; seedbed's migrations own it now",
            f"use: SEEDBED_MODELS={models} SEEDBED_MIGRATIONS={self.migrations}",
        ]


def adopt(
    settings: Settings | None = None,
    out: Path | str = "models",
    migrations: Path | str | None = None,
) -> Adoption:
    """Pull the namespace into ``out`` and make seedbed's migrations own it from here on.

    Writes the model modules (:func:`~seedbed.facts.pull.pull`), an Alembic
    folder ``migrations`` (default: ``SEEDBED_MIGRATIONS`` if set, else
    ``migrations/`` beside ``out``) with seedbed's env.py, and in it a baseline
    revision that creates the pulled model in an empty namespace; then stamps
    the namespace at that revision and marks it as seedbed's. ``db migrate``
    then has nothing to do, and a change to the pulled modules becomes a
    revision with ``db generate``.

    Raises :class:`~seedbed.errors.MigrationError` (exit 2), before anything
    is written, when another tool's migration history owns the namespace (drop
    that tool's history first), when seedbed's version table is already in it,
    or when ``migrations`` holds revisions. When a step fails, what it wrote is
    removed again.
    """
    settings = settings or load_settings()
    out = Path(out)
    folder = Path(migrations) if migrations is not None else _adoption_folder(out)
    owner = namespace_owner(settings)
    if owner is not None:
        raise MigrationError(
            f"db pull --adopt: the namespace {settings.schema!r} belongs to {owner}; adopting "
            "takes over a namespace no other tool's migrations own: drop that history first"
        )
    at = current_revision(settings)
    if at is not None:
        raise MigrationError(
            f"db pull --adopt: the namespace {settings.schema!r} is at revision {at} already: "
            "seedbed's migrations own it"
        )
    _check_empty_environment(folder)
    with _removed_on_failure(out, folder):
        pulled = pull(settings, out)
        new_environment(folder)
        baseline, revision = _write_baseline(settings, FolderSource(out), folder, pulled.objects)
        with connected(settings, folder=folder) as config:
            command.stamp(config, "head")
            mark_namespace(config.attributes["connection"], settings.schema)
    return Adoption(pulled, folder, baseline, revision)


def _adoption_folder(out: Path) -> Path:
    return migrations_setting() or out.parent / "migrations"


def _check_empty_environment(folder: Path) -> None:
    """Refuse ``folder`` unless it is missing, empty, or an Alembic folder without revisions."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise MigrationError(f"db pull --adopt: {str(folder)!r} is not a folder")
    if not any(folder.iterdir()):
        return
    missing = [name for name in ENVIRONMENT_FILES if not (folder / name).is_file()]
    revisions = list((folder / "versions").glob("*.py")) if (folder / "versions").is_dir() else []
    if missing or revisions:
        why = f"holds {len(revisions)} revision(s)" if revisions else f"has no {missing[0]}"
        raise MigrationError(
            f"db pull --adopt: {str(folder)!r} {why}; a baseline starts a history: name an "
            "empty folder with --migrations"
        )


@contextmanager
def _removed_on_failure(*folders: Path) -> Iterator[None]:
    """On an error, remove what appeared in ``folders`` meanwhile (a folder that was new, too)."""
    before = {f: set(f.rglob("*")) if f.is_dir() else None for f in folders}
    try:
        yield
    except BaseException:
        for folder, had in before.items():
            if had is None:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            for path in sorted(set(folder.rglob("*")) - had, reverse=True):  # children first
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise


class _ObjectStatementOp(NamespaceOp):
    """One statement that creates (or drops) a :class:`NamespaceObject`, in any namespace."""

    def __init__(self, schema: str, item: NamespaceObject, statement: str | None) -> None:
        super().__init__(schema)
        self.item, self.statement = item, statement

    def sql(self, schema: str) -> str | None:
        if self.statement is None:
            return None
        return self.statement.replace(NAMESPACE, quote_ident(schema))

    def describe(self) -> str:
        return f"missing {self.item.kind} {self.schema}.{self.item.name}"

    def reverse(self) -> NamespaceOp:
        return _ObjectStatementOp(self.schema, self.item, self.item.drop)


def _with_objects(schema: str, objects: list[NamespaceObject]) -> Any:
    """A ``process_revision_directives`` hook that adds ``objects`` to the baseline.

    Domains go after the enum types (a domain may be over one) and before the
    tables; a serial's sequence and default after the tables. The downgrade
    drops domains after the tables (a sequence goes with its column).
    """

    def hook(context: object, revision: object, directives: list[Any]) -> None:
        script = directives[0]
        upgrade, downgrade = script.upgrade_ops.ops, script.downgrade_ops.ops
        front = next((i for i, o in enumerate(upgrade) if not isinstance(o, NamespaceOp)), 0)
        for item in objects:
            made = [_ObjectStatementOp(schema, item, sql) for sql in item.create]
            if item.after_tables:
                upgrade.extend(made)
            else:
                upgrade[front:front] = made
                front += len(made)
        for op in upgrade:  # a domain of the namespace is the revision's namespace's
            for column in op.columns if isinstance(op, alembic_ops.CreateTableOp) else ():
                kind = getattr(column, "type", None)  # columns, and the table's constraints
                if isinstance(kind, postgresql.DOMAIN) and kind.schema == schema:
                    kind.schema = SchemaVariable(schema)
        tables = [i for i, o in enumerate(downgrade) if isinstance(o, alembic_ops.DropTableOp)]
        back = tables[-1] + 1 if tables else 0
        drops = [_ObjectStatementOp(schema, i, i.drop) for i in objects if i.drop is not None]
        downgrade[back:back] = reversed(drops)

    return hook


def _write_baseline(
    settings: Settings, source: FolderSource, folder: Path, objects: list[NamespaceObject]
) -> tuple[Path, str]:
    """Autogenerate the revision that creates ``source``'s model in an empty namespace.

    The empty namespace is made for the comparison inside a transaction that
    is rolled back; revisions name the namespace only as ``schema``, so which
    one it was is not in the file. ``objects`` (domains, serial sequences) and
    the foreign keys to other namespaces the model declares are created
    around the tables.
    """
    empty = replace(settings, schema=f"seedbed_adopt_{uuid.uuid4().hex[:12]}")
    metadata = source.metadata(empty.schema)
    objects = [*objects, *keys_elsewhere(metadata)]
    message = "baseline: the namespace as adopted"
    engine = get_engine(settings)
    with database_errors("adopt failed"), alembic_errors(folder), engine.connect() as connection:
        try:
            config = alembic_config(empty, connection, metadata, folder=folder)
            config.cmd_opts = argparse.Namespace(quiet=True)  # Alembic's "Generating ..."
            script = command.revision(
                config,
                message=message,
                autogenerate=True,
                process_revision_directives=_with_objects(empty.schema, objects),
            )
        finally:
            connection.rollback()
    if script is None or isinstance(script, list):
        raise MigrationError("db pull --adopt: Alembic wrote no baseline revision")
    return Path(script.path), script.revision
