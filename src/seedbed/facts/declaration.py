"""Names that belong to the model's declaration itself, offered here so upper layers ask facts.

The rule kinds are the vocabulary every source describes its CHECKs in; the
naming convention and the ``updated_at`` trigger are how seedbed declares
tables. They live in :mod:`seedbed.models`; docs, validation, synthetic
data and autogenerate import them from here.

:func:`all_rules` is where a table's rules are listed for all of them. Besides
the rules declared with :func:`seedbed.models.rules.checks` (and a column's
domain rules), a plain ``sa.CheckConstraint`` of a model of one's own is read
from its SQL, once, by :func:`seedbed.facts.checksql.rules_from_check`, under
the name the database gives the constraint. Where the verdict would depend on
the database (text ordering, case mapping, a collation, values the column's
type rounds) or the expression is not a known kind, the rule is a
:class:`~seedbed.models.rules.SqlCheck` that the database the settings name
judges.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from seedbed.lazymodules import lazy_exports, lazy_module
from seedbed.models.predicates import (
    BOOLEAN,
    BPCHAR,
    DATE,
    FLIPPED,
    FLOAT,
    FLOAT4,
    NUMBER,
    NUMERIC_FAMILIES,
    OPERATORS,
    TEXT_FAMILIES,
    TIME_FAMILIES,
    TIMESTAMP,
    TIMESTAMPTZ,
    TRUTH_TESTS,
    AllOf,
    AnyOf,
    Column,
    Compare,
    Constant,
    IsNull,
    Not,
    NullCount,
    OneOf,
    Pattern,
    Predicate,
    SameTruth,
    SplitPart,
    TextFunction,
    TruthTest,
    python_regex,
    text_function,
)
from seedbed.models.rules import (
    COLUMN_RULES,
    EMAIL,
    SLUG,
    URL,
    UUID_V4,
    JsonShape,
    Later,
    Length,
    Matches,
    RequiredWhen,
    Rule,
    SqlCheck,
    Url,
    UuidV4,
)
from seedbed.models.rules import all_rules as _declared_rules
from seedbed.sqltext import postgres_dialect

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from seedbed.models.base import (
        NAMING_CONVENTION,
        PARTITIONS,
        UPDATED_AT_BODY,
        UPDATED_AT_FUNCTION,
        CatalogType,
        tables_with_updated_at,
        updated_at_function_sql,
        updated_at_trigger,
        updated_at_trigger_sql,
    )
else:
    sa = lazy_module("sqlalchemy")
    postgresql = lazy_module("sqlalchemy.dialects.postgresql")

#: ``Constraint.info`` key of a plain ``CheckConstraint`` seedbed has read (True), so it is
#: read once; its rule, if it has one, is in ``info["rule"]``, named as the database names
#: the constraint.
READ_FROM_SQL = "rule_read_from_sql"
#: ``Column.info`` key: the CHECKs of the column's declared domain were read into rules.
_DOMAIN_CHECKS_READ = "domain_checks_read"

_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
_CASE_FUNCTIONS = frozenset({"lower", "upper"})


def all_rules(table: Any) -> list[Rule]:
    """Every rule of a SQLAlchemy ``Table``, sorted by rule name (a stable order).

    The rules declared with ``checks(...)``, the columns' domain rules, and
    those of the plain CHECKs read from their SQL (see :func:`read_plain_checks`).
    """
    if not isinstance(table, sa.Table):
        return _declared_rules(table)
    read_plain_checks(table)
    read_domain_checks(table)
    found = _declared_rules(table)
    found += [c.info["rule"] for c in _column_checks(table) if "rule" in c.info]
    return sorted(found, key=lambda rule: rule.name)


def rules_read_from_sql(table: sa.Table) -> list[Rule]:
    """The rules named as the database names their CHECKs: those of ``table``'s plain
    CHECKs, and its columns' domain rules (a domain's CHECK is named for the domain)."""
    read_plain_checks(table)
    read_domain_checks(table)
    found = [c.info["rule"] for c in _checks_in_order(table) if c.info.get(READ_FROM_SQL)]
    return found + [rule for column in table.columns for rule in column.info.get(COLUMN_RULES, ())]


def _column_checks(table: sa.Table) -> list[sa.CheckConstraint]:
    return [
        c for col in table.columns for c in col.constraints if isinstance(c, sa.CheckConstraint)
    ]


def _checks_in_order(table: sa.Table) -> list[sa.CheckConstraint]:
    """The table's CHECKs in the order CREATE TABLE lists them: its columns', then its own."""
    own = [c for c in table._sorted_constraints if isinstance(c, sa.CheckConstraint)]
    return [*_column_checks(table), *own]


def checks_on_tables(metadata: sa.MetaData) -> sa.MetaData:
    """Each CHECK declared on a column (``mapped_column(sa.Integer, sa.CheckConstraint("qty >
    0"))``) made one of its table, under the name it has in the database: SQLAlchemy keeps
    it apart, in ``Column.constraints``, which autogenerate does not see (a revision left it
    out). Where a table has such a CHECK, each of its CHECKs declared without a name is
    given the name PostgreSQL gives it in CREATE TABLE, where a column's come first (moved
    last, one would take another's). Returns ``metadata``."""
    for table in metadata.tables.values():
        moved = _column_checks(table)
        if not moved:
            continue
        names = _database_names(table)
        for check, name in names.items():
            if check not in moved and not isinstance(check.name, str):
                check.name = name
        for check in moved:
            for column in table.columns:
                column.constraints.discard(check)
            table.append_constraint(
                sa.CheckConstraint(
                    check.sqltext,
                    name=check.name if isinstance(check.name, str) else names[check],
                    deferrable=check.deferrable,
                    initially=check.initially,
                    info=check.info,
                )
            )
    return metadata


def _database_names(table: sa.Table) -> dict[sa.CheckConstraint, str]:
    """Each CHECK of ``table`` PostgreSQL creates, and its name there (see
    :func:`_database_name`), in the order CREATE TABLE lists them."""
    dialect = postgres_dialect()
    ddl = dialect.ddl_compiler(dialect, None)
    checks = _checks_in_order(table)
    taken = {str(c.name) for c in table.constraints if isinstance(c.name, str)}
    taken |= {str(c.name) for c in checks if isinstance(c.name, str)}
    return {
        check: _database_name(table, check, _check_sql(ddl, check), taken)
        for check in checks
        if not check._type_bound and check._should_create_for_compiler(ddl)
    }


def read_plain_checks(table: sa.Table) -> None:
    """Give each plain ``CheckConstraint`` of ``table`` (one without a rule) its rule, once.

    The rule is what :func:`~seedbed.facts.checksql.rules_from_check` reads in
    the SQL the CHECK is created with, for the columns' types; a CHECK it cannot
    read, or whose verdict depends on the database, becomes a :class:`SqlCheck`.
    A CHECK that reads no column is left to the database; an ``Enum``'s or
    ``Boolean``'s own CHECK is its type's, which the column's kind already judges.
    """
    checks = _checks_in_order(table)
    if all("rule" in c.info or c.info.get(READ_FROM_SQL) is not None for c in checks):
        return
    dialect = postgres_dialect()
    ddl = dialect.ddl_compiler(dialect, None)
    taken = {str(c.name) for c in table.constraints if isinstance(c.name, str)}
    taken |= {str(c.name) for c in checks if isinstance(c.name, str)}
    for constraint in checks:
        if "rule" in constraint.info and not constraint.info.get(READ_FROM_SQL):
            continue  # declared with checks(...), or read from a catalog
        if constraint._type_bound or not constraint._should_create_for_compiler(ddl):
            constraint.info[READ_FROM_SQL] = False
            continue
        expression = _check_sql(ddl, constraint)
        name = _database_name(table, constraint, expression, taken)
        if constraint.info.get(READ_FROM_SQL) is not None:
            continue
        rule = check_rule(table, name, expression)
        constraint.info[READ_FROM_SQL] = rule is not None
        if rule is not None:
            constraint.info["rule"] = rule


def read_domain_checks(table: sa.Table) -> None:
    """Give each column of a declared ``postgresql.DOMAIN`` with a ``check`` the rules of
    its domain's CHECKs (a domain of a domain: each one's), once.

    They go to the column (``info[COLUMN_RULES]``), as a catalog's domain CHECKs do, under
    the name PostgreSQL gives an unnamed one (``<domain>_check``). A column that carries
    its rules already (a model read from a catalog, or pulled) is left as it is.
    """
    from seedbed.facts.checksql import domain_check_on

    for column in table.columns:
        if column.info.get(_DOMAIN_CHECKS_READ) or COLUMN_RULES in column.info:
            continue
        column.info[_DOMAIN_CHECKS_READ] = True
        found = []
        kind = column.type
        while isinstance(kind, postgresql.DOMAIN):
            if kind.check is not None:
                name = str(kind.constraint_name or f"{kind.name}_check")
                expression = domain_check_on(_domain_check_sql(kind.check), column.name)
                rule = check_rule(table, name, expression)
                if rule is not None:
                    found.append(rule)
            kind = kind.data_type
        if found:
            column.info[COLUMN_RULES] = found


def _domain_check_sql(check: Any) -> str:
    """A domain's ``check`` (text or a SQL expression) as PostgreSQL gets it."""
    if isinstance(check, str):
        return check
    dialect = postgres_dialect()
    return str(check.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _check_sql(ddl: Any, constraint: sa.CheckConstraint) -> str:
    """The CHECK's expression as PostgreSQL gets it (``%`` as the driver sends it: once)."""
    body = str(ddl.define_check_body(constraint))[len("CHECK (") : -1]
    if ddl.sql_compiler.process(sa.text("%")) == "%%":
        body = body.replace("%%", "%")
    return body


def _database_name(
    table: sa.Table, constraint: sa.CheckConstraint, expression: str, taken: set[str]
) -> str:
    """The CHECK's name in the database: its own (the naming convention applied), or the
    one PostgreSQL chooses for an unnamed CHECK: ``<table>_<column>_check`` when it reads
    one column, else ``<table>_check``, shortened and numbered as PostgreSQL does."""
    if isinstance(constraint.name, str):
        return str(constraint.name)
    from seedbed.facts.checksql import check_columns

    names = {c.name for c in table.columns}
    read = [c for c in check_columns(expression) or () if c in names]
    column = read[0] if len(read) == 1 else None
    number = 0
    while True:
        label = f"check{number or ''}"
        name = _object_name(table.name, column, label)
        if name not in taken:
            taken.add(name)
            return name
        number += 1


def _object_name(first: str, second: str | None, label: str) -> str:
    """PostgreSQL's ``makeObjectName``: ``first_second_label``, the longer part shortened
    first until the whole fits in 63 bytes."""
    one, two = first.encode(), (second or "").encode()
    room = _NAME_BYTES - (len(label) + 1) - (1 if second else 0)
    n1, n2 = len(one), len(two)
    while n1 + n2 > room:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    parts = [one[:n1].decode(errors="ignore")]
    if second:
        parts.append(two[:n2].decode(errors="ignore"))
    return "_".join([*parts, label])


def _base_type(column: sa.Column[Any]) -> Any:
    """The column's type, or the base type of its domain (a domain's CHECKs are rules, not
    part of the type; nor is a collation)."""
    kind = column.type
    while isinstance(kind, postgresql.DOMAIN):
        kind = kind.data_type
    if isinstance(kind, sa.String) and kind.collation is not None:
        kind = kind.copy()
        kind.collation = None
    return kind


def refuses_null(column: sa.Column[Any]) -> bool:
    """True when the database refuses NULL in ``column``: it is NOT NULL, or its domain is."""
    return not column.nullable or domain_refuses_null(column)


def domain_refuses_null(column: sa.Column[Any]) -> bool:
    """True when ``column``'s domain (or a domain under it) is NOT NULL: PostgreSQL refuses
    NULL as the value is read, before a trigger could fill it in."""
    kind = column.type
    while isinstance(kind, postgresql.DOMAIN):
        if kind.not_null:
            return True
        kind = kind.data_type
    return False


def columns_by_name(table: sa.Table) -> dict[str, sa.Column[Any]]:
    """``table``'s columns by their names, as the database and seeds have them (``Table.c``
    holds them by key, which ``Column(..., key=...)`` makes other than the name)."""
    return {column.name: column for column in table.columns}


def named_column(table: sa.Table, name: str) -> sa.Column[Any]:
    """``table``'s column ``name``. ``Table.c`` holds columns by their key, which
    ``Column(..., key=...)`` makes other than the name seeds and rules use."""
    for column in table.columns:
        if column.name == name:
            return column
    raise KeyError(name)


def base_sql_type(column: sa.Column[Any]) -> str:
    """The SQL type of ``column``, or of the base type of its domain, as SQLAlchemy writes it."""
    return str(_base_type(column).compile(dialect=postgres_dialect()))


def _sql_type(column: sa.Column[Any]) -> str:
    """The column's type as PostgreSQL reads it (a domain's base type, no collation)."""
    kind = _base_type(column)
    text = str(kind.compile(dialect=postgres_dialect()))
    if isinstance(kind, sa.Enum):
        return text
    lowered = text.lower()
    if isinstance(kind, sa.Float) and kind.precision is not None:  # float(p): real or double
        return "real" if kind.precision <= 24 else "double precision"
    return lowered


def _leaves_to_database(rule: Rule, table: sa.Table) -> bool:
    """Does ``rule``'s verdict depend on the database or on the columns' rounding?

    Case mapping (``lower``, ``upper``, ``ILIKE``, ``~*``) follows the database's
    ctype; a text column's own collation decides equality and order; a time with a
    precision rounds values before the CHECK sees them (a ``numeric(p, s)`` too, but
    validation rounds its values as PostgreSQL does).
    """
    from seedbed.facts.checksql import rounds_first

    for name in rule.columns:
        column = named_column(table, name)
        kind = column.type
        while isinstance(kind, postgresql.DOMAIN):
            kind = kind.data_type
        if isinstance(kind, sa.String) and kind.collation is not None:
            return True
        if rounds_first(_sql_type(column)):
            return True  # timestamp(p), time(p)
    return _case_dependent(rule)


def _case_dependent(node: Any) -> bool:
    if isinstance(node, Column):
        return bool(_CASE_FUNCTIONS.intersection(node.functions))
    if isinstance(node, Pattern) and node.case_insensitive:
        return True
    if isinstance(node, tuple):
        return any(_case_dependent(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return any(_case_dependent(getattr(node, f.name)) for f in dataclasses.fields(node))
    return False


def check_rule(table: sa.Table, name: str, expression: str) -> Rule | None:
    """The rule of the CHECK ``expression`` on ``table``, named ``name`` (a :class:`SqlCheck`
    when seedbed cannot judge it itself); None when it reads no column."""
    from seedbed.facts.checksql import check_columns, rules_from_check

    types = {c.name: _sql_type(c) for c in table.columns}
    read = [c for c in check_columns(expression) or () if c in types]
    if not read:
        return None
    enums = tuple(
        types[c.name]
        for c in table.columns
        if isinstance(c.type, sa.Enum) and not isinstance(c.type, postgresql.DOMAIN)
    )
    translated = rules_from_check(expression, types, name=name, enums=enums)
    if (
        translated is not None
        and len(translated) == 1
        and not _leaves_to_database(translated[0], table)
    ):
        return translated[0]
    from seedbed.facts.sqlchecks import SETTINGS_EVALUATOR

    return SqlCheck(
        name,
        tuple(read),
        f"must satisfy CHECK {expression} (checked {SqlCheck.runs})",
        expression,
        tuple(types[c] for c in read),
        SETTINGS_EVALUATOR,
    )


__all__ = [
    "BOOLEAN",
    "BPCHAR",
    "DATE",
    "EMAIL",
    "FLIPPED",
    "FLOAT",
    "FLOAT4",
    "NAMING_CONVENTION",
    "NUMBER",
    "NUMERIC_FAMILIES",
    "OPERATORS",
    "PARTITIONS",
    "READ_FROM_SQL",
    "SLUG",
    "TEXT_FAMILIES",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "TIME_FAMILIES",
    "TRUTH_TESTS",
    "UPDATED_AT_BODY",
    "UPDATED_AT_FUNCTION",
    "URL",
    "UUID_V4",
    "AllOf",
    "AnyOf",
    "CatalogType",
    "Column",
    "Compare",
    "Constant",
    "IsNull",
    "JsonShape",
    "Later",
    "Length",
    "Matches",
    "Not",
    "NullCount",
    "OneOf",
    "Pattern",
    "Predicate",
    "RequiredWhen",
    "Rule",
    "SameTruth",
    "SplitPart",
    "SqlCheck",
    "TextFunction",
    "TruthTest",
    "Url",
    "UuidV4",
    "all_rules",
    "base_sql_type",
    "check_rule",
    "checks_on_tables",
    "columns_by_name",
    "domain_refuses_null",
    "named_column",
    "python_regex",
    "read_plain_checks",
    "refuses_null",
    "rules_read_from_sql",
    "tables_with_updated_at",
    "text_function",
    "updated_at_function_sql",
    "updated_at_trigger",
    "updated_at_trigger_sql",
]

# The declarative base's names, imported with it (and SQLAlchemy's ORM) when first asked for:
# reading a rule's facts needs neither.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "seedbed.models.base": (
            "NAMING_CONVENTION",
            "PARTITIONS",
            "UPDATED_AT_BODY",
            "UPDATED_AT_FUNCTION",
            "CatalogType",
            "tables_with_updated_at",
            "updated_at_function_sql",
            "updated_at_trigger",
            "updated_at_trigger_sql",
        )
    },
)
