"""Alembic environment for seedbed, close to Alembic's generic template.

The namespace comes from the config's ``attributes["schema"]`` (set by
``seedbed.migrate``) or ``SEEDBED_SCHEMA``. Everything, the version table
included, lives in that namespace; other schemas are ignored, so namespaces
side by side in one database never see each other. The namespace is put first
on the search_path for the migration's transaction only (``SET LOCAL``, after
the engine has learned its default schema), see
:func:`seedbed.autogen.use_namespace`.

The options (comparators, renderers, ``process_revision_directives``) come from
:func:`seedbed.autogen.context_options`, the one place that defines how the
models are compared with the database. Revisions themselves import nothing
from seedbed.
"""

from __future__ import annotations

from alembic import context

from seedbed.autogen import context_options, use_namespace
from seedbed.config import load_settings
from seedbed.db import create_namespace, get_engine
from seedbed.facts import metadata_for
from seedbed.sqltext import quote_ident

config = context.config
schema: str = config.attributes.get("schema") or load_settings().schema
target_metadata = config.attributes.get("metadata") or metadata_for(schema)


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url="postgresql+psycopg://",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options(schema, target_metadata),
    )
    with context.begin_transaction():
        context.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        with get_engine(load_settings(schema=schema)).connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection: object) -> None:
    # The version table goes inside the namespace, so the namespace must exist first.
    create_namespace(connection, schema)  # type: ignore[arg-type]
    use_namespace(connection, schema)  # type: ignore[arg-type]
    context.configure(connection=connection, **context_options(schema, target_metadata))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
