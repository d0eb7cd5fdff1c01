"""Foreign keys between tables that one migration creates or drops, in an order that runs.

Alembic puts a new table's foreign keys in its ``CREATE TABLE`` and orders new
tables by their keys, and drops removed tables each with its keys in no
particular order. Tables whose keys form a cycle (``team.owner_id -> person``,
``person.team_id -> team``) fit neither: :func:`keys_after_tables` adds such keys
after every table exists, :func:`keys_before_drops` drops them before any of the
tables goes. Both run in :func:`seedbed.autogen.compare.compare_namespace`, so
``db generate``, ``db check`` and ``db push`` agree, and the downgrade, Alembic's
reverse of the upgrade, comes out in an order that runs too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.autogen.ops import DropUpdatedAtTriggerOp


def keys_after_tables(found: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """``found`` with each foreign key to a table created further on added after the tables.

    Alembic creates a new table's foreign keys in its ``CREATE TABLE`` and orders the
    tables by their keys; tables whose keys form a cycle (``team.owner_id -> person``,
    ``person.team_id -> team``) cannot all come first. Such a key (and one the model
    marks ``use_alter``, which ``CREATE TABLE`` leaves out) becomes its own
    ``create_foreign_key`` after every table is made; the downgrade, reversed, drops it
    before the tables. A key added to an existing table moves there too when its
    parent is created after it.
    """
    created = {
        (op.schema, op.table_name): n
        for n, op in enumerate(found)
        if isinstance(op, ops.CreateTableOp)
    }

    def later(position: int, schema: str | None, table: str) -> bool:
        return created.get((schema, table), -1) > position

    kept: list[ops.MigrateOperation] = []
    moved: list[ops.MigrateOperation] = []
    for position, op in enumerate(found):
        if isinstance(op, ops.CreateTableOp):
            keys = [
                item
                for item in op.columns
                if isinstance(item, sa.ForeignKeyConstraint)
                and (item.use_alter or later(position, *_referred(item)))
            ]
            op.columns = [item for item in op.columns if not any(item is k for k in keys)]
            moved += [_added_key(key) for key in keys]
        elif isinstance(op, ops.ModifyTableOps):
            adds = [
                item
                for item in op.ops
                if isinstance(item, ops.CreateForeignKeyOp)
                and later(position, item.kw.get("referent_schema"), item.referent_table)
            ]
            op.ops = [item for item in op.ops if not any(item is a for a in adds)]
            moved += adds
            if not op.ops:
                continue
        kept.append(op)
    return kept + moved


def keys_before_drops(found: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """``found`` with every foreign key that points at a table it drops dropped first.

    Alembic drops removed tables in no particular order, each with its keys, and
    drops a kept table's key to a removed table with the kept table's changes, after
    the drops; a table that another table still points at (always so in a cycle)
    cannot go. Those keys are dropped before the tables; the downgrade, reversed,
    creates the tables without them and adds them after.
    """
    drops = [op for op in found if isinstance(op, ops.DropTableOp)]
    dropped = {(op.schema, op.table_name) for op in drops}
    first: list[ops.MigrateOperation] = []
    for op in drops:
        table = op._reverse
        if table is None:
            continue
        keys = [
            item
            for item in table.columns
            if isinstance(item, sa.ForeignKeyConstraint)
            and _referred(item) in dropped - {(op.schema, op.table_name)}
        ]
        table.columns = [item for item in table.columns if not any(item is k for k in keys)]
        first += [ops.DropConstraintOp.from_constraint(key) for key in keys]
    kept: list[ops.MigrateOperation] = []
    for change in found:
        if isinstance(change, ops.ModifyTableOps) and (
            (change.schema, change.table_name) not in dropped
        ):
            moved = [item for item in change.ops if _drops_key_to(item, dropped)]
            change.ops = [item for item in change.ops if not any(item is m for m in moved)]
            first += moved
            if not change.ops:
                continue
        kept.append(change)
    if not first:
        return found
    at = kept.index(drops[0])
    while at and isinstance(kept[at - 1], DropUpdatedAtTriggerOp):
        at -= 1  # a dropped table's trigger goes just before it, as before
    return kept[:at] + first + kept[at:]


def _drops_key_to(op: ops.MigrateOperation, dropped: set[tuple[str | None, str]]) -> bool:
    """Does ``op`` drop a foreign key that points at one of the ``dropped`` tables?"""
    added = getattr(op, "_reverse", None) if isinstance(op, ops.DropConstraintOp) else None
    if not isinstance(added, ops.CreateForeignKeyOp):
        return False
    return (added.kw.get("referent_schema"), added.referent_table) in dropped


def _referred(constraint: sa.ForeignKeyConstraint) -> tuple[str | None, str]:
    """The (schema, table) a foreign key points at, read from its target's name."""
    *schema, table, _ = constraint.elements[0].target_fullname.split(".")
    own = constraint.table.schema if constraint.table is not None else None
    return (schema[0] if schema else own), table


def _added_key(constraint: sa.ForeignKeyConstraint) -> ops.CreateForeignKeyOp:
    added = ops.CreateForeignKeyOp.from_constraint(constraint)
    added.kw.pop("use_alter", None)  # an ALTER TABLE of its own already
    return added


__all__ = ["keys_after_tables", "keys_before_drops"]
