"""The public Pandera schemas judge a user's own frames as ``seedbed.validate`` judges them.

A Polars user holds numbers as numbers (``Float64``, ``Int32``, ``Decimal``) and times
in any unit; a pandas user's ``read_csv`` gives ``float64`` and ``int64``. Each cell is
read as seedbed reads that frame (so as COPY would read it), a cell that cannot be read
fails ``type`` alone, and the table's rules judge the cells that can.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pandera.errors
import polars as pl
import pytest

import seedbed
from tests.helpers import model_folder

LINE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Line(Base):
    __tablename__ = "line"
    __table_args__ = (
        sa.CheckConstraint("price > 0", name="price_positive"),
        sa.CheckConstraint("qty BETWEEN 1 AND 10", name="qty_range"),
        sa.CheckConstraint("ratio < 100", name="ratio_small"),
        sa.CheckConstraint("shipped_at > ordered_at", name="shipped_after_order"),
        sa.UniqueConstraint("code", "price", name="code_price"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    code = mapped_column(sa.Text, nullable=False)
    price = mapped_column(sa.Numeric(6, 2), nullable=False)
    qty = mapped_column(sa.SmallInteger)
    ratio = mapped_column(sa.REAL)
    weight = mapped_column(sa.Double)
    ordered_at = mapped_column(sa.DateTime(timezone=True))
    shipped_at = mapped_column(sa.DateTime(timezone=True))
    label = mapped_column(sa.String(4))
"""

AT = [pd.Timestamp("2024-01-01 10:00", tz="UTC") + pd.Timedelta(hours=h) for h in range(6)]


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(tmp_path_factory.mktemp("public") / "models", line=LINE)


def _polars(rows: dict[str, list]) -> pl.DataFrame:
    """A frame as a Polars user holds one: numbers as numbers, of the widths they come in."""
    return pl.DataFrame(
        {
            "id": pl.Series(rows["id"], dtype=pl.Int32),
            "code": rows["code"],
            "price": pl.Series(rows["price"], dtype=pl.Float64),
            "qty": pl.Series(rows["qty"], dtype=pl.Int32),
            "ratio": pl.Series(rows["ratio"], dtype=pl.Float32),
            "weight": pl.Series(rows["weight"], dtype=pl.Float64),
            "ordered_at": pl.Series(rows["ordered_at"]).cast(pl.Datetime("ns", "UTC")),
            "shipped_at": pl.Series(rows["shipped_at"]).cast(pl.Datetime("ns", "UTC")),
        }
    )


VALID = {
    "id": [1, 2, 3],
    "code": ["a", "b", "a"],
    "price": [1.5, 2.0, 1.25],
    "qty": [1, 10, None],
    "ratio": [0.5, 99.0, None],
    "weight": [1.0, float("inf"), None],
    "ordered_at": AT[:3],
    "shipped_at": [AT[1], None, AT[4]],
}

BAD = {
    "id": [1, 2, 3, 4, 5, 6],
    "code": ["a", "b", "a", "c", "d", "e"],
    # -2 fails its CHECK; 1.5 again with code a breaks the key; 12345.678 does not fit
    # numeric(6,2); 1.004 and 1.005 round to 1.00 and 1.01
    "price": [1.5, -2.0, 1.5, 12345.678, 1.004, 1.005],
    # 11 fails its CHECK; 40000 is no smallint (and not also "out of range")
    "qty": [1, 11, 3, 40000, None, 5],
    # 150 fails its CHECK; NaN is larger than every number in PostgreSQL
    "ratio": [1.0, 2.0, 150.0, float("nan"), 2.0, 3.0],
    "weight": [1.0, 2.0, float("inf"), 4.0, None, float("nan")],
    "ordered_at": [AT[0], AT[2], AT[0], AT[1], None, AT[3]],
    "shipped_at": [AT[1], AT[1], AT[2], AT[1], AT[0], AT[4]],
}

#: rules over several columns: Pandera names the table (Polars) or every column (pandas)
FRAME_WIDE = {"code_price", "ck_line_shipped_after_order"}

#: (row, column, rule) for BAD, as seedbed.validate reports them (no column: frame-wide)
BAD_VERDICTS = {
    (1, "price", "ck_line_price_positive"),
    (1, "qty", "ck_line_qty_range"),
    (1, None, "ck_line_shipped_after_order"),
    (2, None, "code_price"),
    (2, "ratio", "ck_line_ratio_small"),
    (3, "price", "type"),
    (3, "qty", "type"),
    (3, "ratio", "ck_line_ratio_small"),
    (3, None, "ck_line_shipped_after_order"),
}


def _report(frame: object, models: Path) -> set[tuple[int, str | None, str]]:
    report = seedbed.validate({"line": frame}, models=models)
    return {
        (int(r["line"]), None if r["rule"] in FRAME_WIDE else str(r["column"]), str(r["rule"]))
        for r in report.to_records()
    }


def _schema_verdicts(backend: str, frame: object, models: Path) -> set[tuple[int, str | None, str]]:
    schema = seedbed.pandera_schema("line", backend=backend, models=models)
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as caught:
        cases = caught.failure_cases
        cases = cases.to_pandas() if isinstance(cases, pl.DataFrame) else cases
    else:
        return set()
    found = set()
    for index, column, check in zip(cases["index"], cases["column"], cases["check"], strict=True):
        check = str(check)
        if check.startswith("dtype("):  # pandas' declared dtype: said once per column
            continue
        found.add((int(index), None if check in FRAME_WIDE else str(column), check))
    return found


def test_a_polars_frame_with_numbers_as_numbers_passes_the_polars_schema(lines: Path) -> None:
    frame = _polars(VALID)
    assert _report(frame, lines) == set()
    validated = seedbed.pandera_schema("line", backend="polars", models=lines).validate(frame)
    assert validated.height == 3


def test_the_polars_schema_gives_the_report_s_verdicts_on_a_typed_frame(lines: Path) -> None:
    frame = _polars(BAD)
    assert _report(frame, lines) == BAD_VERDICTS
    assert _schema_verdicts("polars", frame, lines) == BAD_VERDICTS


def test_the_pandas_schema_reports_an_unreadable_number_once(lines: Path) -> None:
    frame = _polars(BAD).to_pandas()
    frame["qty"] = frame["qty"].astype("Int64")  # pandas holds integers with NULLs as floats
    # pandas' NaN is its missing value: NULL, which passes ratio < 100
    expected = BAD_VERDICTS - {(3, "ratio", "ck_line_ratio_small")}
    assert _report(frame, lines) == expected
    assert _schema_verdicts("pandas", frame, lines) == expected


def test_text_and_decimals_are_read_as_their_numbers(lines: Path) -> None:
    """Text, Polars decimals and pandas' Decimal objects, in every schema as in the report."""
    texts = pl.DataFrame(
        {
            "id": ["1", " 2", "3", "4", "5"],
            "code": ["a", "a", "b", "c\x00", "c\x00"],
            "price": pl.Series(
                [Decimal("1.50"), Decimal("1.5"), Decimal("-1"), Decimal(1), Decimal(1)]
            ),
            "qty": ["1", "x", "10", None, None],
        }
    )
    # 1.50 and 1.5 are one key; "x" is no smallint; -1 fails its CHECK; a NUL is no text
    # (so not a key that repeats)
    expected = {
        (1, None, "code_price"),
        (1, "qty", "type"),
        (2, "price", "ck_line_price_positive"),
        (3, "code", "type"),
        (4, "code", "type"),
    }
    assert _report(texts, lines) == expected
    assert _schema_verdicts("polars", texts, lines) == expected
    objects = texts.to_pandas()  # Decimal objects, as psycopg gives numeric
    assert objects["price"].dtype == object
    assert _report(objects, lines) == expected
    assert _schema_verdicts("pandas", objects, lines) == expected


def test_a_float_s_nan_is_a_value_and_a_column_that_cannot_be_read_is_null_to_rules(
    lines: Path,
) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2],
            "code": ["a", "b"],
            "price": [float("nan"), 2.0],  # NOT NULL holds: NaN is a numeric value (> 0 too)
            "ordered_at": pl.Series([AT[0], AT[1]]).dt.replace_time_zone(None),  # no zone
            "shipped_at": [AT[1], AT[0]],
        }
    )
    expected = {(0, "ordered_at", "type"), (1, "ordered_at", "type")}
    assert _report(frame, lines) == expected
    assert _schema_verdicts("polars", frame, lines) == expected


def test_a_value_too_long_for_its_varchar_fails_length_and_a_nul_fails_type(lines: Path) -> None:
    """Each cell under its own rule and message, though both cannot be read, in one column."""
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "code": ["a", "b", "c", "d"],
            "price": [1.0, 2.0, 3.0, 4.0],
            "label": ["short", "ab\x00", "abcd  ", "abcd"],  # the spaces past 4 are cut
        }
    )
    expected = {(0, "label", "length"), (1, "label", "type")}
    assert _report(frame, lines) == expected
    messages = {
        str(r["rule"]): str(r["message"])
        for r in seedbed.validate({"line": frame}, models=lines).to_records()
    }
    assert messages == {
        "length": "must be at most 4 characters",
        "type": "must be text without NUL characters",
    }
    assert _schema_verdicts("polars", frame, lines) == expected
    assert _schema_verdicts("pandas", frame.to_pandas(), lines) == expected


BAG = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Bag(Base):
    __tablename__ = "bag"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    tags = mapped_column(postgresql.ARRAY(sa.Integer))
    label = mapped_column(sa.String(3))
"""


def _bag_verdicts(backend: str, frame: object, models: Path) -> set[tuple[int, str, str]]:
    schema = seedbed.pandera_schema("bag", backend=backend, models=models)
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    cases = cases.to_pandas() if isinstance(cases, pl.DataFrame) else cases
    return {
        (int(i), str(c), str(k))
        for i, c, k in zip(cases["index"], cases["column"], cases["check"], strict=True)
    }


def test_values_postgresql_reads_are_judged_by_it_in_both_schemas_as_the_report_does(
    tmp_path: Path, db_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``integer[]`` column: PostgreSQL reads its values (the settings' database, as for
    ``seedbed.validate``); a list in a ``varchar(3)`` column is a ``type`` case of its row."""
    for name in ("SEEDBED_HOME", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
        if name in db_env:
            monkeypatch.setenv(name, db_env[name])
    models = model_folder(tmp_path / "models", bag=BAG)
    frame = pl.DataFrame({"id": [1, 2, 3], "tags": [["1", "x"], ["3"], None], "label": ["a"] * 3})
    expected = {(0, "tags", "type")}
    report = seedbed.validate({"bag": frame}, models=models)
    assert {(int(r["line"]), str(r["column"]), str(r["rule"])) for r in report.to_records()} == (
        expected
    )
    assert _bag_verdicts("polars", frame, models) == expected
    too_big = pd.DataFrame({"id": [1, 2], "tags": [[1, 2**40], [2]], "label": ["a", "b"]})
    assert _bag_verdicts("pandas", too_big, models) == {(0, "tags", "type")}
    listed = pl.DataFrame({"id": [1, 2], "tags": [[1], [2]], "label": [["a"], None]})
    assert _bag_verdicts("polars", listed, models) == {(0, "label", "type")}
