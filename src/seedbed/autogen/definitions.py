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
    normal_checks, normal_predicates = _normalized(
        connection,
        namespace,
        table,
        [declared[name] for name in sorted(declared.keys() & present.keys())],
        compared,
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
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The model's CHECKs and index predicates as PostgreSQL prints them (None: rejected)."""
    if not checks and not any(p is not None for p in predicates.values()):
        return {}, dict.fromkeys(predicates)
    probe = sa.Table(_PROBE, sa.MetaData())
    normal_checks: dict[str, str | None] = {}
    normal_predicates: dict[str, str | None] = dict.fromkeys(predicates)
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {_PROBE} (LIKE {quote_ident(namespace)}.{quote_ident(table)})"
        )
        for number, check in enumerate(checks):
            copy = sa.CheckConstraint(check.sqltext, name=f"{_PROBE}_{number}")
            probe.append_constraint(copy)
            normal_checks[str(check.name)] = _probe_one(
                connection,
                sa.schema.AddConstraint(copy),
                "select pg_get_constraintdef(oid) from pg_constraint "
                f"where conrelid = '{_PROBE}'::regclass and conname = :name",
                f"{_PROBE}_{number}",
            )
        for number, (name, where) in enumerate(sorted(predicates.items())):
            if where is None:
                continue
            clause = (
                where  # a catalog model's predicate: PostgreSQL's own text
                if isinstance(where, str)
                else where.compile(
                    dialect=connection.dialect,
                    compile_kwargs={"literal_binds": True, "include_table": False},
                )
            )
            index = f"{_PROBE}_ix_{number}"
            normal_predicates[name] = _probe_one(
                connection,
                sa.text(f"CREATE INDEX {index} ON {_PROBE} ((1)) WHERE {clause}"),
                "select pg_get_expr(indpred, indrelid) from pg_index "
                "where indexrelid = (:name)::regclass",
                index,
            )
    finally:
        savepoint.rollback()
    return normal_checks, normal_predicates


def _probe_one(
    connection: sa.Connection, statement: sa.Executable, query: str, name: str
) -> str | None:
    try:
        with connection.begin_nested():
            connection.execute(statement)
    except sa.exc.DBAPIError:
        return None
    definition = connection.execute(sa.text(query), {"name": name}).scalar_one()
    return str(definition).removesuffix(" NOT VALID")
