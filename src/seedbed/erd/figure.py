"""The ER diagram as a matplotlib figure: boxes in layers, edges in the gaps between them.

Part of :mod:`seedbed.erd` (import it from there); the facts come from the
same functions of :mod:`seedbed.facts.relations` and :mod:`seedbed.facts.order` as
the Mermaid text, so the two pictures always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from seedbed.facts import order, relations

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    tables = order.ordered_tables(metadata)
    parents: dict[str, set[str]] = {t.name: set() for t in tables}
    for rel in relations.relationships(metadata):
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
    for rel in relations.relationships(metadata):
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
    tables = order.ordered_tables(metadata)
    layout = _layout(metadata, tables)
    by_name = {t.name: t for t in tables}
    step = _BOX_WIDTH + _LAYER_GAP
    lanes: dict[int, list[str]] = {}  # gap left of layer i -> edges with a lane in it
    plans = []
    for rel in relations.relationships(metadata):
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
        keys = relations.column_keys(table, column)
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
            " ".join([relations.column_type(column), *extra]),
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

    tables = order.ordered_tables(metadata)
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
    for rel in relations.relationships(metadata):
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


__all__ = ["edge_paths", "er_figure"]
