"""Synthetic text for the types seedbed reads only through the database.

A column of a type seedbed does not read in-process (arrays, intervals, times,
bytea, ranges, bit strings, geometric and text-search types, ...) is held as
its text (the ``text`` kind of :mod:`seedbed.facts.spec`); the database reads
that text during validation and again at COPY. :func:`typed_text` writes such
text from the column's SQL type, in the form PostgreSQL prints it, so a
generated seed set validates and loads. None for a type it does not know
(composite types, extensions' types other than ``hstore``): the generator
then leaves a nullable column empty and refuses a required one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.synthetic import arrays

Texts = Callable[[np.ndarray, np.random.Generator], pa.Array]

_DAY = np.datetime64("2024-01-01", "D")


def _numbers(i: np.ndarray, rng: np.random.Generator) -> pa.Array:
    return arrays.numbers(i)


def _words(i: np.ndarray, rng: np.random.Generator) -> pa.Array:
    return arrays.join("syn-", arrays.numbers(i))


def _dates(i: np.ndarray) -> pa.Array:
    days = _DAY + (i % 2_000_000).astype("timedelta64[D]")
    return pc.strftime(pa.array(days, pa.date32()).cast(pa.timestamp("s")), "%Y-%m-%d")


def _stamps(i: np.ndarray, zone: str) -> pa.Array:
    instants = _DAY.astype("datetime64[s]") + i.astype("timedelta64[s]")
    return arrays.join(pc.strftime(pa.array(instants), "%Y-%m-%d %H:%M:%S"), zone)


def _times(i: np.ndarray, zone: str) -> pa.Array:
    seconds = pa.array((i % 86_400).astype("timedelta64[s]").astype("datetime64[s]"))
    return arrays.join(pc.strftime(seconds, "%H:%M:%S"), zone)


_HEX = np.array([f"{b:02x}" for b in range(256)])


def _hex_bytes(i: np.ndarray, count: int, separator: str) -> pa.Array:
    """The low ``count`` bytes of ``i``, high byte first, as two hex digits each."""
    parts = [pa.array(_HEX[(i >> (8 * k)) & 0xFF], pa.string()) for k in reversed(range(count))]
    return pc.binary_join_element_wise(*parts, separator)


def _bits(i: np.ndarray, width: int) -> pa.Array:
    shifts = np.arange(width - 1, -1, -1, dtype=np.int64)
    bits = ((i[:, None] >> np.minimum(shifts, 62)) & 1).astype(np.uint8) + ord("0")
    return pa.array([row.tobytes().decode() for row in bits], pa.string())


def _range(low: pa.Array, high: pa.Array, quote: bool = False) -> pa.Array:
    q = '"' if quote else ""
    return arrays.join(f"[{q}", low, f"{q},{q}", high, f"{q})")


#: By the name of the type (its parameters left out): the text of value number ``i``.
_TYPES: dict[str, Texts] = {
    "INTERVAL": lambda i, rng: arrays.join(arrays.numbers(i), " seconds"),
    "TIME": lambda i, rng: _times(i, ""),
    "TIME WITHOUT TIME ZONE": lambda i, rng: _times(i, ""),
    "TIME WITH TIME ZONE": lambda i, rng: _times(i, "+00"),
    "TIMETZ": lambda i, rng: _times(i, "+00"),
    "BYTEA": lambda i, rng: arrays.join("\\x", _hex_bytes(i, 4, "")),
    "MONEY": lambda i, rng: arrays.join(arrays.numbers(i), ".00"),
    "MACADDR": lambda i, rng: arrays.join("08:00:2b:", _hex_bytes(i, 3, ":")),
    "MACADDR8": lambda i, rng: arrays.join("08:00:2b:ff:fe:", _hex_bytes(i, 3, ":")),
    "CIDR": lambda i, rng: arrays.join(_ip(i), "/32"),
    "TSVECTOR": lambda i, rng: arrays.join("w", arrays.numbers(i)),
    "TSQUERY": lambda i, rng: arrays.join("w", arrays.numbers(i)),
    "INT4RANGE": lambda i, rng: _range(arrays.numbers(i), arrays.numbers(i + 1)),
    "INT8RANGE": lambda i, rng: _range(arrays.numbers(i), arrays.numbers(i + 1)),
    "NUMRANGE": lambda i, rng: _range(arrays.numbers(i), arrays.numbers(i + 1)),
    "DATERANGE": lambda i, rng: _range(_dates(i), _dates(i + 1)),
    "TSRANGE": lambda i, rng: _range(_stamps(i, ""), _stamps(i + 1, ""), quote=True),
    "TSTZRANGE": lambda i, rng: _range(_stamps(i, "+00"), _stamps(i + 1, "+00"), quote=True),
    "POINT": lambda i, rng: arrays.join("(", arrays.numbers(i), ",0)"),
    "LINE": lambda i, rng: arrays.join("{1,-1,", arrays.numbers(i), "}"),
    "LSEG": lambda i, rng: arrays.join("[(0,0),(", arrays.numbers(i), ",1)]"),
    "BOX": lambda i, rng: arrays.join("(", arrays.numbers(i), ",1),(0,0)"),
    "PATH": lambda i, rng: arrays.join("[(0,0),(", arrays.numbers(i), ",1)]"),
    "POLYGON": lambda i, rng: arrays.join("((0,0),(", arrays.numbers(i), ",1),(1,0))"),
    "CIRCLE": lambda i, rng: arrays.join("<(0,0),", arrays.numbers(i + 1), ">"),
    "XML": lambda i, rng: arrays.join("<v>", arrays.numbers(i), "</v>"),
    "PG_LSN": lambda i, rng: arrays.join("0/", _hex_bytes(i, 4, "")),
    "OID": _numbers,
    "HSTORE": lambda i, rng: arrays.join('"k"=>"', arrays.numbers(i), '"'),
}


def _multirange(one: Texts) -> Texts:
    return lambda i, rng: arrays.join("{", one(i, rng), "}")


for _name in ("INT4", "INT8", "NUM", "DATE", "TS", "TSTZ"):
    _TYPES[f"{_name}MULTIRANGE"] = _multirange(_TYPES[f"{_name}RANGE"])

#: Element types an array's values are written for, besides those above.
_ELEMENTS: dict[str, Texts] = {
    **dict.fromkeys(("SMALLINT", "INTEGER", "BIGINT", "NUMERIC", "DECIMAL"), _numbers),
    **dict.fromkeys(("REAL", "DOUBLE PRECISION", "FLOAT", "OID"), _numbers),
    **dict.fromkeys(("TEXT", "VARCHAR", "CHAR", "CHARACTER VARYING", "CITEXT"), _words),
    "UUID": lambda i, rng: arrays.uuid4_strings(rng, len(i)),
    "DATE": lambda i, rng: _dates(i),
    "TIMESTAMP": lambda i, rng: _stamps(i, ""),
    "TIMESTAMP WITHOUT TIME ZONE": lambda i, rng: _stamps(i, ""),
    "TIMESTAMP WITH TIME ZONE": lambda i, rng: _stamps(i, "+00"),
    "BOOLEAN": lambda i, rng: pa.array(np.where(i % 2 == 0, "true", "false"), pa.string()),
    "INET": lambda i, rng: _ip(i),
    "JSON": _numbers,  # a number is a JSON document
    "JSONB": _numbers,
}

_PARAMETERS = re.compile(r"\([^)]*\)")


def _ip(i: np.ndarray) -> pa.Array:
    value = i.astype(np.int64) + (10 << 24) + 1
    octets = [(value >> shift) & 0xFF for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*(arrays.numbers(o) for o in octets), ".")


def _bit_width(sql_type: str) -> int | None:
    """``BIT(n)``: exactly n bits (``BIT`` alone: 1); ``VARBIT(n)``: up to n; else None."""
    found = re.fullmatch(r"(BIT VARYING|VARBIT|BIT)\s*(?:\((\d+)\))?", sql_type)
    if found is None:
        return None
    if found.group(2) is not None:
        return int(found.group(2))
    return 1 if found.group(1) == "BIT" else 32


def typed_text(
    sql_type: str, n: int, rng: np.random.Generator, *, distinct: bool = False
) -> pa.Array | None:
    """``n`` values of ``sql_type`` as PostgreSQL reads them (distinct ones where the type
    has that many), or None for a type this module does not know."""
    i = np.arange(n, dtype=np.int64) if distinct else rng.integers(0, 1000, size=n)
    return _texts(sql_type.strip().upper(), i, rng)


def _texts(sql_type: str, i: np.ndarray, rng: np.random.Generator) -> pa.Array | None:
    if sql_type.endswith("[]"):
        element = _texts(sql_type.removesuffix("[]").rstrip("[]").strip(), i, rng)
        if element is None:
            return pa.array(["{}"] * len(i), pa.string())  # empty: valid for any element type
        quoted = pc.replace_substring(pc.replace_substring(element, "\\", "\\\\"), '"', '\\"')
        return arrays.join('{"', quoted, '"}')
    width = _bit_width(sql_type)
    if width is not None:
        return _bits(i, width)
    name = _PARAMETERS.sub("", sql_type).strip()
    found = _TYPES.get(name) or _ELEMENTS.get(name)
    return None if found is None else found(i, rng)


__all__ = ["typed_text"]
