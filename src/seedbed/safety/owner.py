"""Who owns the namespace: seedbed, or another tool whose migration history is in the database.

seedbed changes a namespace's schema (``db migrate``, ``push``, ``downgrade``,
``reset``, ``restore``) only when it is seedbed's: a namespace that holds
seedbed's version table or seedbed's mark (:data:`MARK`, the schema's comment,
written by ``db push``, ``db migrate`` and ``db pull --adopt``:
:func:`mark_namespace`), or that does not exist yet or has no tables. When
the namespace has tables that seedbed did not create, and the database holds
another tool's migration history (drizzle-kit, Prisma, Django, Rails,
Flyway, or an Alembic version table that is not ours), those commands refuse
with :class:`~seedbed.errors.MigrationError` (exit 2) naming the owner.
Reading commands (validate, load, check, lint, backup, docs, generate) work
on any namespace.

With ``SEEDBED_MODELS=database`` the database is the model, so ``db
generate``, ``lint``, ``push`` and ``migrate`` have nothing to do (the checkout's
revisions are its own model's): :func:`refuse_when_database_is_model`; and ``db
reset`` drops only a namespace seedbed made: :func:`refuse_dropping_the_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import MigrationError
from seedbed.facts import DatabaseSource, model_source
from seedbed.facts.catalog import HISTORIES
from seedbed.sqltext import qualified_name, quote_ident, quote_literal

#: seedbed's own version table, inside the namespace.
VERSION_TABLE = "alembic_version"

#: The comment on a namespace that seedbed manages. A comment is the least invasive mark:
#: no table that a pull, a dump or an application's own queries would see.
MARK = "managed by seedbed"

_COMMENT_SQL = """
SELECT obj_description(n.oid, 'pg_namespace') FROM pg_namespace AS n WHERE n.nspname = :schema
"""

_FOUND_SQL = """
SELECT n.nspname, c.relname
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relname = ANY(:names)
ORDER BY n.nspname, c.relname
"""

_TABLES_SQL = """
SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND c.relispartition IS NOT TRUE
  AND c.relname <> ALL(:names)
"""


@dataclass(frozen=True)
class Owner:
    """Another tool that owns the namespace, known by its history table."""

    tool: str
    history: str  # the table, qualified

    def __str__(self) -> str:
        return f"{self.tool} (its migration history is {self.history})"


def _ours(conn: sa.Connection, schema: str, revisions: set[str] | None) -> bool:
    """Does the namespace's version table hold only seedbed's revisions?"""
    table = qualified_name(schema, VERSION_TABLE)
    held = set(conn.exec_driver_sql(f"SELECT version_num FROM {table}").scalars())
    return revisions is None or held <= revisions


def _known_revisions() -> set[str] | None:
    """Every revision in seedbed's migrations folder; None when it cannot be read."""
    from alembic.script import ScriptDirectory

    from seedbed._alembic import migrations_dir

    try:
        script = ScriptDirectory(str(migrations_dir()))
        return {revision.revision for revision in script.walk_revisions()}
    except Exception:  # an unreadable folder is for the migration to report, not this guard
        return None


def namespace_owner(settings: Settings) -> Owner | None:
    """The tool other than seedbed that owns the settings' namespace, or None.

    None when the namespace holds seedbed's version table or mark, has no tables, or
    the database holds no other tool's migration history.
    """
    names = list(HISTORIES)
    with database_errors("cannot read the catalog"), get_engine(settings).connect() as conn:
        found = [(s, t) for s, t in conn.execute(sa.text(_FOUND_SQL), {"names": names})]
        if not found:
            return None
        if (settings.schema, VERSION_TABLE) in found:
            return None  # seedbed keeps its version table inside the namespace
        if _comment(conn, settings.schema) == MARK:
            return None  # db push keeps no version table, but marks the namespace
        params = {"schema": settings.schema, "names": names}
        if not conn.execute(sa.text(_TABLES_SQL), params).scalar_one():
            return None  # a new or empty namespace is seedbed's to create
        revisions = _known_revisions()
        for schema, table in found:
            # Namespaces side by side each hold seedbed's own version table.
            if table != VERSION_TABLE or not _ours(conn, schema, revisions):
                return Owner(HISTORIES[table], f"{schema}.{table}")
    return None


def _comment(conn: sa.Connection, schema: str) -> str | None:
    comment = conn.execute(sa.text(_COMMENT_SQL), {"schema": schema}).scalar()
    return None if comment is None else str(comment)


def mark_namespace(conn: sa.Connection, schema: str) -> None:
    """Mark namespace ``schema`` as seedbed's (:data:`MARK`), unless it has a comment already.

    A comment someone else wrote is kept: such a namespace is seedbed's only
    while it holds seedbed's version table.
    """
    if _comment(conn, schema) is None:
        conn.exec_driver_sql(f"COMMENT ON SCHEMA {quote_ident(schema)} IS {quote_literal(MARK)}")


def refuse_foreign_owner(settings: Settings, verb: str) -> None:
    """Raise :class:`MigrationError` when another tool owns the namespace ``verb`` would change."""
    owner = namespace_owner(settings)
    if owner is not None:
        raise MigrationError(
            f"{verb}: the namespace {settings.schema!r} belongs to {owner}; seedbed does not "
            "change its schema (validate, load, check, lint, backup, docs and generate work)"
        )


_VERSION_TABLE_SQL = """
SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relname = :table AND c.relkind IN ('r', 'p')
"""


def marked_as_seedbeds(settings: Settings) -> bool:
    """Does the namespace hold seedbed's version table or mark (:data:`MARK`)?"""
    params = {"schema": settings.schema, "table": VERSION_TABLE}
    with database_errors("cannot read the catalog"), get_engine(settings).connect() as conn:
        if conn.execute(sa.text(_VERSION_TABLE_SQL), params).scalar_one():
            return True
        return _comment(conn, settings.schema) == MARK


def refuse_dropping_the_model(settings: Settings, verb: str) -> None:
    """With ``SEEDBED_MODELS=database``, refuse to drop a namespace seedbed did not make.

    There the namespace is the model: ``db reset`` would drop it, tables and
    rows, with nothing to make it again. A namespace seedbed made (its version
    table or mark) can be made again by ``db migrate`` or ``db push``.
    """
    if isinstance(model_source(), DatabaseSource) and not marked_as_seedbeds(settings):
        raise MigrationError(
            f"{verb}: SEEDBED_MODELS=database makes the namespace {settings.schema!r} the "
            "model, and seedbed did not make it; drop it with DROP SCHEMA yourself"
        )


def refuse_when_database_is_model(verb: str) -> None:
    """Raise :class:`MigrationError` when ``SEEDBED_MODELS=database``: nothing to ``verb``."""
    if isinstance(model_source(), DatabaseSource):
        raise MigrationError(
            f"{verb}: SEEDBED_MODELS=database makes the database the model; "
            "there is nothing to generate, lint, push or migrate"
        )


__all__ = [
    "HISTORIES",
    "MARK",
    "Owner",
    "mark_namespace",
    "marked_as_seedbeds",
    "namespace_owner",
    "refuse_dropping_the_model",
    "refuse_foreign_owner",
    "refuse_when_database_is_model",
]
