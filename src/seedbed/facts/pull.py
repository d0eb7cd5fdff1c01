"""``seedbed db pull``: a namespace's tables written as model modules, one per table.

:func:`pull` reads the namespace with SQLAlchemy's reflection (the namespace
first on the search_path, as ``db check`` reads it, so SQL read back names no
namespace) and writes a folder that ``SEEDBED_MODELS`` can name: ``base.py``
with ``Base = new_base()`` and one module per table, each a Core ``sa.Table``
on ``Base.metadata`` with the catalog's exact types, NOT NULL, server
defaults, identity and generated columns, keys, indexes (unique, partial,
expression), foreign keys with their actions, CHECKs and comments, every
constraint and index under its real name.

Each CHECK is declared with :func:`catalog_check`: the catalog's own
expression, carrying the rules :func:`~seedbed.facts.checksql.rules_from_check`
finds in it, or a :class:`~seedbed.models.rules.SqlCheck` that PostgreSQL
judges (in the database the settings name) when it is not a known kind. The
CHECKs of a column's domain follow the table, each a :func:`domain_check` that
gives the column the rule, so a domain's CHECK is enforced but never declared
as the table's.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import UnaryExpression, conv

from seedbed.config import Settings, load_settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import ConfigError
from seedbed.facts.catalog import (
    HISTORIES,
    CatalogCheck,
    domain_checks,
    looks_secret,
    read_catalog_tables,
)
from seedbed.facts.referenced import (
    REFERENCES_ELSEWHERE,
    NamespaceObject,
    catalog_keys_elsewhere,
    namespace_domains,
    namespace_objects,
)
from seedbed.facts.spec import FILLED_BY_TRIGGER
from seedbed.facts.sqlchecks import SETTINGS_EVALUATOR
from seedbed.facts.triggers import (
    UPDATED_AT_TRIGGER_PARTS,
    updated_at_function_body,
)
from seedbed.models.base import PARTITIONS, UPDATED_AT_FUNCTION, CatalogType
from seedbed.models.rules import COLUMN_RULES, Rule, SqlCheck
from seedbed.sqltext import escaped, postgres_dialect, quote_ident

#: What the namespace holds that a model does not declare, by kind.
_LEFT_ALONE_SQL = """
SELECT 'view', c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'function', p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = :schema AND p.proname <> :updated_at
UNION ALL
SELECT 'trigger', t.tgname || ' on ' || c.relname FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND NOT t.tgisinternal
   AND t.tgname <> :trigger_head || c.relname || :trigger_tail
   AND t.tgparentid = 0
UNION ALL
SELECT 'policy', pol.polname || ' on ' || c.relname FROM pg_policy pol
  JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema
UNION ALL
SELECT 'constraint', k.conname || ' on partition ' || c.relname FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relispartition AND k.conparentid = 0 AND k.coninhcount = 0
   AND k.contype <> 'n'
UNION ALL
SELECT 'index', ci.relname || ' on partition ' || c.relname FROM pg_index i
  JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relispartition
   AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                   AND k.conrelid = i.indrelid)
ORDER BY 1, 2
"""


_EVALUATOR = SETTINGS_EVALUATOR


def _rule(
    name: str, expression: str, columns: dict[str, str], ascii_case: bool, enums: tuple[str, ...]
) -> Rule:
    from seedbed.facts.checksql import rounds_first, rules_from_check

    rules = rules_from_check(expression, columns, name=name, ascii_case=ascii_case, enums=enums)
    if rules and not any(map(rounds_first, columns.values())):
        return rules[0]
    return SqlCheck(
        name,
        tuple(columns),
        f"must satisfy CHECK {expression} (checked {SqlCheck.runs})",
        expression,
        tuple(columns.values()),
        _EVALUATOR,
    )


def catalog_check(
    name: str,
    expression: str,
    columns: dict[str, str],
    *,
    ascii_case: bool = False,
    enums: tuple[str, ...] = (),
) -> sa.CheckConstraint:
    """A CHECK named ``name`` exactly, with the rules it stands for (pulled models use it).

    ``expression`` is the catalog's text; ``columns`` maps each column it
    reads to its SQL type (``format_type``). A CHECK that is not a known kind
    becomes a :class:`SqlCheck`, judged by PostgreSQL.
    """
    rule = _rule(name, expression, columns, ascii_case, enums)
    return sa.CheckConstraint(sa.text(escaped(expression)), name=conv(name), info={"rule": rule})


def domain_check(
    table: sa.Table,
    name: str,
    expression: str,
    columns: dict[str, str],
    *,
    ascii_case: bool = False,
    enums: tuple[str, ...] = (),
) -> Rule:
    """Enforce a domain's CHECK ``name`` on a column of ``table`` (pulled models use it).

    ``expression`` is the domain's CHECK with ``VALUE`` written as the column,
    ``columns`` that one column and its base type. The rule goes to the
    column, not to the table: the CHECK is the domain's, never declared again.
    """
    rule = _rule(name, expression, columns, ascii_case, enums)
    (column,) = columns
    table.c[column].info.setdefault(COLUMN_RULES, []).append(rule)
    return rule


def _domain_check(check: CatalogCheck, ascii_case: bool) -> str:
    columns = dict(zip(check.columns, check.column_types, strict=True))
    case = ", ascii_case=True" if ascii_case else ""
    case += f", enums={check.enum_types!r}" if check.enum_types else ""
    return f"domain_check(table, {check.name!r}, {check.expression!r}, {columns!r}{case})\n"


@dataclass
class TableSummary:
    """What one pulled table carries."""

    name: str
    module: str
    columns: int
    keys: int
    foreign_keys: int
    indexes: int
    checks: int
    partitions: int = 0
    partition_by: str | None = None


@dataclass
class PullResult:
    """What :func:`pull` wrote, and what it left alone."""

    schema: str
    out: Path
    tables: list[TableSummary] = field(default_factory=list)
    left_alone: list[tuple[str, str]] = field(default_factory=list)
    in_process: int = 0
    in_database: int = 0
    objects: list[NamespaceObject] = field(default_factory=list)
    elsewhere: list[tuple[str, str, str]] = field(default_factory=list)  # table, key, target

    def lines(self) -> list[str]:
        out = [f"{self.schema}: wrote {len(self.tables)} table(s) to {self.out}"]
        for t in self.tables:
            out.append(
                f"  {t.name} ({t.module}.py): {t.columns} columns, {t.keys} keys, "
                f"{t.foreign_keys} foreign keys, {t.indexes} indexes, {t.checks} checks"
                + _partitioned(t)
            )
        if self.elsewhere:
            out.append(
                f"foreign keys to other namespaces ({len(self.elsewhere)}), referenced, "
                "checked by the database at load, not by validation:"
            )
            out += [f"  {table}.{key} -> {target}" for table, key, target in self.elsewhere]
        if self.left_alone:
            out.append(f"left alone ({len(self.left_alone)}):")
            out += [f"  {kind} {name}" for kind, name in self.left_alone]
        else:
            out.append("left alone: nothing")
        out.append(f"checks: {self.in_process} in-process, {self.in_database} in the database")
        return out


def _partitioned(summary: TableSummary) -> str:
    if summary.partition_by is None:
        return ""
    return f", partitioned by {summary.partition_by} into {summary.partitions} partitions"


def _identifier(name: str, taken: set[str]) -> str:
    """A Python module name for table ``name``, unique in ``taken``."""
    base = re.sub(r"\W", "_", name, flags=re.ASCII).lower() or "table"
    if base[0].isdigit() or keyword.iskeyword(base) or base == "base":
        base = f"t_{base}"
    found, n = base, 2
    while found in taken:
        found, n = f"{base}_{n}", n + 1
    taken.add(found)
    return found


def _constructor(name: str) -> str | None:
    """Where a type constructor named in a repr comes from: its import line, or None."""
    if isinstance(getattr(postgresql, name, None), type):
        return "sqlalchemy.dialects.postgresql"
    if isinstance(getattr(sa.types, name, None), type):
        return "sqlalchemy.types"
    return None


def _render_type(kind: Any, imports: set[str], schema: str) -> str:
    """``kind`` as a constructor from ``sqlalchemy.dialects.postgresql``; checked to round-trip.

    Enums and domains are referenced, never created: their schema is named
    only when it is not the namespace.
    """
    where = getattr(kind, "schema", None)
    elsewhere = f", schema={where!r}" if where not in (None, schema) else ""
    if isinstance(kind, sa.Enum):
        labels = ", ".join(repr(v) for v in kind.enums)
        imports.add("sqlalchemy.dialects.postgresql:ENUM")
        return f"ENUM({labels}, name={kind.name!r}{elsewhere}, create_type=False)"
    if isinstance(kind, postgresql.DOMAIN):
        imports.add("sqlalchemy.dialects.postgresql:DOMAIN")
        base = _render_type(kind.data_type, imports, schema)
        return f"DOMAIN({kind.name!r}, {base}{elsewhere}, create_type=False)"
    if isinstance(kind, postgresql.ARRAY) and isinstance(
        kind.item_type, sa.Enum | postgresql.DOMAIN
    ):
        # an array of the namespace's own type names it as the column does: not by namespace
        item = _render_type(kind.item_type, imports, schema)
        imports.add("sqlalchemy.dialects.postgresql:ARRAY")
        dimensions = f", dimensions={kind.dimensions}" if kind.dimensions else ""
        return f"ARRAY({item}{dimensions})"
    if isinstance(kind, CatalogType):  # a type SQLAlchemy does not know, by its catalog name
        imports.add("seedbed.models.base:CatalogType")
        return f"CatalogType({kind.name!r})"
    text = repr(kind)
    # The constructors the repr calls (JSONB(astext_type=Text()) calls two).
    names = {n: _constructor(n) for n in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\(", text)}
    scope = {
        n: getattr(postgresql if home.endswith("postgresql") else sa.types, n)
        for n, home in names.items()
        if home is not None
    }
    try:
        again = eval(text, {"__builtins__": {}}, scope)  # our own repr, names checked above
        same = again.compile(dialect=postgres_dialect()) == kind.compile(dialect=postgres_dialect())
    except Exception:
        same = False
    if not same:
        raise ConfigError(
            f"db pull: cannot write the type {kind.compile(dialect=postgres_dialect())}"
        )
    imports.update(f"{home}:{n}" for n, home in names.items())
    return text


def _text(sql: str) -> str:
    return f"sa.text({escaped(sql)!r})"


def _column(column: sa.Column[Any], imports: set[str], schema: str) -> str:
    args = [repr(column.name), _render_type(column.type, imports, schema)]
    if column.computed is not None:
        persisted = column.computed.persisted
        args.append(f"sa.Computed({_text(str(column.computed.sqltext))}, persisted={persisted})")
    elif column.identity is not None:
        identity = column.identity
        args.append(f"sa.Identity(always={bool(identity.always)})")
    elif isinstance(column.server_default, sa.DefaultClause):
        arg = column.server_default.arg
        sql = arg.text if isinstance(arg, sa.TextClause) else str(arg)
        if sql.startswith("nextval("):
            # A serial column: its sequence is not modeled (the text names the namespace).
            args.append("server_default=sa.FetchedValue()")
        else:
            args.append(f"server_default={_text(sql)}")
    elif column.primary_key and column.computed is None and isinstance(column.type, sa.Integer):
        # No default in the catalog: without this, db push would make the key a serial.
        args.append("autoincrement=False")
    args.append(f"nullable={bool(column.nullable)}")
    if column.comment:
        args.append(f"comment={column.comment!r}")
    info: dict[str, Any] = {}
    if looks_secret(column.table.name, column.name):
        info["sensitive"] = True  # its values never appear in reports
    if column.info.get(FILLED_BY_TRIGGER):  # a seed may leave it out: the trigger fills it
        info[FILLED_BY_TRIGGER] = column.info[FILLED_BY_TRIGGER]
    if info:
        args.append(f"info={info!r}")
    return f"sa.Column({', '.join(args)})"


def _fk(fk: sa.ForeignKeyConstraint, schema: str) -> str | None:
    """The foreign key, or None when it points outside the namespace."""
    targets = []
    for element in fk.elements:
        parts = element.target_fullname.split(".")
        if len(parts) == 3 and parts[0] != schema:
            return None
        targets.append(f"{parts[-2]}.{parts[-1]}")
    args = [repr([e.parent.name for e in fk.elements]), repr(targets), f"name={fk.name!r}"]
    for option in ("ondelete", "onupdate", "deferrable", "initially", "match"):
        value = getattr(fk, option)
        if value is not None and str(value).upper() != "NO ACTION":
            args.append(f"{option}={value!r}")
    return f"sa.ForeignKeyConstraint({', '.join(args)})"


def _index(index: sa.Index) -> str:
    parts = [repr(index.name)]
    for expr in index.expressions:
        if isinstance(expr, sa.Column):
            parts.append(repr(expr.name))
        elif isinstance(expr, UnaryExpression) and isinstance(expr.element, sa.Column):
            order = str(expr).split(".")[-1].split(" ", 1)[1]  # DESC, NULLS FIRST, ...
            parts.append(_text(f"{quote_ident(expr.element.name)} {order}"))
        else:
            parts.append(_text(str(expr)))
    if index.unique:
        parts.append("unique=True")
    options = index.dialect_options["postgresql"]
    if options.get("where") is not None:
        parts.append(f"postgresql_where={_text(str(options['where']))}")
    if options.get("using") and options["using"] != "btree":
        parts.append(f"postgresql_using={options['using']!r}")
    if options.get("include"):
        parts.append(f"postgresql_include={list(options['include'])!r}")
    return f"sa.Index({', '.join(parts)})"


def _names(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _check(check: CatalogCheck, ascii_case: bool) -> str:
    columns = dict(zip(check.columns, check.column_types, strict=True))
    case = ", ascii_case=True" if ascii_case else ""
    case += f", enums={check.enum_types!r}" if check.enum_types else ""
    return f"catalog_check({check.name!r}, {check.expression!r}, {columns!r}{case})"


def render_table(
    table: sa.Table,
    schema: str,
    checks: list[CatalogCheck],
    *,
    ascii_case: bool = False,
    elsewhere: dict[str, str] | None = None,
    domains: list[CatalogCheck] | None = None,
) -> tuple[str, TableSummary]:
    """The module source that declares ``table``, and what it carries.

    ``elsewhere`` holds the table's foreign keys to other namespaces (name ->
    definition), declared in ``info`` (:data:`REFERENCES_ELSEWHERE`);
    ``domains``: the CHECKs of its columns' domains, enforced on those columns.
    """
    domains = domains or []
    imports: set[str] = set()
    items = [_column(c, imports, schema) for c in table.columns]
    pk = table.primary_key
    keys = 0
    if pk is not None and pk.columns:
        names = [c.name for c in pk.columns]
        items.append(f"sa.PrimaryKeyConstraint({_names(names)}, name={pk.name!r})")
        keys += 1
    uniques = sorted(
        (c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        key=lambda c: str(c.name),
    )
    for unique in uniques:
        names = [c.name for c in unique.columns]
        items.append(f"sa.UniqueConstraint({_names(names)}, name={unique.name!r})")
        keys += 1
    fks = [
        rendered
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name))
        if (rendered := _fk(fk, schema)) is not None
    ]
    items += fks
    items += [_check(check, ascii_case) for check in checks]
    indexes = sorted(table.indexes, key=lambda i: str(i.name))
    items += [_index(index) for index in indexes]
    if table.comment:
        items.append(f"comment={table.comment!r}")
    items += _partition_items(table)
    if elsewhere:
        items.append(f"info={{{REFERENCES_ELSEWHERE!r}: {elsewhere!r}}}")
    body = "".join(f"    {item},\n" for item in items)
    lines = [
        f'"""The table {table.name!r}, written by `seedbed db pull` from the database."""',
        "",
        "import sqlalchemy as sa",
    ]
    for home in sorted({item.split(":")[0] for item in imports}):
        names = sorted(item.split(":")[1] for item in imports if item.startswith(f"{home}:"))
        lines.append(f"from {home} import {', '.join(names)}")
    helpers = ["catalog_check"] * bool(checks) + ["domain_check"] * bool(domains)
    if helpers:
        lines.append("")
        lines.append(f"from seedbed.facts.pull import {', '.join(helpers)}")
    lines += ["", "from .base import Base", "", ""]
    declared = f"table = sa.Table(\n    {table.name!r},\n    Base.metadata,\n{body})\n"
    if domains:
        declared += "# The CHECKs of the columns' domains.\n"
        declared += "".join(_domain_check(check, ascii_case) for check in domains)
    source = "\n".join(lines) + declared
    summary = TableSummary(
        table.name, "", len(table.columns), keys, len(fks), len(indexes), len(checks)
    )
    summary.partition_by = table.dialect_options["postgresql"].get("partition_by")
    summary.partitions = len(table.info.get(PARTITIONS, ()))
    return source, summary


def _partition_items(table: sa.Table) -> list[str]:
    """A partitioned table's key, and its partitions that ``db push`` and revisions create.

    The partitions are data in ``info`` (Alembic writes ``info`` into a
    revision's ``create_table``), created right after the table by
    :func:`seedbed.models.base.partition_sql`.
    """
    key = table.dialect_options["postgresql"].get("partition_by")
    if not key:
        return []
    partitions = "".join(f"        {p!r},\n" for p in table.info.get(PARTITIONS, ()))
    return [f"postgresql_partition_by={key!r}", f"info={{{PARTITIONS!r}: [\n{partitions}    ]}}"]


def _base_source(manages_updated_at: bool, domains: dict[str, str]) -> str:
    lines = [
        '"""The base of the models `seedbed db pull` wrote: SEEDBED_MODELS names this folder."""',
        "",
        "from seedbed.facts.catalog import TYPE_JUDGE",
        "from seedbed.facts.pull import SETTINGS_EVALUATOR",
        *(["from seedbed.facts.referenced import DOMAINS"] if domains else []),
        "from seedbed.facts.spec import FROM_CATALOG",
        "from seedbed.models import new_base",
        "from seedbed.models.base import NO_UPDATED_AT_TRIGGER",
        "",
        "Base = new_base()",
        "# CHECKs carry the database's own names.",
        "Base.metadata.info[FROM_CATALOG] = True",
        "# Values of bytea, arrays and other types seedbed does not read: the database reads them.",
        "Base.metadata.info[TYPE_JUDGE] = SETTINGS_EVALUATOR",
    ]
    if not manages_updated_at:
        lines.append("# The namespace has no set_updated_at trigger function: none is declared.")
        lines.append("Base.metadata.info[NO_UPDATED_AT_TRIGGER] = True")
    if domains:
        lines.append("# The namespace's own domains: db push and revisions create them.")
        lines.append("Base.metadata.info[DOMAINS] = {")
        lines += [f"    {name!r}: {definition!r}," for name, definition in domains.items()]
        lines.append("}")
    return "\n".join(lines) + "\n"


def pull(settings: Settings | None = None, out: Path | str = "models") -> PullResult:
    """Write the namespace's tables into folder ``out`` as model modules.

    ``out`` must not exist or be empty: nothing is overwritten. Raises
    :class:`~seedbed.errors.ConfigError` for a namespace without tables or a
    type that cannot be written, before anything is written.
    """
    settings = settings or load_settings()
    schema = settings.schema
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"db pull: {str(out)!r} exists and is not an empty folder")
    engine = get_engine(settings)
    metadata = sa.MetaData(schema=schema)
    with database_errors(f"cannot read the namespace {schema!r}"), engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}, public")
        read = read_catalog_tables(conn, metadata, schema)
        objects = namespace_objects(conn, schema)
        declared_domains = namespace_domains(conn, schema)
        elsewhere = catalog_keys_elsewhere(conn, schema)
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}, public")
        domains = domain_checks(conn, schema)
        left = [
            (str(kind), str(name))
            for kind, name in conn.execute(
                sa.text(_LEFT_ALONE_SQL),
                {"schema": schema, "updated_at": UPDATED_AT_FUNCTION, **UPDATED_AT_TRIGGER_PARTS},
            )
        ]
        manages = updated_at_function_body(conn, schema) is not None
    left += [(f"{HISTORIES[name]}'s migration history", name) for name in read.histories]
    if not metadata.tables:
        raise ConfigError(f"db pull: the namespace {schema!r} has no tables")
    read.finish()
    checks, ascii_case = read.checks, read.ascii_case
    result = PullResult(schema, out, left_alone=left, objects=objects)
    result.elsewhere = [(table, key, target) for table, key, _, target in elsewhere]
    taken: set[str] = set()
    modules: dict[str, str] = {}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        own = [c for c in checks if c.table == table.name]
        keys = {key: sql for name, key, sql, _ in elsewhere if name == table.name}
        own_domains = [c for c in domains if c.table == table.name]
        source, summary = render_table(
            table, schema, own, ascii_case=ascii_case, elsewhere=keys, domains=own_domains
        )
        summary.module = _identifier(table.name, taken)
        modules[summary.module] = source
        result.tables.append(summary)
        for check in own + own_domains:  # table and domain CHECKs together
            rule = _rule(
                check.name,
                check.expression,
                dict(zip(check.columns, check.column_types, strict=True)),
                ascii_case,
                check.enum_types,
            )
            if isinstance(rule, SqlCheck):
                result.in_database += 1
            else:
                result.in_process += 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "base.py").write_text(_base_source(manages, declared_domains), encoding="utf-8")
    for module, source in modules.items():
        (out / f"{module}.py").write_text(source, encoding="utf-8")
    return result


__all__ = [
    "SETTINGS_EVALUATOR",
    "PullResult",
    "TableSummary",
    "catalog_check",
    "domain_check",
    "pull",
    "render_table",
]
