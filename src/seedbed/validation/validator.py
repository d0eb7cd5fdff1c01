"""``SeedValidator``: the checks of a seed set, chunk by chunk, across chunks and files.

Per chunk, the table's Pandera schema (:mod:`seedbed.validation.rowchecks`)
checks NOT NULL, every CHECK rule of the table, and every unique key
(primary key, unique constraints, partial unique indexes) within the chunk.
This module adds what Pandera cannot see from one chunk: unique keys against
earlier chunks and files of the same table. It remembers key hashes
(see :mod:`seedbed.validation.keys`) so that foreign keys can be checked
against the parent's file. With an engine, unique keys are also checked
against the rows already in the database, and foreign-key values missing from
the set are looked up in the parent table there.

Sources are best given parents first (:func:`resolve_sources` orders them so):
a child row whose parent file has not been seen yet is checked in
:meth:`SeedValidator.finish`, where its value is no longer at hand and the
report row shows the line only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from seedbed.connections import BorrowedConnection
from seedbed.db import Database, database_errors, database_of
from seedbed.errors import SeedError
from seedbed.facts import ForeignKeySpec, TableSpec, UniqueKey, conflict_key, table_spec
from seedbed.loadmode import MergeAction
from seedbed.sqltext import qualified_name, quote_ident
from seedbed.validation.dbrules import check_in_database
from seedbed.validation.hints import IN_DATABASE
from seedbed.validation.keyforms import Forms
from seedbed.validation.keys import ChunkKeys, KeySet, chunk_keys
from seedbed.validation.keytext import key_forms, reference_forms
from seedbed.validation.report import REDACTED, ValidationReport, cell_values, shorten
from seedbed.validation.rowchecks import FullFrame, RowChecks, unreadable
from seedbed.validation.sources import SeedChunk, SeedSource

if TYPE_CHECKING:
    import pandas as pd
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine


@dataclass
class RowResult:
    """What a chunk's row checks found: ``full`` (the chunk with the left-out columns a check
    reads), the report, per unique key its duplicate rows and its hashes, and per foreign key
    to a table of the set its values' hashes (``references``)."""

    full: FullFrame
    report: ValidationReport
    duplicates: dict[str, np.ndarray]
    keys: dict[str, ChunkKeys]
    references: dict[str, _References] = field(default_factory=dict)


@dataclass
class _References:
    """A foreign key's values in one chunk: the rows that hold one (``rows``), their hashes,
    and those sorted (the look-up in the parent's keys wants them sorted)."""

    rows: np.ndarray
    hashes: np.ndarray
    ordered: np.ndarray
    found: np.ndarray | None = None  # looked up already: the parent's keys were complete

    @classmethod
    def of(cls, full: FullFrame, fk: ForeignKeySpec, rows: np.ndarray, forms: Forms) -> _References:
        hashes = full.hashes(fk.columns, rows, forms) if rows.any() else np.zeros(0, np.uint64)
        return cls(rows, hashes, np.sort(hashes))

    def found_in(self, parent: KeySet) -> np.ndarray:
        """True for each of ``hashes`` that ``parent`` holds."""
        if self.found is None:
            hit = parent.contains_sorted(self.ordered, likely=True)
            if hit.all():  # the usual case: no permutation needed
                self.found = hit
            else:  # equal hashes have one verdict: any sorting permutation will do
                self.found = np.empty(len(self.hashes), dtype=bool)
                self.found[np.argsort(self.hashes)] = hit
        return self.found


@dataclass
class _Deferred:
    spec: TableSpec
    fk: ForeignKeySpec
    label: str
    hashes: np.ndarray
    lines: np.ndarray
    values: list[str | None]  # as the report shows them


class SeedValidator:
    """Checks chunks of the seed files of ``tables``; stateful across chunks and tables.

    >>> validator = SeedValidator([s.table for s in sources.values()])  # doctest: +SKIP
    >>> for source in sources.values():                                  # doctest: +SKIP
    ...     for chunk in read_seed_chunks(source):
    ...         report = validator.check_chunk(source, chunk)
    >>> validator.finish()                                               # doctest: +SKIP
    """

    def __init__(
        self,
        tables: Sequence[sa.Table],
        *,
        engine: Engine | Database | None = None,
        unique_against_db: Collection[str] | None = None,
        empty_in_db: Collection[str] = (),
        row_engine: str = "polars",
        merging: MergeAction = MergeAction.NONE,
    ) -> None:
        """``unique_against_db``: names of the tables whose unique keys are looked up in
        the database (default: all, when there is an engine). A loader that upserts, or
        inserts into a table that is empty, can skip those lookups. ``merging``: the rows
        are merged by their conflict key (``upsert``: ``UPDATE``, ``skip-existing``:
        ``SKIP``), so a row whose conflict key the database holds is that row, not a
        duplicate: only its other keys are looked up, among the database's other rows (and,
        for ``SKIP``, only for rows the merge inserts). ``empty_in_db``:
        tables known to be empty, never looked up (a loader that holds them locked
        for a rebuild must not wait for itself). ``row_engine``: the :class:`RowChecks`
        engine, ``"polars"`` or ``"pandas"`` (the same verdicts)."""
        self.row_engine = row_engine
        self.specs = {t.name: table_spec(t) for t in tables}
        #: the database the call checks against (``engine``), if any
        self.database = database_of(engine) if engine is not None else None
        self.unique_against_db = None if unique_against_db is None else set(unique_against_db)
        self.merging = merging
        self.empty_in_db = frozenset(empty_in_db)
        self._unique: dict[tuple[str, str], KeySet] = {}
        self._parents: dict[tuple[str, tuple[str, ...]], KeySet] = {}
        self._complete: set[str] = set()
        self._current: str | None = None
        self._file: tuple[str, str] | None = None  # the table and file check_across saw last
        self._deferred: list[_Deferred] = []
        self._connection: BorrowedConnection | None = None
        self._local = threading.local()  # RowChecks per thread and table
        for spec in self.specs.values():
            for fk in spec.foreign_keys:
                if fk.parent.name in self.specs:
                    keyed = fk.in_key_order()  # the parent's key set holds its key's order
                    self._parents.setdefault((fk.parent.name, keyed.parent_columns), KeySet())

    # -- the chunk -------------------------------------------------------------

    def check_chunk(self, source: SeedSource, chunk: SeedChunk) -> ValidationReport:
        """Problems of ``chunk`` beyond reading it: NULLs, rules, uniqueness, foreign keys."""
        return self.check_across(source, chunk, self.check_rows(source, chunk))

    def check_rows(self, source: SeedSource, chunk: SeedChunk) -> RowResult | None:
        """The chunk's own checks (NOT NULL, rules, keys within it); None for no rows.

        Safe to call from several threads at once, for chunks in any order:
        it keeps no state across chunks.
        """
        if not chunk.rows:
            return None
        spec = table_spec(source.table)
        full = FullFrame(spec, chunk, _checked_columns(spec))
        mine: dict[str, RowChecks] = self._local.__dict__.setdefault("checks", {})
        checks = mine.get(spec.name)
        if checks is None:
            checks = mine[spec.name] = RowChecks(spec.table, self.row_engine)
        report, duplicates = checks.run(chunk, full)
        # Foreign keys into the set: hashed and sorted here, on the caller's thread, and
        # looked up here too when the parent's keys are complete (no more are added).
        references = {}
        for declared in spec.foreign_keys:
            fk = declared.in_key_order()
            forms = reference_forms(spec, fk)
            if fk.parent.name not in self.specs or forms is None:
                continue
            held = _References.of(full, fk, full.held(fk.columns, chunk.invalid, forms), forms)
            if fk.parent.name in self._complete and fk.parent.name != spec.name:
                held.found_in(self._parents[(fk.parent.name, fk.parent_columns)])
            references[fk.name] = held
        return RowResult(full, report, duplicates, dict(checks.keys), references)

    def check_across(
        self, source: SeedSource, chunk: SeedChunk, rows: RowResult | None
    ) -> ValidationReport:
        """The checks across chunks, files and the database, given the chunk's own ``rows``.

        Chunks must come in file order, a source's files one after the other.
        """
        spec = table_spec(source.table)
        if self._current != spec.name:
            if self._current is not None:
                self._completed(self._current)
            self._current = spec.name
        if rows is None:
            return ValidationReport()
        if (spec.name, source.label) != self._file:  # a file's first rows: key sets sized once
            self._file = (spec.name, source.label)
            expected = _expected_rows(source)
            for key in spec.unique_keys:
                self._unique_set(spec.name, key).expect(expected)
        full = rows.full
        reports = [
            rows.report,
            check_in_database(spec, chunk, full, self.database),
            self._unique_keys(spec, chunk, full, rows.keys, rows.duplicates),
            self._foreign_keys(
                spec, chunk.label, full, chunk.lines, chunk.invalid, rows.references
            ),
        ]
        return ValidationReport.concat(reports)

    def table_done(self, table: str) -> None:
        """Say that every chunk of ``table`` went through :meth:`check_across`: its keys are
        complete, and chunks of its children checked from now on look them up in
        :meth:`check_rows`. (The next table's first chunk says so too, later.)"""
        if table == self._current:
            self._completed(table)

    def finish(self) -> ValidationReport:
        """Foreign keys whose parent file came after the child's; then release the database."""
        if self._current is not None:
            self._completed(self._current)
        reports = []
        for item in self._deferred:
            keyed = item.fk.in_key_order()
            parent = self._parents[(keyed.parent.name, keyed.parent_columns)]
            missing = ~parent.contains(item.hashes, likely=True)
            values = [value for value, gone in zip(item.values, missing, strict=True) if gone]
            reports.append(
                self._fk_report(item.spec, item.fk, item.label, item.lines[missing], values)
            )
        self._deferred = []
        self.close()
        return ValidationReport.concat(reports)

    def close(self) -> None:
        """Give the database connection back (rolled back), if one was taken; :meth:`finish`
        does, and :func:`~seedbed.validation.api.check_sources` when a check is cut short."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            if connection.driver_connection.closed or connection.driver_connection.broken:
                connection.invalidate()
            else:
                connection.close()

    # -- helpers ---------------------------------------------------------------

    def _completed(self, table: str) -> None:
        """``table``'s keys are complete: its key sets that foreign keys look up are merged
        into one run first (look-ups from other threads start once it is in ``_complete``)."""
        if table in self._complete:
            return
        for (parent, _), keys in self._parents.items():
            if parent == table:
                keys.compact()
        self._complete.add(table)

    def _key_values(
        self, spec: TableSpec, full: pd.DataFrame, columns: Sequence[str], rows: np.ndarray
    ) -> list[str | None]:
        if any(spec.sensitive(c) for c in columns):
            return [REDACTED] * int(rows.sum())
        if len(columns) == 1:
            return cell_values(full[columns[0]], rows, False)
        # Each part as a one-column key shows it (infinity, BC as PostgreSQL writes them).
        parts = [cell_values(full[c], rows, False) for c in columns]
        return [
            shorten(", ".join("NULL" if p is None else str(p) for p in row))
            for row in zip(*parts, strict=True)
        ]

    def _unique_keys(
        self,
        spec: TableSpec,
        chunk: SeedChunk,
        full: FullFrame,
        computed: dict[str, ChunkKeys],
        duplicates: dict[str, np.ndarray],
    ) -> ValidationReport:
        """Keys across chunks: Pandera found the duplicates within the chunk, and its
        checks left their hashes in ``computed``; here they meet the keys seen before."""
        label, lines = chunk.label, chunk.lines
        reports = []
        for key in spec.unique_keys:
            keys = computed.get(key.name) or chunk_keys(
                full.frame, key, key_forms(spec, key.columns)
            )
            if not keys.rows.any():
                continue
            seen = self._unique_set(spec.name, key)
            ordered = keys.ordered
            known_sorted = seen.add_unseen(ordered, keys.starts)  # remembered from now on
            twice = duplicates.get(key.name)
            if known_sorted.any() or (twice is not None and twice.any()):
                # -1: not a duplicate; -2: first seen in an earlier chunk; else that row's line.
                earlier = np.full(len(keys.hashes), -1, dtype=np.int64)
                if twice is not None:
                    within = twice[keys.rows]
                    earlier[within] = lines[keys.rows][keys.earlier[within]]
                if known_sorted.any():
                    earlier[keys.order[known_sorted]] = -2
                if (earlier != -1).any():
                    reports.append(
                        self._duplicates(spec, chunk, full.frame, key, keys.rows, earlier)
                    )
            if self.database is not None and (
                self.unique_against_db is None or spec.name in self.unique_against_db
            ):
                merging = self.merging is not MergeAction.NONE
                merged_by = self._merged_by(spec, chunk) if merging else ()
                if merged_by is not None and key.columns != merged_by:
                    reports.append(
                        self._in_database(spec, label, key, full, lines, keys.rows, merged_by)
                    )
        return ValidationReport.concat(reports)

    def _duplicates(
        self,
        spec: TableSpec,
        chunk: SeedChunk,
        full: pd.DataFrame,
        key: UniqueKey,
        rows: np.ndarray,
        earlier: np.ndarray,
    ) -> ValidationReport:
        """Report rows for the held ``rows`` whose ``earlier`` is not -1 (see above)."""
        duplicate = earlier != -1
        mask = np.zeros(len(full), dtype=bool)
        mask[np.flatnonzero(rows)[duplicate]] = True
        values = self._key_values(spec, full, key.columns, mask)
        row_lines = chunk.lines[rows][duplicate]
        reports = []
        for first_line in np.unique(earlier[duplicate]):
            pick = earlier[duplicate] == first_line
            where = (
                f"on {chunk.unit} {first_line}"
                if first_line >= 0
                else f"on an earlier {chunk.unit}"
            )
            reports.append(
                ValidationReport.from_rows(
                    file=chunk.label,
                    table=spec.name,
                    lines=row_lines[pick],
                    column=", ".join(key.columns),
                    rule=key.name,
                    values=[v for v, p in zip(values, pick, strict=True) if p],
                    message=f"duplicate: the same {self._key_words(key)} is already {where}",
                )
            )
        return ValidationReport.concat(reports)

    @staticmethod
    def _merged_by(spec: TableSpec, chunk: SeedChunk) -> tuple[str, ...] | None:
        """The key a merge of ``chunk``'s rows goes by; None when it has none (the load
        says so)."""
        try:
            return conflict_key(spec.table, list(chunk.columns))
        except SeedError:
            return None

    def _unique_set(self, table: str, key: UniqueKey) -> KeySet:
        """The keys seen of ``key``; shared with foreign keys that point at the same columns."""
        found = self._unique.get((table, key.name))
        if found is None:
            parent = None if key.partial else self._parents.get((table, key.columns))
            found = self._unique[(table, key.name)] = parent if parent is not None else KeySet()
        return found

    @staticmethod
    def _key_words(key: UniqueKey) -> str:
        words = " and ".join(key.columns)
        return f"{words} ({key.scope})" if key.scope else words

    def _foreign_keys(
        self,
        spec: TableSpec,
        label: str,
        checked: FullFrame,
        lines: np.ndarray,
        invalid: dict[str, np.ndarray],
        references: dict[str, _References],
    ) -> ValidationReport:
        """Foreign keys: each value in the parent's keys seen, else in the database, else
        deferred to :meth:`finish` while the parent's file is still to come. A key whose
        type's equality is not reproduced here (see
        :func:`~seedbed.validation.keytext.reference_forms`) is left to the database: looked
        up there (where PostgreSQL compares) when its parent has no seed, else not checked."""
        reports = []
        for declared in spec.foreign_keys:
            if declared.match_full and len(declared.columns) > 1:
                reports.append(self._partly_null(spec, declared, label, checked, lines, invalid))
            fk = declared.in_key_order()  # hashed in the order of the parent's key set
            forms = reference_forms(spec, fk)
            parent_name = fk.parent.name
            in_set = parent_name in self.specs
            if forms is None and (in_set or self.database is None):
                continue
            held = references.get(fk.name) if in_set else None
            rows = checked.held(fk.columns, invalid, forms) if held is None else held.rows
            if not rows.any():
                continue
            ready = in_set and parent_name in self._complete and parent_name != spec.name
            missing = rows.copy()
            if in_set:
                parent = self._parents[(parent_name, fk.parent_columns)]
                if held is None:
                    held = _References.of(checked, fk, rows, forms)
                if ready:
                    missing[np.flatnonzero(rows)] = ~held.found_in(parent)
                else:  # keys seen so far (a self-reference's earlier rows) need no wait
                    missing[np.flatnonzero(rows)] = ~parent.contains(held.hashes, likely=True)
            if missing.any() and self.database is not None and parent_name not in self.empty_in_db:
                found = self._existing(
                    fk.parent, fk.parent_columns, checked, fk.columns, missing, forms=forms
                )
                missing &= ~found
            if missing.any():  # values whose equality the database's ctype decides
                missing &= ~checked.unsure(fk.columns, forms)
            if not missing.any():
                continue
            values = self._key_values(spec, checked.frame, declared.columns, missing)
            if in_set and not ready:
                assert held is not None
                hashes = held.hashes[missing[rows]]
                self._deferred.append(
                    _Deferred(spec, declared, label, hashes, lines[missing], values)
                )
                continue
            reports.append(self._fk_report(spec, declared, label, lines[missing], values))
        return ValidationReport.concat(reports)

    def _partly_null(
        self,
        spec: TableSpec,
        fk: ForeignKeySpec,
        label: str,
        checked: FullFrame,
        lines: np.ndarray,
        invalid: dict[str, np.ndarray],
    ) -> ValidationReport:
        """The rows a MATCH FULL foreign key refuses whatever its parent holds: some of its
        columns NULL, not all (a cell that could not be read is its type's problem)."""
        frame = checked.polars(fk.columns)
        if frame.width < len(fk.columns):
            return ValidationReport()
        nulls = np.column_stack([frame.get_column(c).is_null().to_numpy() for c in fk.columns])
        partly = nulls.any(axis=1) & ~nulls.all(axis=1)
        partly &= ~unreadable(invalid, fk.columns, len(checked))
        message = f"must be all NULL or all given ({fk.name} is MATCH FULL)"
        return self._key_report(spec, label, lines, checked, fk.columns, partly, fk.name, message)

    def _key_report(
        self,
        spec: TableSpec,
        label: str,
        lines: np.ndarray,
        full: FullFrame,
        columns: Sequence[str],
        rows: np.ndarray,
        rule: str,
        message: str,
    ) -> ValidationReport:
        """One report row for each of ``rows``, refused by ``rule`` over a key's ``columns``."""
        if not rows.any():
            return ValidationReport()
        return ValidationReport.from_rows(
            file=label,
            table=spec.name,
            lines=lines[rows],
            column=", ".join(columns),
            rule=rule,
            values=self._key_values(spec, full.frame, columns, rows),
            message=message,
        )

    def _fk_report(
        self,
        spec: TableSpec,
        fk: ForeignKeySpec,
        label: str,
        lines: np.ndarray,
        values: list[str | None] | None,
    ) -> ValidationReport:
        where = "in the seed set" + (" or the database" if self.database is not None else "")
        parent_cols = ", ".join(fk.parent_columns)
        hint = (
            ""
            if self.database is not None or fk.parent.name in self.specs
            else (f" (no {fk.parent.name} seed given; check the database with --against-db)")
        )
        return ValidationReport.from_rows(
            file=label,
            table=spec.name,
            lines=lines,
            column=", ".join(fk.columns),
            rule=fk.name,
            values=values,
            message=f"no {fk.parent.name} row with this {parent_cols} {where}{hint}",
        )

    # -- the database ----------------------------------------------------------

    def _conn(self) -> psycopg.Connection[Any]:
        if self._connection is None:
            assert self.database is not None
            with database_errors("cannot connect"):
                self._connection = self.database.raw_connection()
        connection: psycopg.Connection[Any] = self._connection.driver_connection
        return connection

    def _existing(
        self,
        table: sa.Table,
        columns: Sequence[str],
        full: FullFrame,
        frame_columns: Sequence[str],
        rows: np.ndarray,
        where: str | None = None,
        *,
        forms: Forms = None,
        nulls_equal: bool = False,
        other_than: Sequence[str] = (),
        new_only: bool = False,
    ) -> np.ndarray:
        """Which ``rows`` of ``full`` have their key already in ``table`` in the database,
        among its rows where ``where`` (a partial key's predicate) is true (``forms``: of
        the key's text, as :meth:`FullFrame.hashes` takes them; ``nulls_equal``: a NULL
        meets a NULL, as in a ``NULLS NOT DISTINCT`` key), in a row other than the one
        whose ``other_than`` columns (a merge's conflict key) hold the row's own values;
        ``new_only``: only for rows whose ``other_than`` values the table does not hold."""
        positions = np.flatnonzero(rows)
        keys = full.key_texts(frame_columns, rows, forms)
        if other_than:  # the row's own conflict key goes with its key
            own = full.key_texts(other_than, rows)
            keys = [(*key, *mine) for key, mine in zip(keys, own, strict=True)]
        unique = list(dict.fromkeys(keys))
        spec = table_spec(table)
        names = [f"k{i}" for i in range(len(columns))]
        others = [f"o{i}" for i in range(len(other_than))]
        # Each parameter marked apart from the text (names and a partial key's predicate may
        # hold a % or a colon), and written as psycopg's placeholder once the rest is escaped.
        arrays = ", ".join(f"CAST(\0{n}\0 AS TEXT[])" for n in (*names, *others))
        equal = "IS NOT DISTINCT FROM" if nulls_equal else "="

        def typed(name: str, column: str) -> str:
            return f"CAST(u.{name} AS {spec.columns[column].lookup_type})"

        matches = [
            f"t.{quote_ident(c)} {equal} {typed(n, c)}" for n, c in zip(names, columns, strict=True)
        ]
        relation = qualified_name(str(table.schema), table.name)
        rows_of = relation
        if where is not None:  # the predicate's columns: the table's, whatever they are named
            rows_of = f"(SELECT * FROM {relation} WHERE {where})"
        given = ", ".join((*names, *others))
        sql = f"SELECT u.i FROM unnest({arrays}) WITH ORDINALITY AS u({given}, i) WHERE "
        if other_than:  # the row's own conflict key: that row is itself, not another
            mine = ", ".join(typed(n, c) for n, c in zip(others, other_than, strict=True))
            theirs = ", ".join(f"t.{quote_ident(c)}" for c in other_than)
            matches.append(f"ROW({theirs}) IS DISTINCT FROM ROW({mine})")
            if new_only:  # a row the merge skips inserts nothing: its keys meet no other
                held = ", ".join(f"s.{quote_ident(c)}" for c in other_than)
                same = f"ROW({held}) = ROW({mine})"
                sql += f"NOT EXISTS (SELECT 1 FROM {relation} AS s WHERE {same}) AND "
        sql += f"EXISTS (SELECT 1 FROM {rows_of} AS t WHERE {' AND '.join(matches)})"
        params: dict[str, Any] = {
            n: [k[i] for k in unique] for i, n in enumerate((*names, *others))
        }
        sql = _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
        with database_errors(f"checking {table.name} in the database"):
            hits = [int(row[0]) - 1 for row in self._conn().execute(sql, params).fetchall()]
        found = np.zeros(len(full), dtype=bool)
        if hits:
            taken = {unique[i] for i in hits}
            found[positions] = [key in taken for key in keys]
        return found

    def _in_database(
        self,
        spec: TableSpec,
        label: str,
        key: UniqueKey,
        full: FullFrame,
        lines: np.ndarray,
        rows: np.ndarray,
        merged_by: Sequence[str] = (),
    ) -> ValidationReport:
        taken = self._existing(
            spec.table,
            key.columns,
            full,
            key.columns,
            rows,
            key.where,
            nulls_equal=not key.nulls_distinct,
            other_than=merged_by,
            new_only=bool(merged_by) and self.merging is MergeAction.SKIP,
        )
        message = (
            f"{IN_DATABASE if key.whole_rows and not merged_by else 'refused'}: the database has a "
            f"{spec.name} row with this {self._key_words(key)}"
        )
        return self._key_report(spec, label, lines, full, key.columns, taken, key.name, message)


#: A parameter of :meth:`SeedValidator._existing`'s query, as it is marked in the text.
_PARAMETER = re.compile("\0([ko][0-9]+)\0")


@cache
def _checked_columns(spec: TableSpec) -> tuple[str, ...]:
    """Columns that a rule, unique key or foreign key reads."""
    names: dict[str, None] = {}
    for item in spec.rules:
        names.update(dict.fromkeys(item.rule.columns))
    for key in spec.unique_keys:
        names.update(dict.fromkeys(key.reads))
    for fk in spec.foreign_keys:
        names.update(dict.fromkeys(fk.columns))
    return tuple(name for name in names if name in spec.columns)


def _expected_rows(source: SeedSource) -> int:
    """About how many rows ``source`` holds, from its size (0 when that is not cheap to tell).

    At most one row per 16 bytes, so that a first sample of short lines cannot size
    a bitmap far beyond the file (too small a guess is harmless: the bitmap grows).
    """
    try:
        size, per_row = source.format.size_in_bytes(), source.format.bytes_per_position()
    except OSError:
        return 0
    return min(int(size / per_row), size // 16) if size and per_row else 0


__all__ = ["RowResult", "SeedValidator"]
