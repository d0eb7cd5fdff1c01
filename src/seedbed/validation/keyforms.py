"""Key forms: the spellings of one value, as PostgreSQL's equality of its type sees them,
made one text (see :func:`canonical`), which PostgreSQL reads as that value again.

Each form is a function of a Polars string column, vectorised; the rare spellings
(exponents, IPv6, ``jsonb``) are written in Python once a distinct value.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from seedbed.facts import spec as k

if TYPE_CHECKING:
    import polars as pl

#: Every spelling PostgreSQL's uuid reads: 32 hex digits, a hyphen or none after each
#: group of four (but the last), the whole in braces or not.
UUID_SPELLINGS = r"^(\{[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}\}|[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7})$"

#: Per key column, the forms (``seedbed.facts.spec.KEY_*``) its text is put in, one after
#: the other: a foreign key's column takes its own, then its parent's (PostgreSQL reads
#: the child's value as the parent's type). None: each text as it is written.
Forms = Sequence[Sequence[str]] | None


def canonical(
    text: pl.DataFrame, names: Sequence[str], steps: Sequence[Sequence[str]]
) -> pl.DataFrame:
    """``text``'s columns ``names`` (key text) each put in its forms, one after the other:
    values PostgreSQL's equality holds equal get one text, which it reads as that value.

    - ``uuid``: 32 lower-case hex digits in the 8-4-4-4-12 form (any case, braces, hyphens);
    - ``numeric``: the decimal without exponent, ``+``, leading zeros, trailing fraction
      zeros, and ``-`` on zero (``1.50``, ``+1.5``, ``15e-1``: ``1.5``); ``NaN``,
      ``Infinity``, ``-Infinity``;
    - ``float8`` and ``float4``: the double (the real) the text reads as, in the shortest text
      that reads as it again (``0`` for ``-0``; ``NaN``; ``inf``, ``-inf``);
    - ``bpchar``: without trailing spaces; ``citext``: ASCII letters in lower case;
    - ``inet``: without a ``/32`` (IPv4) or ``/128`` (IPv6); IPv6 in its compressed lower-case
      form; ``macaddr``, ``macaddr8``: lower-case hex digits with colons (a 6-byte address
      as a ``macaddr8`` is its EUI-64 form, ``ff:fe`` in the middle);
    - ``jsonb``: keys sorted, no white space, numbers as ``numeric``'s (see :func:`_jsonb`).

    The other forms leave the text as it is (see ``seedbed.facts.spec.KEY_BY_DATABASE``).
    """
    columns = []
    for name, forms in zip(names, steps, strict=True):
        values = text.get_column(name)
        for form in forms:
            write = _FORMS.get(form)
            if write is not None and len(values) and values.null_count() < len(values):
                values = write(values).alias(name)
        columns.append(values)
    return text.with_columns(columns)


def _uuid(values: pl.Series) -> pl.Series:
    import polars as pl

    if values.str.contains(_UUID_DONE).all():  # the usual case: one pass
        return values
    if values.str.contains(_UUID_PLAIN).all():
        return values.str.to_lowercase()
    digits = values.str.replace_all(r"[{}-]", "").str.to_lowercase()
    parts = [digits.str.slice(start, length) for start, length in _UUID_GROUPS]
    joined = pl.select(pl.concat_str(parts, separator="-")).to_series()
    return pl.select(
        pl.when(values.str.contains(UUID_SPELLINGS)).then(joined).otherwise(values)
    ).to_series()


_UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))
#: Of the spellings the reader reads (:data:`UUID_SPELLINGS`), the 8-4-4-4-12 one.
_UUID_PLAIN = r"^.{8}-.{4}-.{4}-.{4}-.{12}$"
_UUID_DONE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: A decimal already in the numeric form: no sign but ``-``, no leading or trailing zero.
_NUMERIC_DONE = r"^(-?[1-9][0-9]*(\.[0-9]*[1-9])?|-?0\.[0-9]*[1-9]|0)$|^NaN$|^-?Infinity$"
#: A decimal without exponent, and the steps that put it in that form, in order: no ``+``,
#: no leading zeros, a ``0`` before a leading point, no trailing fraction zeros nor point,
#: and ``0`` for ``-0``.
_NUMERIC_PLAIN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_NUMERIC_STEPS = (
    (r"^\+", ""),
    (r"^(-?)0+([0-9])", "$1$2"),
    (r"^(-?)\.", "${1}0."),
    (r"(\.[0-9]*?)0+$", "$1"),
    (r"\.$", ""),
    (r"^-0$", "0"),
)


def _numeric(values: pl.Series) -> pl.Series:
    import polars as pl

    done = values.str.contains(_NUMERIC_DONE).fill_null(True)
    if done.all():
        return values
    rows = (~done).arg_true()
    odd = values.gather(rows)
    plain = odd.str.contains(_NUMERIC_PLAIN)
    column = pl.col(odd.name)
    for pattern, replacement in _NUMERIC_STEPS:
        column = column.str.replace(pattern, replacement)
    written = pl.DataFrame([odd]).select(column).to_series()
    if not plain.all():  # exponents, +Infinity: Python's decimals, once a distinct value
        other = odd.filter(~plain).unique()
        texts = pl.Series([_decimal_text(v) for v in other.to_list()], dtype=pl.String)
        written = pl.select(
            pl.when(plain).then(written).otherwise(odd.replace(other, texts))
        ).to_series()
    return values.clone().scatter(rows, written)


def _decimal_text(value: str) -> str:
    number = Decimal(value)
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "-Infinity" if number < 0 else "Infinity"
    if not number:
        return "0"
    written = format(number.normalize(), "f")
    return written


def _floats(values: pl.Series, real: bool = False) -> pl.Series:
    import polars as pl

    read = values.cast(pl.Float32 if real else pl.Float64, strict=False).cast(pl.Float64)
    zero = pl.lit(0.0, pl.Float64)  # for -0 too, which equals it
    written = pl.when(read == 0).then(zero).otherwise(read).cast(pl.String)
    return pl.select(pl.when(read.is_null()).then(values).otherwise(written)).to_series()


def _float4(values: pl.Series) -> pl.Series:
    return _floats(values, real=True)


def _bpchar(values: pl.Series) -> pl.Series:
    return values.str.strip_chars_end(" ")


def _citext(values: pl.Series) -> pl.Series:
    import polars as pl

    if not values.str.contains(r"[^\x00-\x7F]").any():
        return values.str.to_lowercase()
    # Beyond ASCII the database's ctype decides; here only ASCII letters are folded.
    odd = values.filter(values.str.contains("[A-Z]")).unique().drop_nulls()
    return values.replace(odd, pl.Series([v.translate(_ASCII_LOWER) for v in odd], dtype=pl.String))


def unsure_rows(frame: pl.DataFrame, names: Sequence[str], forms: Forms) -> np.ndarray:
    """The rows of ``frame`` whose key (``names`` in ``forms``) PostgreSQL may hold equal to
    a key of another text here: ``citext`` values beyond ASCII, whose case the database's
    ctype folds. A foreign key of such a value is left to the database."""
    import polars as pl

    unsure = np.zeros(frame.height, dtype=bool)
    steps = [tuple(f) for f in forms] if forms is not None else [() for _ in names]
    for name, step in zip(names, steps, strict=True):
        if k.KEY_CITEXT in step and frame.schema.get(name) == pl.String:
            beyond = frame.get_column(name).str.contains(r"[^\x00-\x7F]").fill_null(False)
            unsure |= beyond.to_numpy()
    return unsure


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _inet(values: pl.Series) -> pl.Series:
    import polars as pl

    written = values.str.replace(r"^([0-9.]+)/32$", "$1")
    six = written.str.contains(":")
    if not six.any():
        return written
    odd = written.filter(six).unique().drop_nulls()
    return written.replace(odd, pl.Series([_ipv6(v) for v in odd.to_list()], dtype=pl.String))


def _ipv6(text: str) -> str:
    address, _, prefix = text.partition("/")
    try:
        compressed = ipaddress.IPv6Address(address).compressed
    except ValueError:  # not an address the reader reads: as it is
        return text
    return compressed if prefix in ("", "128") else f"{compressed}/{int(prefix)}"


def _macaddr(values: pl.Series, eight: bool = False) -> pl.Series:
    import polars as pl

    digits = values.str.replace_all(r"[:.-]", "").str.to_lowercase()
    if eight:
        digits = pl.select(
            pl.when(digits.str.len_bytes() == 12)
            .then(digits.str.slice(0, 6) + "fffe" + digits.str.slice(6))
            .otherwise(digits)
        ).to_series()
    count = 16 if eight else 12
    pairs = [digits.str.slice(i, 2) for i in range(0, count, 2)]
    joined = pl.select(pl.concat_str(pairs, separator=":")).to_series()
    fits = digits.str.contains(f"^[0-9a-f]{{{count}}}$")
    return pl.select(pl.when(fits).then(joined).otherwise(values)).to_series()


def _macaddr8(values: pl.Series) -> pl.Series:
    return _macaddr(values, eight=True)


def _jsonb(values: pl.Series) -> pl.Series:
    """Each distinct JSON text as one form of its ``jsonb`` value, in Python (such keys are
    rare): keys sorted, the last of a repeated key kept, numbers as :func:`_decimal_text`
    writes them, no white space."""
    import polars as pl

    distinct = values.drop_nulls().unique()
    texts = [_json_text(v) for v in distinct.to_list()]
    return values.replace(distinct, pl.Series(texts, dtype=pl.String))


def _json_text(text: str) -> str:
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError):  # not JSON: the reader reports it
        return text
    return _jsonb_value(value)


def _jsonb_value(value: object) -> str:
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(key)}:{_jsonb_value(v)}" for key, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_jsonb_value(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return _decimal_text(str(value))
    return json.dumps(value)  # non-ASCII as escapes, which jsonb reads as the characters


_FORMS: dict[str, Callable[[pl.Series], pl.Series]] = {
    k.KEY_UUID: _uuid,
    k.KEY_NUMERIC: _numeric,
    k.KEY_FLOAT8: _floats,
    k.KEY_FLOAT4: _float4,
    k.KEY_BPCHAR: _bpchar,
    k.KEY_CITEXT: _citext,
    k.KEY_INET: _inet,
    k.KEY_MACADDR: _macaddr,
    k.KEY_MACADDR8: _macaddr8,
    k.KEY_JSONB: _jsonb,
}


__all__ = ["UUID_SPELLINGS", "Forms", "canonical", "unsure_rows"]
