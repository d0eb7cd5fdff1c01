"""The model as the database's catalog holds it: one namespace's tables, read at run time.

:func:`reflect_namespace` reads every table of a namespace with SQLAlchemy's
reflection (types, NOT NULL, server defaults, primary keys, unique
constraints, unique and partial indexes, foreign keys, enums, comments) and
turns each CHECK constraint into rules under the constraint's own name.
Foreign keys to tables outside the namespace are left to the database.

Every CHECK is enforced before load. One that PostgreSQL's own parser shows
to be a known kind becomes in-process rules (:mod:`seedbed.facts.checksql`);
any other becomes a :class:`~seedbed.models.rules.SqlCheck`: PostgreSQL
evaluates the expression on the values of a whole chunk at once
(:class:`~seedbed.facts.sqlchecks.DatabaseEvaluator`), so the verdict is the
database's own. A domain's CHECKs (:func:`domain_checks`) are read the same
way for each column of the domain, and their rules go to the column.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.db import database_errors
from seedbed.errors import ConfigError
from seedbed.facts.partitions import CatalogPartitions, catalog_partitions
from seedbed.facts.spec import FROM_CATALOG
from seedbed.facts.sqlchecks import SETTINGS_EVALUATOR, DatabaseEvaluator
from seedbed.facts.triggers import filled_by_triggers, mark_filled_columns
from seedbed.lazymodules import lazy_module
from seedbed.models.base import NO_UPDATED_AT_TRIGGER, CatalogType
from seedbed.models.rules import COLUMN_RULES, Rule, SqlCheck
from seedbed.sqltext import escaped

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: A table's CHECKs: name, expression, and the columns it reads with their types. A
#: domain column has its base type (through domains of domains): the CHECK compares
#: base values, and a value the domain refuses must not stop the evaluation query.
_DOMAIN_BASE = """
domain_base(oid, base, typmod) AS (
  SELECT t.oid, t.typbasetype, t.typtypmod FROM pg_type AS t WHERE t.typtype = 'd'
  UNION ALL
  SELECT d.oid, t.typbasetype, CASE WHEN d.typmod >= 0 THEN d.typmod ELSE t.typtypmod END
  FROM domain_base AS d JOIN pg_type AS t ON t.oid = d.base WHERE t.typtype = 'd'
)"""
_CHECKS_SQL = (
    "WITH RECURSIVE"
    + _DOMAIN_BASE
    + """
SELECT r.relname, c.conname, pg_get_expr(c.conbin, c.conrelid),
       coalesce(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.num
                      ORDER BY k.pos), '{}'),
       coalesce(array(SELECT coalesce(
                        (SELECT format_type(d.base, d.typmod) FROM domain_base AS d
                         JOIN pg_type AS b ON b.oid = d.base
                         WHERE d.oid = a.atttypid AND b.typtype <> 'd'),
                        format_type(a.atttypid, a.atttypmod))
                      FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.num
                      ORDER BY k.pos), '{}'),
       coalesce(array(SELECT DISTINCT format_type(a.atttypid, a.atttypmod)
                      FROM unnest(c.conkey) AS k(num)
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.num
                      JOIN pg_type AS t ON t.oid = a.atttypid
                      WHERE t.typtype = 'e'), '{}')
FROM pg_constraint AS c
JOIN pg_class AS r ON r.oid = c.conrelid
JOIN pg_namespace AS n ON n.oid = r.relnamespace
WHERE c.contype = 'c' AND n.nspname = :schema
ORDER BY r.relname, c.conname
"""
)

#: How a column's name ends (letters only, lowercase: ``accessToken``,
#: ``access_token`` and ``ACCESS-TOKEN`` all end in ``token``) when it holds a
#: secret. A model read from a catalog, or pulled, marks such columns
#: sensitive, as the shipped model marks its own: their values never appear in
#: reports, logs or errors.
SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "hash",
    "salt",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "signingkey",
    "encryptionkey",
    "backupcodes",
)
#: Secret columns whose names say nothing: (table, column), compared as above.
SECRET_COLUMNS = frozenset({("verification", "value")})  # Better Auth's verification secret


def _letters(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def looks_secret(table: str, column: str) -> bool:
    """Does the column's name say it holds a secret (see :data:`SECRET_SUFFIXES`)?

    >>> looks_secret("account", "accessToken"), looks_secret("account", "token_expires_at")
    (True, False)
    """
    name = _letters(column)
    return name.endswith(SECRET_SUFFIXES) or (_letters(table), name) in SECRET_COLUMNS


#: ``MetaData.info`` key: the :class:`DatabaseEvaluator` that reads the values of
#: columns whose type seedbed does not read in-process (see :func:`type_judge`).
TYPE_JUDGE = "type_judge"


#: The CHECKs of the domains (and the domains they are based on) of the namespace's columns:
#: table, constraint, expression (with VALUE), column, the column's base type, is it an enum.
_DOMAIN_CHECKS_SQL = (
    "WITH RECURSIVE"
    + _DOMAIN_BASE
    + """,
chain(rel, num, domain) AS (
  SELECT a.attrelid, a.attnum, a.atttypid
  FROM pg_attribute AS a JOIN pg_class AS r ON r.oid = a.attrelid
  JOIN pg_namespace AS n ON n.oid = r.relnamespace JOIN pg_type AS t ON t.oid = a.atttypid
  WHERE n.nspname = :schema AND r.relkind IN ('r', 'p') AND a.attnum > 0
    AND NOT a.attisdropped AND t.typtype = 'd'
  UNION ALL
  SELECT c.rel, c.num, t.typbasetype FROM chain AS c JOIN pg_type AS t ON t.oid = c.domain
  JOIN pg_type AS b ON b.oid = t.typbasetype WHERE b.typtype = 'd'
)
SELECT r.relname, con.conname, pg_get_expr(con.conbin, 0), a.attname,
       format_type(d.base, d.typmod), b.typtype = 'e'
FROM chain AS c
JOIN pg_constraint AS con ON con.contypid = c.domain AND con.contype = 'c'
JOIN pg_class AS r ON r.oid = c.rel
JOIN pg_attribute AS a ON a.attrelid = c.rel AND a.attnum = c.num
JOIN domain_base AS d ON d.oid = a.atttypid
JOIN pg_type AS b ON b.oid = d.base AND b.typtype <> 'd'
ORDER BY r.relname, a.attnum, con.conname
"""
)


@dataclass(frozen=True)
class CatalogCheck:
    """One CHECK constraint as the catalog holds it."""

    table: str
    name: str
    expression: str
    columns: tuple[str, ...]
    column_types: tuple[str, ...]
    enum_types: tuple[str, ...] = ()  # those of column_types that are enums
    domain: bool = False  # a domain's CHECK, on a column of that domain


def _rules_for_check(
    check: CatalogCheck, evaluator: DatabaseEvaluator, ascii_case: bool
) -> tuple[Rule, ...]:
    """The rules that enforce ``check``; each carries the constraint's name.

    A CHECK that PostgreSQL's own parser shows to be a known kind becomes
    in-process rules (:mod:`seedbed.facts.checksql`); any other is a
    :class:`SqlCheck` that PostgreSQL evaluates. Text ordering is always left
    to the database: a column may carry a collation of its own; so is a CHECK
    on a time with a precision, which rounds values first
    (:func:`~seedbed.facts.checksql.rounds_first`).
    """
    from seedbed.facts.checksql import rounds_first, rules_from_check

    types = dict(zip(check.columns, check.column_types, strict=True))
    translated = rules_from_check(
        check.expression, types, name=check.name, ascii_case=ascii_case, enums=check.enum_types
    )
    if translated is not None and not any(map(rounds_first, check.column_types)):
        return translated
    return (
        SqlCheck(
            check.name,
            check.columns,
            f"must satisfy CHECK {check.expression} (checked {SqlCheck.runs})",
            check.expression,
            check.column_types,
            evaluator,
        ),
    )


def catalog_checks(conn: sa.Connection, schema: str) -> list[CatalogCheck]:
    """Every table CHECK of namespace ``schema``, as the catalog holds it."""
    rows = conn.execute(sa.text(_CHECKS_SQL), {"schema": schema})
    return [
        CatalogCheck(table, name, expr, tuple(columns), tuple(types), tuple(enums))
        for table, name, expr, columns, types, enums in rows
    ]


def domain_checks(conn: sa.Connection, schema: str) -> list[CatalogCheck]:
    """The domain CHECKs on the columns of namespace ``schema``, each written for its column.

    A column whose type is a domain (of any namespace, or a domain based on
    another) takes the CHECKs of each domain in the chain, under their own
    names, with ``VALUE`` replaced by the column.
    """
    from seedbed.facts.checksql import domain_check_on

    rows = conn.execute(sa.text(_DOMAIN_CHECKS_SQL), {"schema": schema})
    return [
        CatalogCheck(
            table,
            name,
            domain_check_on(expression, column),
            (column,),
            (base,),
            (base,) if is_enum else (),
            domain=True,
        )
        for table, name, expression, column, base, is_enum in rows
    ]


def _drop_outside_keys(metadata: sa.MetaData) -> None:
    """Foreign keys to tables outside the namespace: the database checks them at load."""
    for table in metadata.tables.values():
        for constraint in list(table.foreign_key_constraints):
            target = constraint.elements[0].target_fullname.rsplit(".", 1)[0]
            if target in metadata.tables:
                continue
            table.constraints.discard(constraint)
            for element in constraint.elements:
                element.parent.foreign_keys.discard(element)
                table.foreign_keys.discard(element)


def _with_rules(
    table: sa.Table, checks: Sequence[CatalogCheck], evaluator: Any, ascii_case: bool
) -> None:
    """Replace the reflected CHECKs of ``table`` with constraints that carry their rules.

    A domain's CHECK is the domain's, not the table's: its rules go to the
    column (``info[COLUMN_RULES]``), so they are enforced but never declared
    as a table CHECK.
    """
    for constraint in [c for c in table.constraints if isinstance(c, sa.CheckConstraint)]:
        table.constraints.discard(constraint)
    for check in checks:
        for rule in _rules_for_check(check, evaluator, ascii_case):
            named = dataclasses.replace(rule, name=check.name)
            if check.domain:
                table.columns[check.columns[0]].info.setdefault(COLUMN_RULES, []).append(named)
                continue
            # The catalog's own text, so that drift is judged against what the database holds.
            sql = sa.text(escaped(check.expression))
            table.append_constraint(sa.CheckConstraint(sql, name=check.name, info={"rule": named}))


#: The database's locale fields, whichever of them this server version has.
_LOCALE_SQL = "SELECT to_jsonb(d) FROM pg_database AS d WHERE datname = current_database()"


def ascii_case_only(conn: sa.Connection) -> bool:
    """Do lower(), upper() and ILIKE change ASCII letters only in this database?

    So under libc's ``C``/``POSIX`` ctype and the ``builtin`` provider's ``C``
    locale; not under libc's other locales, ``builtin`` ``C.UTF-8`` or ICU.
    """
    fields = conn.execute(sa.text(_LOCALE_SQL)).scalar_one()
    provider = fields.get("datlocprovider", "c")  # PostgreSQL 14 has libc only
    if provider == "c":
        return bool(fields["datctype"] in ("C", "POSIX"))
    if provider == "b":
        return bool(fields.get("datlocale") == "C")
    return False


#: Every column's type as the catalog names it (``format_type``).
_COLUMN_TYPES_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND a.attnum > 0 AND NOT a.attisdropped
"""


@contextmanager
def unknown_types_quiet() -> Iterator[None]:
    """Reflection without its warning for each type it does not know.

    Such a column is reflected as ``NullType``; :func:`name_unknown_types`
    gives it its :class:`CatalogType`, and ``db check`` compares it by the
    catalog's name.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        yield


def name_unknown_types(conn: sa.Connection, metadata: sa.MetaData, schema: str) -> None:
    """Give each column that reflection could not type its catalog type, as a CatalogType."""
    unknown = [
        column
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.types.NullType)
    ]
    if not unknown:
        return
    names = {
        (str(table), str(column)): str(kind)
        for table, column, kind in conn.execute(sa.text(_COLUMN_TYPES_SQL), {"schema": schema})
    }
    for column in unknown:
        column.type = CatalogType(names.get((column.table.name, column.name), "text"))


def type_judge(table: sa.Table) -> DatabaseEvaluator | None:
    """Who reads the values of ``table``'s columns of types seedbed does not read itself:
    the database a catalog model was read from; for a declared model, the database the
    settings name (:data:`~seedbed.facts.sqlchecks.SETTINGS_EVALUATOR`); None for a catalog
    model without one (COPY judges them at load)."""
    info = table.metadata.info
    judge = info.get(TYPE_JUDGE, None if info.get(FROM_CATALOG) else SETTINGS_EVALUATOR)
    return judge if isinstance(judge, DatabaseEvaluator) else None


#: Migration history tables by the tool that keeps them (seedbed's own is ``alembic_version``):
#: another tool's bookkeeping, never a table of a model read from the catalog (a set generated
#: and loaded for it would rewrite that tool's history). :mod:`seedbed.safety.owner` knows a
#: namespace's owner by them.
HISTORIES = {
    "__drizzle_migrations": "drizzle-kit",
    "_prisma_migrations": "Prisma",
    "django_migrations": "Django",
    "schema_migrations": "Rails",
    "ar_internal_metadata": "Rails",
    "flyway_schema_history": "Flyway",
    "alembic_version": "Alembic",
}


@dataclass
class CatalogTables:
    """A namespace's tables as reflection and the catalog give them, before they are a model.

    :func:`read_catalog_tables` fills ``metadata`` (partitions left out,
    unknown types named, migration histories left out: ``histories``) and
    reads what reflection does not: the tables' CHECKs, the columns triggers
    fill, and whether text compares in ASCII case. ``db pull`` writes it as
    model modules; ``SEEDBED_MODELS=database`` uses it as the model.
    """

    metadata: sa.MetaData
    checks: list[CatalogCheck]
    filled: dict[str, dict[str, str]]
    ascii_case: bool
    partitions: CatalogPartitions
    histories: list[str] = field(default_factory=list)

    def finish(self) -> None:
        """Give the tables their partitioning and the columns triggers fill (on ``metadata``)."""
        self.partitions.apply(self.metadata)
        mark_filled_columns(self.metadata, self.filled)


def read_catalog_tables(conn: sa.Connection, metadata: sa.MetaData, schema: str) -> CatalogTables:
    """Reflect namespace ``schema``'s tables into ``metadata`` and read what goes with them."""
    partitions = catalog_partitions(conn, schema)
    histories: list[str] = []

    def of_the_model(name: str, _: sa.MetaData) -> bool:
        """A partition is part of its partitioned table; a migration history, a tool's."""
        if name in HISTORIES:
            histories.append(name)
        return name not in partitions.names and name not in HISTORIES

    with unknown_types_quiet():  # named just below
        metadata.reflect(conn, schema=schema, resolve_fks=False, only=of_the_model)
    name_unknown_types(conn, metadata, schema)
    checks = [c for c in catalog_checks(conn, schema) if c.table not in HISTORIES]
    return CatalogTables(
        metadata,
        checks,
        filled_by_triggers(conn, schema),
        ascii_case_only(conn),
        partitions,
        sorted(histories),
    )


def reflect_namespace(engine: Engine, schema: str) -> sa.MetaData:
    """Every table of namespace ``schema`` as the catalog holds it, with its CHECKs as rules.

    Raises :class:`~seedbed.errors.ConfigError` when the namespace holds no
    table, and :class:`~seedbed.errors.DatabaseError` when it cannot be read.
    """
    info = {NO_UPDATED_AT_TRIGGER: True, FROM_CATALOG: True}
    metadata = sa.MetaData(schema=schema, info=info)
    with database_errors(f"cannot read the namespace {schema!r}"), engine.connect() as conn:
        read = read_catalog_tables(conn, metadata, schema)
        checks = read.checks + domain_checks(conn, schema)
    if not metadata.tables:
        raise ConfigError(
            f"SEEDBED_MODELS=database: the namespace {schema!r} has no tables in the database"
        )
    read.finish()
    _drop_outside_keys(metadata)
    evaluator = DatabaseEvaluator(engine)
    metadata.info[TYPE_JUDGE] = evaluator
    for table in metadata.tables.values():
        for column in table.columns:
            if column.comment:
                column.info["doc"] = column.comment
            if looks_secret(table.name, column.name):
                column.info["sensitive"] = True
        _with_rules(table, [c for c in checks if c.table == table.name], evaluator, read.ascii_case)
    return metadata


__all__ = [
    "SECRET_COLUMNS",
    "SECRET_SUFFIXES",
    "TYPE_JUDGE",
    "CatalogCheck",
    "CatalogTables",
    "CatalogType",
    "ascii_case_only",
    "catalog_checks",
    "domain_checks",
    "looks_secret",
    "name_unknown_types",
    "read_catalog_tables",
    "reflect_namespace",
    "type_judge",
    "unknown_types_quiet",
]
