"""What a table demands of its rows, read from its SQLAlchemy declaration.

:func:`table_spec` turns a ``sa.Table`` into a :class:`TableSpec`: each
column's kind (how text becomes a value), nullability, default and
sensitivity; the table's rules (the model's rule objects); its unique keys
(primary key, unique constraints, unique and partial unique indexes) and its
foreign keys, each under the name of its database constraint, as
:func:`seedbed.facts.keys.table_keys` reads them. Both the
Pandera schema (:mod:`seedbed.validation.schemas`) and the fast chunk
validator are built from this one description, so nothing is written twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from seedbed.facts.declaration import Rule, all_rules, base_sql_type, rules_read_from_sql
from seedbed.facts.keys import ForeignKeySpec, UniqueKey, table_keys

TEXT = "text"
BOOLEAN = "boolean"
TIMESTAMPTZ = "timestamptz"
TIMESTAMP = "timestamp"
DATE = "date"
INTEGER = "integer"
NUMERIC = "numeric"
UUID = "uuid"
INET = "inet"
ENUM = "enum"
JSON = "json"

_INT_RANGES = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}


_DIALECT: Any = postgresql.dialect()  # type: ignore[no-untyped-call]


def _compiled(type_: Any) -> str:
    return str(type_.compile(dialect=_DIALECT))


#: Types of kind ``text`` that seedbed reads itself; the database reads the others.
_TEXT_TYPES = frozenset({"TEXT", "VARCHAR", "CHAR", "CHARACTER", "CHARACTER VARYING", "NAME"})


def read_as_text(sql_type: str) -> bool:
    """Is a value of ``sql_type`` (of kind ``text``) its text, as seedbed reads it itself?"""
    return sql_type.split("(")[0].upper() in _TEXT_TYPES


@dataclass(frozen=True)
class ColumnSpec:
    """One column: how to read it and what it may hold."""

    name: str
    kind: str
    nullable: bool
    has_default: bool
    sensitive: bool
    sql_type: str
    enum_values: tuple[str, ...] = ()
    enum_name: str | None = None
    max_length: int | None = None
    int_range: tuple[int, int] | None = None
    #: ``numeric(p, s)``'s precision and scale: PostgreSQL rounds a value to ``s`` places,
    #: then refuses it with more than ``p - s`` digits before the point
    numeric_scale: tuple[int, int] | None = None
    default: Any = None  # the value the database fills in when the column is left out
    generated: bool = False  # GENERATED ALWAYS AS (...): the database computes it, COPY refuses it
    #: of a type seedbed does not read itself (arrays, ranges, intervals, bytea...): held as
    #: PostgreSQL's text, which the database reads (a frame's Python values become that text)
    database_text: bool = False

    @property
    def required(self) -> bool:
        """Must the column appear in a seed file's header?"""
        return not (self.nullable or self.has_default)


@dataclass(frozen=True)
class RuleSpec:
    """A CHECK rule under its database constraint name (``ck_<table>_<rule>``)."""

    name: str
    rule: Rule


@dataclass(frozen=True, eq=False)  # one per table (cached), compared by identity
class TableSpec:
    table: sa.Table
    columns: dict[str, ColumnSpec]
    rules: tuple[RuleSpec, ...]
    unique_keys: tuple[UniqueKey, ...]
    foreign_keys: tuple[ForeignKeySpec, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.table.name

    def sensitive(self, column: str) -> bool:
        spec = self.columns.get(column)
        return bool(spec and spec.sensitive)


#: ``MetaData.info`` key of a model read from a catalog: its CHECKs carry the
#: database's own names, and a column of a type seedbed cannot read yet is kept
#: as text, for PostgreSQL to judge at COPY.
FROM_CATALOG = "from_catalog"
#: ``Column.info`` key of a column a ``BEFORE INSERT ... FOR EACH ROW`` trigger assigns
#: (the trigger's name): a seed may leave it out or empty, the trigger fills it in.
FILLED_BY_TRIGGER = "filled_by_trigger"


def _kind(column: sa.Column[Any]) -> dict[str, Any]:
    type_ = column.type
    while isinstance(type_, postgresql.DOMAIN):  # a domain reads as its base type
        type_ = type_.data_type
    if isinstance(type_, postgresql.INET):
        return {"kind": INET}
    if isinstance(type_, sa.Enum):
        values = tuple(type_.enums)
        return {"kind": ENUM, "enum_values": values, "enum_name": type_.name}
    if isinstance(type_, sa.JSON | postgresql.JSONB | postgresql.JSON):
        return {"kind": JSON}
    if isinstance(type_, sa.Boolean):
        return {"kind": BOOLEAN}
    if isinstance(type_, sa.DateTime):
        return {"kind": TIMESTAMPTZ if type_.timezone else TIMESTAMP}
    if isinstance(type_, sa.Date):
        return {"kind": DATE}
    if isinstance(type_, sa.Uuid | postgresql.UUID):
        return {"kind": UUID}
    if isinstance(type_, sa.Integer):
        compiled = _compiled(type_)
        return {"kind": INTEGER, "int_range": _INT_RANGES.get(compiled, _INT_RANGES["INTEGER"])}
    fixed = type_ if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float) else None
    if fixed is not None and fixed.precision is not None:  # numeric(p) is numeric(p, 0)
        return {"kind": NUMERIC, "numeric_scale": (fixed.precision, fixed.scale or 0)}
    if isinstance(type_, sa.Numeric | sa.Float):
        return {"kind": NUMERIC}
    if isinstance(type_, sa.String):  # Text, String, VARCHAR(n)
        return {"kind": TEXT, "max_length": type_.length}
    # Any other type (arrays, intervals, bytea, ranges...): its text as written, which the
    # database reads during validation (seedbed.validation.dbrules) and again at COPY.
    return {"kind": TEXT, "database_text": True}


def _server_default(column: sa.Column[Any]) -> Any:
    """The value PostgreSQL fills in for a left-out column, where it is knowable."""
    default = column.server_default
    if not isinstance(default, sa.DefaultClause):
        return None
    arg = default.arg
    if isinstance(arg, str):
        return arg
    if isinstance(arg, sa.sql.elements.False_):
        return False
    if isinstance(arg, sa.sql.elements.True_):
        return True
    if isinstance(arg, sa.sql.functions.FunctionElement) and arg.name.lower() in {
        "now",
        "current_timestamp",
    }:
        return "now"
    if isinstance(arg, enum.Enum):
        return arg.value
    return None


def _fields(column: sa.Column[Any]) -> dict[str, Any]:
    filled = FILLED_BY_TRIGGER in column.info
    return {
        "name": column.name,
        "nullable": (bool(column.nullable) or filled) and not column.primary_key,
        "has_default": column.server_default is not None
        or column.identity is not None
        or column.computed is not None
        or filled,
        "sensitive": bool(column.info.get("sensitive")),
        "sql_type": _compiled(column.type),
        "default": _server_default(column),
        "generated": column.computed is not None,
        **_kind(column),
    }


def _check_name(table: sa.Table, rule: Rule, exact: set[int]) -> str:
    """The CHECK's name in the database: ``ck_<table>_<rule>`` as code declares it
    (the naming convention), the rule's own name for a catalog's, or for a plain
    CHECK read from its SQL (``exact``: their ids)."""
    if table.metadata.info.get(FROM_CATALOG) or id(rule) in exact:
        return rule.name
    return f"ck_{table.name}_{rule.name}"


@cache
def table_spec(table: sa.Table) -> TableSpec:
    """Everything seedbed checks about ``table``'s rows, derived from its declaration."""
    columns = {c.name: ColumnSpec(**_fields(c)) for c in table.columns}
    exact = {id(rule) for rule in rules_read_from_sql(table)}
    rules = tuple(RuleSpec(_check_name(table, rule, exact), rule) for rule in all_rules(table))
    keys = table_keys(table)
    # Keys on expressions, or partial on another kind of predicate, are left to the database.
    checked = tuple(key for key in keys.unique if key.checkable)
    return TableSpec(table, columns, rules, checked, keys.foreign_keys)


__all__ = [
    "ColumnSpec",
    "ForeignKeySpec",  # from seedbed.facts.keys, the one reader of keys
    "RuleSpec",
    "TableSpec",
    "UniqueKey",
    "base_sql_type",
    "read_as_text",
    "table_spec",
]
