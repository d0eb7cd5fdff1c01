"""CHECK constraints and partial-index predicates compared as PostgreSQL writes them.

Text comparison of SQL gives false differences (PostgreSQL adds casts and
parentheses: ``"id" ~ '^x$'`` comes back as ``((id ~ '^x$'::text))``). So the
model's definitions are normalized by PostgreSQL itself: inside a savepoint
that is always rolled back, an empty temporary copy of the table
(``CREATE TEMP TABLE ... (LIKE ...)``) receives the model's CHECKs and a probe
index per predicate, and they are read back with ``pg_get_constraintdef`` and
``pg_get_expr``, the same functions that describe the database's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.sql.elements import conv

from seedbed.sqltext import quote_ident

_PROBE = "seedbed_probe"
CHANGED = "seedbed_changed"


def changed_definitions(
    connection: sa.Connection,
    namespace: str,
    conn_table: sa.Table,
    metadata_table: sa.Table,
    modify_table_ops: ops.ModifyTableOps,
) -> None:
    """Add to ``modify_table_ops`` what makes the CHECKs and index predicates match.

    Drops go first, before Alembic's column changes (a column whose type changes
    must not be held back by its old CHECK); creations go last, after them.
    """
    table = metadata_table.name
    declared = {
        str(c.name): c
        for c in metadata_table.constraints
        if isinstance(c, sa.CheckConstraint) and c.name
    }
    present = _check_definitions(connection, namespace, table)
    predicates = {str(i.name): _where(i) for i in metadata_table.indexes if i.name}
    present_predicates = _index_predicates(connection, namespace, table)
    compared = {n: p for n, p in predicates.items() if n in present_predicates}
    normal_checks, normal_predicates, present, present_predicates = _normalized(
        connection,
        namespace,
        table,
        [declared[name] for name in sorted(declared.keys() & present.keys())],
        compared,
        present,
        present_predicates,
    )
    reflected = {
        str(c.name): c for c in conn_table.constraints if isinstance(c, sa.CheckConstraint)
    }
    drops: list[ops.MigrateOperation] = []
    creations: list[ops.MigrateOperation] = []
    for name in sorted(present):
        if name not in declared or normal_checks.get(name) != present[name]:
            check = reflected[name]
            check.name = conv(name)
            drops.append(ops.DropConstraintOp.from_constraint(check))
            if name in declared:
                _mark_changed(drops[-1], present[name], normal_checks.get(name))
    for name in sorted(declared):
        if name not in present or normal_checks.get(name) != present[name]:
            creations.append(ops.AddConstraintOp.from_constraint(declared[name]))
            creations[-1].info[CHANGED] = name in present
    touched = {getattr(op, "index_name", None) for op in modify_table_ops.ops}
    indexes = {str(i.name): i for i in metadata_table.indexes}
    reflected_indexes = {str(i.name): i for i in conn_table.indexes}
    for name in sorted(compared):
        if name in touched or name not in reflected_indexes:
            continue
        if normal_predicates.get(name) != present_predicates[name]:
            drops.append(ops.DropIndexOp.from_index(reflected_indexes[name]))
            _mark_changed(drops[-1], present_predicates[name], normal_predicates.get(name))
            creations.append(ops.CreateIndexOp.from_index(indexes[name]))
            creations[-1].info[CHANGED] = True
    modify_table_ops.ops[:] = drops + modify_table_ops.ops + creations


def _mark_changed(drop: ops.MigrateOperation, database: str | None, model: str | None) -> None:
    """Tell :func:`seedbed.autogen.describe` that this drop and the creation after it
    replace one object whose definition changed."""
    drop.info[CHANGED] = (database, model)


def _where(index: sa.Index) -> Any:
    return index.dialect_options["postgresql"]["where"]


def _check_definitions(connection: sa.Connection, namespace: str, table: str) -> dict[str, str]:
    return _definitions(
        connection,
        "select con.conname, pg_get_constraintdef(con.oid) from pg_constraint con "
        "join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = :schema and c.relname = :table and con.contype = 'c'",
        {"schema": namespace, "table": table},
    )


def _index_predicates(
    connection: sa.Connection, namespace: str, table: str
) -> dict[str, str | None]:
    rows = connection.execute(
        sa.text(
            "select ic.relname, pg_get_expr(i.indpred, i.indrelid) from pg_index i "
            "join pg_class ic on ic.oid = i.indexrelid join pg_class c on c.oid = i.indrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = :schema and c.relname = :table"
        ),
        {"schema": namespace, "table": table},
    )
    return {str(name): predicate for name, predicate in rows}


def _definitions(connection: sa.Connection, query: str, params: dict[str, str]) -> dict[str, str]:
    rows = connection.execute(sa.text(query), params)
    return {str(name): str(definition).removesuffix(" NOT VALID") for name, definition in rows}


def _normalized(
    connection: sa.Connection,
    namespace: str,
    table: str,
    checks: list[sa.CheckConstraint],
    predicates: dict[str, Any],
    present: dict[str, str],
    present_predicates: dict[str, str | None],
) -> tuple[dict[str, str | None], dict[str, str | None], dict[str, str], dict[str, str | None]]:
    """The model's CHECKs and index predicates as PostgreSQL prints them (None: rejected),
    and the database's ``present`` ones, each printed where its printed text settles.

    PostgreSQL does not always read its printed text back to the same expression:
    ``color IN ('red', 'green')`` on a ``varchar`` prints as ``(color)::text = ANY
    ((ARRAY['red'::character varying, ...])::text[])``, which reads back, and prints, as
    ``... ANY (ARRAY[('red'::character varying)::text, ...])``. A CHECK or index made
    again from its printed text (a load's rebuild, ``pg_restore``) so prints differently
    from the same CHECK made from the model. Both sides are therefore read back from
    their printed text until it no longer changes, and compared there.
    """
    database_predicates = {n: p for n, p in present_predicates.items() if n in predicates}
    if not checks and not any(p is not None for p in predicates.values()):
        return {}, dict.fromkeys(predicates), present, present_predicates
    probe = sa.Table(_PROBE, sa.MetaData())
    normal_checks: dict[str, str | None] = {}
    normal_predicates: dict[str, str | None] = dict.fromkeys(predicates)
    settled_checks = dict(present)
    settled_predicates = dict(present_predicates)
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {_PROBE} (LIKE {quote_ident(namespace)}.{quote_ident(table)})"
        )
        probes = _Probes(connection)
        for check in checks:
            copy = sa.CheckConstraint(check.sqltext, name=probes.next_name())
            probe.append_constraint(copy)
            printed = probes.check(sa.schema.AddConstraint(copy), str(copy.name))
            normal_checks[str(check.name)] = probes.settled_check(printed)
        for check in checks:  # those only the database has are dropped by name
            name = str(check.name)
            settled_checks[name] = probes.settled_check(present[name]) or present[name]
        for name, where in sorted(predicates.items()):
            if where is None:
                continue
            clause = where if isinstance(where, str) else _sql(connection, where)
            normal_predicates[name] = probes.settled_predicate(clause)
        for name, predicate in sorted(database_predicates.items()):
            if predicate is not None:
                settled = probes.settled_predicate(predicate)
                settled_predicates[name] = settled if settled is not None else predicate
    finally:
        savepoint.rollback()
    return normal_checks, normal_predicates, settled_checks, settled_predicates


class _Probes:
    """CHECKs and index predicates made on the temporary probe table and printed back."""

    #: read-backs until the printed text settles (one suffices for every case seen)
    ROUNDS = 3

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.count = 0

    def next_name(self) -> str:
        self.count += 1
        return f"{_PROBE}_{self.count}"

    def check(self, statement: sa.Executable | str, name: str) -> str | None:
        return _probe_one(
            self.connection,
            statement,
            "select pg_get_constraintdef(oid) from pg_constraint "
            f"where conrelid = '{_PROBE}'::regclass and conname = :name",
            name,
        )

    def settled_check(self, printed: str | None) -> str | None:
        """``printed`` (``CHECK (...)``) read back and printed until it settles."""
        return self._settled(printed, self._check_again)

    def _check_again(self, printed: str) -> str | None:
        name = self.next_name()
        return self.check(f"ALTER TABLE {_PROBE} ADD CONSTRAINT {name} {printed}", name)

    def predicate(self, clause: str) -> str | None:
        index = f"{self.next_name()}_ix"
        return _probe_one(
            self.connection,
            f"CREATE INDEX {index} ON {_PROBE} ((1)) WHERE {clause}",
            "select pg_get_expr(indpred, indrelid) from pg_index "
            "where indexrelid = (:name)::regclass",
            index,
        )

    def settled_predicate(self, clause: str) -> str | None:
        """The index predicate ``clause`` as printed, read back until it settles."""
        return self._settled(self.predicate(clause), self.predicate)

    def _settled(self, printed: str | None, again: Callable[[str], str | None]) -> str | None:
        """``printed`` given to ``again`` (made and printed once more) until it settles."""
        for _ in range(self.ROUNDS):
            if printed is None:
                return None
            following = again(printed)
            if following == printed:
                return printed
            printed = following
        return printed


def _sql(connection: sa.Connection, clause: Any) -> str:
    """A model's predicate as the SQL PostgreSQL reads (literal values in place; a ``%``
    one ``%``, not the two the driver's placeholders would want)."""
    compiled = clause.compile(
        dialect=connection.dialect,
        compile_kwargs={"literal_binds": True, "include_table": False},
    )
    text = str(compiled)
    return text.replace("%%", "%") if connection.dialect.paramstyle in _PERCENT_STYLES else text


#: paramstyles whose compiled SQL writes each ``%`` twice
_PERCENT_STYLES = ("format", "pyformat")


def _probe_one(
    connection: sa.Connection, statement: sa.Executable | str, query: str, name: str
) -> str | None:
    """``statement`` (SQL text is run as it is: no parameters, no escapes), then the
    definition ``query`` reads back for ``name``; None when PostgreSQL refuses it."""
    try:
        with connection.begin_nested():
            if isinstance(statement, str):  # the driver reads % as a placeholder's start
                percents = connection.dialect.paramstyle in _PERCENT_STYLES
                connection.exec_driver_sql(statement.replace("%", "%%") if percents else statement)
            else:
                connection.execute(statement)
    except sa.exc.DBAPIError:
        return None
    definition = connection.execute(sa.text(query), {"name": name}).scalar_one()
    return str(definition).removesuffix(" NOT VALID")
