"""The SQL of load modes that merge: stage a table, then merge it into its target.

What each mode does is its policy in :mod:`seedbed.loadmode`. A mode that
stages (``upsert``, ``skip-existing``) COPYs into a temporary staging table (same
columns, defaults and CHECK constraints, dropped at commit) and then merges it
with one ``INSERT ... SELECT ... ON CONFLICT`` on the conflict key: the
primary key when the source has all of its columns, otherwise the first
declared unique key it has. The part files of a folder that give different
columns are staged and merged one set of columns at a time, so each merge sets
only the columns its files give.

An upsert only updates rows whose values differ, so running the same upsert
twice changes nothing (not even ``updated_at``). Staged rows are merged in key
order, so concurrent loads lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from seedbed.errors import SeedError
from seedbed.facts import ColumnSpec, conflict_key, table_spec
from seedbed.loading.copy import qualified
from seedbed.loadmode import LoadMode, MergeAction
from seedbed.sqltext import quote_ident
from seedbed.validation.sources import SeedSource

if TYPE_CHECKING:
    import sqlalchemy as sa

# Kept current by the updated_at trigger; comparing it would make every upsert an update.
TRIGGER_MAINTAINED = frozenset({"updated_at"})


def stage_name(table: sa.Table, number: int = 0) -> str:
    return quote_ident(f"seedbed_stage_{table.name}" + (f"_{number}" if number else ""))


def create_stage_sql(table: sa.Table, number: int = 0) -> str:
    """The staging table (``number``: one more of them); a column a ``BEFORE INSERT`` trigger
    fills may be NULL there.

    The trigger fires when the merge inserts into the table, not on the stage.
    """
    sql = (
        f"CREATE TEMP TABLE {stage_name(table, number)} "
        f"(LIKE {qualified(table)} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS) "
        "ON COMMIT DROP"
    )
    for column in table_spec(table).columns.values():
        if column.filled_by_trigger:
            sql += f"; ALTER TABLE {stage_name(table, number)} "
            sql += f"ALTER COLUMN {quote_ident(column.name)} "
            sql += "DROP NOT NULL"
    return sql


def _compared(column: ColumnSpec, side: str) -> str:
    """``side``'s value of ``column`` as the upsert compares it: as its text for a type
    seedbed leaves to PostgreSQL and for ``json``, some of which have no equality
    (``json``, ``point``, ``xml``, arrays of them); a changed text is a changed row."""
    value = f"{side}.{quote_ident(column.name)}"
    by_text = column.database_text or column.sql_type.upper() == "JSON"
    return f"{value}::text" if by_text else value


def _overriding(table: sa.Table, columns: Sequence[str]) -> str:
    """A GENERATED ALWAYS identity keeps the seed's values, as COPY keeps them."""
    spec = table_spec(table).columns
    always = any(spec[c].identity_always for c in columns if c in spec)
    return "OVERRIDING SYSTEM VALUE " if always else ""


#: Stages bound for one table: each stage's name and the columns it gives.
StagedTable: TypeAlias = "tuple[sa.Table, Sequence[tuple[str, Sequence[str]]]]"


def insert_staged_sql(writes: Sequence[StagedTable]) -> str:
    """One statement that inserts every stage into its table, and returns the rows inserted
    into each table (one column per table, in the order of ``writes``).

    PostgreSQL checks a foreign key at the end of each statement: in one statement, a row
    of one part file may reference a row of its own table that a later part holds, and the
    rows of tables whose foreign keys form a cycle may reference each other, as
    validation, which checks the sources as one set, lets them.
    """
    inserts: list[str] = []
    totals: list[str] = []
    for table, stages in writes:
        counts = []
        for stage, columns in stages:
            cols = ", ".join(quote_ident(c) for c in columns)
            inserts.append(
                f"w{len(inserts)} AS (INSERT INTO {qualified(table)} ({cols}) "
                f"{_overriding(table, columns)}SELECT {cols} FROM {stage} RETURNING 1)"
            )
            counts.append(f"(SELECT count(*) FROM w{len(inserts) - 1})")
        totals.append(" + ".join(counts) or "0")
    return f"WITH {', '.join(inserts)} SELECT {', '.join(totals)}"


@dataclass(frozen=True)
class StagedMerge:
    """One merge of a stage into its table: what :func:`merge_sql` and
    :func:`merge_together_sql` write."""

    table: sa.Table
    columns: Sequence[str]
    key: Sequence[str]
    partitioned: bool = False
    stage: str = ""

    @property
    def staged(self) -> str:
        return self.stage or stage_name(self.table)


def merge_sql(
    table: sa.Table,
    columns: Sequence[str],
    key: Sequence[str],
    mode: LoadMode,
    partitioned: bool = False,
) -> str:
    """One statement that merges the stage into ``table`` and returns (inserted, updated).

    A key the table already has is updated or skipped as ``mode.merge`` says.
    A row is counted as inserted when its ``xmax`` is 0; a ``partitioned``
    table has no ``xmax`` of its own to return, so there a row counts as
    inserted when its key was not in the table before the statement (the
    outer query sees the table as the statement found it).
    """
    return merge_together_sql([StagedMerge(table, columns, key, partitioned)], mode)


def merge_together_sql(merges: Sequence[StagedMerge], mode: LoadMode) -> str:
    """One statement that makes every merge of ``merges`` (see :func:`merge_sql`) and returns
    (inserted, updated) for each, in one row.

    Tables whose foreign keys form a cycle are merged so, in one statement: their new rows
    may reference each other, and PostgreSQL checks the keys at the statement's end.
    """
    ctes, counts = [], []
    for number, merge in enumerate(merges):
        name = "merged" if len(merges) == 1 else f"merged{number}"
        returning, inserted = _merge_returning(merge)
        ctes.append(f"{name} AS ({_merge_head(merge, mode)} RETURNING {returning})")
        counts += [
            f"(SELECT count(*) FILTER (WHERE {inserted}) FROM {name} AS m)",
            f"(SELECT count(*) FILTER (WHERE NOT ({inserted})) FROM {name} AS m)",
        ]
    if len(merges) == 1:  # the form a single merge has always had
        returning, inserted = _merge_returning(merges[0])
        return (
            f"WITH {ctes[0]} "
            f"SELECT count(*) FILTER (WHERE {inserted}), count(*) FILTER (WHERE NOT ({inserted})) "
            "FROM merged AS m"
        )
    return f"WITH {', '.join(ctes)} SELECT {', '.join(counts)}"


def _merge_head(merge: StagedMerge, mode: LoadMode) -> str:
    """The ``INSERT ... ON CONFLICT`` of one merge, without its RETURNING."""
    table, columns, key = merge.table, merge.columns, merge.key
    cols = ", ".join(quote_ident(c) for c in columns)
    keys = ", ".join(quote_ident(c) for c in key)
    head = (
        f"INSERT INTO {qualified(table)} AS target ({cols}) "
        f"{_overriding(table, columns)}"
        f"SELECT {cols} FROM {merge.staged} ORDER BY {keys} "
        f"ON CONFLICT ({keys}) "
    )
    changing = [c for c in columns if c not in key and c not in TRIGGER_MAINTAINED]
    if mode.merge is MergeAction.UPDATE and changing:
        sets = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in changing)
        columns_of = table_spec(table).columns
        old = ", ".join(_compared(columns_of[c], "target") for c in changing)
        new = ", ".join(_compared(columns_of[c], "EXCLUDED") for c in changing)
        head += f"DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    else:
        head += "DO NOTHING"
    return head


def _merge_returning(merge: StagedMerge) -> tuple[str, str]:
    """What a merge returns, and when a returned row counts as inserted."""
    if merge.partitioned:
        keys = ", ".join(quote_ident(c) for c in merge.key)
        found = " AND ".join(f"t.{quote_ident(c)} = m.{quote_ident(c)}" for c in merge.key)
        return keys, f"NOT EXISTS (SELECT 1 FROM {qualified(merge.table)} AS t WHERE {found})"
    return "(xmax = 0) AS inserted", "m.inserted"


@dataclass(frozen=True)
class Merge:
    """Files of one source that give the same columns, staged and merged on ``key`` together."""

    files: tuple[SeedSource, ...]
    columns: tuple[str, ...]
    key: tuple[str, ...]


def merges_of(source: SeedSource, columns: tuple[str, ...]) -> tuple[Merge, ...]:
    """One merge per set of columns among the source's files (one, unless part headers differ).

    So a column a part file leaves out keeps its value in the rows that part
    updates, as for a single file without it, rather than taking the staging
    table's default.
    """
    files = source.files()
    groups: dict[frozenset[str], tuple[tuple[str, ...], list[SeedSource]]] = {}
    for part in files:
        names = part.format.columns() if len(files) > 1 else columns
        if names:
            groups.setdefault(frozenset(names), (names, []))[1].append(part)
    found = []
    for names, group in groups.values():
        try:
            key = conflict_key(source.table, names)
        except SeedError as exc:
            raise SeedError(f"{group[0].label}: {exc}" if len(files) > 1 else str(exc)) from None
        found.append(Merge(tuple(group), names, key))
    return tuple(found)
