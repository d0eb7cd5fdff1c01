"""The ER diagram as Mermaid text, the form GitHub renders and the data-model document embeds.

>>> from seedbed.facts import declared_metadata
>>> print(mermaid_er(declared_metadata()).splitlines()[0])
erDiagram
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from seedbed.facts.order import ordered_tables
from seedbed.facts.relations import column_keys, column_type, relationships


def _mermaid_comment(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def mermaid_er(metadata: sa.MetaData) -> str:
    """A Mermaid ``erDiagram`` of ``metadata``: entities with typed columns, keys, relationships.

    Each relationship is labelled with the foreign-key column(s), e.g.
    ``user ||--o{ session : "user_id"``. The text ends with a newline.
    """
    lines = ["erDiagram"]
    for table in ordered_tables(metadata):
        lines.append(f"    {table.name} {{")
        for column in table.columns:
            # Mermaid types allow only letters, digits and _-()[]: "numeric(10, 2)" loses a space.
            parts = [re.sub(r"[^A-Za-z0-9_()\[\]-]", "", column_type(column)), column.name]
            keys = column_keys(table, column)
            if keys:
                parts.append(", ".join(keys))
            doc = str(column.info.get("doc", ""))
            if column.info.get("sensitive"):
                doc = f"sensitive: {doc}" if doc else "sensitive"
            if doc:
                parts.append(f'"{_mermaid_comment(doc)}"')
            lines.append("        " + " ".join(parts))
        lines.append("    }")
    for rel in relationships(metadata):
        marker = f"{rel.parent_cardinality}--{rel.child_cardinality}"
        lines.append(f'    {rel.parent} {marker} {rel.child} : "{", ".join(rel.columns)}"')
    return "\n".join(lines) + "\n"


__all__ = ["mermaid_er"]
