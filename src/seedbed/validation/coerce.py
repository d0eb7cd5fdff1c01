"""Turning CSV text (or a DataFrame's values) into column values, as strictly as COPY.

:func:`coerce_column` reads one column. Text is parsed with vectorised
pyarrow kernels (RE2 regular expressions, casts); where seedbed is stricter
than PostgreSQL's input functions it says so below, and ``tests/test_parity.py``
lists the same cases:

- booleans: ``true``/``false`` and ``t``/``f`` as PostgreSQL prints them
  (PostgreSQL also takes yes, on, 1…);
- ``timestamptz``: ISO 8601 with seconds and an explicit UTC offset (``Z``,
  ``+00``, ``+05:30``), at most six fractional digits (PostgreSQL would also
  take dates alone, and would fill a missing offset from the session's
  TimeZone, which makes the stored instant depend on the reader);
- ``timestamp`` (without time zone): ISO 8601 dates alone, with minutes, or
  with seconds and up to six fractional digits; an offset is ignored, as
  PostgreSQL ignores it (not read: other date styles);
- ``date``: ISO 8601 dates alone (PostgreSQL also takes a time after them);
- all three: years of four digits or more, with an optional `` BC`` at the
  end, from PostgreSQL's first day (4714-11-24 BC) to the last one Arrow's
  ``timestamp[us]`` holds below ``infinity`` (294247-01-10; PostgreSQL goes on
  to 294276); ``infinity``, ``+infinity``, ``-infinity`` and ``epoch`` in any
  case, with white space around, held as PostgreSQL holds them (the largest and
  smallest int64 microseconds, int32 days for a date). Not read: ``now``,
  ``today``, ``tomorrow``, ``yesterday``, whose value is the time the seed is
  loaded (:data:`RELATIVE_MESSAGE` says so); white space around a date or
  timestamp; ``BC`` elsewhere than at the end; years of fewer than four digits
  (PostgreSQL reads ``24-05-01`` as 2024);
- numeric: decimal numbers, and ``NaN``, ``Infinity``, ``-Infinity``, as
  PostgreSQL prints them and in the other spellings it reads (white space
  around, any case, ``inf``), which are held as it prints them; not read: a sign
  before NaN (only a float column reads it), ``0x10`` and ``1_000``
  (PostgreSQL 16 and later);
- integers: optional sign and ASCII digits only (no spaces, ``_`` or ``0x``);
- inet: dotted-quad IPv4 without leading zeros, or IPv6, each with an optional
  prefix length (PostgreSQL also takes abbreviated forms such as ``10.1``);
- uuid: the 8-4-4-4-12 hex form only.

Two engines give the same verdicts: the pyarrow kernels above are the
reference (``columnar=False``); by default the kinds in :data:`COLUMNAR_KINDS`
take a faster road to the same cells and values. Most read the Arrow buffers
with NumPy: text is searched for a NUL byte once (each value only when one is
found); booleans compare each value's first bytes; a uuid needs 36 bytes with
dashes in place and hex digits elsewhere; timestamps laid out as the column's
first one (same length, digits and separators in the same places) have their
fields checked against the pattern's ranges and the calendar and are turned
into microseconds by arithmetic, while values laid out otherwise are read by
the reference. Dates use Polars expressions (the same regular expressions) and
the calendar from the buffers. The forms beyond the patterns (``infinity``,
``BC``, long years) are looked for, by one more pattern, among the values the
patterns refuse, and only those are read one by one in Python.
``tests/test_coerce_columnar.py`` compares both engines on every corpus.

The result keeps the values that could be read (typed: ``boolean``,
``datetime64[us, UTC]``, ``Int64``; text kinds stay ``str``) and marks the
others in ``bad`` with a message; those cells become NA.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.facts import ColumnSpec
from seedbed.facts import spec as k
from seedbed.jsontext import json_cell, refused
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import DAY_US, YEAR_1_DAY, YEAR_10000_DAY, days_from_civil
from seedbed.validation.arrays import (
    PLAIN_FLOATS,
    bool_array,
    date_array,
    float_text,
    float_values,
    holds_dates,
    integers,
    null_mask,
    numeric_array,
    repeated_string,
    string_array,
    true_mask,
    with_nulls,
)
from seedbed.validation.keyforms import UUID_SPELLINGS

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
else:
    pd = lazy_module("pandas")
    pl = lazy_module("polars")

_OFFSET = r"(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)"
TIMESTAMPTZ_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?" + _OFFSET + "$"
)
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,6})?)?" + _OFFSET + "?)?$"
)
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
INTEGER_PATTERN = r"^[+-]?[0-9]{1,19}$"
NUMERIC_PATTERN = r"^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?|NaN|[+-]?Infinity)$"
#: White space PostgreSQL's input functions of numbers, dates and times skip around a value.
_BLANK = " \t\n\r\v\f"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
IPV4_PATTERN = (
    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?$"
)

_MESSAGES = {
    k.BOOLEAN: "must be true or false (or t or f)",
    k.TIMESTAMPTZ: "must be an ISO 8601 timestamp with an explicit UTC offset, "
    "e.g. 2024-05-01T12:00:00Z or 2024-05-01 12:00:00+00 (without one, PostgreSQL would "
    "use the session's TimeZone; at most 6 fractional digits, from 4714-11-24 BC to "
    "294247-01-10), or infinity, -infinity, epoch",
    k.TIMESTAMP: "must be an ISO 8601 timestamp, e.g. 2024-05-01T12:00:00 or 2024-05-01 "
    "(from 4714-11-24 BC to 294247-01-10), or infinity, -infinity, epoch",
    k.DATE: "must be an ISO 8601 date, e.g. 2024-05-01 (from 4714-11-24 BC to "
    "294247-01-10), or infinity, -infinity, epoch",
    k.INTEGER: "must be a whole number in the column's range",
    k.NUMERIC: "must be a decimal number (or NaN, Infinity, -Infinity)",
    k.UUID: "must be a UUID",
    k.INET: "must be an IPv4 or IPv6 address, optionally with a /prefix length",
    k.JSON: "must be valid JSON (no NaN, no \\u0000)",
    k.TEXT: "must be text without NUL characters",
}


#: Every kind that has a faster form (Polars expressions or the Arrow buffers read with
#: NumPy; the test compares them all with the reference).
POLARS_KINDS = frozenset(
    {k.TIMESTAMPTZ, k.TIMESTAMP, k.DATE, k.INTEGER, k.NUMERIC, k.UUID, k.TEXT, k.INET, k.BOOLEAN}
)
#: The kinds that use it: those it makes cheaper. Short values (integers) are read
#: faster by pyarrow's kernels than they are handed to Polars.
COLUMNAR_KINDS = frozenset({k.TIMESTAMPTZ, k.TIMESTAMP, k.DATE, k.UUID, k.TEXT, k.BOOLEAN})

_TRUE = string_array(["true", "t"])
_FALSE = string_array(["false", "f"])


@dataclass(frozen=True)
class Reason:
    """Bad cells of a column that are bad for a reason of their own: a value too long
    for ``varchar(n)``, a number too large for ``numeric(p, s)``, a word for the time of
    loading (``now``…), beside the column's other bad cells."""

    cells: np.ndarray
    rule: str
    message: str


def _reasons(bad: np.ndarray, rule: str, message: str, reasons: tuple[Reason, ...]) -> list[Reason]:
    """Every bad cell once, under its reason: ``reasons`` first, the rest as ``rule``."""
    rest = bad.copy()
    for reason in reasons:
        rest &= ~reason.cells
    return [r for r in (Reason(rest, rule, message), *reasons) if r.cells.any()]


@dataclass
class Coerced:
    """One column read: ``values`` (NA where ``bad``), and why bad cells are bad."""

    values: pd.Series
    bad: np.ndarray
    rule: str
    message: str
    reasons: tuple[Reason, ...] = ()  #: as :attr:`ArrowCoerced.reasons`

    def why(self) -> list[Reason]:
        """The bad cells grouped by their rule and message, each cell in one group."""
        return _reasons(self.bad, self.rule, self.message, self.reasons)


def length_message(column: ColumnSpec) -> str:
    """Why a value too long for its ``varchar(n)`` is refused (rule ``length``)."""
    return f"must be at most {column.max_length} characters"


def type_message(column: ColumnSpec) -> str:
    if column.kind == k.ENUM:
        return f"must be one of {', '.join(column.enum_values)} (enum {column.enum_name})"
    if column.float_type is not None:
        return (
            f"must be a number {column.float_type} holds (magnitudes from "
            f"{_FLOAT_RANGES[column.float_type]}, or 0), or NaN, Infinity, -Infinity"
        )
    return _MESSAGES[column.kind]


def _string_array(series: pd.Series) -> pa.Array | None:
    """The values as a pyarrow string array, or None when they are not all text."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype)
        and (
            pa.types.is_string(dtype.pyarrow_dtype)
            or pa.types.is_large_string(dtype.pyarrow_dtype)
            or pa.types.is_string_view(dtype.pyarrow_dtype)
        )
    ):
        arr = pa.array(series, from_pandas=True)
    elif dtype is np.dtype(object) or dtype == np.dtype(object):
        values = series.to_numpy(dtype=object)
        na = pd.isna(values)
        if not all(isinstance(v, str) for v in values[~na]):
            return None
        arr = pa.array(values, type=pa.string(), from_pandas=True)
    else:
        return None
    if isinstance(arr, pa.ChunkedArray):  # one chunk taken as it is: combining copies
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if not pa.types.is_string(arr.type):  # large_string, string_view
        arr = arr.cast(pa.string())
    return arr


def _series(arr: pa.Array) -> pl.Series:
    found = pl.from_arrow(arr)
    assert isinstance(found, pl.Series)
    return found


def _matches(arr: pa.Array, pattern: str, fast: bool = False) -> np.ndarray:
    """True where the (non-null) value matches; False for nulls.

    ``fast``: by Polars (Rust's regex crate), which reads these patterns (ASCII
    classes, ``^``/``$`` at the ends of the text) as RE2 does.
    """
    if fast:
        found = _series(arr).str.contains(pattern).fill_null(False)
        return np.asarray(found.to_numpy(), dtype=bool)
    return true_mask(pc.match_substring_regex(arr, pattern))


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's value offsets (``len(arr) + 1`` of them, into the data) and data bytes."""
    _, offsets_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer else np.zeros(0, np.uint8)
    return offsets, data


def _has_nul(arr: pa.Array, fast: bool) -> np.ndarray:
    if fast:
        offsets, data = _buffers(arr)
        values = data[offsets[0] : offsets[-1]]
        if not len(values) or values.min() > 0:
            return np.zeros(len(arr), dtype=bool)  # no NUL byte in any value
        found = _series(arr).str.contains("\x00", literal=True).fill_null(False)
        return np.asarray(found.to_numpy(), dtype=bool)
    return true_mask(pc.match_substring(arr, "\x00"))


def _boolean_words(arr: pa.Array, present: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Which values are ``true`` or ``t``, and which ``false`` or ``f``, from the Arrow bytes:
    each value's first four bytes read as one little-endian ``uint32``."""
    offsets, data = _buffers(arr)
    if len(data) < 5:
        return None
    starts, lengths = offsets[:-1], np.diff(offsets)
    words = np.take(np.ndarray((len(data) - 3,), "<u4", data, 0, (1,)), starts, mode="clip")
    first = np.take(data, starts, mode="clip")
    single = present & (lengths == 1)
    is_true = (single & (first == ord("t"))) | (
        present & (lengths == 4) & (words == int.from_bytes(b"true", "little"))
    )
    is_false = (single & (first == ord("f"))) | (
        present
        & (lengths == 5)
        & (words == int.from_bytes(b"fals", "little"))
        & (np.take(data, starts + 4, mode="clip") == ord("e"))
    )
    return is_true, is_false


#: Byte to 1 for an ASCII hex digit, 0 else.
_HEX = np.zeros(256, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdefABCDEF", dtype=np.uint8)] = 1
_UUID_DASHES = (8, 13, 18, 23)


def _uuid_bytes(arr: pa.Array, present: np.ndarray) -> np.ndarray:
    """The present values not in the 8-4-4-4-12 hex form, from the Arrow bytes: a value
    fits when it has 36 bytes, dashes where the form has them and hex digits elsewhere."""
    offsets, data = _buffers(arr)
    rows = np.flatnonzero(present & (np.diff(offsets) == 36))
    if len(rows) * 36 == offsets[-1] - offsets[0]:  # those values are all the bytes
        matrix = data[offsets[0] : offsets[-1]].reshape(len(rows), 36)
    else:
        matrix = data[offsets[rows].astype(np.int64)[:, None] + np.arange(36)]
    fits = np.ones(len(rows), dtype=bool)
    for position in _UUID_DASHES:
        fits &= matrix[:, position] == ord("-")
    hex_digits = np.take(_HEX, matrix)
    if not fits.all() or np.count_nonzero(hex_digits) != 32 * len(rows):  # 32 when all fit
        not_hex = np.flatnonzero(hex_digits.reshape(-1) == 0)
        not_hex = not_hex[~np.isin(not_hex % 36, _UUID_DASHES)]
        fits[not_hex // 36] = False
    bad = present.copy()
    bad[rows[fits]] = False
    return bad


def _text_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    series: pd.Series = arr.to_pandas()
    series.index = index  # the frame's own labels (``pd.Series(series, index)`` realigns)
    return series


def _calendar_ok_bytes(arr: pa.Array, ok: np.ndarray) -> np.ndarray:
    """:func:`_calendar_ok` from the Arrow buffers: the pattern put ASCII digits of the
    year, month and day at bytes 0-3, 5-6 and 8-9 of every ``ok`` value."""
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    offsets, data = _buffers(arr)
    where = np.flatnonzero(ok)
    digits = data[offsets[where].astype(np.int64)[:, None] + np.arange(10)].astype(np.int64) - 48
    y = digits[:, :4] @ np.array([1000, 100, 10, 1])
    m = digits[:, 5:7] @ np.array([10, 1])
    d = digits[:, 8:10] @ np.array([10, 1])
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 0, 12)]
    days = days + ((m == 2) & leap)
    result = ok.copy()
    result[where] = (y >= 1) & (d <= days)
    return result


def _calendar_ok(arr: pa.Array, ok: np.ndarray, fast: bool = False) -> np.ndarray:
    """Of the rows already ``ok`` by pattern, those whose day exists in their month."""
    if not ok.any():
        return ok
    if fast:
        return _calendar_ok_bytes(arr, ok)
    arr = with_nulls(arr, ~ok)
    year = pc.cast(pc.utf8_slice_codeunits(arr, 0, 4), pa.int32(), safe=False)
    month = pc.cast(pc.utf8_slice_codeunits(arr, 5, 7), pa.int32(), safe=False)
    day = pc.cast(pc.utf8_slice_codeunits(arr, 8, 10), pa.int32(), safe=False)
    y, m, d = integers(year, 2000), integers(month, 1), integers(day, 1)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 0, 12)]
    days = days + ((m == 2) & leap)
    result: np.ndarray = ok & (y >= 1) & (d <= days)
    return result


_NAT = np.iinfo(np.int64).min  # NaT's microseconds

#: ``infinity`` and ``-infinity`` as PostgreSQL holds them (``DT_NOEND``, ``DT_NOBEGIN``;
#: ``DATEVAL_NOEND``, ``DATEVAL_NOBEGIN`` for dates): the largest and smallest int64
#: microseconds (int32 days), so that they order before and after every instant.
STAMP_INFINITY = 2**63 - 1
STAMP_MINUS_INFINITY = -(2**63)
DATE_INFINITY = 2**31 - 1
DATE_MINUS_INFINITY = -(2**31)
#: ``-infinity`` in a pandas series: NumPy holds NaT at the smallest int64, so the one
#: above it (as DuckDB holds ``-infinity``); still before every instant.
PANDAS_MINUS_INFINITY = STAMP_MINUS_INFINITY + 1


#: The instants seedbed holds, as PostgreSQL's and Arrow's ranges allow: from the first
#: day PostgreSQL holds (4714-11-24 BC, Julian day 0) to the last microsecond below
#: ``infinity`` (Arrow's ``timestamp[us]`` ends there, 30 years before PostgreSQL).
FIRST_DAY = days_from_civil(-4713, 11, 24)
FIRST_US = FIRST_DAY * DAY_US
LAST_US = STAMP_INFINITY - 1
LAST_DAY = LAST_US // DAY_US


#: PostgreSQL's white space (``isspace``) around the special words.
_SPACE = f"[{_BLANK}]*"
_SPECIAL = re.compile(_SPACE + r"(\+?infinity|-infinity|epoch)" + _SPACE, re.IGNORECASE)
#: Words whose value is the time they are read at: refused (see :data:`RELATIVE_MESSAGE`).
RELATIVE = re.compile(_SPACE + "(now|today|tomorrow|yesterday)" + _SPACE, re.IGNORECASE)
RELATIVE_PATTERN = "(?i)^" + _SPACE + "(now|today|tomorrow|yesterday)" + _SPACE + "$"
RELATIVE_MESSAGE = (
    "is a word PostgreSQL reads as the time the seed is loaded (now, today, tomorrow, "
    "yesterday): the rows would differ from load to load; write the instant, "
    "e.g. 2024-05-01 12:00:00+00"
)
#: The same words anywhere in a value of a time type seedbed leaves to PostgreSQL
#: (``time``, ``timetz``, ranges and arrays of times: ``[now,infinity)``, ``{today}``).
RELATIVE_WORD = "(?i)(^|[^a-z])(now|today|tomorrow|yesterday)([^a-z]|$)"
_TIME_TYPES = re.compile(
    r"\b(TIME|TIMETZ|TIMESTAMP|TIMESTAMPTZ|DATE|TSRANGE|TSTZRANGE|DATERANGE|TSMULTIRANGE|"
    r"TSTZMULTIRANGE|DATEMULTIRANGE)\b",
    re.IGNORECASE,
)
#: What the patterns leave out and PostgreSQL reads the same way everywhere: years of
#: more digits, ``BC``, and the special words.
_EXTENDED_PATTERN = "(?i)(infinity|epoch|^[0-9]{4,}-.* bc$|^[0-9]{5,}-)"
_ISO = re.compile(
    r"([0-9]{4,})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ]([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?"
    r"(Z|([+-])(0[0-9]|1[0-5])(?::?([0-5][0-9]))?)?)?( [Bb][Cc])?"
)


def _extended_value(text: str, kind: str) -> int | None:
    """One value the patterns refused, read as PostgreSQL reads the forms seedbed takes
    beyond them: ``infinity``, ``-infinity``, ``epoch``, years of more than four digits
    and ``BC``. Microseconds (days for a date), or None when refused."""
    special = _SPECIAL.fullmatch(text)
    if special is not None:
        word = special[1].lower()
        if word == "epoch":
            return 0
        if kind == k.DATE:
            return DATE_MINUS_INFINITY if word[0] == "-" else DATE_INFINITY
        return STAMP_MINUS_INFINITY if word[0] == "-" else STAMP_INFINITY
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    year, month, day = int(found[1]), int(found[2]), int(found[3])
    hour, second, offset = found[4], found[6], found[8]
    if year == 0 or (kind == k.DATE and hour is not None):
        return None
    if kind == k.TIMESTAMPTZ and (hour is None or offset is None):
        return None  # as the pattern: a time of day and an explicit offset
    if found[12]:
        year = 1 - year  # 1 BC is year 0
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if day > _MONTH_DAYS[month] + (month == 2 and leap):
        return None
    if year < -4713 or (year == -4713 and month < 11):
        return None  # PostgreSQL's first month (of Julian day 0)
    days = days_from_civil(year, month, day)
    if kind == k.DATE:
        return days if FIRST_DAY <= days <= LAST_DAY else None
    seconds = int(hour or 0) * 3600 + int(found[5] or 0) * 60 + int(second or 0)
    micros = (days * 86400 + seconds) * 1_000_000 + int((found[7] or "").ljust(6, "0"))
    if kind == k.TIMESTAMPTZ and offset != "Z":
        shift = (int(found[10]) * 60 + int(found[11] or 0)) * 60_000_000
        micros -= shift if found[9] == "+" else -shift
    return micros if FIRST_US <= micros <= LAST_US else None


def _with_extended(
    arr: pa.Array, values: np.ndarray, ok: np.ndarray, kind: str, fast: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` and ``ok`` with the values the patterns refused read by
    :func:`_extended_value`: only those a cheap pattern picks, so that a column of
    ISO values costs one look at its refused values, if any."""
    rows = np.flatnonzero(~ok & ~null_mask(arr))
    if not len(rows):
        return values, ok
    candidates = (
        arr.take(numeric_array(rows.astype(np.int64), pa.int64())) if len(rows) < len(arr) else arr
    )
    maybe = _matches(candidates, _EXTENDED_PATTERN, fast)
    if not maybe.any():
        return values, ok
    values, ok = values.copy(), ok.copy()
    texts = candidates.filter(bool_array(maybe)).to_pylist()
    for row, text in zip(rows[maybe], texts, strict=True):
        value = _extended_value(text, kind)
        if value is not None:
            values[row], ok[row] = value, True
    return values, ok


def _stamp_micros(arr: pa.Array, *, tz: bool, fast: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each value's microseconds since the epoch (0 where unreadable), and which are readable."""
    pattern = TIMESTAMPTZ_PATTERN if tz else TIMESTAMP_PATTERN
    ok = _calendar_ok(arr, _matches(arr, pattern, fast), fast)
    given = arr
    if not tz:  # PostgreSQL ignores an offset given to a timestamp without time zone
        arr = pc.replace_substring_regex(arr, r"^([^T ]+[T ][0-9:.]+)" + _OFFSET + "$", r"\1")
    target = pa.timestamp("us", tz="UTC") if tz else pa.timestamp("us")
    micros = integers(with_nulls(arr, ~ok).cast(target).cast(pa.int64()), 0)
    kind = k.TIMESTAMPTZ if tz else k.TIMESTAMP
    return _with_extended(given, np.where(ok, micros, 0), ok, kind, fast)


#: The layouts :func:`_one_layout_stamps` reads: a date, then optionally a time
#: (seconds, fraction) and an offset, ASCII digits only.
_STAMP_LAYOUT = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    rb"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lookups for :func:`_one_layout_stamps`: two bytes (as a little-endian
    ``uint16``) to their value as ASCII digits, else 10 000; per year 0-9999, the
    days from 1970-01-01 to its first day and whether it is a leap year; per
    month 0-99, its days in a common year (0 for no month)."""
    pairs = np.arange(65536)
    low, high = pairs & 255, pairs >> 8  # the first byte is the low one
    digits = (low >= 48) & (low <= 57) & (high >= 48) & (high <= 57)
    two_digits = np.where(digits, (low - 48) * 10 + high - 48, 10_000)
    years = np.arange(10000)
    leap = ((years % 4 == 0) & (years % 100 != 0)) | (years % 400 == 0)
    start = np.concatenate([[0], np.cumsum(365 + leap[:-1])])  # days since 0000-01-01
    start -= 719528  # 0000-01-01 to 1970-01-01
    month_days = np.zeros(100, dtype=np.int64)
    month_days[1:13] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return two_digits.astype(np.int32), start.astype(np.int64), leap, month_days


_TWO_DIGITS, _YEAR_START, _LEAP, _MONTH_DAYS = _tables()
_MONTH_START = np.concatenate([[0, 0], np.cumsum(_MONTH_DAYS[1:12])])  # before month m


def _one_layout_stamps(
    arr: pa.Array, present: np.ndarray, *, tz: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_stamp_micros` from the Arrow bytes, for the values laid out as the first one.

    A value has the first one's layout when it has its length, ASCII digits where
    it has them and its other characters (``T`` or a space between date and time,
    ``+`` or ``-`` before an offset). Of those, the ones whose fields are in range
    (the ranges of the patterns, and a day that exists in its month) are read by
    arithmetic on the digits. Returns (laid out, microseconds (0 where not
    readable), readable), or None when the first present value's layout is not one
    the pattern could accept.
    """
    offsets, data = _buffers(arr)
    if not present.any():
        return None
    first = int(np.argmax(present))
    lengths = np.diff(offsets)
    size = int(lengths[first])
    sample = data[offsets[first] : offsets[first] + size].tobytes()
    layout = _STAMP_LAYOUT.fullmatch(sample)
    if layout is None or (tz and (layout[2] is None or layout[4] is None)):
        return None
    same = present & (lengths == size)
    count = int(np.count_nonzero(same))
    rows = np.flatnonzero(same) if count < len(arr) else slice(None)
    if count * size == offsets[-1] - offsets[0]:  # those values are all the bytes
        matrix = data[offsets[0] : offsets[-1]].reshape(count, size)
    else:
        matrix = data[offsets[:-1][rows].astype(np.int64)[:, None] + np.arange(size)]

    def at(position: int, dtype: str = "u1") -> np.ndarray:
        """The byte (``u1``) or two bytes (``<u2``) at ``position`` of every row, in place."""
        return np.ndarray((count,), dtype, matrix, position, (size,))

    def pair(position: int) -> np.ndarray:
        """The two digits at ``position`` as a number; 10 000 where one is not a digit."""
        return np.take(_TWO_DIGITS, at(position, "<u2"))

    # Every byte is checked once: the sample's other characters here, the digits
    # by the range each field is checked against below (all below 100).
    sign = layout.start(4) if layout[4] is not None and layout[4] != b"Z" else -1
    fits = np.ones(count, dtype=bool)
    for position, char in enumerate(sample):
        if not 48 <= char <= 57 and position not in (10, sign):
            fits &= at(position) == char
    for position, either in ((10, b"T "), (sign, b"+-")):
        if 0 <= position < size:
            fits &= (at(position) == either[0]) | (at(position) == either[1])
    centuries, years, month, day = pair(0), pair(2), pair(5), pair(8)
    fits &= (centuries < 100) & (years < 100) & (month < 100) & (day < 100)
    year = centuries * 100 + years
    leap = np.take(_LEAP, year, mode="clip")  # clipped: rows that do not fit
    month_days = np.take(_MONTH_DAYS, month, mode="clip") + (leap & (month == 2))
    ok = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    days = np.take(_YEAR_START, year, mode="clip") + np.take(_MONTH_START, month, mode="clip")
    days += (leap & (month > 2)) + day - 1
    of_day = np.zeros(count, dtype=np.int32)  # seconds
    if layout[1] is not None:
        hour, minute = pair(11), pair(14)
        fits &= (hour < 100) & (minute < 100)
        ok &= (hour <= 23) & (minute <= 59)
        of_day += hour * 3600 + minute * 60
    if layout[2] is not None:
        second = pair(17)
        fits &= second < 100
        ok &= second <= 59
        of_day += second
    micros = (days * 86400 + of_day) * 1_000_000
    fraction = layout[3]
    if fraction is not None:
        part = np.zeros(count, dtype=np.int32)
        for position in range(20, 19 + len(fraction), 2):
            if position + 1 < 19 + len(fraction):
                digits = pair(position)
                part = part * 100 + digits
            else:
                digit_and_zero = at(position).astype(np.uint16) | ord("0") << 8
                digits = np.take(_TWO_DIGITS, digit_and_zero) // 10  # the last, odd digit
                part = part * 10 + digits
            fits &= digits < 100
        micros += part * 10 ** (7 - len(fraction))
    if sign >= 0:
        hours = pair(sign + 1)
        fits &= hours < 100
        ok &= hours <= 15
        shift = hours.astype(np.int64) * 60
        if size - sign > 3:
            minutes = pair(size - 2)
            fits &= minutes < 100
            ok &= minutes <= 59
            shift += minutes
        if tz:
            micros -= np.where(at(sign) == ord("-"), -shift, shift) * 60_000_000
    ok &= fits  # years 1 to 9999 and offsets up to 15:59: always in range
    micros[~ok] = 0
    if count == len(arr):
        return fits, micros, ok
    laid_out = np.zeros(len(arr), dtype=bool)
    laid_out[rows] = fits
    readable = np.zeros(len(arr), dtype=bool)
    readable[rows] = ok
    all_micros = np.zeros(len(arr), dtype=np.int64)
    all_micros[rows] = micros
    return laid_out, all_micros, readable


#: How many layouts of timestamps one column is read in from its bytes.
_LAYOUTS = 4


def _timestamps(arr: pa.Array, *, tz: bool, fast: bool) -> tuple[pa.Array, np.ndarray]:
    present = ~null_mask(arr)
    if not fast:
        micros, ok = _stamp_micros(arr, tz=tz, fast=fast)
    else:
        micros = np.zeros(len(arr), dtype=np.int64)
        ok = np.zeros(len(arr), dtype=bool)
        rest, odd = present, np.zeros(len(arr), dtype=bool)
        layouts = 0
        for _ in range(2 * _LAYOUTS):  # e.g. fractions with trailing zeros left out
            found = _one_layout_stamps(arr, rest, tz=tz) if rest.any() else None
            if found is None:
                if not rest.any():
                    break
                first = int(np.argmax(rest))  # e.g. infinity: the next value's layout
                odd[first], rest = True, rest.copy()
                rest[first] = False
                continue
            laid_out, layout_micros, layout_ok = found  # 0 and False outside the layout
            if layouts == 0:  # arrays of their own
                micros, ok = layout_micros, layout_ok
            else:
                micros += layout_micros
                ok |= layout_ok
            rest = rest & ~laid_out
            layouts += 1
            if layouts == _LAYOUTS:
                break
        left = np.flatnonzero(rest | odd)
        if len(left):  # each read as the reference reads it
            taken = arr.take(numeric_array(left.astype(np.int64), pa.int64()))
            micros[left], ok[left] = _stamp_micros(taken, tz=tz, fast=fast)
    target = pa.timestamp("us", tz="UTC") if tz else pa.timestamp("us")
    return _masked(micros, ok, target), present & ~ok


def _masked(values: np.ndarray, ok: np.ndarray, target: pa.DataType) -> pa.Array:
    """``values`` as an Arrow array of ``target``, null where not ``ok``."""
    if values.dtype == bool:
        return bool_array(values, ok)
    width = np.int32 if target.bit_width == 32 else np.int64
    return numeric_array(values.astype(width, copy=False), target, ok)


def _valid_inet(text: str) -> bool:
    if "%" in text or text != text.strip():
        return False  # zone ids and padding: PostgreSQL's inet refuses them
    address, _, prefix = text.partition("/")
    if "/" in text and not (prefix.isascii() and prefix.isdigit() and prefix == str(int(prefix))):
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if parsed.version == 4 and ":" not in address:
        return False  # plain IPv4 goes through the stricter pattern
    return not prefix or int(prefix) <= (32 if parsed.version == 4 else 128)


def _inet(arr: pa.Array, fast: bool) -> np.ndarray:
    present = ~null_mask(arr)
    ok = _matches(arr, IPV4_PATTERN, fast)
    rest = present & ~ok
    if rest.any():
        rows = np.flatnonzero(rest)
        candidates = arr.take(numeric_array(rows.astype(np.int64), pa.int64())).to_pylist()
        for i, candidate in zip(rows, candidates, strict=True):
            ok[i] = _valid_inet(candidate)
    result: np.ndarray = present & ~ok
    return result


def _json(arr: pa.Array) -> np.ndarray:
    # Each distinct text parsed once: a chunk's JSON values often repeat.
    encoded = arr.dictionary_encode()
    verdicts = np.array(refused(encoded.dictionary.to_pylist()), dtype=bool)
    if not verdicts.any():
        return np.zeros(len(arr), dtype=bool)
    codes = integers(encoded.indices, 0)
    bad: np.ndarray = verdicts[codes] & ~null_mask(arr)
    return bad


#: Whole numbers as PostgreSQL's ``int2in``, ``int4in`` and ``int8in`` also read them: white
#: space around, and any number of leading zeros.
_INTEGER_SPELLINGS = re.compile(f"{_SPACE}([+-]?)0*([0-9]+){_SPACE}")


def _integers(arr: pa.Array, column: ColumnSpec, fast: bool) -> tuple[pa.Array, np.ndarray]:
    present = ~null_mask(arr)
    ok = _matches(arr, INTEGER_PATTERN, fast)
    odd = present & ~ok
    if odd.any():  # the other spellings (`` 7``, ``-0007``): rare
        texts = pc.filter(arr, bool_array(odd)).to_pylist()
        found = [_INTEGER_SPELLINGS.fullmatch(str(text)) for text in texts]
        read = np.zeros(len(arr), dtype=bool)
        read[np.flatnonzero(odd)] = [f is not None and len(f[2]) <= 19 for f in found]
        if read.any():
            written = [f"{f[1]}{f[2]}" for f in found if f is not None and len(f[2]) <= 19]
            arr = pc.replace_with_mask(arr, bool_array(read), string_array(written))
            ok |= read
    low, high = column.int_range or (-(2**63), 2**63 - 1)
    as_dec = with_nulls(arr, ~ok).cast(pa.decimal128(20, 0))
    big = pc.or_(pc.less(as_dec, _decimal(low)), pc.greater(as_dec, _decimal(high)))
    ok = ok & ~true_mask(big)
    ints = with_nulls(as_dec, ~ok).cast(pa.int64())
    return ints, present & ~ok


def _decimal(value: int) -> pa.Scalar:
    """``value`` as a ``decimal128(20, 0)`` scalar, built from its bytes."""
    raw = np.frombuffer(value.to_bytes(16, "little", signed=True), dtype=np.uint8)
    return pa.Array.from_buffers(pa.decimal128(20, 0), 1, [None, pa.py_buffer(raw)])[0]


#: Numbers PostgreSQL also reads, in ``numeric`` and floating-point columns alike: white space
#: around, and the special values in any case, infinities as ``inf`` too (a sign before NaN
#: only a float column reads: left out).
_NUMERIC_SPELLINGS = re.compile(
    _SPACE + r"(?:(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE](?P<exponent>[+-]?[0-9]+))?)"
    r"|(?P<sign>[+-]?)(?P<infinity>inf|infinity)|(?P<nan>nan))" + _SPACE,
    re.IGNORECASE,
)


#: The largest exponent seedbed reads in a ``numeric`` (PostgreSQL reads more: a bound every
#: version keeps); a float's exponent may be any, its value is then judged by its range.
_NUMERIC_EXPONENT = 1000


def _numeric_spellings(
    arr: pa.Array, bad: np.ndarray, exponent_limit: int | None = _NUMERIC_EXPONENT
) -> tuple[pa.Array, np.ndarray]:
    """``arr`` with the ``bad`` cells PostgreSQL reads as numbers written as it prints them
    (``Infinity``, ``-Infinity``, ``NaN``, the number without the white space, an exponent
    of more digits); the cells still bad."""
    rows = np.flatnonzero(bad)
    written = []
    read = np.zeros(len(arr), dtype=bool)
    texts = pc.filter(arr, bool_array(bad)).to_pylist()
    for row, text in zip(rows, texts, strict=True):
        found = _NUMERIC_SPELLINGS.fullmatch(text or "")
        if found is None:
            continue
        exponent = found["exponent"]
        if exponent_limit is not None and exponent and abs(int(exponent)) > exponent_limit:
            continue
        if found["number"] is not None:
            written.append(found["number"])
        elif found["nan"] is not None:
            written.append("NaN")
        else:
            written.append("-Infinity" if found["sign"] == "-" else "Infinity")
        read[row] = True
    if not read.any():
        return arr, bad
    respelled = pc.replace_with_mask(arr, bool_array(read), string_array(written))
    return respelled, bad & ~read


#: Kinds whose text PostgreSQL also reads with white space around it (their input functions
#: skip it; numbers' other spellings: :func:`_numeric_spellings`, :func:`_integers`).
_TRIMMED = frozenset({k.DATE, k.TIMESTAMP, k.TIMESTAMPTZ})


def _from_text(column: ColumnSpec, arr: pa.Array, columnar: bool) -> tuple[pa.Array, np.ndarray]:
    """``arr`` (a pyarrow string array) read as ``column``: the typed values, and the bad cells."""
    values, bad = _read_text(column, arr, columnar)
    if column.kind in _TRIMMED and bad.any():  # `` 2024-05-01``: rare
        padded = bad & _matches(arr, f"^[{_BLANK}]|[{_BLANK}]$")
        if padded.any():
            trimmed = pc.utf8_trim(pc.filter(arr, bool_array(padded)), characters=_BLANK)
            arr = pc.replace_with_mask(arr, bool_array(padded), trimmed)
            values, bad = _read_text(column, arr, columnar)
    return values, bad


def _read_text(column: ColumnSpec, arr: pa.Array, columnar: bool) -> tuple[pa.Array, np.ndarray]:
    kind = column.kind
    fast = columnar and kind in COLUMNAR_KINDS
    present = ~null_mask(arr)
    if kind in (k.TEXT, k.JSON, k.ENUM, k.UUID, k.NUMERIC, k.INET):
        if kind == k.TEXT:
            bad = _has_nul(arr, fast)
        elif kind == k.ENUM:
            allowed = string_array(list(column.enum_values))
            bad = present & ~true_mask(pc.is_in(arr, value_set=allowed))
        elif kind == k.UUID:
            bad = _uuid_bytes(arr, present) if fast else present & ~_matches(arr, UUID_PATTERN)
            if bad.any():  # the other spellings (braces, other hyphens): rare
                bad &= ~_matches(arr, UUID_SPELLINGS)
        elif kind == k.NUMERIC:
            bad = present & ~_matches(arr, NUMERIC_PATTERN, fast)
            if bad.any():  # PostgreSQL's other spellings (`` inf``, ``nan``...): rare
                limit = None if column.float_type else _NUMERIC_EXPONENT
                arr, bad = _numeric_spellings(arr, bad, limit)
        elif kind == k.INET:
            bad = _inet(arr, fast)
        else:
            bad = _json(arr)
        return with_nulls(arr, bad), bad  # over the same buffers: nothing copied
    if kind == k.BOOLEAN:
        words = _boolean_words(arr, present) if fast else None
        if words is None:
            is_true = pc.is_in(arr, value_set=_TRUE)
            is_false = pc.is_in(arr, value_set=_FALSE)
            words = (true_mask(is_true), true_mask(is_false))
        truth, ok = words[0], words[0] | words[1]
        return _masked(truth, ok, pa.bool_()), present & ~ok
    if kind in (k.TIMESTAMPTZ, k.TIMESTAMP):
        return _timestamps(arr, tz=kind == k.TIMESTAMPTZ, fast=fast)
    if kind == k.DATE:
        ok = _calendar_ok(arr, _matches(arr, DATE_PATTERN, fast), fast)
        if (ok | ~present).all():
            return arr.cast(pa.date32()), present & ~ok
        days = integers(with_nulls(arr, ~ok).cast(pa.date32()).cast(pa.int32()), 0)
        days, ok = _with_extended(arr, days, ok, k.DATE, fast)
        return _masked(days.astype(np.int32), ok, pa.date32()), present & ~ok
    if kind == k.INTEGER:
        return _integers(arr, column, fast)
    raise NotImplementedError(kind)


def arrow_series(values: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """Typed Arrow values (as :func:`coerce_text` gives them) as the pandas series a typed
    frame holds: ``str``, ``boolean``, ``datetime64[us, UTC]``, ``datetime64[us]``,
    ``Int64``, or ``datetime.date`` objects."""
    kind = values.type
    if index is None:
        index = pd.RangeIndex(len(values))
    if pa.types.is_boolean(kind):
        truth = np.asarray(values.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        return pd.Series(pd.arrays.BooleanArray(truth, null_mask(values)), index=index)
    if pa.types.is_timestamp(kind):
        held = values.cast(pa.int64())
        micros = np.asarray(held.fill_null(_NAT).to_numpy(), dtype=np.int64)
        if pc.min(held).as_py() == STAMP_MINUS_INFINITY:  # NaT in NumPy: one above it
            minus = (micros == STAMP_MINUS_INFINITY) & ~null_mask(values)
            micros = np.where(minus, PANDAS_MINUS_INFINITY, micros)
        stamps = pd.DatetimeIndex(micros.view("M8[us]"))
        return pd.Series(stamps.tz_localize("UTC") if kind.tz else stamps, index=index)
    if pa.types.is_date32(kind):
        return pd.Series(_dates(values), index=index, dtype=object)
    if pa.types.is_int64(kind):
        # Built from the int64 buffer and a mask: through float64, big values lose digits.
        held = np.asarray(values.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        return pd.Series(pd.arrays.IntegerArray(held, null_mask(values)), index=index)
    return _text_series(values, index)


def _dates(values: pa.Array) -> np.ndarray:
    """Dates as ``datetime.date`` objects; those Python cannot hold (years outside 1 to
    9999) as ``numpy.datetime64`` days, and ``infinity``, ``-infinity`` as the
    microseconds that stand for them in a timestamp series (:func:`arrow_series`)."""
    bounds = pc.min_max(values.cast(pa.int32()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or (low >= YEAR_1_DAY and high < YEAR_10000_DAY):
        return np.asarray(values.to_pandas(), dtype=object)
    days = np.asarray(values.cast(pa.int32()).fill_null(0).to_numpy(), dtype=np.int64)
    odd = ~null_mask(values) & ((days < YEAR_1_DAY) | (days >= YEAR_10000_DAY))
    plain = pc.if_else(pa.array(odd), pa.scalar(None, pa.date32()), values)
    result = np.array(plain.to_pandas(), dtype=object)  # a copy of its own, to write to
    for row in np.flatnonzero(odd):
        day = int(days[row])
        if day == DATE_INFINITY:
            result[row] = np.datetime64(STAMP_INFINITY, "us")
        elif day == DATE_MINUS_INFINITY:
            result[row] = np.datetime64(PANDAS_MINUS_INFINITY, "us")
        else:
            result[row] = np.datetime64(day, "D")
    return result


def _typed_stamps(values: pd.Series) -> np.ndarray:
    """Typed timestamps outside the range seedbed holds (``infinity`` and ``-infinity``,
    the largest int64 and the two smallest, excepted)."""
    micros = values.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).view("i8")
    return np.asarray(_outside(micros) & ~values.isna().to_numpy(), dtype=bool)


def _past_micros(series: pd.Series, na: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Timestamps in seconds or milliseconds (Arrow's, Parquet's, NumPy's) beyond what
    microseconds hold (past year 294247, as PostgreSQL's range ends): missing, so that
    they convert, and which they were (outside the range, as a file's are)."""
    unit = np.datetime_data(series.dt.tz_localize(None).dtype)[0]
    factor = {"s": 10**6, "ms": 10**3}.get(unit)
    far = np.zeros(len(series), dtype=bool)
    if factor is None:
        return series, far
    held = series.dt.tz_localize(None).to_numpy(dtype=f"datetime64[{unit}]").view(np.int64)
    limit = (2**63 - 1) // factor
    far = ~na & ((held > limit) | (held < -limit))
    return (series.mask(far) if far.any() else series), far


def _outside(micros: np.ndarray) -> np.ndarray:
    """The microseconds outside the range seedbed holds, ``infinity`` and ``-infinity``
    (the largest int64, and the two smallest: pandas' and PostgreSQL's) excepted."""
    result: np.ndarray = ((micros < FIRST_US) & (micros > PANDAS_MINUS_INFINITY)) | (
        (micros > LAST_US) & (micros < STAMP_INFINITY)
    )
    return result


def _from_typed(column: ColumnSpec, series: pd.Series) -> tuple[pd.Series, np.ndarray] | None:
    """Values that already have a type (a DataFrame source): accept the matching ones."""
    kind, dtype = column.kind, series.dtype
    na = series.isna().to_numpy()
    if kind == k.BOOLEAN and (pd.api.types.is_bool_dtype(dtype)):
        return series.astype("boolean"), np.zeros(len(series), dtype=bool)
    if kind == k.TIMESTAMPTZ and isinstance(dtype, pd.DatetimeTZDtype):
        series, far = _past_micros(series.dt.tz_convert("UTC"), na)
        values = series.astype(pd.DatetimeTZDtype("us", "UTC"))
        odd = _typed_stamps(values) | far
        return (values.mask(odd) if odd.any() else values), odd
    if kind == k.TIMESTAMP and pd.api.types.is_datetime64_dtype(dtype):
        series, far = _past_micros(series, na)
        values = series.astype("datetime64[us]")
        odd = _typed_stamps(values) | far
        return (values.mask(odd) if odd.any() else values), odd
    if kind == k.DATE and (
        pd.api.types.is_datetime64_dtype(dtype)
        or (dtype == np.dtype(object) and holds_dates(series.to_numpy()))
    ):
        return _typed_dates(series, na)
    if kind == k.INTEGER and pd.api.types.is_integer_dtype(dtype):
        return _typed_integers(column, series, na)
    if kind == k.INTEGER and pd.api.types.is_float_dtype(dtype):  # pandas' ints with NaN
        floats = series.astype("float64").to_numpy(na_value=np.nan)
        whole, ok = _whole_floats(column, floats)
        ints = pd.Series(pd.array(whole, dtype="Int64"), index=series.index).mask(~ok)
        return ints, ~na & ~ok
    # booleans are numbers to pandas, not to PostgreSQL: a number column refuses ``true``
    numbers = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if kind == k.NUMERIC and numbers:
        # NaN is missing, as pandas holds it; infinities are the values PostgreSQL reads
        floats = series.astype("float64").to_numpy(na_value=0.0)
        text = series.astype("str").mask(na)
        if np.isinf(floats).any():
            text = text.mask(floats == np.inf, "Infinity").mask(floats == -np.inf, "-Infinity")
        out = np.zeros(len(series), dtype=bool)
        if column.float_type == "real":  # a double it may not hold
            written = pa.array(text.to_numpy(dtype=object), pa.string(), from_pandas=True)
            out = _out_of_range(written, "real")
        return (text.mask(out) if out.any() else text), out
    if kind == k.JSON and pd.api.types.is_object_dtype(dtype):
        return None if not len(series) else _json_objects(series)
    if len(series) and na.all():
        return pd.Series(
            pd.array([None] * len(series), dtype="str"), index=series.index
        ), na & False
    return None


def _typed_integers(
    column: ColumnSpec, series: pd.Series, na: np.ndarray
) -> tuple[pd.Series, np.ndarray]:
    """Integers of any width and sign for an integer column: those outside the column's
    range refused, judged on their own values (an unsigned 64-bit integer above the
    largest ``bigint`` is not cast to a negative one, nor refused by a failing cast)."""
    low, high = column.int_range or (-(2**63), 2**63 - 1)
    unsigned = pd.api.types.is_unsigned_integer_dtype(series.dtype)
    held = series.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0)
    bad = ~na & ((held > high) if unsigned else ((held < low) | (held > high)))
    ints = pd.arrays.IntegerArray(np.where(bad, 0, held).astype(np.int64), na | bad)
    return pd.Series(ints, index=series.index), bad


def _typed_dates(series: pd.Series, na: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """A frame's dates (``datetime.date`` objects, or time stamps at midnight, as pandas
    holds dates it parsed) as a date column holds them; a time of day is refused, as in a
    file (PostgreSQL would drop it), and so is a day outside the range seedbed holds."""
    if pd.api.types.is_datetime64_dtype(series.dtype):
        cells = series.to_numpy(dtype="datetime64[us]")
    else:
        cells = series.to_numpy(dtype=object)
    dates, timed = date_array(cells, na)
    days = integers(dates)
    special = (days == DATE_INFINITY) | (days == DATE_MINUS_INFINITY)
    outside = ((days < FIRST_DAY) | (days > LAST_DAY)) & ~special
    bad = (timed | outside) & ~na
    return arrow_series(with_nulls(dates, bad), series.index), bad


def _json_objects(series: pd.Series) -> tuple[pd.Series, np.ndarray] | None:
    as_text = series.map(json_cell)
    arr = _string_array(as_text)
    if arr is None:
        return None
    bad = _json(arr)
    values = with_nulls(arr, bad)
    return _text_series(values, series.index), bad


def _is_scalar(dtype: Any) -> bool:
    """Numbers and booleans, plain or nullable (not dates, not objects)."""
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _longest(arr: pa.Array) -> int:
    """An upper bound of the values' lengths in characters: their longest in bytes."""
    offsets, _ = _buffers(arr)
    return int(np.diff(offsets).max()) if len(arr) else 0


@dataclass
class ArrowCoerced:
    """One column of text read: ``values`` typed, in Arrow (null where ``bad``), and why bad
    cells are bad (see :func:`arrow_series` for the pandas form)."""

    values: pa.Array
    bad: np.ndarray
    rule: str
    message: str
    #: Bad cells with a rule or message of their own (the others are ``rule``, ``message``)
    reasons: tuple[Reason, ...] = ()

    def why(self) -> list[Reason]:
        """The bad cells grouped by their rule and message, each cell in one group."""
        return _reasons(self.bad, self.rule, self.message, self.reasons)


def _relative(column: ColumnSpec, arr: pa.Array, bad: np.ndarray) -> tuple[Reason, ...]:
    """Of the ``bad`` cells of a time column, those holding ``now``, ``today``…"""
    if column.kind not in (k.TIMESTAMPTZ, k.TIMESTAMP, k.DATE) or not bad.any():
        return ()
    rows = np.flatnonzero(bad)
    found = _matches(arr.take(rows), RELATIVE_PATTERN)
    if not found.any():
        return ()
    relative = np.zeros(len(arr), dtype=bool)
    relative[rows[found]] = True
    return (Reason(relative, "type", RELATIVE_MESSAGE),)


def coerce_text(column: ColumnSpec, arr: pa.Array, *, columnar: bool = True) -> ArrowCoerced:
    """:func:`coerce_column` of a pyarrow string array, the values kept in Arrow."""
    values, bad = _from_text(column, arr, columnar)
    rule = "enum" if column.kind == k.ENUM else "type"
    # A cell that reads but does not fit has a reason of its own (not "must be a number")
    unfit: tuple[Reason, ...] = ()
    if (
        column.kind == k.TEXT
        and column.max_length is not None
        and _longest(arr) > column.max_length
    ):
        too_long = integers(pc.utf8_length(values), 0) > column.max_length
        if too_long.any():
            values, too_long = _cut_spaces(values, too_long, column.max_length)
        if too_long.any():
            values, bad = with_nulls(values, too_long), bad | too_long
            unfit = (*unfit, Reason(too_long, "length", length_message(column)))
    if column.kind == k.NUMERIC and column.numeric_scale is not None:
        values, overflow = _fit_numeric(values, *column.numeric_scale)
        if overflow.any():
            precision, scale = column.numeric_scale
            message = (
                f"must have at most {precision - scale} digits before the decimal point "
                f"(numeric({precision},{scale}); infinity does not fit)"
            )
            values, bad = with_nulls(values, overflow), bad | overflow
            unfit = (*unfit, Reason(overflow, rule, message))
    if column.float_type is not None:
        out = _out_of_range(values, column.float_type)
        if out.any():
            values, bad = with_nulls(values, out), bad | out
    if column.database_text and _TIME_TYPES.search(column.sql_type):
        words = ~bad & _matches(arr, RELATIVE_WORD)
        if words.any():
            values, bad = with_nulls(values, words), bad | words
            unfit = (*unfit, Reason(words, "type", RELATIVE_MESSAGE))
    reasons = (*unfit, *_relative(column, arr, bad))
    return ArrowCoerced(values, bad, rule, type_message(column), reasons)


#: What each floating-point type holds: the magnitudes PostgreSQL reads without an "out of
#: range" error (from the smallest subnormal to the largest finite value), and zero.
_FLOAT_RANGES = {"real": "1.4e-45 to 3.4e38", "double precision": "4.9e-324 to 1.8e308"}
#: Text whose digits before any exponent are not all zero.
_NONZERO = "^[^eE]*[1-9]"


def _out_of_range(values: pa.Array, float_type: str) -> np.ndarray:
    """The cells of ``values`` (number text, its special values as PostgreSQL prints them)
    that a ``real`` or ``double precision`` column refuses as out of range: those that read
    as an infinity, or as zero, when they are neither (PostgreSQL's ``float4in`` and
    ``float8in``, over ``strtof`` and ``strtod``, which Arrow's reading rounds as)."""
    read = float_values(pc.cast(values, pa.float32() if float_type == "real" else pa.float64()))
    infinite, zero = np.isinf(read), read == 0
    out: np.ndarray = infinite | zero
    if not out.any():
        return out
    texts = pc.filter(values, bool_array(out))  # zeros may be many (0, 0.00): one kernel each
    refused = np.where(
        infinite[out],
        ~true_mask(pc.match_substring(texts, "Infinity")),
        true_mask(pc.match_substring_regex(texts, _NONZERO)),
    )
    out[out] = refused
    return out


def _cut_spaces(values: pa.Array, long: np.ndarray, length: int) -> tuple[pa.Array, np.ndarray]:
    """``values`` with the ``long`` cells whose characters beyond ``length`` are all spaces
    cut to ``length``, as ``varchar(n)`` and ``char(n)`` store them (PostgreSQL refuses the
    others); the cells still too long."""
    rows = np.flatnonzero(long)
    texts = pc.filter(values, bool_array(long)).to_pylist()
    cut = np.zeros(len(values), dtype=bool)
    kept = []
    for row, text in zip(rows, texts, strict=True):
        if not text[length:].strip(" "):
            cut[row] = True
            kept.append(text[:length])
    if not kept:
        return values, long
    return pc.replace_with_mask(values, bool_array(cut), string_array(kept)), long & ~cut


def _fit_numeric(values: pa.Array, precision: int, scale: int) -> tuple[pa.Array, np.ndarray]:
    """Decimal text as a ``numeric(precision, scale)`` column stores it: rounded to
    ``scale`` places, half away from zero (``0.005`` is ``0.01``, ``-0.001`` is ``0.00``),
    so that rules judge the stored value, as the CHECKs do; and the cells that do not fit
    (more than ``precision - scale`` digits before the point, or an infinity). Text that
    already fits (the usual case) is found by one pattern and left as it is."""
    whole = precision - scale
    fits = rf"^[+-]?0*[0-9]{{0,{whole}}}(\.[0-9]{{0,{scale}}})?$|^NaN$"
    present = ~null_mask(values)
    odd = present & ~_matches(values, fits, False)
    overflow = np.zeros(len(values), dtype=bool)
    if not odd.any():
        return values, overflow
    texts: list[str | None] = [None] * len(values)
    step = Decimal(1).scaleb(-scale)
    digits = Context(prec=precision + 1)  # what fits, and the carry that overflows
    for row in np.flatnonzero(odd):
        held = Decimal(str(values[int(row)].as_py()))
        rounded = held if held.is_nan() else None
        if rounded is None and held.is_finite() and (not held or held.adjusted() < whole):
            rounded = held.quantize(step, rounding=ROUND_HALF_UP, context=digits)
            rounded = rounded if rounded else rounded.copy_abs()  # no negative zero
        if rounded is None or (rounded.is_finite() and rounded.copy_abs() >= Decimal(10) ** whole):
            overflow[row] = True
            continue
        texts[int(row)] = format(rounded, "f")
    changed = np.flatnonzero(odd & ~overflow)
    if not len(changed):
        return values, overflow
    kept = values.to_pylist()
    for row in changed:
        kept[int(row)] = texts[int(row)]
    return string_array(kept), overflow


def text_array(values: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """An Arrow column as one pyarrow string array, or None when it does not hold text."""
    if isinstance(values, pa.ChunkedArray):  # one chunk taken as it is: combining copies
        values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    kind = values.type
    if pa.types.is_string(kind):
        return values
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return values.cast(pa.string())
    return None


#: Arrow integer types whose every value an ``int64`` holds.
_TO_INT64 = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


def _whole_floats(column: ColumnSpec, floats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats for an integer column: their values as int64 (0 where not ``ok``), and which
    are whole numbers in the column's range (so COPY gets them as integers; NaN and the
    infinities are none)."""
    low, high = column.int_range or (-(2**63), 2**63 - 1)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(floats) & (np.floor(floats) == floats)
        ok &= (floats >= float(low)) & (floats < float(high + 1))  # both exact in a double
    return np.where(ok, floats, 0.0).astype(np.int64), ok


def _float_integers(column: ColumnSpec, arr: pa.Array) -> ArrowCoerced:
    """An Arrow float column in an integer column: whole numbers as integers, and NaN
    (a value in Arrow, not NULL) and the rest refused."""
    present = ~null_mask(arr)
    whole, ok = _whole_floats(column, float_values(arr))
    return ArrowCoerced(_masked(whole, ok, pa.int64()), present & ~ok, "type", type_message(column))


def _typed_arrow(column: ColumnSpec, arr: pa.Array) -> pa.Array | None:
    """Typed Arrow values whose type matches ``column``'s kind, as :func:`coerce_text`
    types them, when :func:`coerce_column` of their pandas series accepts every one;
    else None (see :func:`coerce_arrow`)."""
    kind, given = column.kind, arr.type
    if kind == k.BOOLEAN and pa.types.is_boolean(given):
        return arr
    if kind == k.INTEGER and str(given) in _TO_INT64:
        values = arr.cast(pa.int64())
        low, high = column.int_range or (-(2**63), 2**63 - 1)
        held = integers(values, low)  # nulls: in range
        return values if not len(held) or (low <= held.min() and held.max() <= high) else None
    stamps = pa.types.is_timestamp(given) and (given.tz is not None) == (kind == k.TIMESTAMPTZ)
    if kind in (k.TIMESTAMPTZ, k.TIMESTAMP) and stamps:
        target = pa.timestamp("us", tz="UTC") if given.tz is not None else pa.timestamp("us")
        try:
            values = arr.cast(target)  # safe: a unit that loses digits is pandas' to judge
        except pa.ArrowInvalid:
            return None
        return None if _outside(integers(values, 0)).any() else values
    return None


#: Every Arrow integer type.
_INTEGER_TYPES = (*_TO_INT64, "uint64")


def _typed_numbers(column: ColumnSpec, arr: pa.Array, columnar: bool) -> ArrowCoerced | None:
    """Floats and integers for a ``numeric``, ``numeric(p, s)``, ``double precision`` or
    ``real`` column, as :func:`coerce_column` reads their pandas series: as text (pandas'
    text of each value, an infinity ``Infinity`` as PostgreSQL reads it); for
    ``numeric(p, s)`` that text rounded and fitted as a file's is (an infinity does not
    fit). Unlike pandas, where NaN is a missing value, Arrow holds NULL and NaN apart: a
    NaN is ``NaN``, the value PostgreSQL stores (and COPY writes). None where pandas would
    show a bad cell otherwise (an integer it shows as a float when the chunk holds a
    null)."""
    floats = str(arr.type) in PLAIN_FLOATS
    text = float_text(arr) if floats else arr.cast(pa.string())
    if floats:  # the values PostgreSQL reads, as the pandas series' are written
        numbers = float_values(arr)
        infinite = np.isinf(numbers)
        if infinite.any():
            spelled = ["Infinity" if v > 0 else "-Infinity" for v in numbers[infinite]]
            text = pc.replace_with_mask(text, bool_array(infinite), string_array(spelled))
        nan = np.isnan(numbers) & ~null_mask(arr)
        if nan.any():
            nans = repeated_string("NaN", int(nan.sum()))
            text = pc.replace_with_mask(text, bool_array(nan), nans)
    if column.numeric_scale is not None or column.float_type == "real":  # may not fit
        read = coerce_text(column, text, columnar=columnar)
        return None if read.bad.any() and not floats else read
    return ArrowCoerced(text, np.zeros(len(arr), dtype=bool), "type", type_message(column))


def coerce_arrow(
    column: ColumnSpec, arr: pa.Array, *, columnar: bool = True
) -> ArrowCoerced | None:
    """:func:`coerce_column` of an Arrow column (made plain, as Arrow inputs are) without
    pandas: text (and a column of NULLs) read by :func:`coerce_text`, integers in a text
    column as their text, floats and integers in a numeric one (:func:`_typed_numbers`),
    and booleans, integers and timestamps of the column's own kind taken as they are.
    None for the rest, which :func:`coerce_column` of the pandas series
    judges: other types, and typed values out of range (their report rows come from there).
    """
    text = text_array(arr)
    if text is None and pa.types.is_null(arr.type):
        text = arr.cast(pa.string())  # pandas' objects, all None: text
    if text is None and column.kind in (k.TEXT, k.ENUM) and str(arr.type) in _INTEGER_TYPES:
        read = coerce_text(column, arr.cast(pa.string()), columnar=columnar)
        return None if read.bad.any() else read  # the report shows pandas' values
    if text is not None:
        return coerce_text(column, text, columnar=columnar)
    if column.kind == k.NUMERIC and str(arr.type) in (*PLAIN_FLOATS, *_INTEGER_TYPES):
        return _typed_numbers(column, arr, columnar)
    if column.kind == k.INTEGER and str(arr.type) in PLAIN_FLOATS:
        return _float_integers(column, arr)
    typed = _typed_arrow(column, arr)
    if typed is None:
        return None
    return ArrowCoerced(typed, np.zeros(len(arr), dtype=bool), "type", type_message(column))


def coerce_column(column: ColumnSpec, series: pd.Series, *, columnar: bool = True) -> Coerced:
    """Read ``series`` as ``column``; cells that cannot be read are NA and marked ``bad``.

    ``columnar=False``: the pyarrow reference only (see the module doc).
    """
    rule = "enum" if column.kind == k.ENUM else "type"
    arr = _string_array(series)
    if arr is not None:
        read = coerce_text(column, arr, columnar=columnar)
        values = arrow_series(read.values, series.index)
        return Coerced(values, read.bad, read.rule, read.message, read.reasons)
    scaled = column.kind == k.NUMERIC and column.numeric_scale is not None
    if (column.kind in (k.TEXT, k.ENUM) or scaled) and _is_scalar(series.dtype):
        # Numbers and booleans pandas read from a text column: their text, as COPY gets it;
        # numbers for a numeric(p, s), to be rounded and fitted as their text is.
        text = pd.StringDtype(storage="pyarrow", na_value=np.nan)  # pandas' default ``str``
        if pd.api.types.is_bool_dtype(series.dtype):  # as Arrow's CSV writer sends them
            written = series.map({True: "true", False: "false"}).astype(text)
        else:
            written = series.astype(text)
        if scaled and pd.api.types.is_float_dtype(series.dtype):  # as PostgreSQL reads them
            floats = series.astype("float64").to_numpy(na_value=0.0)
            written = written.mask(floats == np.inf, "Infinity")
            written = written.mask(floats == -np.inf, "-Infinity")
        return coerce_column(column, written, columnar=columnar)
    typed = _from_typed(column, series)
    if typed is not None:
        return Coerced(typed[0], typed[1], rule, type_message(column))
    if series.dtype == np.dtype(object):
        # Text mixed with other objects (sets, bytes, anything): only those cells are bad.
        prepared = series.map(json_cell) if column.kind == k.JSON else series
        cells = prepared.to_numpy(dtype=object)
        odd = np.fromiter((not isinstance(v, str) for v in cells), bool, len(cells))
        odd &= ~pd.isna(cells)
        kept = coerce_column(column, prepared.where(~odd, None), columnar=columnar)
        if not odd.any():
            return kept
        names = ", ".join(sorted({type(v).__name__ for v in cells[odd]}))
        given = Reason(odd, kept.rule, f"{type_message(column)} (got Python {names} values)")
        return Coerced(kept.values, kept.bad | odd, kept.rule, kept.message, (*kept.reasons, given))
    bad = ~series.isna().to_numpy()
    empty = pd.Series(pd.array([None] * len(series), dtype="str"), index=series.index)
    return Coerced(empty, bad, rule, f"{type_message(column)} (got {series.dtype} values)")


def default_series(column: ColumnSpec, length: int, index: pd.Index) -> pd.Series:
    """The values PostgreSQL fills in when ``column`` is left out of a file."""
    default = column.default
    if default == "now" and column.kind in (k.TIMESTAMPTZ, k.TIMESTAMP):
        now = pd.Timestamp.now(tz="UTC").as_unit("us")
        stamps = pd.DatetimeIndex(np.full(length, np.datetime64(now.tz_localize(None))))
        return pd.Series(
            stamps.tz_localize("UTC") if column.kind == k.TIMESTAMPTZ else stamps, index=index
        )
    if default is None:
        return pd.Series(pd.array([None] * length, dtype="str"), index=index)
    text = pd.Series(
        ["true" if default is True else "false" if default is False else str(default)] * length,
        index=index,
        dtype="str",
    )
    return coerce_column(column, text).values


def default_array(column: ColumnSpec, length: int) -> pa.Array:
    """:func:`default_series` in Arrow, as :func:`coerce_text` gives values: the same
    types once in Polars (a NULL default is text, whatever the column's kind)."""
    default = column.default
    if default == "now" and column.kind in (k.TIMESTAMPTZ, k.TIMESTAMP):
        now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us").astype(np.int64)
        target = (
            pa.timestamp("us", tz="UTC") if column.kind == k.TIMESTAMPTZ else pa.timestamp("us")
        )
        return numeric_array(np.full(length, now, dtype=np.int64), target)
    if default is None:
        return pa.nulls(length, pa.string())
    text = "true" if default is True else "false" if default is False else str(default)
    return coerce_text(column, repeated_string(text, length)).values


__all__ = [
    "COLUMNAR_KINDS",
    "POLARS_KINDS",
    "ArrowCoerced",
    "Coerced",
    "arrow_series",
    "coerce_arrow",
    "coerce_column",
    "coerce_text",
    "default_array",
    "default_series",
    "float_text",
    "text_array",
    "type_message",
]
