"""Valid rows for any table, from its declaration alone.

:func:`generate_table` drafts a table's rows in four steps, each asking the
model rather than knowing table names:

1. **Recipe columns.** A table may have a recipe (:mod:`.recipes`) that
   supplies realistic columns and the row count; those are trusted as given.
2. **Foreign keys.** Each remaining foreign key takes its values from rows
   already generated for the parent, drawn with skew (:func:`Context.children`):
   many parents get no children, a few get many. Nullable ones are sometimes NULL.
3. **Column types.** Every other column gets values of its type
   (:mod:`.values`), distinct where a unique key needs them; nullable ones
   are NULL in some rows. Columns whose server default is computed (``now()``)
   are left out for the database to fill, unless a key or rule needs them.
4. **Rules and keys.** Every rule on a drafted column makes its rows valid
   (its fill in :mod:`.fills`); rows that still fail a rule's ``passes`` or repeat a
   unique key (including partial unique indexes) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from seedbed.errors import GenerateError
from seedbed.facts import ForeignKeySpec, Rule, TableSpec, UniqueKey, table_spec
from seedbed.facts.spec import columns_by_name, named_column
from seedbed.synthetic import arrays
from seedbed.synthetic.fills import fill, passing, redraw
from seedbed.synthetic.values import NoValues, column_values

NULL_FRACTION = 0.1


@dataclass
class Context:
    """What one generation run knows: its size, seed and the tables made so far (typed)."""

    users: int
    seed: int
    roots: int | None = None  # rows of each table without a parent; None: see default_rows
    tables: dict[str, pa.Table] = field(default_factory=dict)
    _activity: dict[str, np.ndarray] = field(default_factory=dict)

    def rng(self, *names: str) -> np.random.Generator:
        return arrays.stream(self.seed, *names)

    def activity(self, parent: str) -> np.ndarray:
        """One weight per generated row of ``parent``; the same for all of its child tables."""
        if parent not in self._activity:
            rows = self.tables[parent].num_rows
            self._activity[parent] = arrays.activity(self.rng(parent, "activity"), rows)
        return self._activity[parent]

    def children(self, parent: str, n: int, purpose: str) -> np.ndarray:
        """Parent row numbers for ``n`` children, skewed by the parent's activity."""
        return arrays.assign(self.rng(parent, purpose), self.activity(parent), n)


@dataclass(frozen=True)
class Recipe:
    """Hand-tuned columns for one table: ``build`` returns them (all of one length).

    Columns a recipe does not return are drafted generically; ``omit`` names
    nullable columns to leave out of the file altogether.
    """

    build: Callable[[Context], dict[str, pa.Array]]
    omit: tuple[str, ...] = ()


class TableDraft:
    """The rows of one table being generated; what a rule's fill works on (a ``fills.Draft``)."""

    def __init__(self, table: sa.Table, spec: TableSpec, num_rows: int, rng: np.random.Generator):
        self.table, self.spec, self.num_rows, self.rng = table, spec, num_rows, rng
        self.columns: dict[str, pa.Array] = {}
        self.fixed = frozenset(c for fk in spec.foreign_keys for c in fk.columns)

    def column(self, name: str) -> pa.Array:
        return self.columns[name]

    def candidates(self, name: str) -> pa.Array:
        values = column_values(
            named_column(self.table, name), self.spec.columns[name], self.num_rows, self.rng
        )
        current = self.columns.get(name)
        return values if current is None else values.cast(current.type)

    def nullable(self, name: str) -> bool:
        return self.spec.columns[name].nullable

    def set(self, name: str, values: pa.Array) -> None:
        current = self.columns.get(name)
        values = arrays.single(values)
        if current is not None and values.type != current.type:
            values = values.cast(current.type)
        self.columns[name] = values

    def keep(self, rows: np.ndarray) -> None:
        mask = pa.array(rows)
        self.columns = {name: values.filter(mask) for name, values in self.columns.items()}
        self.num_rows = int(rows.sum())


def is_root(table: sa.Table, later: Sequence[ForeignKeySpec] = ()) -> bool:
    """Does ``table`` have no parent (no foreign key to another table, but the ``later``
    ones, whose parents come after it in a cycle)?"""
    postponed = {fk.name for fk in later}
    return all(fk.parent is table or fk.name in postponed for fk in table_spec(table).foreign_keys)


def default_rows(
    table: sa.Table, users: int, roots: int | None = None, later: Sequence[ForeignKeySpec] = ()
) -> int:
    """Rows for a table nobody wrote a recipe for: one per user, or a lookup table's few.

    With ``roots``, a table without a parent (:func:`is_root`; the first made of a
    cycle is one) gets that many rows instead, and the others one per user as before.
    """
    if roots is not None:
        return roots if is_root(table, later) else users
    return users if table.foreign_keys else max(8, users // 200)


def _referenced(table: sa.Table) -> set[str]:
    """Columns of ``table`` that some foreign key in its metadata points at."""
    found: set[str] = set()
    for other in table.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table is table:
                found.add(fk.column.name)
    return found


def _needed(table: sa.Table, spec: TableSpec) -> set[str]:
    """Columns that must be in the file even when the database has a default for them."""
    needed = {c.name for c in table.primary_key.columns} | _referenced(table)
    for key in spec.unique_keys:
        needed.update(key.columns)
    for fk in spec.foreign_keys:
        needed.update(fk.columns)
    for rule in spec.rules:
        needed.update(rule.rule.columns)
    return needed


def _distinct_columns(spec: TableSpec, fk_columns: set[str]) -> set[str]:
    """One non-foreign-key column per unique key, to be given distinct values."""
    chosen: set[str] = set()
    for key in spec.unique_keys:
        free = [c for c in key.columns if c not in fk_columns]
        if free and not chosen.intersection(free):
            chosen.add(free[0])
    return chosen


def _foreign_key(ctx: Context, draft: TableDraft, fk: ForeignKeySpec) -> None:
    parent = fk.parent
    if parent is draft.table:
        source = pa.table({c: draft.columns[c] for c in fk.parent_columns})
    elif parent.name in ctx.tables and ctx.tables[parent.name].schema.names:
        source = ctx.tables[parent.name]
    else:
        raise GenerateError(f"{draft.table.name}: parent table {parent.name!r} was not generated")
    if parent is draft.table:
        rows = draft.rng.integers(0, max(source.num_rows, 1), size=draft.num_rows)
    else:
        rows = ctx.children(parent.name, draft.num_rows, fk.name)
    nullable = all(draft.spec.columns[c].nullable for c in fk.columns)
    missing = (draft.rng.random(draft.num_rows) < NULL_FRACTION) if nullable else None
    if source.num_rows == 0:
        if not nullable:
            draft.keep(np.zeros(draft.num_rows, dtype=bool))  # no parent: no child either
        for child, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
            draft.set(child, pa.nulls(draft.num_rows, source.schema.field(parent_column).type))
        return
    for child, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
        taken = arrays.single(source.column(parent_column)).take(pa.array(rows))
        draft.set(child, taken if missing is None else arrays.null_where(taken, missing))


def _draft_columns(draft: TableDraft, recipe: Recipe | None, fk_columns: set[str]) -> set[str]:
    """Draft every column not given yet from its type; return the drafted names."""
    spec, table = draft.spec, draft.table
    needed = _needed(table, spec)
    distinct = _distinct_columns(spec, fk_columns)
    # A column a partial unique index wants NULL (``deleted_at``) marks the unusual rows.
    markers = {c for key in spec.unique_keys for c in key.where_null}
    drafted: set[str] = set()
    for column in table.columns:
        name = column.name
        if name in draft.columns or name in fk_columns or (recipe and name in recipe.omit):
            continue
        info = spec.columns[name]
        if info.has_default and info.default in (None, "now") and name not in needed:
            continue  # the database computes it
        try:
            values = column_values(
                column, info, draft.num_rows, draft.rng, distinct=name in distinct
            )
        except NoValues as exc:
            if info.nullable and name not in distinct:
                continue  # left out of the file: NULL
            raise GenerateError(
                f"cannot write values for the required column {exc}: give it a default, "
                "make it nullable, or generate that table yourself"
            ) from None
        if info.nullable and name not in distinct:
            share = 1 - NULL_FRACTION if name in markers else NULL_FRACTION
            values = arrays.null_where(values, draft.rng.random(draft.num_rows) < share)
        draft.set(name, values)
        drafted.add(name)
    return drafted


def _apply_rules(draft: TableDraft, rules: list[tuple[str, Rule]]) -> None:
    """Let each rule fill its columns (a rule without a fill of its own: values drawn again
    where it refuses them), then drop the rows that still fail one."""
    for name, rule in rules:
        try:
            try:
                fill(rule, draft)
            except NotImplementedError:
                redraw(rule, draft)
        except (NotImplementedError, ValueError, KeyError, pa.ArrowException) as exc:
            raise GenerateError(
                f"{draft.table.name}: cannot generate values for {name}: {exc}"
            ) from None
    for name, rule in rules:
        ok = passing(rule, draft.columns)
        if draft.num_rows and ok.mean() < 0.5:
            raise GenerateError(
                f"{draft.table.name}: generated values fail {name} in {int((~ok).sum())} of "
                f"{draft.num_rows} rows; give the table a recipe in seedbed.synthetic.recipes"
            )
        draft.keep(ok)


def _duplicates(draft: TableDraft, key: UniqueKey) -> np.ndarray:
    """True for each row whose key repeats an earlier row's (NULLs and partial indexes honoured:
    a column left out of the draft is NULL)."""
    empty = pa.nulls(draft.num_rows)
    read = pa.table({c: draft.columns.get(c, empty) for c in key.reads}).to_pandas()
    applies = key.holds(read)
    frame = read[list(key.columns)]
    repeated = frame.duplicated().to_numpy()
    if not applies.all():
        repeated = np.zeros(draft.num_rows, dtype=bool)
        repeated[applies] = frame[applies].duplicated().to_numpy()
    return np.asarray(repeated, dtype=bool)


def generate_table(
    ctx: Context,
    table: sa.Table,
    recipe: Recipe | None = None,
    later: Sequence[ForeignKeySpec] = (),
) -> pa.Table:
    """Valid rows for ``table`` as typed pyarrow columns (see the module doc for the steps).

    ``later`` names nullable foreign keys whose parent is generated after ``table`` (a
    cycle of foreign keys): they are NULL here, for :func:`fill_later_key` to fill.
    """
    spec = table_spec(table)
    given: dict[str, pa.Array] = {}
    if recipe is not None:
        names = columns_by_name(table)
        given = {name: values for name, values in recipe.build(ctx).items() if name in names}
    if given:
        rows = len(next(iter(given.values())))
    else:
        rows = default_rows(table, ctx.users, ctx.roots, later)
    draft = TableDraft(table, spec, rows, ctx.rng(table.name, "columns"))
    for name, values in given.items():
        draft.set(name, values)
    pending = [fk for fk in spec.foreign_keys if not set(fk.columns) <= set(given)]
    fk_columns = {c for fk in pending for c in fk.columns}
    postponed = {fk.name for fk in later}
    for fk in pending:
        if fk.name in postponed:
            for column in fk.columns:
                draft.set(column, pa.nulls(draft.num_rows))
    pending = [fk for fk in pending if fk.name not in postponed]
    for fk in pending:
        if fk.parent is not table:
            _foreign_key(ctx, draft, fk)
    drafted = _draft_columns(draft, recipe, fk_columns) | fk_columns
    for fk in pending:
        if fk.parent is table:
            _foreign_key(ctx, draft, fk)
    rules = [(r.name, r.rule) for r in spec.rules if drafted.intersection(r.rule.columns)]
    _apply_rules(draft, rules)
    for key in spec.unique_keys:
        if drafted.intersection(key.columns):
            draft.keep(~_duplicates(draft, key))
    ordered = [c.name for c in table.columns if c.name in draft.columns]
    return pa.table({name: draft.columns[name] for name in ordered})


def fill_later_key(ctx: Context, table: sa.Table, fk: ForeignKeySpec) -> None:
    """Fill ``fk`` of ``table``'s generated rows (NULL so far) now that its parent has rows.

    A key whose columns a rule reads stays NULL (the rule was met with NULL); a key
    whose columns a unique key covers takes each parent row at most once.
    """
    made, parent = ctx.tables[table.name], ctx.tables.get(fk.parent.name)
    spec = table_spec(table)
    columns = set(fk.columns)
    if parent is None or not parent.num_rows or not made.num_rows:
        return
    if any(made.column(c).null_count < made.num_rows for c in fk.columns):
        return  # given (a recipe's), not left for later
    if any(columns & set(r.rule.columns) for r in spec.rules):
        return
    rng = ctx.rng(table.name, fk.name, "later")
    if any(columns & set(key.columns) for key in spec.unique_keys):
        rows = rng.permutation(max(made.num_rows, parent.num_rows))[: made.num_rows]
        missing = rows >= parent.num_rows
        rows = np.where(missing, 0, rows)
    else:
        rows = ctx.children(fk.parent.name, made.num_rows, fk.name)
        missing = rng.random(made.num_rows) < NULL_FRACTION
    for child, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
        taken = arrays.single(parent.column(parent_column)).take(pa.array(rows))
        filled = arrays.null_where(taken, missing)
        made = made.set_column(made.schema.get_field_index(child), child, filled)
    ctx.tables[table.name] = made


def as_text_table(table: pa.Table) -> pa.Table:
    """A typed table as the text columns a CSV seed file holds."""
    return pa.table({name: arrays.as_text(table.column(name)) for name in table.column_names})


__all__ = [
    "Context",
    "Recipe",
    "TableDraft",
    "as_text_table",
    "default_rows",
    "fill_later_key",
    "generate_table",
    "is_root",
]
