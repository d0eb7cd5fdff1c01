"""Rendering revisions that stand alone and work in any namespace.

Alembic's own hooks, no editing of generated text:

- a renderer per :class:`~seedbed.autogen.ops.NamespaceOp` writes
  ``op.execute(f"...")`` with the statement's SQL, the namespace replaced by
  ``{schema}``; the revision runs without seedbed installed;
- ``render_item`` writes enum column types as
  ``postgresql.ENUM(..., schema=schema, create_type=False)``, types SQLAlchemy
  does not know (``CatalogType``: ``point``, composite types) as a
  ``UserDefinedType`` made in place under their catalog name, and foreign keys
  with ``f'{schema}.table.column'`` targets;
- CHECK conditions (``render_item`` for a new table's, a renderer for
  ``op.create_check_constraint``) keep a ``%`` as written. Alembic compiles them
  with the connection's dialect, whose ``pyformat`` parameters double every
  ``%``; the revision compiles the text again when it runs, so a ``LIKE '%x'``
  would reach PostgreSQL as ``LIKE '%%x'`` and ``db check`` would never be clean;
- ``op.alter_column`` keeps its ``postgresql_using``, which Alembic's renderer drops;
- ``process_revision_directives`` replaces the namespace on every op
  (``schema``, ``referent_schema``, ``source_schema``) with
  :class:`SchemaVariable`, whose ``repr`` is the word ``schema``, so Alembic's
  own renderers write ``schema=schema``. The revision template defines
  ``schema`` from the migration context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _render_dialect_kwargs_items, _render_gen_name
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import quoted_name

from seedbed.autogen.compare import converted_by_cast
from seedbed.autogen.ops import NamespaceOp
from seedbed.facts import CatalogType
from seedbed.sqltext import escaped

_TOKEN = "\x00namespace\x00"
# A name a SQLAlchemy text() would take for a bind parameter, as in ":name".
_BIND = re.compile(r"(?<![:\w\\]):(?=\w)")


class SchemaVariable(quoted_name):
    """The namespace, written into a revision as the variable ``schema``.

    Only ever rendered, never compiled into SQL: ``str()`` keeps the object, so
    Alembic's ``_ident()`` passes it to ``%r``, which writes ``schema``.
    """

    def __new__(cls, value: str) -> SchemaVariable:
        return super().__new__(cls, value, None)

    def __repr__(self) -> str:
        return "schema"

    def __str__(self) -> str:
        return self

    def lower(self) -> str:
        return str.lower(self)

    def upper(self) -> str:
        return str.upper(self)


def python_sql(statement: str) -> str:
    """A Python expression for ``statement``: an f-string if it names the namespace."""
    escaped = _BIND.sub(r"\\:", statement)
    if _TOKEN not in escaped:
        return repr(escaped)
    escaped = escaped.replace("{", "{{").replace("}", "}}").replace(_TOKEN, "{schema}")
    return "f" + repr(escaped)


@renderers.dispatch_for(NamespaceOp)
def render_namespace_op(autogen_context: AutogenContext, op: NamespaceOp) -> str:
    statement = op.sql(_TOKEN)
    if statement is None:
        return f"pass  # {op.describe().replace(op.schema, '<namespace>')}"
    prefix = autogen_context.opts["alembic_module_prefix"] or ""
    return f"{prefix}execute({python_sql(statement)})"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Enum types and foreign keys in namespace-independent form; the rest as Alembic does."""
    namespace = autogen_context.opts.get("seedbed_namespace")
    if type_ == "type" and isinstance(obj, sa.Enum) and obj.native_enum and obj.name:
        if autogen_context.imports is not None:
            autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        labels = ", ".join(repr(label) for label in obj.enums)
        schema = "schema" if obj.schema in (None, namespace) else repr(str(obj.schema))
        name = repr(str(obj.name))
        return f"postgresql.ENUM({labels}, name={name}, schema={schema}, create_type=False)"
    if type_ == "type" and isinstance(obj, postgresql.DOMAIN) and obj.schema == namespace:
        obj.schema = SchemaVariable(str(namespace))  # a domain of the namespace: ``schema=schema``
        return False  # Alembic renders the rest
    if type_ == "type" and isinstance(obj, CatalogType):
        return _catalog_type(obj.name)
    if type_ == "foreign_key" and isinstance(obj, sa.ForeignKeyConstraint):
        return _foreign_key(obj, autogen_context, namespace)
    if type_ == "check" and isinstance(obj, sa.CheckConstraint) and obj._type_bound is False:
        return _check_constraint(obj, autogen_context)
    return False


def _catalog_type(name: str) -> str:
    """A type SQLAlchemy does not know, by its catalog name, with nothing from seedbed."""
    spec = f"lambda self, **kw: {name!r}"
    return (
        f"type({name!r}, (sa.types.UserDefinedType,), "
        f'{{"cache_ok": True, "get_col_spec": {spec}}})()'
    )


def check_condition(condition: Any, autogen_context: AutogenContext) -> str:
    """A CHECK condition as a Python literal for a revision: the SQL, ``%`` not doubled,
    ``:name`` escaped (:mod:`seedbed.sqltext`)."""
    impl = autogen_context.migration_context.impl
    sql = impl.render_ddl_sql_expr(condition)
    if impl.render_ddl_sql_expr(sa.text("%")) == "%%":
        sql = sql.replace("%%", "%")
    return repr(escaped(sql))  # the revision's string goes through ``text()`` again


def _check_constraint(constraint: sa.CheckConstraint, autogen_context: AutogenContext) -> str:
    prefix = autogen_context.opts["sqlalchemy_module_prefix"] or ""
    args = [check_condition(constraint.sqltext, autogen_context)]
    if constraint.name:
        args.append(f"name={_render_gen_name(autogen_context, constraint.name)!r}")
    args += _render_dialect_kwargs_items(autogen_context, constraint.dialect_kwargs)
    return f"{prefix}CheckConstraint({', '.join(args)})"


_ALEMBIC_ADD_CHECK = renderers.dispatch(ops.CreateCheckConstraintOp)


@renderers.dispatch_for(ops.CreateCheckConstraintOp, replace=True)
def render_add_check(autogen_context: AutogenContext, op: ops.CreateCheckConstraintOp) -> str:
    """``op.create_check_constraint(...)`` with the condition as written (see above)."""
    if not autogen_context.opts.get("seedbed_namespace"):
        return str(_ALEMBIC_ADD_CHECK(autogen_context, op))
    constraint = op.to_constraint()
    args = [
        repr(_render_gen_name(autogen_context, op.constraint_name)),
        repr(str(op.table_name)),
        check_condition(constraint.sqltext, autogen_context),
    ]
    if op.schema:
        args.append(f"schema={op.schema!r}")
    args += _render_dialect_kwargs_items(autogen_context, constraint.dialect_kwargs)
    prefix = autogen_context.opts["alembic_module_prefix"] or ""
    return f"{prefix}create_check_constraint({', '.join(args)})"


_ALEMBIC_ALTER_COLUMN = renderers.dispatch(ops.AlterColumnOp)


@renderers.dispatch_for(ops.AlterColumnOp, replace=True)
def render_alter_column(autogen_context: AutogenContext, op: ops.AlterColumnOp) -> str:
    """``op.alter_column(...)`` with its ``postgresql_using``, which Alembic's renderer
    leaves out (a type change PostgreSQL makes only with USING:
    :func:`~seedbed.autogen.compare.compare_namespace`)."""
    text = str(_ALEMBIC_ALTER_COLUMN(autogen_context, op))
    using = op.kw.get("postgresql_using")
    if using is None:
        return text
    return f"{text[:-1]},\n{' ' * 11}postgresql_using={using!r})"


def _foreign_key(
    constraint: sa.ForeignKeyConstraint, autogen_context: AutogenContext, namespace: Any
) -> str:
    prefix = autogen_context.opts["sqlalchemy_module_prefix"] or ""
    targets = []
    for element in constraint.elements:
        tokens = element.target_fullname.split(".")
        if len(tokens) == 2:
            # No schema in the target: it is the referring table's namespace.
            tokens.insert(0, str(constraint.table.schema) if constraint.table is not None else "")
        schema, rest = tokens[0], ".".join(tokens[1:])
        if namespace and schema == namespace:
            targets.append("f" + repr("{schema}." + rest))
        else:
            targets.append(repr(f"{schema}.{rest}" if schema else rest))
    args = [
        "[" + ", ".join(repr(str(e.parent.name)) for e in constraint.elements) + "]",
        "[" + ", ".join(targets) + "]",
    ]
    if constraint.name:
        args.append(f"name={_render_gen_name(autogen_context, constraint.name)!r}")
    for option in ("onupdate", "ondelete", "initially", "deferrable", "use_alter", "match"):
        value = getattr(constraint, option)
        if value:
            args.append(f"{option}={value!r}")
    return f"{prefix}ForeignKeyConstraint({', '.join(args)})"


def revision_directives(context: MigrationContext, revision: Any, directives: list[Any]) -> None:
    """``process_revision_directives``: no file when nothing changed (Alembic's cookbook
    recipe), else the namespace written as ``schema`` in every op."""
    namespace = context.opts.get("seedbed_namespace")
    if not namespace:
        return
    if all(up.is_empty() for script in directives for up in script.upgrade_ops_list):
        directives[:] = []
        return
    variable = SchemaVariable(str(namespace))
    for script in directives:
        for container in script.downgrade_ops_list:  # reversed upgrades, USING and all
            for op in _alter_columns(container.ops):
                if context.connection is not None:
                    converted_by_cast(context.connection, op)
        for container in [*script.upgrade_ops_list, *script.downgrade_ops_list]:
            _replace(container.ops, str(namespace), variable)


def _alter_columns(found: Iterable[ops.MigrateOperation]) -> Iterable[ops.AlterColumnOp]:
    for op in found:
        if isinstance(op, ops.AlterColumnOp):
            yield op
        elif isinstance(op, ops.OpContainer):
            yield from _alter_columns(op.ops)


def _replace(found: Iterable[ops.MigrateOperation], namespace: str, variable: str) -> None:
    for op in found:
        for attribute in ("schema", "referent_schema", "source_schema"):
            if getattr(op, attribute, None) == namespace and not isinstance(op, NamespaceOp):
                setattr(op, attribute, variable)
            # create_foreign_key keeps both of its namespaces among its keywords
            keywords = getattr(op, "kw", None)
            if isinstance(keywords, dict) and keywords.get(attribute) == namespace:
                keywords[attribute] = variable
        if isinstance(op, ops.OpContainer):
            _replace(op.ops, namespace, variable)
