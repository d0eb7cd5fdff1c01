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
from typing import TYPE_CHECKING, Any

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
_BOX_WIDTH = 13.0
_KEY_WIDTH = 1.9  # the left gutter of a box, where PK and FK are marked
_ROW = 1.0
_LAYER_GAP = 5.0
_BOX_GAP = 1.5
_FONT = 10
_INCHES_PER_UNIT = 0.27
_PK_COLOR = "#8a1c1c"
_FK_COLOR = "#1f4e79"


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


@dataclass(frozen=True)
class _Layout:
    """Where every box is: top-left corners, heights, layer x positions, overall size."""

    origin: dict[str, tuple[float, float]]
    heights: dict[str, float]
    layer_x: dict[str, float]
    width: float
    height: float

    def row_y(self, table: sa.Table, column: str) -> float:
        position = [c.name for c in table.columns].index(column)
        return self.origin[table.name][1] - (position + 1.5) * _ROW


def _layout(metadata: sa.MetaData, tables: list[sa.Table]) -> _Layout:
    layer = _layers(metadata)
    children = {t.name: 0 for t in tables}
    for rel in relationships(metadata):
        children[rel.parent] += 1
    by_layer: dict[int, list[sa.Table]] = {}
    # Inside a layer, tables with children go on top, nearest the next layer's boxes.
    for table in sorted(tables, key=lambda t: (-children[t.name], t.name)):
        by_layer.setdefault(layer[table.name], []).append(table)
    heights = {t.name: (len(t.columns) + 1) * _ROW for t in tables}
    origin: dict[str, tuple[float, float]] = {}
    layer_x: dict[str, float] = {}
    for index, (_, layer_tables) in enumerate(sorted(by_layer.items())):
        x = index * (_BOX_WIDTH + _LAYER_GAP)
        y = 0.0
        for table in layer_tables:
            origin[table.name] = (x, -y)
            layer_x[table.name] = index
            y += heights[table.name] + _BOX_GAP
    height = max(
        sum(heights[t.name] for t in ts) + _BOX_GAP * (len(ts) - 1) for ts in by_layer.values()
    )
    width = len(by_layer) * _BOX_WIDTH + (len(by_layer) - 1) * _LAYER_GAP
    return _Layout(origin, heights, layer_x, width, height)


def edge_paths(metadata: sa.MetaData) -> dict[str, list[tuple[float, float]]]:
    """The polyline of every foreign key's arrow, child column to parent column, by name.

    Edges run only through the gaps between layers of boxes and above the
    top row, never under a box: from the child's left side into a lane of
    the gap to its left, along it, and into the parent's right side. An edge
    that would have to cross a layer goes over the top of the picture; a
    self-reference loops in the gap left of its table.
    """
    tables = ordered_tables(metadata)
    layout = _layout(metadata, tables)
    by_name = {t.name: t for t in tables}
    step = _BOX_WIDTH + _LAYER_GAP
    lanes: dict[int, list[str]] = {}  # gap left of layer i -> edges with a lane in it
    plans = []
    for rel in relationships(metadata):
        child_layer = int(layout.layer_x[rel.child])
        parent_layer = int(layout.layer_x[rel.parent])
        # the gap the edge leaves the child by, and the gap it enters the parent by
        gaps = [child_layer]
        if child_layer > parent_layer + 1:
            gaps.append(parent_layer + 1)
        elif child_layer < parent_layer:
            gaps.append(parent_layer)
        for gap in gaps:
            lanes.setdefault(gap, []).append(rel.name)
        plans.append((rel, child_layer, parent_layer, gaps))

    def lane_x(gap: int, name: str) -> float:
        names = lanes[gap]
        left = gap * step - _LAYER_GAP
        return left + _LAYER_GAP * (names.index(name) + 1) / (len(names) + 1)

    paths: dict[str, list[tuple[float, float]]] = {}
    over = 0
    for rel, child_layer, parent_layer, gaps in plans:
        child, parent = by_name[rel.child], by_name[rel.parent]
        start = (layout.origin[rel.child][0], layout.row_y(child, rel.columns[0]))
        end_y = layout.row_y(parent, rel.referred_columns[0])
        into_right = parent_layer < child_layer
        end_x = layout.origin[rel.parent][0] + (_BOX_WIDTH if into_right else 0.0)
        first = lane_x(gaps[0], rel.name)
        points = [start, (first, start[1])]
        if len(gaps) > 1:
            over += 1
            top = 0.9 + 0.6 * over
            last = lane_x(gaps[-1], rel.name)
            points += [(first, top), (last, top), (last, end_y)]
        else:
            points.append((first, end_y))
        points.append((end_x, end_y))
        paths[rel.name] = points
    return paths


def _draw_box(axes: Any, table: sa.Table, layout: _Layout) -> None:
    from matplotlib.patches import FancyBboxPatch

    x, top = layout.origin[table.name]
    height = layout.heights[table.name]
    axes.add_patch(
        FancyBboxPatch(
            (x, top - height),
            _BOX_WIDTH,
            height,
            boxstyle="round,pad=0.05",
            facecolor="white",
            edgecolor="#333333",
            gid=f"table:{table.name}",
            zorder=2,
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
            zorder=2,
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
        zorder=3,
    )
    for column in table.columns:
        y = layout.row_y(table, column.name)
        keys = column_keys(table, column)
        marks = [k for k in keys if k in ("PK", "FK")]
        for i, mark in enumerate(marks):
            axes.text(
                x + 0.15 + i * 0.85,
                y,
                mark,
                va="center",
                fontsize=_FONT - 3,
                fontweight="bold",
                color=_PK_COLOR if mark == "PK" else _FK_COLOR,
                zorder=3,
            )
        axes.text(
            x + _KEY_WIDTH,
            y,
            column.name,
            va="center",
            fontsize=_FONT,
            fontweight="bold" if column.primary_key else "normal",
            color=_FK_COLOR if column.foreign_keys else "black",
            zorder=3,
        )
        extra = [k for k in keys if k not in marks] + (
            ["S"] if column.info.get("sensitive") else []
        )
        axes.text(
            x + _BOX_WIDTH - 0.2,
            y,
            " ".join([column_type(column), *extra]),
            va="center",
            ha="right",
            fontsize=_FONT - 1,
            color="#555555",
            zorder=3,
        )


def er_figure(metadata: sa.MetaData) -> Figure:
    """The ER diagram of ``metadata`` drawn with matplotlib: one box per table, one arrow per FK.

    Boxes list each column with its type; a left gutter marks primary-key
    (``PK``, the name in bold) and foreign-key columns (``FK``, the name in
    blue); unique (``UK``) and sensitive (``S``) columns are marked after
    the type. Arrows run from the foreign-key column to the referenced
    column along :func:`edge_paths` (never under a box), labelled with the
    cardinality at both ends. The layout is computed from the model alone, so
    the same model always gives the same picture. Each table's box has
    ``gid`` ``"table:<name>"`` and each arrow ``"fk:<constraint name>"``.
    Uses no pyplot state, so it is safe under any backend.
    """
    # matplotlib is imported here, not at module level: the CLI and the loader
    # import this module (through seedbed.explore) and should not pay for it.
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    tables = ordered_tables(metadata)
    layout = _layout(metadata, tables)
    paths = edge_paths(metadata)
    top = max((y for points in paths.values() for _, y in points), default=0.0)
    top = max(top, 0.0) + 0.8
    figure = Figure(
        figsize=(
            max(6.0, (layout.width + 1.5) * _INCHES_PER_UNIT),
            max(4.0, (layout.height + top + 1.0) * _INCHES_PER_UNIT),
        )
    )
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    left = min((x for points in paths.values() for x, _ in points), default=0.0)
    axes.set_xlim(min(left, 0.0) - 1.0, layout.width + 0.5)
    axes.set_ylim(-layout.height - 0.6, top)
    axes.set_axis_off()
    for table in tables:
        _draw_box(axes, table, layout)
    for rel in relationships(metadata):
        points = paths[rel.name]
        axes.add_patch(
            FancyArrowPatch(
                path=MplPath(points),
                arrowstyle="-|>",
                mutation_scale=12,
                color=_FK_COLOR,
                linewidth=1.1,
                gid=f"fk:{rel.name}",
                zorder=1,
            )
        )
        many = "N" if rel.child_many else "0..1"
        one = "0..1" if rel.parent_optional else "1"
        (sx, sy), (ex, ey) = points[0], points[-1]
        end_dx = 0.45 if ex > points[-2][0] else -0.45
        for lx, ly, text in ((sx - 0.45, sy + 0.3, many), (ex - end_dx, ey + 0.3, one)):
            axes.text(lx, ly, text, fontsize=_FONT - 1, ha="center", color=_FK_COLOR)
    return figure


__all__ = [
    "Relationship",
    "column_keys",
    "column_type",
    "edge_paths",
    "er_figure",
    "mermaid_er",
    "ordered_tables",
    "relationships",
    "unique_column_sets",
]
