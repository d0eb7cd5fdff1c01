"""DataFrames that read well in a notebook: number formats, one sign for missing, no overflow.

:func:`styled` turns a DataFrame into a pandas ``Styler``: integers with
thousands separators, other numbers rounded by size (``100,000``, ``12.35``,
``0.00228``), every kind of missing value (``None``, ``NaN``, ``<NA>``,
``NaT``) shown the same way (:data:`MISSING`), long text cut with an
ellipsis, wide tables scrolling inside their cell instead of running off
the page, and at most ``max_rows`` rows. :func:`use_notebook_display`
makes every DataFrame a notebook shows look like that.

>>> from seedbed.explore import styled
>>> styled(frame, percent=["share"])          # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import pandas as pd

MISSING = "\u2013"  # an en dash
MAX_ROWS = 30
MAX_CELL_CHARACTERS = 48


def number(value: Any) -> str:
    """One number as people read it: ``100,000``, ``1,234.5``, ``12.35``, ``0.00228``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if not isinstance(value, numbers.Real):
        return str(value)
    number = float(value)
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    size = abs(number)
    if size >= 1000:
        return f"{number:,.0f}"
    if size >= 1:
        return f"{number:,.2f}"
    return f"{number:.3g}"


def _text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    text = str(value)
    if len(text) > MAX_CELL_CHARACTERS:
        return text[: MAX_CELL_CHARACTERS - 1] + "…"
    return text


def styled(
    frame: pd.DataFrame,
    *,
    percent: Iterable[str] = (),
    max_rows: int = MAX_ROWS,
    caption: str | None = None,
) -> Any:
    """``frame`` as a pandas ``Styler`` with the formats above; ``percent`` columns as ``12.3%``."""
    shown = frame.head(max_rows)
    percent = set(percent)
    formats: dict[Any, Any] = {}
    for column in shown.columns:
        if column in percent:
            formats[column] = lambda v: MISSING if pd.isna(v) else f"{float(v):.1%}"
        elif pd.api.types.is_numeric_dtype(shown[column]) and not pd.api.types.is_bool_dtype(
            shown[column]
        ):
            formats[column] = number
        else:
            formats[column] = _text
    styler = shown.style.format(formats, na_rep=MISSING)
    styler = styler.format_index(_text, axis=0, na_rep=MISSING)
    if len(frame) > max_rows:
        note = f"first {max_rows:,} of {len(frame):,} rows"
        caption = f"{caption} ({note})" if caption else note
    if caption:
        styler = styler.set_caption(caption)
    return styler.set_table_styles(
        [
            {"selector": "", "props": "display: block; max-width: 100%; overflow-x: auto;"},
            {"selector": "td", "props": "white-space: nowrap; text-align: right;"},
            {"selector": "th", "props": "white-space: nowrap;"},
            {"selector": "caption", "props": "caption-side: bottom; color: #666;"},
        ],
        overwrite=False,
    )


def _frame_html(frame: pd.DataFrame) -> str:
    html: str = styled(frame).to_html()
    return html


def use_notebook_display() -> bool:
    """Show every DataFrame in this IPython session through :func:`styled`; True if done.

    Outside IPython it does nothing. ``pd.set_option`` settings for plain text
    output are left alone.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _frame_html)
    return True


__all__ = ["MISSING", "number", "styled", "use_notebook_display"]
