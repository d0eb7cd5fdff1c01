"""Migration verbs: plain functions taking settings first, the CLI built on them.

``generate`` writes an Alembic revision, ``upgrade`` / ``downgrade`` apply
revisions, ``push`` applies the models' diff with no revision file (dev only),
``check`` lists differences between database and models, ``reset`` drops the
namespace.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.operations.ops import MigrateOperation
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError

from seedbed import autogen
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import DatabaseError, MigrationError, reason
from seedbed.facts import metadata_for

_PACKAGED = Path(__file__).resolve().parent / "_migrations"


def migrations_dir() -> Path:
    """The Alembic environment and revisions to use.

    ``SEEDBED_MIGRATIONS`` if set; else the ``migrations/`` folder of the source
    checkout this package runs from (an editable install or ``PYTHONPATH=src``),
    so ``db generate`` writes into the repository; else the copy that an
    installed package ships as ``seedbed/_migrations``.
    """
    package = Path(__file__).resolve().parent
    candidates = [
        Path(os.environ["SEEDBED_MIGRATIONS"]) if "SEEDBED_MIGRATIONS" in os.environ else None,
        package.parents[1] / "migrations" if package.parent.name == "src" else None,
        _PACKAGED,
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("no migrations folder with env.py found; set SEEDBED_MIGRATIONS")


def alembic_config(
    settings: Settings,
    connection: sa.Connection | None = None,
    metadata: sa.MetaData | None = None,
) -> Config:
    """Alembic's config for ``settings``; env.py reads the namespace and metadata from it."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["schema"] = settings.schema
    if metadata is not None:
        config.attributes["metadata"] = metadata
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(settings: Settings, metadata: sa.MetaData | None = None) -> Iterator[Config]:
    engine = get_engine(settings)
    try:
        with engine.begin() as connection:
            yield alembic_config(settings, connection, metadata)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"migration failed: {reason(exc)}") from None


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    """Apply revisions up to ``revision`` in the settings' namespace."""
    settings = settings or load_settings()
    with _connected(settings) as config:
        command.upgrade(config, revision)


def downgrade(settings: Settings | None = None, revision: str = "base") -> None:
    """Undo revisions down to ``revision``."""
    settings = settings or load_settings()
    with _connected(settings) as config:
        command.downgrade(config, revision)


def current_revision(settings: Settings | None = None) -> str | None:
    settings = settings or load_settings()
    with get_engine(settings).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table_schema": settings.schema}
        )
        return context.get_current_revision()


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
    if migrations_dir() == _PACKAGED:
        raise MigrationError(
            "db generate writes revisions into a source checkout's migrations/ folder; "
            "this is an installed package: run it from the checkout or set SEEDBED_MIGRATIONS"
        )
    with _connected(settings, metadata) as config:
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
    target = metadata or metadata_for(settings.schema)
    try:
        with get_engine(settings).begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema}"')
            found = _diff_ops(connection, settings, target)
            operations = Operations(
                MigrationContext.configure(
                    connection, opts=autogen.context_options(settings.schema, target)
                )
            )
            for op in found:
                operations.invoke(op)
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"push failed: {reason(exc)}") from None
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
    try:
        with get_engine(settings).connect() as connection:
            found = _diff_ops(connection, settings, metadata)
            connection.rollback()
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"check failed: {reason(exc)}") from None
    return [line for op in found for line in autogen.describe(op)]


def reset(settings: Settings | None = None) -> None:
    """Drop the namespace and everything in it."""
    settings = settings or load_settings()
    try:
        with get_engine(settings).begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"reset failed: {reason(exc)}") from None
