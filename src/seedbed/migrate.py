"""Migration verbs: plain functions taking settings first, the CLI built on them.

``generate`` writes an Alembic revision, ``upgrade`` / ``downgrade`` apply
revisions, ``push`` applies the models' diff with no revision file (dev only),
``check`` lists differences between database and models, ``reset`` drops the
namespace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata, produce_migrations
from alembic.config import Config
from alembic.operations import Operations
from alembic.operations.ops import MigrateOperation
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError

from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import DatabaseError, MigrationError, reason
from seedbed.models import metadata_for
from seedbed.models.base import UPDATED_AT_FUNCTION, tables_with_updated_at


def migrations_dir() -> Path:
    """The ``migrations/`` folder: ``SEEDBED_MIGRATIONS``, else ./migrations, else the repo's."""
    candidates = [
        Path(os.environ["SEEDBED_MIGRATIONS"]) if "SEEDBED_MIGRATIONS" in os.environ else None,
        Path.cwd() / "migrations",
        Path(__file__).resolve().parents[2] / "migrations",
    ]
    for candidate in candidates:
        if candidate is not None and (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("no migrations/ folder with env.py found; set SEEDBED_MIGRATIONS")


def alembic_config(settings: Settings, connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["schema"] = settings.schema
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(settings: Settings) -> Iterator[Config]:
    engine = get_engine(settings)
    try:
        with engine.begin() as connection:
            yield alembic_config(settings, connection)
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


def generate(settings: Settings | None = None, message: str = "change") -> Path:
    """Autogenerate a revision from the diff between database and models; return its path.

    The namespace in the generated code is replaced by the context's schema so
    the revision works for every namespace.
    """
    settings = settings or load_settings()
    with _connected(settings) as config:
        script = command.revision(config, message=message, autogenerate=True)
    if script is None or isinstance(script, list):
        raise MigrationError("Alembic produced no single revision")
    path = Path(script.path)
    path.write_text(namespace_independent(path.read_text(), settings.schema))
    return path


def namespace_independent(source: str, schema: str) -> str:
    """Replace literal uses of ``schema`` in generated revision code with the variable."""
    source = source.replace(f"schema='{schema}'", "schema=schema")
    return re.sub(rf"'{re.escape(schema)}\.([^']*)'", r"f'{schema}.\1'", source)


def _diff_ops(connection: sa.Connection, settings: Settings) -> list[MigrateOperation]:
    context = MigrationContext.configure(connection, opts=_compare_opts(settings))
    script = produce_migrations(context, metadata_for(settings.schema))
    flat: list[MigrateOperation] = []
    for op in script.upgrade_ops.ops if script.upgrade_ops else []:
        flat.extend(getattr(op, "ops", None) or [op])
    return flat


def _compare_opts(settings: Settings) -> dict[str, Any]:
    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "schema":
            return name == settings.schema
        return not (type_ == "table" and name == "alembic_version")

    return {
        "include_schemas": True,
        "include_name": include_name,
        "compare_type": True,
        "version_table_schema": settings.schema,
    }


def push(settings: Settings | None = None) -> list[str]:
    """Make the database match the models directly, without a revision file (dev only).

    Returns one readable line per change made, in the words of :func:`check`.
    """
    settings = settings or load_settings()
    metadata = metadata_for(settings.schema)
    differences = check(settings)
    if not differences:
        return []
    try:
        with get_engine(settings).begin() as connection:
            # create_all makes missing tables and the enum, and (re)creates the triggers.
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema}"')
            metadata.create_all(connection, checkfirst=True)
            operations = Operations(
                MigrationContext.configure(connection, opts=_compare_opts(settings))
            )
            for op in _diff_ops(connection, settings):
                operations.invoke(op)
            for verb, constraint in _check_constraint_differences(connection, metadata):
                table = constraint.table.name
                if verb == "missing":
                    operations.create_check_constraint(
                        str(constraint.name), table, constraint.sqltext, schema=settings.schema
                    )
                else:
                    operations.drop_constraint(str(constraint.name), table, schema=settings.schema)
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"push failed: {reason(exc)}") from None
    return [_as_done(line) for line in differences]


def _as_done(difference: str) -> str:
    verb, rest = difference.split(" ", 1)
    done = {"missing": "created", "extra": "dropped"}.get(verb)
    return f"{done} {rest}" if done else f"fixed: {difference}"


def check(settings: Settings | None = None) -> list[str]:
    """Differences between the database and the models, one readable line each.

    Empty when they match. Besides Alembic's comparison it checks the
    ``updated_at`` trigger function and triggers, which Alembic does not see.
    """
    settings = settings or load_settings()
    metadata = metadata_for(settings.schema)
    try:
        with get_engine(settings).connect() as connection:
            context = MigrationContext.configure(connection, opts=_compare_opts(settings))
            diffs = compare_metadata(context, metadata)
            lines = [describe_diff(d) for d in _flatten(diffs)]
            lines += [
                f"{verb} constraint {constraint.name} on {constraint.table.name}"
                for verb, constraint in _check_constraint_differences(connection, metadata)
            ]
            lines += _trigger_differences(connection, settings.schema, metadata)
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"check failed: {reason(exc)}") from None
    return lines


def _flatten(diffs: list[Any]) -> Iterator[Any]:
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def _check_constraint_differences(
    connection: sa.Connection, metadata: sa.MetaData
) -> list[tuple[str, sa.CheckConstraint]]:
    """Missing and extra CHECK constraints by name; Alembic's autogenerate skips them."""
    inspector = sa.inspect(connection)
    found: list[tuple[str, sa.CheckConstraint]] = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name, schema=metadata.schema):
            continue
        declared = {str(c.name): c for c in table.constraints if isinstance(c, sa.CheckConstraint)}
        present = inspector.get_check_constraints(table.name, schema=metadata.schema)
        present_names = {str(c["name"]) for c in present}
        found += [("missing", c) for name, c in declared.items() if name not in present_names]
        for reflected in present:
            if reflected["name"] not in declared:
                extra = sa.CheckConstraint(reflected["sqltext"], name=reflected["name"])
                sa.Table(table.name, sa.MetaData(schema=metadata.schema), extra)
                found.append(("extra", extra))
    return found


def _trigger_differences(
    connection: sa.Connection, schema: str, metadata: sa.MetaData
) -> list[str]:
    found = set(
        connection.execute(
            sa.text(
                "select c.relname from pg_trigger t join pg_class c on c.oid = t.tgrelid "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = :schema and not t.tgisinternal "
                "and t.tgname = 'trg_' || c.relname || '_updated_at'"
            ),
            {"schema": schema},
        ).scalars()
    )
    lines = [
        f"missing trigger trg_{t.name}_updated_at on {schema}.{t.name}"
        for t in tables_with_updated_at(metadata)
        if t.name not in found and sa.inspect(connection).has_table(t.name, schema=schema)
    ]
    has_function = connection.execute(
        sa.text(
            "select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = :schema and p.proname = :name"
        ),
        {"schema": schema, "name": UPDATED_AT_FUNCTION},
    ).first()
    if not has_function:
        lines.append(f"missing function {schema}.{UPDATED_AT_FUNCTION}()")
    return lines


def describe_diff(diff: Any) -> str:
    """One line for an Alembic diff tuple, naming the object."""
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        table = diff[1]
        verb = "missing" if kind == "add_table" else "extra"
        return f"{verb} table {table.schema}.{table.name}"
    if kind in ("add_column", "remove_column"):
        verb = "missing" if kind == "add_column" else "extra"
        return f"{verb} column {diff[1]}.{diff[2]}.{diff[3].name}"
    if kind in ("add_index", "remove_index"):
        verb = "missing" if kind == "add_index" else "extra"
        return f"{verb} index {diff[1].name} on {diff[1].table.name}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        verb = "missing" if kind.startswith("add") else "extra"
        constraint = diff[1]
        return f"{verb} constraint {constraint.name} on {constraint.table.name}"
    if kind.startswith("modify_"):
        # ("modify_nullable", schema, table, column, info, existing, new)
        what = kind.removeprefix("modify_").replace("_", " ")
        column = f"{diff[2]}.{diff[3]}"
        return f"changed {what} of column {column}: database {diff[5]!r}, models {diff[6]!r}"
    return f"{kind}: {diff[1:]}"


def reset(settings: Settings | None = None) -> None:
    """Drop the namespace and everything in it."""
    settings = settings or load_settings()
    try:
        with get_engine(settings).begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
    except sa.exc.DBAPIError as exc:
        raise DatabaseError(f"reset failed: {reason(exc)}") from None
