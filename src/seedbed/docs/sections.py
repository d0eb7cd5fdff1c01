"""The model-wide closing sections of the data-model document (see :mod:`seedbed.docs.document`).

Soft deletes, indexing strategy, data-integrity rules and the model's file
structure, each read from the models (keys and indexes through
:func:`seedbed.facts.keys.table_keys`).
"""

from __future__ import annotations

import sqlalchemy as sa

from seedbed.docs.tables import module_path
from seedbed.facts import (
    NAMING_CONVENTION,
    ordered_tables,
    relationships,
    table_keys,
    table_order,
)
from seedbed.facts.spec import columns_by_name


def soft_delete_section(tables: list[sa.Table]) -> str:
    soft = [t for t in tables if "deleted_at" in columns_by_name(t)]
    lines = ["## Soft Deletes", ""]
    if not soft:
        return "\n".join([*lines, "No table is soft-deleted."])
    names = ", ".join(f"`{t.name}`" for t in soft)
    lines += [
        f"Soft-deleted tables: {names}. A row is deleted by setting `deleted_at`; "
        "live rows have `deleted_at IS NULL`. Partial indexes cover only live rows:",
        "",
    ]
    for table in soft:
        for index in table_keys(table).indexes:
            if index.where is not None and "deleted_at" in index.where:
                lines.append(f"- `{index.name}` on `{table.name}`: `WHERE {index.where}`")
    lines += ["", "Query pattern:", "", "```sql", "SELECT ... WHERE deleted_at IS NULL", "```"]
    return "\n".join(lines)


def indexing_section(metadata: sa.MetaData) -> str:
    lines = [
        "## Performance Considerations",
        "",
        "### Indexing Strategy",
        "",
        "- **Primary keys** and **unique constraints** are indexed by PostgreSQL.",
        "- **Foreign keys** used in joins and cascades get an index whose first column is "
        "the key column:",
        "",
        "| Foreign key | Columns | Index |",
        "|---|---|---|",
    ]
    tables = {t.name: t for t in ordered_tables(metadata)}
    for rel in relationships(metadata):
        index = leading_index(tables[rel.child], rel.columns)
        shown = f"`{index}`" if index else "**none**"
        lines.append(f"| `{rel.name}` | `{rel.child}`.({', '.join(rel.columns)}) | {shown} |")
    lines += [
        "",
        "- **Partial indexes** serve queries on live or published rows only; see each "
        "table's indexes.",
        "- Index choices and query plans are measured in the notebooks under `notebooks/`.",
    ]
    return "\n".join(lines)


def leading_index(table: sa.Table, columns: tuple[str, ...]) -> str | None:
    """Name of an index (or the primary key) whose leading columns are ``columns``."""
    keys = table_keys(table)
    pk = [(k.name, k.columns) for k in keys.unique if k.kind == "primary key"]
    indexes = [(i.name, i.terms) for i in keys.indexes if i.where is None]
    constraints = [(k.name, k.columns) for k in keys.unique if k.kind == "unique constraint"]
    candidates = [*pk, *indexes, *constraints]
    for name, indexed in candidates:
        if tuple(indexed[: len(columns)]) == columns:
            return name
    return None


def integrity_section(metadata: sa.MetaData | None = None) -> str:
    lines = [
        "## Data Integrity Rules",
        "",
        "1. **Foreign keys**: `sa.ForeignKey(..., ondelete=...)`; the on-delete behaviour is "
        "listed with each relationship.",
        "2. **NOT NULL**: `nullable=False` for required columns.",
        "3. **Unique**: `unique=True` or `sa.UniqueConstraint`; partial uniqueness with a "
        "unique `sa.Index(..., postgresql_where=...)`.",
        "4. **Checks**: declared once as rule objects in `src/seedbed/models/rules.py` and "
        "attached with `checks(...)`; each becomes a named CHECK constraint and a Pandera check.",
        "5. **Defaults**: `server_default=...`, so that every writer gets them.",
        *_cycles(metadata),
        "",
        "Constraint and index names follow the naming convention in "
        "`src/seedbed/models/base.py`; validation reports quote them:",
        "",
        "| Kind | Name pattern |",
        "|---|---|",
    ]
    kinds = {"pk": "primary key", "fk": "foreign key", "uq": "unique", "ix": "index"}
    kinds["ck"] = "check"
    for key, pattern in NAMING_CONVENTION.items():
        if key not in kinds:  # a token the patterns use (an unnamed CHECK's name)
            continue
        shown = pattern.replace("%(", "<").replace(")s", ">")
        lines.append(f"| {kinds.get(key, key)} | `{shown}` |")
    return "\n".join(lines)


def _cycles(metadata: sa.MetaData | None) -> list[str]:
    """One item per cycle of foreign keys: which tables, and the key added after them."""
    if metadata is None:
        return []
    order = table_order(metadata)
    items: list[str] = []
    for cycle in order.cycles:
        names = ", ".join(f"`{t.name}`" for t in cycle)
        later = ", ".join(f"`{k.key.name}`" for k in order.later if k.table in cycle)
        items.append(
            f"{6 + len(items)}. **A cycle of foreign keys**: {names} point at each other "
            f"({order.describe(cycle)}). Their tables are created first and {later} "
            "added after them; a load writes their rows together and checks the keys after."
        )
    return items


def structure_section(tables: list[sa.Table]) -> str:
    lines = ["## Model Structure", "", "```", "src/seedbed/models/"]
    lines.append("├── __init__.py        # imports every table module; `metadata`, `metadata_for`")
    lines.append("├── base.py            # Base, namespace, naming convention, updated_at trigger")
    lines.append("├── rules.py           # validation rules, each declared once")
    modules = sorted({module_path(t).rsplit("/", 1)[-1]: t.name for t in tables}.items())
    for position, (module, table) in enumerate(modules):
        branch = "└──" if position == len(modules) - 1 else "├──"
        lines.append(f"{branch} {module:<18} # table {table}")
    lines += ["```", "", "Adding a table means adding one module there; this document then "]
    lines[-1] += "lists it after `seedbed docs`."
    return "\n".join(lines)


__all__ = [
    "indexing_section",
    "integrity_section",
    "leading_index",
    "soft_delete_section",
    "structure_section",
]
