"""What a load did: rows and strategy per table, and where the time went.

The time is split three ways: validation (the calling thread), COPY and
rebuild (the writer thread, at the same time). The headline names the
critical path: when validation took longer than the writer, the load waited
for validation, and the headline says so with both numbers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from seedbed.lazymodules import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")


@dataclass
class TableLoad:
    """The outcome for one table.

    ``skipped`` counts rows of the source that changed nothing: rows that
    already existed (``skip-existing``) or already held the same values
    (``upsert``).
    """

    table: str
    source: str
    strategy: str = "incremental"
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    seconds: float = 0.0
    note: str = ""  # why an empty table was written incrementally, if the strategy was auto

    @property
    def rows(self) -> int:
        """Rows read from the source."""
        return self.inserted + self.updated + self.skipped


@dataclass
class LoadResult:
    """The outcome of :func:`seedbed.load`, one :class:`TableLoad` per table in load order.

    Prints as a table in a terminal and renders as HTML in Jupyter::

        >>> result = seedbed.load("data/seeds")       # doctest: +SKIP
        >>> result.inserted                            # doctest: +SKIP
        {'user': 40, 'session': 80, ...}
    """

    mode: str
    committed: bool
    tables: list[TableLoad] = field(default_factory=list)
    validate_seconds: float = 0.0
    write_seconds: float = 0.0
    copy_seconds: float = 0.0
    rebuild_seconds: float = 0.0
    total_seconds: float = 0.0
    attempts: int = 1
    strategy_note: str = ""
    """Why ``auto`` chose another strategy than it usually would, if it did (on Citus)."""

    @property
    def inserted(self) -> dict[str, int]:
        return {t.table: t.inserted for t in self.tables}

    @property
    def updated(self) -> dict[str, int]:
        return {t.table: t.updated for t in self.tables}

    @property
    def skipped(self) -> dict[str, int]:
        return {t.table: t.skipped for t in self.tables}

    @property
    def rows(self) -> int:
        """Rows read from all sources."""
        return sum(t.rows for t in self.tables)

    def to_frame(self) -> pd.DataFrame:
        """One row per table: table, source, strategy, inserted, updated, skipped, seconds."""
        columns = ["table", "source", "strategy", "inserted", "updated", "skipped", "seconds"]
        rows = [[getattr(t, c) for c in columns] for t in self.tables]
        return pd.DataFrame(rows, columns=columns)

    @property
    def validation_bound(self) -> bool:
        """True when validation, not the database, was the critical path."""
        return self.validate_seconds > self.write_seconds

    def _headline(self) -> str:
        verb = "loaded" if self.committed else "dry run, rolled back:"
        split = (
            f"validation {self.validate_seconds:.2f} s, COPY {self.copy_seconds:.2f} s, "
            f"rebuild {self.rebuild_seconds:.2f} s"
        )
        line = (
            f"{verb} {self.rows:,} rows into {len(self.tables)} tables ({self.mode}) "
            f"in {self.total_seconds:.2f} s ({split})"
        )
        if self.strategy_note:
            line += f"\n{self.strategy_note}"
        if self.validation_bound and self.tables:
            line += (
                f"\nvalidation was the critical path: {self.validate_seconds:.2f} s against "
                f"{self.write_seconds:.2f} s of database work"
            )
        return line

    def __str__(self) -> str:
        header = ("table", "strategy", "inserted", "updated", "skipped", "seconds")
        body = [
            (
                t.table,
                t.strategy,
                f"{t.inserted:,}",
                f"{t.updated:,}",
                f"{t.skipped:,}",
                f"{t.seconds:.2f}",
            )
            for t in self.tables
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
            for row in [header, *body]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"{t.table}: {t.note}" for t in self.tables if t.note]
        return "\n".join([*lines, *notes, self._headline()])

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            f"<td>{html.escape(t.table)}</td><td>{html.escape(t.source)}</td>"
            f"<td>{html.escape(t.strategy)}</td>"
            f"<td>{t.inserted:,}</td><td>{t.updated:,}</td><td>{t.skipped:,}</td>"
            f"<td>{t.seconds:.2f}</td>"
            "</tr>"
            for t in self.tables
        )
        return (
            "<table><thead><tr><th>table</th><th>source</th><th>strategy</th><th>inserted</th>"
            "<th>updated</th><th>skipped</th><th>seconds</th></tr></thead>"
            f"<tbody>{cells}</tbody></table>"
            + "".join(
                f"<p>{html.escape(t.table)}: {html.escape(t.note)}</p>"
                for t in self.tables
                if t.note
            )
            + f"<p>{html.escape(self._headline())}</p>"
        )
