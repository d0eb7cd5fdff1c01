"""``seedbed.explore.styled``: number formats, one sign for missing values, tables that scroll."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedbed.explore import styled
from seedbed.explore.display import MISSING, number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100000.0, "100,000"),
        (1234567, "1,234,567"),
        (12.3456, "12.35"),
        (0.002284, "0.00228"),
        (4321.9, "4,322"),
        (np.int64(7), "7"),
        (float("nan"), MISSING),
        (None, MISSING),
        (pd.NA, MISSING),
    ],
)
def test_numbers_read_as_people_write_them(value: object, text: str) -> None:
    assert number(value) == text


def test_every_kind_of_missing_value_shows_the_same() -> None:
    frame = pd.DataFrame(
        {
            "a": [1.5, np.nan],
            "b": pd.array([1, None], dtype="Int64"),
            "c": ["x", None],
            "d": pd.to_datetime(["2024-01-01", None]),
        }
    )
    html = styled(frame).to_html()
    for marker in ("nan", "NaN", "None", "&lt;NA&gt;", "NaT"):
        assert marker not in html
    assert html.count(f">{MISSING}<") == 4


def test_wide_tables_scroll_and_long_rows_are_capped() -> None:
    frame = pd.DataFrame({f"column_{i}": ["x" * 200] * 50 for i in range(30)})
    html = styled(frame, max_rows=10).to_html()
    assert "overflow-x: auto" in html and "white-space: nowrap" in html
    assert "x" * 200 not in html and "…" in html
    assert "first 10 of 50 rows" in html
    assert html.count("<tr>") == 11  # header and ten rows


def test_percent_columns() -> None:
    html = styled(pd.DataFrame({"share": [0.1234, None]}), percent=["share"]).to_html()
    assert "12.3%" in html and f">{MISSING}<" in html
