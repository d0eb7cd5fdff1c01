"""Entity-relationship diagrams drawn from the models: Mermaid text and a matplotlib figure.

Both read the same facts from a SQLAlchemy ``MetaData`` (tables, columns,
keys, foreign keys), so the two pictures always agree with each other and
with the database. Neither names the schema namespace, so the output does not
change with ``SEEDBED_SCHEMA``.

>>> from seedbed.models import metadata
>>> print(mermaid_er(metadata).splitlines()[0])
erDiagram

In a notebook, ``er_figure(metadata)`` displays itself; elsewhere, save it
with ``er_figure(metadata).savefig("erd.png")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Relationship:
    """One foreign key seen as a relationship: ``parent`` has many (or one) ``child``.

    ``parent_optional`` is true when the child's key columns may be NULL (the
    child need not have a parent); ``child_many`` is false when the key
    columns are unique in the child, making the relationship one-to-one.
    """

    parent: str
    child: str
    columns: tuple[str, ...]
    referred_columns: tuple[str, ...]
    name: str
    ondelete: str
    parent_optional: bool
    child_many: bool

    @property
    def parent_cardinality(self) -> str:
        """Mermaid marker on the parent's end: ``||`` exactly one, ``|o`` zero or one."""
        return "|o" if self.parent_optional else "||"

    @property
    def child_cardinality(self) -> str:
        """Mermaid marker on the child's end: ``o{`` zero or more, ``o|`` zero or one."""
        return "o{" if self.child_many else "o|"

    @property
    def phrase(self) -> str:
        """The relationship in words, e.g. ``one user has zero or more session rows``."""
        parent = "zero or one" if self.parent_optional else "one"
        child = "zero or more" if self.child_many else "zero or one"
        return f"{parent} {self.parent} has {child} {self.child} rows"


def ordered_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """Tables with parents before children, in a stable, readable order.

    Tables are ordered by depth (the longest chain of foreign keys above
    them), then by how many relationships they take part in (the hubs first),
    then by name: ``user`` before ``tag``, ``post_tag`` last.
    """
    tables = list(metadata.sorted_tables)  # dependency order; a valid order for depth
    links = {t.name: 0 for t in tables}
    parents: dict[str, set[str]] = {t.name: set() for t in tables}
    for table in tables:
        for fk in table.foreign_key_constraints:
            parent = fk.referred_table.name
            links[table.name] += 1
            if parent in links:
                links[parent] += 1
                if parent != table.name:
                    parents[table.name].add(parent)
    depth: dict[str, int] = {}
    for table in tables:
        depth[table.name] = 1 + max(
            (depth[p] for p in parents[table.name] if p in depth), default=-1
        )
    return sorted(tables, key=lambda t: (depth[t.name], -links[t.name], t.name))


def column_type(column: sa.Column[object]) -> str:
    """A short, namespace-free PostgreSQL type name: ``text``, ``timestamptz``, ``post_status``."""
    if isinstance(column.type, sa.Enum) and column.type.name:
        return column.type.name
    compiled = column.type.compile(dialect=_POSTGRESQL).lower()
    return {
        "timestamp with time zone": "timestamptz",
        "timestamp without time zone": "timestamp",
        "time with time zone": "timetz",
        "double precision": "float8",
        "character varying": "varchar",
    }.get(compiled, compiled)


def unique_column_sets(table: sa.Table) -> list[tuple[str, ...]]:
    """Column sets that are unique over every row: unique constraints and full unique indexes.

    The primary key is not included; partial unique indexes are not either,
    since they leave some rows out.
    """
    found: list[tuple[str, ...]] = []
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and not isinstance(
            constraint, sa.PrimaryKeyConstraint
        ):
            found.append(tuple(c.name for c in constraint.columns))
    for index in table.indexes:
        partial = index.dialect_options["postgresql"].get("where") is not None
        if (
            index.unique
            and not partial
            and all(isinstance(e, sa.Column) for e in index.expressions)
        ):
            found.append(tuple(c.name for c in index.columns))
    return sorted(set(found))


def column_keys(table: sa.Table, column: sa.Column[object]) -> list[str]:
    """Mermaid key markers for ``column``: ``PK``, ``FK``, ``UK`` (unique on its own)."""
    keys = []
    if column.primary_key:
        keys.append("PK")
    if column.foreign_keys:
        keys.append("FK")
    if (column.name,) in unique_column_sets(table):
        keys.append("UK")
    return keys


def relationships(metadata: sa.MetaData) -> list[Relationship]:
    """Every foreign key in ``metadata`` as a :class:`Relationship`, in a stable order."""
    found = []
    for table in ordered_tables(metadata):
        unique_sets = {frozenset(s) for s in unique_column_sets(table)}
        primary = frozenset(c.name for c in table.primary_key.columns)
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            columns = tuple(c.name for c in fk.columns)
            key = frozenset(columns)
            found.append(
                Relationship(
                    parent=fk.referred_table.name,
                    child=table.name,
                    columns=columns,
                    referred_columns=tuple(e.column.name for e in fk.elements),
                    name=str(fk.name),
                    ondelete=(fk.ondelete or "NO ACTION").upper(),
                    parent_optional=any(c.nullable for c in fk.columns),
                    child_many=key not in unique_sets and key != primary,
                )
            )
    return found


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


# Figure geometry, in data units (one unit per text row).
_BOX_WIDTH = 7.0
_ROW = 1.0
_LAYER_GAP = 4.0
_BOX_GAP = 1.5
_FONT = 8


def _layers(metadata: sa.MetaData) -> dict[str, int]:
    """Layer (column of the picture) per table: children to the right of their parents."""
    tables = ordered_tables(metadata)
    parents: dict[str, set[str]] = {t.name: set() for t in tables}
    for rel in relationships(metadata):
        if rel.parent != rel.child and rel.parent in parents:
            parents[rel.child].add(rel.parent)
    layer: dict[str, int] = {}
    for table in tables:  # parents come first, so their layer is already known
        layer[table.name] = 1 + max(
            (layer[p] for p in parents[table.name] if p in layer), default=-1
        )
    # A root that only has children sits just left of its nearest child, not at the far left.
    for table in reversed(tables):
        name = table.name
        children = [c for c, ps in parents.items() if name in ps]
        if not parents[name] and children:
            layer[name] = max(0, min(layer[c] for c in children) - 1)
    return layer


def er_figure(metadata: sa.MetaData) -> Figure:
    """The ER diagram of ``metadata`` drawn with matplotlib: one box per table, one arrow per FK.

    Boxes list each column with its type and keys; arrows run from the
    foreign-key column to the referenced column, labelled with the
    cardinality at both ends. The layout is computed from the model alone,
    so the same model always gives the same picture. Sensitive columns are
    marked ``S``. Each table's box has
    ``gid`` ``"table:<name>"`` and each arrow ``"fk:<constraint name>"``.
    Uses no pyplot state, so it is safe under any backend.
    """
    # matplotlib is imported here, not at module level: the CLI and the loader
    # import this module (through seedbed.explore) and should not pay for it.
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    layer = _layers(metadata)
    tables = ordered_tables(metadata)
    children = {t.name: 0 for t in tables}
    for rel in relationships(metadata):
        children[rel.parent] += 1
    by_layer: dict[int, list[sa.Table]] = {}
    # Inside a layer, tables with children go on top, nearest the next layer's boxes.
    for table in sorted(tables, key=lambda t: (-children[t.name], t.name)):
        by_layer.setdefault(layer[table.name], []).append(table)

    # Box positions: x per layer; stacked top-down inside a layer.
    origin: dict[str, tuple[float, float]] = {}  # top-left corner of each box
    heights = {t.name: (len(t.columns) + 1) * _ROW for t in tables}
    total_height = max(
        sum(heights[t.name] for t in ts) + _BOX_GAP * (len(ts) - 1) for ts in by_layer.values()
    )
    for index, (_, layer_tables) in enumerate(sorted(by_layer.items())):
        x = index * (_BOX_WIDTH + _LAYER_GAP)
        y = 0.0
        for table in layer_tables:
            origin[table.name] = (x, -y)
            y += heights[table.name] + _BOX_GAP
    width = len(by_layer) * _BOX_WIDTH + (len(by_layer) - 1) * _LAYER_GAP

    figure = Figure(figsize=(max(6.0, width * 0.55), max(4.0, total_height * 0.3)))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_xlim(-0.5, width + 0.5)
    axes.set_ylim(-total_height - 0.5, 0.5)
    axes.set_axis_off()

    def row_y(table: sa.Table, column: str) -> float:
        position = [c.name for c in table.columns].index(column)
        return origin[table.name][1] - (position + 1.5) * _ROW

    for table in tables:
        x, top = origin[table.name]
        height = heights[table.name]
        axes.add_patch(
            FancyBboxPatch(
                (x, top - height),
                _BOX_WIDTH,
                height,
                boxstyle="round,pad=0.05",
                facecolor="white",
                edgecolor="#333333",
                gid=f"table:{table.name}",
            )
        )
        axes.add_patch(
            FancyBboxPatch(
                (x, top - _ROW),
                _BOX_WIDTH,
                _ROW,
                boxstyle="square,pad=0",
                facecolor="#dde6f0",
                edgecolor="#333333",
            )
        )
        axes.text(
            x + _BOX_WIDTH / 2,
            top - _ROW / 2,
            table.name,
            ha="center",
            va="center",
            fontsize=_FONT + 1,
            fontweight="bold",
        )
        for column in table.columns:
            y = row_y(table, column.name)
            keys = ",".join(
                column_keys(table, column) + (["S"] if column.info.get("sensitive") else [])
            )
            axes.text(x + 0.2, y, column.name, va="center", fontsize=_FONT)
            axes.text(
                x + _BOX_WIDTH - 0.2,
                y,
                f"{column_type(column)} {keys}".strip(),
                va="center",
                ha="right",
                fontsize=_FONT - 1,
                color="#555555",
            )

    table_by_name = {t.name: t for t in tables}
    for rel in relationships(metadata):
        child, parent = table_by_name[rel.child], table_by_name[rel.parent]
        start_y = row_y(child, rel.columns[0])
        end_y = row_y(parent, rel.referred_columns[0])
        child_x, parent_x = origin[rel.child][0], origin[rel.parent][0]
        if child_x > parent_x:
            start, end = (child_x, start_y), (parent_x + _BOX_WIDTH, end_y)
            child_label_dx, parent_label_dx = -0.6, 0.6
        else:  # same layer (a self-reference or a cycle): loop around the left side
            start, end = (child_x, start_y), (parent_x, end_y)
            child_label_dx, parent_label_dx = -0.6, -0.6
        axes.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=10,
                connectionstyle="arc3,rad=0.0" if child_x > parent_x else "arc3,rad=0.5",
                color="#1f4e79",
                linewidth=1.0,
                gid=f"fk:{rel.name}",
            )
        )
        many = "N" if rel.child_many else "0..1"
        one = "0..1" if rel.parent_optional else "1"
        axes.text(start[0] + child_label_dx, start[1] + 0.3, many, fontsize=_FONT - 1, ha="center")
        axes.text(end[0] + parent_label_dx, end[1] + 0.3, one, fontsize=_FONT - 1, ha="center")
    return figure


__all__ = [
    "Relationship",
    "column_keys",
    "column_type",
    "er_figure",
    "mermaid_er",
    "ordered_tables",
    "relationships",
    "unique_column_sets",
]
