"""The per-table part of the data-model document (see :mod:`seedbed.docs.document`).

One function, :func:`table_section`, writes a table's columns, indexes,
relationships and validation rules in plain words; the helpers beside it
collect enums and JSON shapes for the document's closing sections.
"""

from __future__ import annotations

import inspect

import sqlalchemy as sa

from seedbed.facts import (
    JsonShape,
    Relationship,
    Rule,
    all_rules,
    column_type,
    declaring_class,
    relationships,
    table_keys,
    unique_column_sets,
)
from seedbed.facts.spec import refuses_null
from seedbed.sqltext import postgres_dialect

# What the column's type alone guarantees, worth saying for a seed author.
_TYPE_RULES = {
    "boolean": "`true` or `false`",
    "inet": "a valid IPv4 or IPv6 address (type `inet`)",
    "jsonb": "valid JSON text",
    "timestamptz": "an ISO 8601 timestamp; stored with time zone",
}


def cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def module_path(table: sa.Table) -> str:
    """Where ``table`` is declared, e.g. ``src/seedbed/models/user.py``; empty if unmapped."""
    cls = declaring_class(table)
    return "src/" + cls.__module__.replace(".", "/") + ".py" if cls is not None else ""


def table_purpose(table: sa.Table) -> str:
    """The model's docstring as Markdown: the table's purpose."""
    cls = declaring_class(table)
    doc = inspect.getdoc(cls) if cls is not None else None
    text = doc or table.comment or "(no purpose declared: add a docstring to the model)"
    return text.replace("``", "`")


def _default(column: sa.Column[object]) -> str:
    default = column.server_default
    if isinstance(default, sa.DefaultClause):
        arg = default.arg
        if isinstance(arg, str):
            return f"'{arg}'"
        return str(arg.compile(dialect=postgres_dialect()))
    if isinstance(column.default, sa.ColumnDefault) and column.default.is_scalar:
        return repr(column.default.arg)
    return ""


def _names(columns: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def _constraint_names(table: sa.Table) -> dict[str, str]:
    """Rule name to the CHECK constraint's full name, e.g. ``email_format`` to ``ck_user_...``."""
    declared = [*table.constraints, *(c for col in table.columns for c in col.constraints)]
    return {
        c.info["rule"].name: str(c.info["rule"].name if c.name is None else c.name)
        for c in declared
        if isinstance(c, sa.CheckConstraint) and "rule" in c.info
    }


def _rule_text(rule: Rule, constraint: str) -> str:
    text = f"{rule.description} (`{constraint}`)"
    if isinstance(rule, JsonShape):
        keys = "; ".join(f"`{key}`: {spec.description}" for key, spec in rule.keys.items())
        text += f"; keys: {keys}"
    return text


def _partial_uniques(table: sa.Table) -> list[tuple[tuple[str, ...], str, str]]:
    keys = table_keys(table).unique
    return [(k.columns or k.expressions, k.name, str(k.where)) for k in keys if k.partial]


def _unique_constraint_names(table: sa.Table) -> dict[tuple[str, ...], str]:
    keys = table_keys(table).unique
    return {k.columns: k.name for k in keys if k.whole_rows and k.kind != "primary key"}


def _fk_name(fk: sa.ForeignKey) -> str:
    return str(fk.constraint.name if fk.constraint is not None else fk.name)


def _validation_rules(table: sa.Table) -> list[str]:
    """One line per column (and per multi-column rule), from the same declarations as Pandera."""
    rules = all_rules(table)
    constraint_names = _constraint_names(table)
    unique_names = _unique_constraint_names(table)
    partial = _partial_uniques(table)
    primary = [c.name for c in table.primary_key.columns]
    lines = []
    for column in table.columns:
        facts = []
        if column.primary_key:
            pk = f"`{table.primary_key.name}`"
            if len(primary) == 1:
                facts.append(f"primary key ({pk}): required and unique")
            else:
                facts.append(f"part of the primary key {pk}: required")
        elif refuses_null(column):
            default = _default(column)
            when = f"; when left out, the database fills in `{default}`" if default else ""
            facts.append(f"required (NOT NULL){when}")
        if (column.name,) in unique_column_sets(table):
            facts.append(f"unique (`{unique_names[(column.name,)]}`)")
        for columns, name, where in partial:
            if columns == (column.name,):
                facts.append(f"unique among rows where `{where}` (`{name}`)")
        for fk in sorted(column.foreign_keys, key=_fk_name):
            target = f"{fk.column.table.name}.{fk.column.name}"
            facts.append(f"must match an existing `{target}` (`{_fk_name(fk)}`)")
        if isinstance(column.type, sa.Enum):
            values = ", ".join(f"`{v}`" for v in column.type.enums)
            facts.append(f"one of {values} (enum `{column.type.name}`)")
        elif column_type(column) in _TYPE_RULES:
            facts.append(_TYPE_RULES[column_type(column)])
        for rule in rules:
            if rule.columns[0] == column.name:
                # a domain's CHECK is the domain's, under its own name
                facts.append(_rule_text(rule, constraint_names.get(rule.name, rule.name)))
        if column.info.get("sensitive"):
            facts.append("sensitive: values never appear in reports, logs or errors")
        lines.append(f"- `{column.name}`: " + ("; ".join(facts) or "optional (may be NULL)"))
    for columns, name in sorted(unique_names.items()):
        if len(columns) > 1:
            lines.append(f"- ({_names(columns)}): unique together (`{name}`)")
    for columns, name, where in partial:
        if len(columns) > 1:
            lines.append(f"- ({_names(columns)}): unique together where `{where}` (`{name}`)")
    return lines


def _index_lines(table: sa.Table) -> list[str]:
    keys = table_keys(table)
    lines = [
        f"- `{key.name}`: {key.kind} on ({_names(key.columns)})"
        for key in keys.unique
        if key.kind != "unique index"
    ]
    for index in keys.indexes:
        kind = "unique index" if index.unique else "index"
        text = f"- `{index.name}`: {kind} on ({_names(index.terms)})"
        if index.where is not None:
            text += f" where `{index.where}`"
        purpose = index.purpose or "(no purpose declared in `info['purpose']`)"
        lines.append(f"{text}: {purpose}")
    return lines


def _on_delete(rel: Relationship) -> str:
    if rel.ondelete == "CASCADE":
        return f"deleting a `{rel.parent}` row deletes its `{rel.child}` rows"
    if rel.ondelete == "SET NULL":
        return f"deleting a `{rel.parent}` row sets {_names(rel.columns)} to NULL"
    if rel.ondelete == "SET DEFAULT":
        return f"deleting a `{rel.parent}` row sets {_names(rel.columns)} to their default"
    return f"a `{rel.parent}` row that still has `{rel.child}` rows cannot be deleted"


def join_tables(metadata: sa.MetaData) -> dict[str, tuple[str, str]]:
    """Tables that only join two others (primary key = two foreign keys): name to the pair."""
    found = {}
    for table in metadata.tables.values():
        keys = table_keys(table)
        fks = keys.foreign_keys
        key_columns = {c for fk in fks for c in fk.columns}
        primary = set(keys.primary_key.columns if keys.primary_key else ())
        if len(fks) == 2 and key_columns == primary:
            found[table.name] = (fks[0].parent.name, fks[1].parent.name)
    return found


def _relationship_lines(table: sa.Table, metadata: sa.MetaData) -> list[str]:
    lines = []
    rels = relationships(metadata)
    joins = join_tables(metadata)
    if table.name in joins:
        first, second = joins[table.name]
        lines.append(f"- Joins `{first}` and `{second}`: many-to-many")
    for rel in rels:
        if rel.child == table.name:
            kind = "Many-to-one" if rel.child_many else "One-to-one"
            referred = ", ".join(f"{rel.parent}.{c}" for c in rel.referred_columns)
            lines.append(
                f"- {kind} with `{rel.parent}`: {_names(rel.columns)} → `{referred}` "
                f"(`{rel.name}`), ON DELETE {rel.ondelete}: {_on_delete(rel)}"
            )
    for rel in rels:
        if rel.parent == table.name:
            kind = "One-to-many" if rel.child_many else "One-to-one"
            lines.append(
                f"- {kind} with `{rel.child}`: {rel.phrase} "
                f"(`{rel.child}`.{_names(rel.columns)}, ON DELETE {rel.ondelete})"
            )
    for join, (first, second) in sorted(joins.items()):
        if table.name in (first, second) and join != table.name:
            other = second if table.name == first else first
            lines.append(f"- Many-to-many with `{other}` through `{join}`")
    return lines or ["- None"]


def table_section(table: sa.Table, metadata: sa.MetaData) -> str:
    """The ``### table`` section: module, purpose, columns, indexes, relationships, rules."""
    cls = declaring_class(table)
    where = f"`{module_path(table)}` (class `{cls.__name__}`)" if cls else "(not a mapped class)"
    lines = [
        f"### `{table.name}`",
        "",
        f"**Module**: {where}",
        "",
        f"**Purpose**: {table_purpose(table)}",
        "",
        "**Columns**:",
        "",
        "| Column | Type | Null | Default | Description |",
        "|---|---|---|---|---|",
    ]
    for column in table.columns:
        default = _default(column)
        doc = cell(str(column.info.get("doc", "")))
        if column.info.get("sensitive"):
            doc = f"**S** {doc}".rstrip()
        null = "NOT NULL" if refuses_null(column) else "NULL"
        lines.append(
            f"| `{column.name}` | `{column_type(column)}` | {null} | "
            f"{f'`{cell(default)}`' if default else ''} | {doc} |"
        )
    if any(c.info.get("sensitive") for c in table.columns):
        lines += [
            "",
            "**S**: sensitive; values never appear in validation reports, logs or errors.",
        ]
    lines += ["", "**Indexes**:", "", *_index_lines(table)]
    lines += ["", "**Relationships**:", "", *_relationship_lines(table, metadata)]
    lines += ["", "**Validation Rules**:", "", *_validation_rules(table), "", "---"]
    return "\n".join(lines)


def enum_values(tables: list[sa.Table]) -> dict[str, tuple[list[str], list[str]]]:
    """Enum type name to (values in order, ``table.column`` that use it), sorted by name."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for table in tables:
        for column in table.columns:
            if isinstance(column.type, sa.Enum) and column.type.name:
                entry = found.setdefault(column.type.name, (list(column.type.enums), []))
                entry[1].append(f"{table.name}.{column.name}")
    return dict(sorted(found.items()))


def json_shapes(tables: list[sa.Table]) -> list[tuple[str, str, JsonShape | None]]:
    """(``table.column``, constraint name, declared shape or None) for every JSON column."""
    found = []
    for table in tables:
        shapes = {r.columns[0]: r for r in all_rules(table) if isinstance(r, JsonShape)}
        names = _constraint_names(table)
        for column in table.columns:
            if isinstance(column.type, sa.JSON):
                shape = shapes.get(column.name)
                constraint = names[shape.name] if shape is not None else ""
                found.append((f"{table.name}.{column.name}", constraint, shape))
    return found


__all__ = [
    "cell",
    "enum_values",
    "join_tables",
    "json_shapes",
    "module_path",
    "table_purpose",
    "table_section",
]
