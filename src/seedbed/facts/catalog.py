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
(:class:`DatabaseEvaluator`), so the verdict is the database's own.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.db import database_errors
from seedbed.errors import ConfigError, DatabaseError
from seedbed.facts.partitions import catalog_partitions
from seedbed.facts.spec import FROM_CATALOG
from seedbed.facts.triggers import filled_by_triggers, mark_filled_columns
from seedbed.lazymodules import lazy_module
from seedbed.models.base import NO_UPDATED_AT_TRIGGER
from seedbed.models.rules import Rule, SqlCheck
from seedbed.sqltext import escaped, quote_ident

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

#: A table's CHECKs: name, expression, and the columns it reads with their types.
_CHECKS_SQL = """
SELECT r.relname, c.conname, pg_get_expr(c.conbin, c.conrelid),
       coalesce(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.num
                      ORDER BY k.pos), '{}'),
       coalesce(array(SELECT format_type(a.atttypid, a.atttypmod)
                      FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos)
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.num
                      ORDER BY k.pos), '{}')
FROM pg_constraint AS c
JOIN pg_class AS r ON r.oid = c.conrelid
JOIN pg_namespace AS n ON n.oid = r.relnamespace
WHERE c.contype = 'c' AND n.nspname = :schema
ORDER BY r.relname, c.conname
"""

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

#: The values of a JSON array of strings bound as ``:v``, as rows of text.
_JSON_VALUES = "json_array_elements_text(CAST(:v AS json))"

#: The row number column of the evaluation query; quoted, so no table column collides.
_ROW = quote_ident("seedbed row")


@dataclass(frozen=True)
class CatalogCheck:
    """One CHECK constraint as the catalog holds it."""

    table: str
    name: str
    expression: str
    columns: tuple[str, ...]
    column_types: tuple[str, ...]


class DatabaseEvaluator:
    """Judges :class:`SqlCheck` rules on a frame in the database: one query for all of them.

    The frame's distinct value combinations for the columns the rules read are
    sent as text arrays (bound parameters, never SQL text), cast to the
    columns' types, and the query returns, for each combination some rule
    refuses, which rules refuse it. NULL passes, as it does in a CHECK.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, rule: SqlCheck, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(~self.refused([rule], frame)[0], index=frame.index)

    def refused(self, rules: Sequence[SqlCheck], frame: pd.DataFrame) -> list[np.ndarray]:
        """Per rule, a boolean array over ``frame``'s rows: True where the rule refuses it."""
        n = len(frame)
        types = {
            c: t for rule in rules for c, t in zip(rule.columns, rule.column_types, strict=True)
        }
        columns = list(types)
        texts = [_as_text(frame[c]) if c in frame.columns else [None] * n for c in columns]
        rows = list(zip(*texts, strict=True)) if texts else [()] * n
        unique = list(dict.fromkeys(rows))
        out = [np.zeros(n, dtype=bool) for _ in rules]
        if not unique or not rules:
            return out
        verdicts = self._refusals(rules, columns, [types[c] for c in columns], unique)
        if not verdicts:
            return out
        position = {row: i for i, row in enumerate(unique)}
        at = np.fromiter((position[row] for row in rows), dtype=np.int64, count=n)
        for k in range(len(rules)):
            refusing = np.zeros(len(unique), dtype=bool)
            for index, flags in verdicts.items():
                refusing[index] = flags[k]
            out[k] = refusing[at]
        return out

    def unreadable(self, schema: str, sql_type: str, values: Sequence[str | None]) -> np.ndarray:
        """True where PostgreSQL cannot read a value as ``sql_type``.

        For the types seedbed does not read in-process (bytea, arrays,
        intervals, times, tsvector, bounded numbers...). The distinct
        values go in one query, bound as one JSON array (several times
        faster to send than a text array); ``pg_input_is_valid``
        judges them on PostgreSQL 16 and later, and on older servers a cast
        of the whole batch is split in halves until the values that fail are
        found. Type names resolve in ``schema`` first, as the table's do.
        """
        distinct = list(dict.fromkeys(v for v in values if v is not None))
        bad = np.zeros(len(values), dtype=bool)
        if not distinct:
            return bad
        with (
            database_errors(f"reading values as {sql_type} in the database"),
            self.engine.begin() as conn,
        ):
            conn.execute(
                sa.text("SELECT set_config('search_path', :path, true)"),
                {"path": f"{quote_ident(schema)}, public"},
            )
            if (conn.dialect.server_version_info or (0,)) >= (16,):
                sql = f"SELECT u.v FROM {_JSON_VALUES} AS u(v) WHERE NOT pg_input_is_valid(u.v, :t)"
                params = {"v": json.dumps(distinct), "t": sql_type}
                refused = set(conn.execute(sa.text(sql), params).scalars())
            else:
                refused = _uncastable(conn, sql_type, distinct)
        if refused:
            bad[:] = [v in refused for v in values]
        return bad

    def _refusals(
        self,
        rules: Sequence[SqlCheck],
        columns: Sequence[str],
        types: Sequence[str],
        unique: Sequence[tuple[str | None, ...]],
    ) -> dict[int, tuple[bool, ...]]:
        """Position in ``unique`` -> which rules refuse it, for the refused combinations.

        A CHECK that raises an error for some values (a division by zero, a
        cast that fails) would make COPY refuse those rows: the batch is split
        in halves until the rows that raise are found, and the rule that
        raises for a row refuses it. Only a failing batch pays for this.
        """
        try:
            return self._batch(rules, columns, types, unique)
        except DatabaseError as exc:
            if not _raised_by_values(exc):
                raise
        if len(unique) > 1:
            half = len(unique) // 2
            found = self._refusals(rules, columns, types, unique[:half])
            later = self._refusals(rules, columns, types, unique[half:])
            found.update({i + half: flags for i, flags in later.items()})
            return found
        flags = []
        for rule in rules:
            try:
                verdict = self._batch([rule], columns, types, unique)
            except DatabaseError as exc:
                if not _raised_by_values(exc):
                    raise
                verdict = {0: (True,)}
            flags.append(bool(verdict.get(0, (False,))[0]))
        return {0: tuple(flags)} if any(flags) else {}

    def _batch(
        self,
        rules: Sequence[SqlCheck],
        columns: Sequence[str],
        types: Sequence[str],
        unique: Sequence[tuple[str | None, ...]],
    ) -> dict[int, tuple[bool, ...]]:
        """:meth:`_refusals` in one query; a value a rule cannot judge raises DatabaseError."""
        names = [f"v{i}" for i in range(len(columns))]
        tests = [f"({escaped(rule.expression)}) IS FALSE" for rule in rules]
        if columns:
            arrays = ", ".join(f"CAST(:{n} AS TEXT[])" for n in names)
            typed = ", ".join(
                f"CAST(u.{n} AS {kind}) AS {quote_ident(column)}"
                for n, column, kind in zip(names, columns, types, strict=True)
            )
            source = (
                f"(SELECT {typed}, u.{_ROW} FROM unnest({arrays}) "
                f"WITH ORDINALITY AS u({', '.join(names)}, {_ROW})) AS t"
            )
        else:  # CHECKs that read no column: one verdict for every row
            source = f"(SELECT 1 AS {_ROW}) AS t"
        sql = f"SELECT t.{_ROW}, {', '.join(tests)} FROM {source} WHERE {' OR '.join(tests)}"
        params = {n: [row[i] for row in unique] for i, n in enumerate(names)}
        what = ", ".join(rule.name for rule in rules)
        with (
            database_errors(f"checking {what} in the database"),
            self.engine.connect() as conn,
        ):
            found = conn.execute(sa.text(sql), params).all()
        if not columns:
            return {i: tuple(found[0][1:]) for i in range(len(unique))} if found else {}
        return {int(row[0]) - 1: tuple(bool(v) for v in row[1:]) for row in found}


def _uncastable(conn: sa.Connection, sql_type: str, values: list[str]) -> set[str]:
    """The ``values`` a cast to ``sql_type`` refuses, found by halving a failing batch."""
    sql = sa.text(f"SELECT count(CAST(u.v AS {sql_type})) FROM {_JSON_VALUES} AS u(v)")
    try:
        with conn.begin_nested():
            conn.execute(sql, {"v": json.dumps(values)})
        return set()
    except sa.exc.DBAPIError as exc:
        if not (getattr(exc.orig, "sqlstate", None) or "").startswith(("22", "23")):
            raise
    if len(values) == 1:
        return set(values)
    half = len(values) // 2
    return _uncastable(conn, sql_type, values[:half]) | _uncastable(conn, sql_type, values[half:])


def _raised_by_values(exc: DatabaseError) -> bool:
    """Did the server refuse the values themselves (a data exception, a domain's CHECK)?"""
    state = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None) or ""
    return state.startswith(("22", "23"))


def _as_text(series: pd.Series) -> list[str | None]:
    """Values as PostgreSQL reads them from text; NA as None."""
    missing = series.isna().to_numpy()
    out: list[str | None] = []
    for value, absent in zip(series.to_numpy(dtype=object), missing, strict=True):
        if absent:
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict | list):
            out.append(json.dumps(value))
        elif isinstance(value, datetime | date | time):
            out.append(value.isoformat())
        else:
            out.append(str(value))
    return out


def _rules_for_check(
    check: CatalogCheck, evaluator: DatabaseEvaluator, ascii_case: bool
) -> tuple[Rule, ...]:
    """The rules that enforce ``check``; each carries the constraint's name.

    A CHECK that PostgreSQL's own parser shows to be a known kind becomes
    in-process rules (:mod:`seedbed.facts.checksql`); any other is a
    :class:`SqlCheck` that PostgreSQL evaluates. Text ordering is always left
    to the database: a column may carry a collation of its own.
    """
    from seedbed.facts.checksql import rules_from_check

    types = dict(zip(check.columns, check.column_types, strict=True))
    translated = rules_from_check(check.expression, types, name=check.name, ascii_case=ascii_case)
    if translated is not None:
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
        CatalogCheck(table, name, expr, tuple(columns), tuple(types))
        for table, name, expr, columns, types in rows
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
    """Replace the reflected CHECKs of ``table`` with constraints that carry their rules."""
    for constraint in [c for c in table.constraints if isinstance(c, sa.CheckConstraint)]:
        table.constraints.discard(constraint)
    for check in checks:
        for rule in _rules_for_check(check, evaluator, ascii_case):
            table.append_constraint(dataclasses.replace(rule, name=check.name).constraint())


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


class CatalogType(sa.types.UserDefinedType[str]):
    """A type SQLAlchemy does not know (``point``, a composite type, an extension's
    type), under the name the catalog gives it; its values are read as text and
    judged by the database (:meth:`DatabaseEvaluator.unreadable`)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


#: Every column's type as the catalog names it (``format_type``).
_COLUMN_TYPES_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND a.attnum > 0 AND NOT a.attisdropped
"""


def _name_unknown_types(conn: sa.Connection, metadata: sa.MetaData, schema: str) -> None:
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
    the database a catalog model was read from, or None (COPY judges them at load)."""
    judge = table.metadata.info.get(TYPE_JUDGE)
    return judge if isinstance(judge, DatabaseEvaluator) else None


def reflect_namespace(engine: Engine, schema: str) -> sa.MetaData:
    """Every table of namespace ``schema`` as the catalog holds it, with its CHECKs as rules.

    Raises :class:`~seedbed.errors.ConfigError` when the namespace holds no
    table, and :class:`~seedbed.errors.DatabaseError` when it cannot be read.
    """
    info = {NO_UPDATED_AT_TRIGGER: True, FROM_CATALOG: True}
    metadata = sa.MetaData(schema=schema, info=info)
    with database_errors(f"cannot read the namespace {schema!r}"), engine.connect() as conn:
        partitions = catalog_partitions(conn, schema)
        # A partition is part of its partitioned table, never a table of the model.
        not_a_partition = lambda name, _: name not in partitions.names  # noqa: E731
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
            metadata.reflect(conn, schema=schema, resolve_fks=False, only=not_a_partition)
        _name_unknown_types(conn, metadata, schema)
        checks = catalog_checks(conn, schema)
        filled = filled_by_triggers(conn, schema)
        ascii_case = ascii_case_only(conn)
    if not metadata.tables:
        raise ConfigError(
            f"SEEDBED_MODELS=database: the namespace {schema!r} has no tables in the database"
        )
    partitions.apply(metadata)
    mark_filled_columns(metadata, filled)
    _drop_outside_keys(metadata)
    evaluator = DatabaseEvaluator(engine)
    metadata.info[TYPE_JUDGE] = evaluator
    for table in metadata.tables.values():
        for column in table.columns:
            if column.comment:
                column.info["doc"] = column.comment
            if looks_secret(table.name, column.name):
                column.info["sensitive"] = True
        _with_rules(table, [c for c in checks if c.table == table.name], evaluator, ascii_case)
    return metadata


__all__ = [
    "SECRET_COLUMNS",
    "SECRET_SUFFIXES",
    "TYPE_JUDGE",
    "CatalogCheck",
    "CatalogType",
    "DatabaseEvaluator",
    "ascii_case_only",
    "catalog_checks",
    "looks_secret",
    "reflect_namespace",
    "type_judge",
]
