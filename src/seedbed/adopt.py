"""``seedbed db pull --adopt``: seedbed's migrations take over a namespace others made.

:func:`adopt` pulls the namespace into model modules
(:func:`~seedbed.facts.pull.pull`), starts an Alembic folder of their own
with a baseline revision that creates the pulled model in an empty namespace,
and stamps the namespace at it. ``db migrate`` then has nothing to do, and a
change to the pulled modules is a revision away (``db generate``).
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

from alembic import command
from alembic.operations import ops as alembic_ops

from seedbed._alembic import (
    ENVIRONMENT_FILES,
    alembic_config,
    alembic_errors,
    connected,
    current_revision,
    new_environment,
)
from seedbed.autogen.ops import NamespaceOp
from seedbed.config import Settings, load_settings, migrations_setting
from seedbed.db import database_errors, get_engine
from seedbed.errors import MigrationError
from seedbed.facts import FolderSource
from seedbed.facts.pull import PullResult, pull
from seedbed.facts.referenced import NAMESPACE, NamespaceObject, keys_elsewhere
from seedbed.safety.owner import mark_namespace, namespace_owner
from seedbed.sqltext import quote_ident

__all__ = ["Adoption", "adopt"]


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

    A serial's sequence and default, and the foreign keys to other
    namespaces, go after the tables (the namespace's domains are the model's
    own, created by autogenerate before the tables). A sequence goes with its
    column in the downgrade.
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
    one it was is not in the file. ``objects`` (serial sequences) and
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
    return folder / "versions" / Path(script.path).name, script.revision
