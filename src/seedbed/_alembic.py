"""Alembic as it is: where the revisions live, its config, and applying them unchecked.

:mod:`seedbed.safety` reads revisions through this module and
:mod:`seedbed.migrate` builds its guarded ``upgrade`` on top of both, so
nothing here imports either of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError

from seedbed.config import Settings, load_settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import MigrationError

PACKAGED_MIGRATIONS = Path(__file__).resolve().parent / "_migrations"
"""Where an installed package keeps its copy of the revisions."""


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
        PACKAGED_MIGRATIONS,
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
def connected(settings: Settings, metadata: sa.MetaData | None = None) -> Iterator[Config]:
    """Alembic's config on one transaction, committed at the end; its errors become ours."""
    engine = get_engine(settings)
    try:
        with database_errors("migration failed"), engine.begin() as connection:
            yield alembic_config(settings, connection, metadata)
    except CommandError as exc:
        raise MigrationError(str(exc)) from None


def upgrade_unchecked(settings: Settings | None = None, revision: str = "head") -> None:
    """Apply revisions up to ``revision`` as they are: no lint, no refusal, no backup.

    For a namespace whose data does not matter (a fresh one, tests, benchmarks);
    everything else goes through :func:`seedbed.migrate.upgrade`.
    """
    settings = settings or load_settings()
    with connected(settings) as config:
        command.upgrade(config, revision)


def current_revision(settings: Settings | None = None) -> str | None:
    """The revision the settings' namespace is at, or None before the first one."""
    settings = settings or load_settings()
    with get_engine(settings).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table_schema": settings.schema}
        )
        return context.get_current_revision()
