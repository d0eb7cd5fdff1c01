"""``ValidationReport``: every problem found, one row each, in terms people can act on.

Columns: ``file``, ``table``, ``line``, ``column``, ``rule``, ``value``,
``message``. ``line`` is the physical line in a CSV file (the header is line
1; quoted newlines count), or the row position (from 0) in a Parquet file or
DataFrame. ``rule`` is the database constraint's name where there is one
(``ck_user_email_format``, ``uq_user_email``, ``fk_session_user_id_user``,
``pk_post``), otherwise one of the names in :data:`RULES`. ``value`` is
never a secret: values of sensitive columns are stored as
:data:`REDACTED` and very long values are shortened.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seedbed.atomic import replacing
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import YEAR_1_DAY, YEAR_1_US, YEAR_10000_DAY, YEAR_10000_US, time_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")


COLUMNS = ("file", "table", "line", "column", "rule", "value", "message")
REDACTED = "[redacted]"
MAX_VALUE_CHARS = 200
DISPLAY_ROWS = 50

#: Rule names for problems that are not a database constraint.
RULES = {
    "not_null": "a NOT NULL column holds NULL (an unquoted empty field)",
    "type": "a value cannot be read as the column's type",
    "enum": "a value is not one of the enum's labels",
    "length": "a value is longer than the column's declared length",
    "encoding": "bytes that are not UTF-8, or a NUL byte",
    "csv_format": "a malformed CSV record: wrong field count, stray or unbalanced quote",
    "json_format": "a line of a JSON Lines file that is not one JSON object",
    "empty_file": "a file without a header line",
    "unknown_column": "a header names a column the table does not have",
    "duplicate_column": "a header names a column twice",
    "missing_column": "a required column (NOT NULL, no default) is not in the header",
    "generated_column": "a header names a column the database generates (GENERATED ALWAYS AS)",
}


def shorten(value: str) -> str:
    if len(value) <= MAX_VALUE_CHARS:
        return value
    return f"{value[:MAX_VALUE_CHARS]}… ({len(value):,} characters)"


def display_values(values: Any, sensitive: bool) -> list[str | None]:
    """Values as report text: redacted when ``sensitive``, shortened when huge."""
    items = list(values)
    if sensitive:
        return [REDACTED] * len(items)
    out: list[str | None] = []
    for item in items:
        if item is None or (
            not isinstance(item, list | tuple | dict | np.ndarray) and pd.isna(item)
        ):
            out.append(None)
        elif isinstance(item, str):
            out.append(shorten(item))
        else:
            out.append(shorten(_far_time(item) or _text_of(item)))
    return out


def cell_values(column: pd.Series, rows: np.ndarray, sensitive: bool) -> list[str | None]:
    """:func:`display_values` of ``column`` at ``rows`` (a mask): a nullable integer
    column's values as integers (its ``to_numpy`` makes them floats, ``-13.0``)."""
    whole = isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and (
        pd.api.types.is_integer_dtype(column.dtype)
    )
    return display_values(column.array[rows] if whole else column.to_numpy()[rows], sensitive)


def _far_time(item: object) -> str | None:
    """A time outside years 1 to 9999 (``infinity``, ``BC``) as PostgreSQL writes it, which
    pandas and NumPy do not (``294247-01-10 04:00:54.775807``); None for anything else."""
    if isinstance(item, pd.Timestamp):
        stamp, zone = item.asm8, item.tz is not None
    elif isinstance(item, np.datetime64):
        stamp, zone = item, False
    else:
        return None
    if np.datetime_data(stamp.dtype)[0] == "D":
        days = int(stamp.view("i8"))
        return None if YEAR_1_DAY <= days < YEAR_10000_DAY else time_text(days, days=True)
    micros = int(stamp.astype("datetime64[us]").view("i8"))
    return None if YEAR_1_US <= micros < YEAR_10000_US else time_text(micros, zone=zone)


def _text_of(item: object) -> str:
    """``str(item)``, or a stand-in for an object that cannot be shown (nested too deeply)."""
    try:
        return str(item)
    except RecursionError:
        return f"<{type(item).__name__} nested too deeply to show>"
    except Exception:  # a user object whose __str__ fails still gets its report row
        return f"<{type(item).__name__} that cannot be shown>"


def _missing(value: Any) -> bool:
    if value is None or isinstance(value, str | list | tuple | dict | np.ndarray):
        return value is None
    return bool(pd.isna(value))


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": pd.Series([], dtype="str"),
            "table": pd.Series([], dtype="str"),
            "line": pd.Series([], dtype="Int64"),
            "column": pd.Series([], dtype="str"),
            "rule": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
            "message": pd.Series([], dtype="str"),
        }
    )


@dataclass(frozen=True)
class _Block:
    file: str
    table: str
    lines: list[int | None]
    column: str | None
    rule: str
    values: list[str | None] | None
    message: str


def _columns(blocks: Sequence[_Block | pd.DataFrame]) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for block in blocks:
        if isinstance(block, pd.DataFrame):
            for name in COLUMNS:
                data[name].extend(None if _missing(v) else v for v in block[name].tolist())
            continue
        n = len(block.lines)
        data["file"].extend([block.file] * n)
        data["table"].extend([block.table] * n)
        data["line"].extend(block.lines)
        data["column"].extend([block.column] * n)
        data["rule"].extend([block.rule] * n)
        data["value"].extend(block.values if block.values is not None else [None] * n)
        data["message"].extend([block.message] * n)
    return data


def _frame_of(data: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.array(data[name], dtype="Int64" if name == "line" else "str") for name in COLUMNS}
    )


def _materialize(blocks: Sequence[_Block | pd.DataFrame]) -> pd.DataFrame:
    return _frame_of(_columns(blocks)) if blocks else _empty_frame()


class ValidationReport:
    """The problems found in a seed set; empty when the set is valid.

    >>> report = seedbed.validate("data/seeds")          # doctest: +SKIP
    >>> report.ok                                          # doctest: +SKIP
    True
    >>> report.failures.columns.tolist()                   # doctest: +SKIP
    ['file', 'table', 'line', 'column', 'rule', 'value', 'message']
    """

    def __init__(self, failures: pd.DataFrame | None = None) -> None:
        # Rows are kept as blocks and turned into one DataFrame only when looked at:
        # validation makes many small, mostly empty reports.
        self._blocks: list[_Block | pd.DataFrame] = []
        self._cache: pd.DataFrame | None = None
        #: files, rows and seconds of the validation that made this report, when known
        self.checked: Checked | None = None
        if failures is not None and not failures.empty:
            self._blocks.append(failures.loc[:, list(COLUMNS)])

    @classmethod
    def from_rows(
        cls,
        *,
        file: str,
        table: str,
        lines: Sequence[Any] | np.ndarray,
        column: str | None,
        rule: str,
        values: Sequence[str | None] | None,
        message: str,
    ) -> ValidationReport:
        """Problems of one kind: one row per line, sharing column, rule and message.

        ``values`` must already be display values (see :func:`display_values`).
        """
        report = cls()
        if len(lines):
            line_list = [None if _missing(v) else int(v) for v in list(lines)]
            value_list = list(values) if values is not None else None
            report._blocks.append(_Block(file, table, line_list, column, rule, value_list, message))
        return report

    @classmethod
    def refused(
        cls,
        *,
        table: str | None,
        file: str | None,
        line: int | None,
        constraint: str | None,
        message: str,
    ) -> ValidationReport:
        """The one row the database refused during a load, for a ``LoadError``."""
        return cls.from_rows(
            file=file or "",
            table=table or "",
            lines=[line],
            column=None,
            rule=constraint or "load",
            values=None,
            message=message,
        )

    @classmethod
    def concat(cls, reports: Iterable[ValidationReport]) -> ValidationReport:
        """One report holding the rows of all ``reports``, in order."""
        report = cls()
        for item in reports:
            report._blocks.extend(item._blocks)
        return report

    @property
    def _frame(self) -> pd.DataFrame:
        if self._cache is None:
            self._cache = _materialize(self._blocks)
            self._blocks = [self._cache] if len(self._cache) else []
        return self._cache

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self._blocks

    @property
    def failures(self) -> pd.DataFrame:
        """One row per problem (a copy: change it freely)."""
        return self._frame.copy()

    def __len__(self) -> int:
        return sum(len(b.lines) if isinstance(b, _Block) else len(b) for b in self._blocks)

    def __bool__(self) -> bool:
        # Always true, even with no problems: ``if report:`` must not read as "valid"
        # (and ``__len__`` would otherwise make an empty report false). Ask ``report.ok``.
        return True

    def summary(self) -> pd.DataFrame:
        """Problem counts per table and rule, most frequent first."""
        if self.ok:
            return pd.DataFrame(
                {
                    "table": pd.Series([], dtype="str"),
                    "rule": pd.Series([], dtype="str"),
                    "problems": pd.Series([], dtype="int64"),
                }
            )
        counts = self._frame.groupby(["table", "rule"], sort=True).size().rename("problems")
        frame = counts.reset_index().sort_values(
            ["problems", "table", "rule"], ascending=[False, True, True], kind="stable"
        )
        return frame.reset_index(drop=True)

    def head(self, rows: int) -> ValidationReport:
        """The first ``rows`` problems."""
        return ValidationReport(self._frame.head(rows))

    def sorted(self) -> ValidationReport:
        """The rows ordered by file, line, column and rule."""
        if len(self) < 2:
            return self
        data = _columns(self._blocks)

        def key(i: int) -> tuple[str, int, str, str]:
            line = data["line"][i]
            return (
                data["file"][i],
                -1 if line is None else line,
                data["column"][i] or "",
                data["rule"][i],
            )

        order = sorted(range(len(data["file"])), key=key)
        report = ValidationReport()
        report._cache = _frame_of({name: [data[name][i] for i in order] for name in COLUMNS})
        report._blocks = [report._cache]
        return report

    def to_records(self) -> list[dict[str, Any]]:
        """Every row as a dict with the field names above (never capped)."""
        if self.ok:
            return []  # without a frame, so without pandas
        records = []
        for row in self._frame.itertuples(index=False):
            record: dict[str, Any] = {}
            for name, value in zip(COLUMNS, row, strict=True):
                if _missing(value):
                    record[name] = None
                elif name == "line":
                    record[name] = int(value)
                else:
                    record[name] = str(value)
            records.append(record)
        return records

    def to_json(self, indent: int | None = None) -> str:
        """All rows as a JSON array of objects (never capped)."""
        return json.dumps(self.to_records(), indent=indent, ensure_ascii=False)

    def _headline(self) -> str:
        checked = f" ({self.checked})" if self.checked is not None else ""
        if self.ok:
            return f"valid: no problems found{checked}"
        tables = self._frame["table"].nunique()
        return f"invalid: {len(self):,} problem(s) in {tables} table(s){checked}"

    def to_text(self, max_rows: int = DISPLAY_ROWS) -> str:
        """The headline, problems per table and rule, then at most ``max_rows`` rows."""
        lines = [self._headline()]
        if self.ok:
            return lines[0]
        lines.append("problems per table and rule:")
        for row in self.summary().itertuples(index=False):
            lines.append(f"  {row.table:<14} {row.rule:<40} {row.problems:>8,}")
        for record in self.head(max(max_rows, 0)).to_records():
            line = record["line"]
            where = f"{record['file']}:{line}" if line is not None else str(record["file"])
            column = f" {record['column']}" if record["column"] is not None else ""
            value = f" (value: {record['value']!r})" if record["value"] is not None else ""
            lines.append(f"{where}{column}: {record['message']}{value} [{record['rule']}]")
        if len(self) > max_rows:
            lines.append(
                f"… and {len(self) - max(max_rows, 0):,} more "
                "(all of them: --failures FILE.csv or --json; in Python .failures)"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<ValidationReport {self._headline()}>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, max_rows: int = DISPLAY_ROWS) -> str:
        """Plain HTML (no JavaScript): headline, problems per table and rule, then rows."""
        parts = [f"<p><strong>{html.escape(self._headline())}</strong></p>"]
        if self.ok:
            return "".join(parts)
        parts.append("<table><thead><tr><th>table</th><th>rule</th><th>problems</th>")
        parts.append("</tr></thead><tbody>")
        for srow in self.summary().itertuples(index=False):
            parts.append(
                f"<tr><td>{html.escape(str(srow.table))}</td><td>{html.escape(str(srow.rule))}"
                f"</td><td>{srow.problems:,}</td></tr>"
            )
        parts.append("</tbody></table><table><thead><tr>")
        parts.extend(f"<th>{name}</th>" for name in COLUMNS)
        parts.append("</tr></thead><tbody>")
        for row in self._frame.head(max(max_rows, 0)).itertuples(index=False):
            cells = ["" if _missing(v) else str(v) for v in row]
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
        if len(self) > max_rows:
            parts.append(
                f"<p>… and {len(self) - max(max_rows, 0):,} more rows "
                "(<code>report.failures</code> holds them all)</p>"
            )
        return "".join(parts)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write every row (never capped) to a CSV file; secrets are already redacted.

        The file is replaced whole or not at all (:mod:`seedbed.atomic`).
        """
        with replacing(os.fspath(path)) as temp:
            self._frame.to_csv(temp, index=False, na_rep="")


@dataclass(frozen=True)
class Checked:
    """What a validation read: sources, rows and seconds."""

    files: int
    rows: int
    seconds: float

    def __str__(self) -> str:
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        return f"{files}, {self.rows:,} rows checked in {self.seconds:.2f} s"


__all__ = [
    "COLUMNS",
    "REDACTED",
    "RULES",
    "Checked",
    "ValidationReport",
    "cell_values",
    "display_values",
]
