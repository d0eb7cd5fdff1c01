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
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from seedbed.facts.declaration import (
    Rule,
    all_rules,
    base_sql_type,
    columns_by_name,
    domain_refuses_null,
    named_column,
    refuses_null,
    rules_read_from_sql,
)
from seedbed.facts.keys import ForeignKeySpec, UniqueKey, table_keys
from seedbed.facts.stored import StoredTable
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import postgres_dialect

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql
else:
    sa = lazy_module("sqlalchemy")
    postgresql = lazy_module("sqlalchemy.dialects.postgresql")

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

# How PostgreSQL compares two values of a column, as its key text is made equal
# (see :attr:`ColumnSpec.key_form`; seedbed.validation.keys writes each form).
#: Equal values have one text already (text, enums, integers, booleans, times).
KEY_AS_IS = "as is"
KEY_UUID = "uuid"  # case, braces and hyphens do not count
KEY_NUMERIC = "numeric"  # display scale, signs and exponents do not count
KEY_FLOAT8 = "float8"  # the double the text reads as (-0 = 0, NaN = NaN)
KEY_FLOAT4 = "float4"  # the real the text reads as
KEY_BPCHAR = "bpchar"  # character(n): trailing spaces do not count
KEY_INET = "inet"  # /32 and /128 are the address alone; IPv6 in any spelling
KEY_MACADDR = "macaddr"  # separators and case do not count
KEY_MACADDR8 = "macaddr8"  # as macaddr; a 6-byte address is its 8-byte EUI-64 form
KEY_CITEXT = "citext"  # case does not count (ASCII letters: see the validating guide)
#: timestamp(p), timestamptz(p) with p < 6: stored rounded to p fractional digits
#: (the form's name ends in p); a column's own values only, never its children's.
KEY_ROUNDED_TIME = "time rounded to "
KEY_JSONB = "jsonb"  # white space, key order, repeated keys, 1.0 = 1 do not count
#: PostgreSQL's equality is not reproduced in-process (cidr, interval, money,
#: bytea, types SQLAlchemy does not know...): a value equals only its own spelling here,
#: and a foreign key of such a column is left to the database.
KEY_BY_DATABASE = "database"

#: Collations that compare text as its bytes compare it: PostgreSQL's own, and those
#: ``initdb`` creates (``en_US``, ``de-x-icu``...); one made with ``deterministic = false``
#: (case- or accent-insensitive) has a name of its own choosing.
_DETERMINISTIC = re.compile(
    r'^"?(C|POSIX|default|ucs_basic|pg_c_utf8|pg_unicode_fast|unicode|C\.(UTF-?8|utf-?8)'
    r"|[a-z]{2,3}_[A-Z]{2}(\.(UTF-?8|utf-?8))?|[a-z]{2,3}(-[A-Za-z0-9]+)*-x-icu)\"?$"
)
#: Types of kind text compared as their bytes.
_AS_IS_TEXT = ("VARCHAR", "TEXT", "NAME", "CHARACTER VARYING", "STRING", "UNICODE")

_INT_RANGES = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}


def _compiled(type_: Any) -> str:
    return str(type_.compile(dialect=postgres_dialect()))


#: Types of kind ``text`` that seedbed reads itself; the database reads the others.
_TEXT_TYPES = frozenset(
    {"TEXT", "VARCHAR", "CHAR", "CHARACTER", "CHARACTER VARYING", "NAME", "CITEXT"}
)


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
    #: of a type (its domain's base type) seedbed does not read in-process at all: the
    #: database reads each value during validation (:mod:`seedbed.validation.dbrules`)
    read_by_database: bool = False
    #: How PostgreSQL's equality of the column's type sees its values (``KEY_*`` above):
    #: the form of text a unique or foreign key hashes, so that equal values meet.
    key_form: str = KEY_AS_IS
    doc: str = ""  # ``info["doc"]``: what the column holds, for people
    #: of a domain: its base type's SQL (empty for other types)
    domain_base: str = ""
    #: filled by a ``BEFORE INSERT`` trigger (``info[FILLED_BY_TRIGGER]``): a seed may leave it out
    filled_by_trigger: bool = False
    #: ``GENERATED ALWAYS AS IDENTITY``: an INSERT keeps given values with ``OVERRIDING SYSTEM
    #: VALUE`` only
    identity_always: bool = False

    @property
    def lookup_type(self) -> str:
        """The type a key's text is read as when looked up in the database: a domain's base
        type, so that the domain's CHECK stops no look-up; else :attr:`sql_type`."""
        return self.domain_base or self.sql_type

    @property
    def holds_bytes(self) -> bool:
        """Is the column (or its domain's base type) ``bytea``? Bytes given for it (Arrow
        binary, Python ``bytes``) are its values, sent as PostgreSQL's hex text (``\\x0102``)."""
        return self.lookup_type.split("(")[0].upper() == "BYTEA"

    @property
    def bytes_as(self) -> str | None:
        """What bytes given for the column (Arrow binary, Python ``bytes``) are: a ``bytea``
        column's values (``"bytea"``, see :attr:`holds_bytes`), or in a ``uuid`` column 16
        of them a UUID's (``"uuid"``, as Parquet's UUID type and a Polars ``Binary`` hold
        one); None where they are UTF-8 text."""
        if self.holds_bytes:
            return "bytea"
        return "uuid" if self.kind == UUID else None

    @property
    def required(self) -> bool:
        """Must the column appear in a seed file's header?"""
        return not (self.nullable or self.has_default)

    @property
    def float_type(self) -> str | None:
        """``real`` or ``double precision`` for a floating-point column, else None."""
        return {KEY_FLOAT4: "real", KEY_FLOAT8: "double precision"}.get(self.key_form)


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


def _key_form(type_: Any, kind: str) -> str:
    """How values of ``type_`` (a domain's base type; of ``kind``) are compared."""
    if kind == UUID:
        return KEY_UUID
    if kind == INET:
        return KEY_INET
    if kind == JSON:  # json has no equality: no key
        return KEY_JSONB if isinstance(type_, postgresql.JSONB) else KEY_BY_DATABASE
    if kind == NUMERIC:
        if isinstance(type_, sa.Float):  # FLOAT(p): real up to 24 bits, else double
            real = isinstance(type_, sa.REAL) or (
                not isinstance(type_, sa.Double) and (type_.precision or 53) <= 24
            )
            return KEY_FLOAT4 if real else KEY_FLOAT8
        return KEY_NUMERIC
    precision = getattr(type_, "precision", None)
    if kind in (TIMESTAMP, TIMESTAMPTZ) and isinstance(precision, int) and precision < 6:
        return f"{KEY_ROUNDED_TIME}{precision}"
    if kind != TEXT:
        return KEY_AS_IS
    collation = getattr(type_, "collation", None)
    if collation is not None and not _DETERMINISTIC.match(str(collation)):
        return KEY_BY_DATABASE  # a collation of one's own may compare text as equal
    compiled = _compiled(type_).split(" COLLATE ")[0]
    name = compiled.split("(")[0].strip().upper().rsplit(".", 1)[-1]
    if isinstance(type_, sa.CHAR) or name in ("CHAR", "CHARACTER", "BPCHAR", "NCHAR"):
        return KEY_BPCHAR
    if name == "CITEXT":
        return KEY_CITEXT
    if name in ("MACADDR", "MACADDR8"):
        return KEY_MACADDR if name == "MACADDR" else KEY_MACADDR8
    if name in _AS_IS_TEXT or isinstance(type_, sa.Enum):
        return KEY_AS_IS
    return KEY_BY_DATABASE


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
    kind = _kind(column)
    base = column.type
    while isinstance(base, postgresql.DOMAIN):
        base = base.data_type
    nullable = (bool(column.nullable) or filled) and not domain_refuses_null(column)
    return {
        "name": column.name,
        "nullable": nullable and not column.primary_key,
        "has_default": column.server_default is not None
        or column.identity is not None
        or column.computed is not None
        or filled,
        "sensitive": bool(column.info.get("sensitive")),
        "doc": str(column.info.get("doc", "")),
        "sql_type": _compiled(column.type),
        "default": _server_default(column),
        "generated": column.computed is not None,
        "key_form": _key_form(base, kind["kind"]),
        "read_by_database": kind["kind"] == TEXT and not read_as_text(base_sql_type(column)),
        "domain_base": base_sql_type(column) if base is not column.type else "",
        "filled_by_trigger": filled,
        "identity_always": bool(getattr(column.identity, "always", False)),
        **kind,
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
    """Everything seedbed checks about ``table``'s rows, derived from its declaration
    (a stored table's, as it was stored)."""
    if isinstance(table, StoredTable):
        return table.spec
    columns = {c.name: ColumnSpec(**_fields(c)) for c in table.columns}
    exact = {id(rule) for rule in rules_read_from_sql(table)}
    rules = tuple(RuleSpec(_check_name(table, rule, exact), rule) for rule in all_rules(table))
    keys = table_keys(table)
    # Keys on expressions, or partial on another kind of predicate, are left to the database.
    checked = tuple(key for key in keys.unique if key.checkable)
    return TableSpec(table, columns, rules, checked, keys.foreign_keys)


__all__ = [
    "KEY_AS_IS",
    "KEY_BPCHAR",
    "KEY_BY_DATABASE",
    "KEY_CITEXT",
    "KEY_FLOAT4",
    "KEY_FLOAT8",
    "KEY_INET",
    "KEY_JSONB",
    "KEY_MACADDR",
    "KEY_MACADDR8",
    "KEY_NUMERIC",
    "KEY_ROUNDED_TIME",
    "KEY_UUID",
    "ColumnSpec",
    "ForeignKeySpec",  # from seedbed.facts.keys, the one reader of keys
    "RuleSpec",
    "TableSpec",
    "UniqueKey",
    "base_sql_type",
    "columns_by_name",
    "domain_refuses_null",
    "named_column",
    "read_as_text",
    "refuses_null",
    "table_spec",
]
