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

#: A name Mermaid takes as it is, for an entity or an attribute, unless it is a keyword below.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: Words Mermaid's erDiagram reads as keywords (any case): where an entity's name stands, and
#: where an attribute's does.
_ENTITY_KEYWORDS = frozenset(
    {"erdiagram", "acctitle", "accdescr", "classdef", "class", "style", "end", "subgraph"}
    | {"one", "many", "to"}
)
_ATTRIBUTE_KEYWORDS = frozenset({"pk", "fk", "uk"})


def _mermaid_comment(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def _entity(name: str) -> str:
    """A table's name as Mermaid reads it: as it is, or quoted when it is no plain word."""
    if _WORD.fullmatch(name) and name.lower() not in _ENTITY_KEYWORDS:
        return name
    return f'"{_mermaid_comment(name)}"'


def _attribute(name: str, taken: set[str]) -> str:
    """A column's name as a Mermaid word: as it is when it is one, else with each other
    character an underscore (and one before a leading digit or a keyword), numbered apart
    from ``taken``."""
    if _WORD.fullmatch(name) and name.lower() not in _ATTRIBUTE_KEYWORDS and name not in taken:
        taken.add(name)
        return name
    base = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if not _WORD.fullmatch(base) or base.lower() in _ATTRIBUTE_KEYWORDS:
        base = f"_{base}"
    word, number = base, 1
    while word in taken:
        number += 1
        word = f"{base}_{number}"
    taken.add(word)
    return word


def mermaid_er(metadata: sa.MetaData) -> str:
    """A Mermaid ``erDiagram`` of ``metadata``: entities with typed columns, keys, relationships.

    Each relationship is labelled with the foreign-key column(s), e.g.
    ``user ||--o{ session : "user_id"``. A table whose name is not a plain Mermaid word
    (``order items``, ``class``) is quoted; a column whose name is not one is drawn under a
    word (``Order_Id``) with its name first in the comment. The text ends with a newline.
    """
    lines = ["erDiagram"]
    for table in ordered_tables(metadata):
        lines.append(f"    {_entity(table.name)} {{")
        names: set[str] = set()
        for column in table.columns:
            # Mermaid types allow only letters, digits and _-()[]: "numeric(10, 2)" loses a space.
            name = _attribute(column.name, names)
            parts = [re.sub(r"[^A-Za-z0-9_()\[\]-]", "", column_type(column)), name]
            keys = column_keys(table, column)
            if keys:
                parts.append(", ".join(keys))
            doc = str(column.info.get("doc", ""))
            if column.info.get("sensitive"):
                doc = f"sensitive: {doc}" if doc else "sensitive"
            if name != column.name:
                doc = f"{column.name}: {doc}" if doc else column.name
            if doc:
                parts.append(f'"{_mermaid_comment(doc)}"')
            lines.append("        " + " ".join(parts))
        lines.append("    }")
    for rel in relationships(metadata):
        marker = f"{rel.parent_cardinality}--{rel.child_cardinality}"
        label = _mermaid_comment(", ".join(rel.columns))
        lines.append(f'    {_entity(rel.parent)} {marker} {_entity(rel.child)} : "{label}"')
    return "\n".join(lines) + "\n"
