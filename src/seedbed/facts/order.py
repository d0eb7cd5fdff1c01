"""The model's one table order: parents first, cycles of foreign keys included.

Everything that needs the tables in order (loading, synthetic data, docs, the
ER diagram, explore, autogenerate) asks :func:`table_order` or
:func:`ordered_tables`, never ``MetaData.sorted_tables``, which warns about a
cycle of foreign keys and then ignores its keys. A cycle
(``team.owner_id -> person``, ``person.team_id -> team``) keeps its NOT NULL keys
in the order and names the key that closes it (:class:`LaterKey`);
:func:`defer_later_keys` marks that key ``use_alter``, so SQLAlchemy and Alembic
create the tables first and add it after them.

>>> from seedbed.facts import declared_metadata
>>> [t.name for t in ordered_tables(declared_metadata())][:2]
['user', 'tag']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from seedbed.facts.declaration import named_column
from seedbed.facts.keys import ForeignKeySpec, table_keys
from seedbed.facts.stored import StoredMetadata

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class LaterKey:
    """A foreign key whose parent table comes after its own table in :func:`table_order`.

    Such a key closes a cycle of foreign keys between tables: it is added
    after the tables are created (``use_alter``), and synthetic rows fill it
    once its parent's rows exist. ``required`` is true when its columns are
    NOT NULL, so a row cannot leave it empty until then.
    """

    table: sa.Table
    key: ForeignKeySpec
    required: bool


@dataclass(frozen=True)
class TableOrder:
    """The model's tables in one order every writer and reader uses; see :func:`table_order`.

    ``tables`` lists parents before children; ``cycles`` the groups of two or
    more tables whose foreign keys reach each other (each group in table
    order); ``later`` the keys that point at a table further on, one or more per
    cycle. ``unbroken`` holds the cycles in which every key is NOT NULL: no row
    of such a cycle can be inserted before the others' rows exist.
    """

    tables: tuple[sa.Table, ...]
    cycles: tuple[tuple[sa.Table, ...], ...]
    later: tuple[LaterKey, ...]
    unbroken: tuple[tuple[sa.Table, ...], ...]

    def later_keys(self, table: sa.Table) -> list[ForeignKeySpec]:
        """The keys of ``table`` whose parent comes after it."""
        return [later.key for later in self.later if later.table is table]

    def describe(self, cycle: tuple[sa.Table, ...]) -> str:
        """The keys of ``cycle`` in words: ``team.owner_id -> person, person.team_id -> team``."""
        members = set(cycle)
        return ", ".join(
            f"{table.name}.{', '.join(fk.columns)} -> {fk.parent.name}"
            for table in cycle
            for fk in table_keys(table).foreign_keys
            if fk.parent in members and fk.parent is not table
        )


@dataclass(frozen=True)
class _Edge:
    """``child`` has a foreign key ``key`` to another table of the model."""

    child: sa.Table
    key: ForeignKeySpec
    required: bool

    @property
    def parent(self) -> sa.Table:
        return self.key.parent


def _edges(tables: list[sa.Table]) -> list[_Edge]:
    members = set(tables)
    edges = []
    for table in tables:
        for fk in table_keys(table).foreign_keys:
            if fk.parent is not table and fk.parent in members:
                required = not all(named_column(table, c).nullable for c in fk.columns)
                edges.append(_Edge(table, fk, required))
    return edges


def _components(tables: list[sa.Table], edges: list[_Edge]) -> dict[sa.Table, int]:
    """Each table's strongly connected component (Tarjan's algorithm, without recursion)."""
    children: dict[sa.Table, list[sa.Table]] = {t: [] for t in tables}
    for edge in edges:
        children[edge.parent].append(edge.child)
    index: dict[sa.Table, int] = {}
    low: dict[sa.Table, int] = {}
    component: dict[sa.Table, int] = {}
    stack: list[sa.Table] = []
    components: list[sa.Table] = []
    for root in tables:
        if root in index:
            continue
        work = [(root, iter(children[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, pending = work[-1]
            step = next(pending, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    work.append((step, iter(children[step])))
                elif step not in component:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:  # the root of a component: its members are on top
                number = len(components)
                components.append(node)
                while True:
                    member = stack.pop()
                    component[member] = number
                    if member is node:
                        break
    return component


def _reaches(kept: dict[sa.Table, set[sa.Table]], start: sa.Table, goal: sa.Table) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node is goal:
            return True
        for child in kept[node] - seen:
            seen.add(child)
            todo.append(child)
    return False


def table_order(metadata: sa.MetaData) -> TableOrder:
    """The tables of ``metadata`` with parents first, cycles of foreign keys included.

    Tables are ordered by depth (the longest chain of foreign keys above
    them), then by how many relationships they take part in (the hubs first),
    then by name: ``user`` before ``tag``, ``post_tag`` last. Inside a cycle
    (``team.owner_id -> person`` and ``person.team_id -> team``) the keys that
    are NOT NULL are kept in the order first, then the nullable ones while
    they close no loop; the keys left over point further on (``later``).
    A self-reference is no cycle: a table's rows may point at each other.
    The model's snapshot (a :class:`~seedbed.facts.stored.StoredMetadata`) holds the order
    read from its declaration.
    """
    if isinstance(metadata, StoredMetadata):
        return metadata.order
    tables = sorted(metadata.tables.values(), key=lambda t: t.key)
    edges = _edges(tables)
    component = _components(tables, edges)
    kept: dict[sa.Table, set[sa.Table]] = {t: set() for t in tables}
    inside = []
    for edge in edges:
        if component[edge.parent] == component[edge.child]:
            inside.append(edge)
        else:
            kept[edge.parent].add(edge.child)
    later = []
    for edge in sorted(inside, key=lambda e: (not e.required, e.child.name, e.key.name)):
        if _reaches(kept, edge.child, edge.parent):
            later.append(LaterKey(edge.child, edge.key, edge.required))
        else:
            kept[edge.parent].add(edge.child)
    order = _by_depth(tables, kept)
    groups: dict[int, list[sa.Table]] = {}
    for table in order:
        groups.setdefault(component[table], []).append(table)
    cycles = tuple(tuple(group) for group in groups.values() if len(group) > 1)
    unbroken = tuple(
        cycle for cycle in cycles if any(k.required and k.table in cycle for k in later)
    )
    position = {t: n for n, t in enumerate(order)}
    later.sort(key=lambda k: (position[k.table], k.key.name))
    return TableOrder(tuple(order), cycles, tuple(later), unbroken)


def _by_depth(tables: list[sa.Table], kept: dict[sa.Table, set[sa.Table]]) -> list[sa.Table]:
    """``tables`` sorted by (depth over the ``kept`` edges, hubs first, name)."""
    links = {t: 0 for t in tables}
    for table in tables:
        for fk in table_keys(table).foreign_keys:
            links[table] += 1
            if fk.parent in links:
                links[fk.parent] += 1
    parents: dict[sa.Table, int] = {t: 0 for t in tables}
    for children in kept.values():
        for child in children:
            parents[child] += 1
    depth = {t: 0 for t in tables}
    ready = [t for t in tables if not parents[t]]
    while ready:
        table = ready.pop()
        for child in kept[table]:
            depth[child] = max(depth[child], depth[table] + 1)
            parents[child] -= 1
            if not parents[child]:
                ready.append(child)
    return sorted(tables, key=lambda t: (depth[t], -links[t], t.name))


def ordered_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """Tables with parents before children, in a stable, readable order (:func:`table_order`).

    Every part of seedbed that needs the tables in order asks this (or
    :func:`table_order`), never ``MetaData.sorted_tables``, which warns about,
    and then ignores, a cycle of foreign keys.
    """
    return list(table_order(metadata).tables)


#: ``MetaData.info`` key: the tables whose cycles :func:`defer_later_keys` has marked.
_DEFERRED = "seedbed_later_keys"


def defer_later_keys(metadata: sa.MetaData) -> sa.MetaData:
    """Mark each foreign key of ``metadata`` that points further on (``later``) ``use_alter``.

    SQLAlchemy then creates the tables of a cycle first and adds these keys
    after them (``create_all``; seedbed's migrations do the same), and its
    own ordering (``MetaData.sorted_tables``, which Alembic uses) sees no
    cycle to warn about. Done once per set of tables; returns ``metadata``.
    """
    names = frozenset(metadata.tables)
    if metadata.info.get(_DEFERRED) == names:
        return metadata
    for later in table_order(metadata).later:
        for constraint in later.table.foreign_key_constraints:
            if str(constraint.name) == later.key.name:
                constraint.use_alter = True
    metadata.info[_DEFERRED] = names
    return metadata


__all__ = ["LaterKey", "TableOrder", "defer_later_keys", "ordered_tables", "table_order"]
