"""SQL text seedbed writes itself: quoted names and literals, and what ``text()`` must pass on.

:func:`quote_ident` and :func:`quote_literal` are the one place SQL names and
string constants are quoted (:func:`quoted_in_sql` is the same quoting done by
the server); every statement seedbed builds as text uses them.

SQLAlchemy's ``text()`` must also pass SQL on exactly as written, yet
``text()``, which ``CheckConstraint`` applies to a string (in the models and
again in every revision), reads ``:name`` as a bind parameter: a rule
``Matches(..., r"tag(:v[0-9]+)?")`` would reach the database as
``'^(tag(NULL[0-9]+)?)$'``, and ``<> ':draft'`` as ``<> NULL``. :func:`escaped`
writes each such colon (and an existing ``\\:``) so that ``text()`` compiles it
back to the original; :func:`unescaped` is that compile step, for SQL from a
revision that seedbed sends to the database itself. Both use SQLAlchemy's own
patterns, so they agree with it exactly.

:func:`time_text` writes a time value as PostgreSQL reads it back, for the values
other writers get wrong: ``infinity``, years past 9999 and years BC.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from functools import cache
from typing import Any


@cache
def postgres_dialect() -> Any:
    """SQLAlchemy's PostgreSQL dialect, made once, for compiling types and clauses to text."""
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()  # type: ignore[no-untyped-call]


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier, case kept and any ``"`` doubled: ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string constant, any ``'`` doubled: ``it's`` gives ``'it''s'``."""
    return "'" + text.replace("'", "''") + "'"


def quoted_in_sql(expression: str) -> str:
    """SQL that quotes the text ``expression`` in the server exactly as :func:`quote_ident` does."""
    return f"'\"' || replace({expression}, '\"', '\"\"') || '\"'"


def qualified_name(schema: str, name: str) -> str:
    """``"schema"."name"``, both quoted with :func:`quote_ident`."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def escaped(sql: str) -> str:
    """``sql`` for ``text()``: what it compiles to is ``sql`` again, no parameters."""
    from sqlalchemy.sql.compiler import BIND_PARAMS, BIND_PARAMS_ESC

    kept = BIND_PARAMS_ESC.sub(lambda m: "\\" + m.group(0), sql)
    return BIND_PARAMS.sub(lambda m: "\\" + m.group(0), kept)


def unescaped(text: str) -> str:
    """What ``text(text)`` compiles to when it has no parameters: ``\\:x`` becomes ``:x``."""
    from sqlalchemy.sql.compiler import BIND_PARAMS_ESC

    return BIND_PARAMS_ESC.sub(lambda m: m.group(1), text)


#: Microseconds in a day.
DAY_US = 86_400_000_000
#: Microseconds (days) from 1970-01-01 to 0001-01-01 and to 10000-01-01: the values
#: between are written alike by everyone (ISO 8601); the others by :func:`time_text`.
YEAR_1_US, YEAR_10000_US = -62_135_596_800_000_000, 253_402_300_800_000_000
YEAR_1_DAY, YEAR_10000_DAY = -719_162, 2_932_897


# Howard Hinnant's day algorithms: the proleptic Gregorian calendar, year 0 is 1 BC.


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a day of the proleptic Gregorian calendar (year 0 is 1 BC)."""
    year -= month <= 2
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    of_era_days = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146097 + of_era_days - 719468


def civil_from_days(day: int) -> tuple[int, int, int]:
    """The year, month and day ``day`` days after 1970-01-01 (:func:`days_from_civil`'s inverse)."""
    shifted = day + 719_468
    era = shifted // 146_097
    of_era = shifted - era * 146_097
    year_of_era = (of_era - of_era // 1460 + of_era // 36524 - of_era // 146_096) // 365
    of_year = of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * of_year + 2) // 153
    mday = of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, mday


def time_text(value: int, *, days: bool = False, zone: bool = False) -> str:
    """A ``timestamp`` (microseconds since 1970-01-01) or ``date`` (``days``: days since
    it) as PostgreSQL prints it under ``DateStyle ISO``: ``infinity`` and ``-infinity``
    for the largest and smallest int64 (int32) and the one above the smallest (pandas'
    ``-infinity``), years BC with `` BC``; ``+00`` after a ``timestamptz`` (``zone``)."""
    top = 2**31 - 1 if days else 2**63 - 1
    if value >= top:
        return "infinity"
    if value <= -top:
        return "-infinity"
    day, micros = (value, 0) if days else divmod(value, DAY_US)
    year, month, mday = civil_from_days(day)
    text = f"{year if year > 0 else 1 - year:04d}-{month:02d}-{mday:02d}"
    if not days:
        seconds, fraction = divmod(micros, 1_000_000)
        text += f" {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        text += f".{fraction:06d}" + ("+00" if zone else "")
    return text + (" BC" if year <= 0 else "")


def _element(value: object) -> str:
    """An element of an array or a bound of a range: NULL, a nested array, or quoted text."""
    if value is None or type(value).__name__ == "NaTType":
        return "NULL"
    if isinstance(value, list | tuple) or _is_array(value):
        return input_text(value)
    text = input_text(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_array(value: object) -> bool:
    """A NumPy array, as pandas holds a list read from Arrow (``to_pandas``, ``read_parquet``):
    a list of lists is an array of arrays."""
    return type(value).__name__ == "ndarray" and hasattr(value, "tolist")


def _is_range(value: object) -> bool:
    """psycopg's ``Range``, or SQLAlchemy's (``read_table`` gets those)."""
    return all(hasattr(value, name) for name in ("lower", "upper", "bounds"))


def _range_text(value: Any) -> str:
    if getattr(value, "isempty", None) or getattr(value, "empty", None):
        return "empty"
    low = "" if value.lower is None else _element(value.lower)
    high = "" if value.upper is None else _element(value.upper)
    return f"{value.bounds[0]}{low},{high}{value.bounds[1]}"


def _stamp_text(value: Any) -> str:
    """A NumPy ``datetime64`` or a pandas ``Timestamp`` (in UTC when it has a zone)."""
    import numpy as np

    held = value.asm8 if hasattr(value, "asm8") else value
    unit = np.datetime_data(held.dtype)[0]
    if unit == "D":
        return time_text(int(held.astype("int64")), days=True)
    number = int(held.astype("datetime64[us]").astype("int64"))
    return time_text(number, zone=getattr(value, "tzinfo", None) is not None)


def input_text(value: object) -> str:
    """A value as psycopg reads it (or as seedbed reads a time psycopg cannot hold),
    written as PostgreSQL's text input for its type, which reads back as the same value.

    Lists are arrays (``{"a b",NULL}``, nested for more dimensions; NumPy arrays too, as
    pandas holds lists read from Arrow), psycopg's
    ``Range`` and ``Multirange`` are ranges and multiranges, ``timedelta`` an
    interval, ``bytes`` bytea (``\\x0102``), ``date``, ``time`` and ``datetime``
    ISO 8601, and times Python cannot hold (``infinity``, years BC and past
    9999: NumPy ``datetime64`` and pandas ``Timestamp``) as :func:`time_text`
    writes them. JSON values inside an array (dicts) are JSON text.

    >>> input_text([1, None, "a b"])
    '{"1",NULL,"a b"}'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if _is_array(value):
        value = value.tolist()  # type: ignore[attr-defined]
    if isinstance(value, list | tuple):
        return "{" + ",".join(_element(v) for v in value) + "}"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, datetime.timedelta):
        return f"{value.days} days {value.seconds}.{value.microseconds:06d} seconds"
    if isinstance(value, datetime.datetime) and not hasattr(value, "asm8"):
        return value.isoformat(sep=" ")  # Python's own: years 1 to 9999
    if hasattr(value, "asm8") or type(value).__name__ == "datetime64":
        return _stamp_text(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if _is_range(value):
        return _range_text(value)
    if type(value).__name__ == "Multirange":
        return multirange_text(value)  # type: ignore[arg-type]
    return str(value)


def multirange_text(ranges: Iterable[Any]) -> str:
    """Ranges (psycopg's ``Multirange``, or a list as SQLAlchemy reads a multirange) as
    PostgreSQL's text of a multirange: ``{[1,3),[5,)}``."""
    return "{" + ",".join(_range_text(r) for r in ranges) + "}"
