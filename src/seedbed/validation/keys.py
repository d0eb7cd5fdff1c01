"""Compact memory of key values: 64-bit hashes in a few sorted NumPy arrays.

Uniqueness across chunks and foreign keys across files need the keys seen so
far. Kept as Python strings they would cost ~100 bytes a key; a
:class:`KeySet` keeps 8, plus about 1 for a bitmap that answers most misses at
once (five million emails: about 44 MB). Two different keys share
a hash with probability ~n²/2⁶⁵ (about 10⁻⁶ for five million keys): the
effect would be a reported duplicate that is not one, or, for a foreign key,
a missing parent that goes unnoticed with that same tiny chance.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from seedbed.facts import ForeignKeySpec, TableSpec, UniqueKey, table_spec
from seedbed.facts import spec as k
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import (
    DAY_US,
    YEAR_1_DAY,
    YEAR_1_US,
    YEAR_10000_DAY,
    YEAR_10000_US,
    time_text,
)
from seedbed.validation.arrays import date_array, holds_dates
from seedbed.validation.coerce import UUID_SPELLINGS

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
else:
    pd = lazy_module("pandas")


#: Per key column, the forms (``seedbed.facts.spec.KEY_*``) its text is put in, one after
#: the other: a foreign key's column takes its own, then its parent's (PostgreSQL reads
#: the child's value as the parent's type). None: each text as :func:`key_text` writes it.
Forms = Sequence[Sequence[str]] | None

#: A form that reads a date as the time stamp at its midnight (a date referencing a
#: ``timestamp`` parent), before the text is written.
AS_TIMESTAMP = "timestamp"


def key_forms(spec: TableSpec, columns: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """The forms of ``spec``'s ``columns`` as a key of their own table."""
    return tuple((spec.columns[str(c)].key_form,) for c in columns)


_TIMES = frozenset({k.DATE, k.TIMESTAMP, k.TIMESTAMPTZ})


def reference_forms(child: TableSpec, fk: ForeignKeySpec) -> tuple[tuple[str, ...], ...] | None:
    """The forms of foreign key ``fk``'s columns (of ``child``): each its own, then its parent
    column's, as PostgreSQL reads a child's value as the parent's type; a date referencing a
    ``timestamp`` as its midnight. None when PostgreSQL's equality is not reproduced here
    (a form ``KEY_BY_DATABASE``; other pairs of date and time types, some of which the
    session's time zone decides): the database judges such a key at load."""
    parent = table_spec(fk.parent)
    forms = []
    for name, parent_name in zip(fk.columns, fk.parent_columns, strict=True):
        mine, theirs = child.columns[name], parent.columns[parent_name]
        steps = tuple(dict.fromkeys((mine.key_form, theirs.key_form)))
        if k.KEY_BY_DATABASE in steps:
            return None
        times = (mine.kind, theirs.kind)
        if times == (k.DATE, k.TIMESTAMP):
            steps = (AS_TIMESTAMP, *steps)
        elif mine.kind != theirs.kind and set(times) & _TIMES:
            return None
        forms.append(steps)
    return tuple(forms)


def key_hashes(frame: pd.DataFrame, columns: Sequence[str], forms: Forms = None) -> np.ndarray:
    """One uint64 per row for the values of ``columns`` (same values, same hash).

    Values are hashed as their :func:`key_text`, by Polars on every core (its hashes are
    stable within one Polars version, and a run never keeps them longer): a key hashed
    here from pandas and one hashed from a Polars frame agree.
    """
    text = pandas_key_text(frame, columns, forms)
    return np.asarray(text.hash_rows(seed=0).to_numpy(), dtype=np.uint64)


def pandas_key_text(
    frame: pd.DataFrame, columns: Sequence[str], forms: Forms = None
) -> pl.DataFrame:
    """:func:`key_text` of a pandas frame's ``columns``: typed columns go to Polars as the
    same values (dates, held as objects, as days), other columns as ``astype("str")``."""
    import polars as pl  # validation only: the writer's path never hashes keys

    parts = [_polars_values(frame[name].reset_index(drop=True)) for name in columns]
    found = pl.DataFrame([part.alias(f"k{i}") for i, part in enumerate(parts)])
    text = key_text(found, found.columns, forms)
    if text is None:  # every column above has a text form
        raise AssertionError(f"no key text for {dict(found.schema)}")
    return text.rename(dict(zip(found.columns, [str(c) for c in columns], strict=True)))


def _polars_values(values: pd.Series) -> pl.Series:
    """A typed pandas column as Polars holds it (text for the kinds without a key text)."""
    import polars as pl

    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype | pd.BooleanDtype | pd.DatetimeTZDtype) or (
        dtype.kind in "biuM"
    ):
        return pl.from_pandas(values)
    if dtype.kind == "O" and holds_dates(values.to_numpy()):
        dates, _ = date_array(values.to_numpy(), values.isna().to_numpy())
        found = pl.from_arrow(dates)
        assert isinstance(found, pl.Series)
        return found
    return pl.from_pandas(values.astype("str"))


#: The text of a date and a time stamp between years 1 and 9999 (``time_text``'s, sooner).
_DATE_FORMAT = "%Y-%m-%d"
_STAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"


def key_text(
    frame: pl.DataFrame, columns: Sequence[str], forms: Forms = None
) -> pl.DataFrame | None:
    """``frame``'s ``columns`` as the text :func:`key_hashes` hashes, each one text a value
    that PostgreSQL reads as that value (the key's look-ups in the database send it):

    - text as it is; integers as ``str()`` writes them (``"5"``, ``"-12"``), whatever their
      width, so an INTEGER child's values hash as its BIGINT parent's do;
    - booleans ``true`` and ``false``;
    - dates, time stamps and time stamps with zone as PostgreSQL prints them
      (:func:`~seedbed.sqltext.time_text`): six fractional digits, ``+00`` after those with
      a zone, ``infinity``, ``-infinity``, `` BC``;
    - then each column's ``forms`` (:data:`Forms`), which give values that PostgreSQL's
      equality of the column's type holds equal one text: see :func:`canonical`.

    None when a column is missing or of another type (the caller hashes those from pandas).
    """
    import polars as pl

    names = [str(c) for c in columns]
    steps = [tuple(f) for f in forms] if forms is not None else [() for _ in names]
    dated = [
        name
        for name, step in zip(names, steps, strict=True)
        if AS_TIMESTAMP in step and isinstance(frame.schema.get(name), pl.Date)
    ]
    if dated:
        frame = frame.with_columns(_midnight(pl.col(name)).alias(name) for name in dated)
    found = _written(frame, names)
    if found is None or not any(steps):
        return found
    return canonical(found, names, steps)


_STAMP_DAYS = (2**63 - 1) // DAY_US - 1


def _midnight(days: pl.Expr) -> pl.Expr:
    """Dates as the time stamps of their midnights (``infinity`` stays infinity)."""
    import polars as pl

    top = 2**31 - 1  # a date's infinity; a time stamp's is the largest int64
    physical = days.to_physical().cast(pl.Int64)
    micros = (
        pl.when(physical >= top)
        .then(pl.lit(2**63 - 1))
        .when(physical <= -top)
        .then(pl.lit(-(2**63) + 1))
        .when(physical.abs() <= _STAMP_DAYS)
        .then(physical * DAY_US)  # later days are no time stamp: no key (PostgreSQL refuses)
    )
    return micros.cast(pl.Datetime("us"))


def _written(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame | None:
    """:func:`key_text` before the forms: each value as PostgreSQL prints its type."""
    import polars as pl

    schema = frame.schema  # built anew on each access
    kinds = []
    for name in names:
        kind = schema.get(name)
        if kind is None or not _has_text(kind):
            return None
        kinds.append(kind)
    if all(kind == pl.String for kind in kinds):
        return frame.select(names)
    coarse = [
        pl.col(name).dt.cast_time_unit("us")
        for name, kind in zip(names, kinds, strict=True)
        if isinstance(kind, pl.Datetime) and kind.time_unit != "us"
    ]
    if coarse:  # one text a value, whatever the unit it is held in
        frame = frame.with_columns(coarse)
        schema = frame.schema
    times = [name for name, kind in zip(names, kinds, strict=True) if kind.is_temporal()]
    odd = _odd_times(frame, times)
    found = frame.select(
        _text_expr(name, kind, name in odd) for name, kind in zip(names, kinds, strict=True)
    )
    for name, rows in odd.items():
        days = isinstance(schema[name], pl.Date)
        stamp = schema[name]
        zone = isinstance(stamp, pl.Datetime) and stamp.time_zone is not None
        physical = _physical(frame, name).gather(rows).to_list()
        texts = pl.Series([time_text(v, days=days, zone=zone) for v in physical], dtype=pl.String)
        found = found.with_columns(found.get_column(name).scatter(rows, texts))
    return found


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
      as a ``macaddr8`` is its EUI-64 form, ``ff:fe`` in the middle).

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

    if (values.str.len_bytes() == 36).all():  # the 8-4-4-4-12 form the reader reads
        return values.str.to_lowercase()
    digits = values.str.replace_all(r"[{}-]", "").str.to_lowercase()
    parts = [digits.str.slice(start, length) for start, length in _UUID_GROUPS]
    joined = pl.select(pl.concat_str(parts, separator="-")).to_series()
    return pl.select(
        pl.when(values.str.contains(UUID_SPELLINGS)).then(joined).otherwise(values)
    ).to_series()


_UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))
#: A decimal already in the numeric form: no sign but ``-``, no leading or trailing zero.
_NUMERIC_DONE = r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$|^NaN$|^-?Infinity$"
_NUMERIC_PLAIN = r"^([+-]?)0*([0-9]*)(\.[0-9]*?)?0*$"


def _numeric(values: pl.Series) -> pl.Series:
    import polars as pl

    present = values.drop_nulls()
    if present.str.contains(_NUMERIC_DONE).all():
        return values
    parts = values.str.extract_groups(_NUMERIC_PLAIN).struct.unnest()
    sign, whole, fraction = (parts.to_series(i) for i in range(3))
    whole = pl.select(pl.when(whole == "").then(pl.lit("0")).otherwise(whole)).to_series()
    fraction = fraction.fill_null("")
    fraction = pl.select(
        pl.when(fraction.str.len_bytes() <= 1).then(pl.lit("")).otherwise(fraction)
    ).to_series()
    number = whole + fraction
    signed = pl.select(
        pl.when((sign == "-") & (number != "0")).then("-" + number).otherwise(number)
    ).to_series()
    done = pl.select(pl.when(signed.is_not_null()).then(signed).otherwise(values)).to_series()
    left = done.is_not_null() & ~done.str.contains(_NUMERIC_DONE)
    if not left.any():
        return done
    # exponents, +Infinity: Python's decimals, once a distinct value (they are rare)
    odd = done.filter(left).unique()
    written = [_decimal_text(v) for v in odd.to_list()]
    return done.replace(odd, pl.Series(written, dtype=pl.String))


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
}


def _has_text(kind: pl.DataType) -> bool:
    """Does :func:`key_text` write values of the Polars type ``kind``?"""
    import polars as pl

    if isinstance(kind, pl.Datetime):
        return True
    return kind in (pl.String, pl.Boolean, pl.Date, pl.Null) or kind.is_integer()


def _text_expr(name: str, kind: pl.DataType, odd: bool) -> pl.Expr:
    """Column ``name``'s text; ``odd``: it holds times :func:`_odd_times` found (left NULL
    here, for Python to write)."""
    import polars as pl

    column = pl.col(name)
    if kind == pl.String:
        return column
    if not kind.is_temporal():  # booleans, integers: Polars' casts write true, false, -12
        return column.cast(pl.String)
    if odd:
        low, high = _ORDINARY[isinstance(kind, pl.Date)]
        physical = column.to_physical()
        column = pl.when((physical >= low) & (physical < high)).then(column)
    if isinstance(kind, pl.Date):
        return column.dt.to_string(_DATE_FORMAT).alias(name)
    zone = kind.time_zone if isinstance(kind, pl.Datetime) else None
    if zone is None:
        return column.dt.to_string(_STAMP_FORMAT).alias(name)
    if zone != "UTC":
        column = column.dt.convert_time_zone("UTC")
    wall = column.dt.replace_time_zone(None)  # the instant's UTC wall time
    return (wall.dt.to_string(_STAMP_FORMAT) + "+00").alias(name)


#: The physical values (days, microseconds) of years 1 to 9999, which Polars writes itself.
_ORDINARY = {True: (YEAR_1_DAY, YEAR_10000_DAY), False: (YEAR_1_US, YEAR_10000_US)}


def _physical(frame: pl.DataFrame, name: str) -> pl.Series:
    return frame.get_column(name).to_physical()


def _odd_times(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, pl.Series]:
    """Per column of ``names``, the rows whose date or time is outside years 1 to 9999
    (infinity, BC, far years), which Polars cannot write; columns without any left out."""
    import polars as pl

    if not names:
        return {}
    schema = frame.schema
    bounds = frame.select(
        *(pl.col(n).to_physical().min().alias(f"min{i}") for i, n in enumerate(names)),
        *(pl.col(n).to_physical().max().alias(f"max{i}") for i, n in enumerate(names)),
    ).row(0)
    odd = {}
    for i, name in enumerate(names):
        low, high = _ORDINARY[isinstance(schema[name], pl.Date)]
        least, most = bounds[i], bounds[len(names) + i]
        if least is not None and (least < low or most >= high):
            physical = _physical(frame, name)
            outside = (physical < low) | (physical >= high)
            odd[name] = outside.arg_true()
    return odd


def _held(key: UniqueKey) -> pl.Expr:
    """True for the rows ``key`` holds (see :func:`key_rows`), as a Polars expression."""
    import polars as pl

    return pl.all_horizontal(
        *(pl.col(str(c)).is_not_null() for c in (*key.columns, *key.where_not_null)),
        *(pl.col(str(c)).is_null() for c in key.where_null),
    )


def key_rows(frame: pd.DataFrame, key: UniqueKey) -> np.ndarray:
    """The rows a unique key holds: all key columns present, the partial index's WHERE true."""
    rows = np.ones(len(frame), dtype=bool)
    for name in key.columns:
        rows &= frame[name].notna().to_numpy()
    for name in key.where_null:
        rows &= frame[name].isna().to_numpy()
    for name in key.where_not_null:
        rows &= frame[name].notna().to_numpy()
    return rows


@dataclass
class ChunkKeys:
    """One unique key over one chunk: the rows it holds and their hashes, sorted once.

    ``ordered``: ``hashes`` sorted; ``starts`` marks, in that order, the first
    of each distinct hash. ``earlier``: for each held row, the position (among
    held rows) of the first earlier row with the same key, else -1.
    """

    rows: np.ndarray
    hashes: np.ndarray
    ordered: np.ndarray
    starts: np.ndarray
    earlier: np.ndarray
    _order: np.ndarray | None = None

    @property
    def order(self) -> np.ndarray:
        """The permutation that sorts ``hashes`` (equal ones in row order)."""
        if self._order is None:  # distinct hashes: any sort gives this one order
            self._order = np.argsort(self.hashes)
        return self._order

    def passes(self) -> np.ndarray:
        """True for every row of the chunk but the second and later sharing a key."""
        ok = np.ones(len(self.rows), dtype=bool)
        ok[np.flatnonzero(self.rows)] = self.earlier < 0
        return ok


def chunk_keys(frame: pd.DataFrame, key: UniqueKey, forms: Forms = None) -> ChunkKeys:
    """Hash and sort ``key`` over ``frame`` once, for the check within and across chunks
    (``forms``: its columns' key forms, see :func:`key_forms`)."""
    rows = key_rows(frame, key)
    if not rows.any():
        return _sorted(rows, np.zeros(0, np.uint64))
    hashes = key_hashes(frame.loc[rows], key.columns, forms)
    return _sorted(rows, hashes)


def polars_chunk_keys(
    frame: pl.DataFrame, keys: Sequence[UniqueKey], spec: TableSpec
) -> dict[str, ChunkKeys]:
    """:func:`chunk_keys` of the ``keys`` (of ``spec``'s table) whose columns ``frame`` holds
    (as their :func:`key_text`), hashed from the Polars frame (the same hashes as
    :func:`key_hashes` gives).

    Keys with a column missing or of a type without a key text are left out: the caller
    hashes them from the pandas frame.
    """
    schema = frame.schema  # built anew on each access
    texts = {
        key.name: text
        for key in keys
        if all(str(c) in schema for c in (*key.where_null, *key.where_not_null))
        and (text := key_text(frame, key.columns, key_forms(spec, key.columns))) is not None
    }
    here = [key for key in keys if key.name in texts]
    if not here:
        return {}
    # A key whose columns hold no NULL (a count Polars keeps) holds every row: no query.
    every = [
        not key.where_null and not any(frame.get_column(str(c)).null_count() for c in _filled(key))
        for key in here
    ]
    asked = [key for key, whole in zip(here, every, strict=True) if not whole]
    masks = frame.select(_held(k).alias(f"h{i}") for i, k in enumerate(asked)) if asked else None
    out = {}
    for key, whole in zip(here, every, strict=True):
        values = texts[key.name]
        if masks is None or whole:
            rows = np.ones(frame.height, dtype=bool)
        else:
            mask = masks[f"h{asked.index(key)}"]
            rows = mask.to_numpy()
            values = values.filter(mask) if rows.any() else values.clear()
        hashes = values.hash_rows(seed=0).to_numpy() if len(values) else np.zeros(0, np.uint64)
        out[key.name] = _sorted(rows, np.asarray(hashes, dtype=np.uint64))
    return out


def _filled(key: UniqueKey) -> tuple[str, ...]:
    """The columns that must hold a value for ``key`` to hold a row."""
    return (*key.columns, *key.where_not_null)


def _sorted(rows: np.ndarray, hashes: np.ndarray) -> ChunkKeys:
    ordered = np.sort(hashes)  # a sort without the permutation: a good deal faster
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if len(ordered) else ordered > 0
    earlier = np.full(len(hashes), -1, dtype=np.int64)
    if starts.all():  # the usual case: no key twice, no permutation needed yet
        return ChunkKeys(rows, hashes, ordered, starts, earlier)
    order = np.argsort(hashes, kind="stable")  # equal keys: the first row first
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    earlier[order[~starts]] = first[~starts]
    return ChunkKeys(rows, hashes, ordered, starts, earlier, order)


#: Runs are not merged past this many keys (4 MB): a merge's copy stays small, and a key
#: is copied fewer times; the bitmap keeps the searches of the more runs rare.
MAX_MERGED = 1 << 19
#: The key set's bitmap holds at least this many bits a key, rounded up to a power
#: of two (0.75 to 1.5 bytes a key); at most about one new key in eleven finds both its
#: bits set (one in twenty-five at 9 bits a key).
BITMAP_BITS_PER_KEY = 6
_MARKED = 1 << 16  # keys marked in the bitmap at a time
_PAIR_MASK = (1 << 12) - 1
#: A key's two bits in its 64-bit bitmap word, by its hash's low 12 bits (6 a position).
_PAIRS = (np.uint64(1) << (np.arange(1 << 12, dtype=np.uint64) & np.uint64(63))) | (
    np.uint64(1) << (np.arange(1 << 12, dtype=np.uint64) >> np.uint64(6))
)


class KeySet:
    """The hashes of the keys seen so far, in a few sorted runs (a log-structured set).

    Each chunk's new keys are one sorted run; two runs are merged when the
    newer is at least half as long as the older and the older holds fewer
    than :data:`MAX_MERGED`, so there are about log2 of the chunks' count runs
    (plus one per ``MAX_MERGED`` keys), and a key is copied about that many
    times in all. A bitmap of :data:`BITMAP_BITS_PER_KEY` bits or more a key,
    two bits set per key in one 64-bit word (a blocked Bloom filter: the
    hash's top bits pick the word, its low bits the two bits) answers most
    lookups of a key not seen at once (all but about one in eleven, at most);
    the rest take one vectorised binary search per run, largest first, until
    found. Memory stays at about 9 bytes a key, plus
    one merge's copy of at most ``MAX_MERGED``.

    :meth:`expect` sizes the bitmap for the keys to come at once (a file's
    rows, told by its size), so it is not marked anew each time it doubles.
    Once complete, a parent's keys are :meth:`compact`: one run, no bitmap;
    foreign keys, which are nearly all found, then take one binary search each.
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self._count = 0
        self._bits = 0  # the bitmap holds 2**_bits bits (none while empty)
        self._bitmap = np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return self._count

    @property
    def hashes(self) -> np.ndarray:
        """Every hash, sorted (a copy)."""
        return np.sort(np.concatenate([np.empty(0, np.uint64), *self.runs]))

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each hash's bitmap word (its top bits) and its two bits there (its low 12 bits)."""
        word = (hashes >> np.uint64(70 - self._bits)).astype(np.intp)
        return word, _PAIRS[(hashes & np.uint64(_PAIR_MASK)).astype(np.intp)]

    def _mark(self, hashes: np.ndarray) -> None:
        for start in range(0, len(hashes), _MARKED):  # a slice at a time: small temporaries
            np.bitwise_or.at(self._bitmap, *self._slots(hashes[start : start + _MARKED]))

    def _maybe(self, hashes: np.ndarray) -> np.ndarray:
        """False for hashes surely not seen; True for the rest (seen, or sharing both bits)."""
        if not self.runs:
            return np.zeros(len(hashes), dtype=bool)
        if not self._bits:  # compacted: no bitmap
            return np.ones(len(hashes), dtype=bool)
        return self._marked(*self._slots(hashes))

    def _marked(self, word: np.ndarray, pair: np.ndarray) -> np.ndarray:
        found: np.ndarray = (self._bitmap[word] & pair) == pair
        return found

    def contains_sorted(self, ordered: np.ndarray, *, likely: bool = False) -> np.ndarray:
        """True where a hash of the sorted array ``ordered`` was seen before.

        ``likely``: most of them are expected to be held (foreign keys): the
        bitmap, which answers only misses, is not asked.
        """
        if not self.runs:
            return np.zeros(len(ordered), dtype=bool)
        if likely or not self._bits:
            return self._search(ordered, None)
        return self._search(ordered, np.flatnonzero(self._maybe(ordered)))

    def _search(self, ordered: np.ndarray, where: np.ndarray | None) -> np.ndarray:
        """True where a hash of ``ordered`` at the positions ``where`` (None: all) is in a run."""
        needles = ordered if where is None else ordered[where]
        found = np.zeros(len(ordered), dtype=bool)
        for run in sorted(self.runs, key=len, reverse=True):
            if not len(needles):
                break
            at = np.searchsorted(run, needles)
            np.minimum(at, len(run) - 1, out=at)
            hit = run[at] == needles
            if where is None:  # the first run, every needle: no gather, no scatter
                found = hit
                where = np.flatnonzero(~hit)
                needles = ordered[where]
            else:
                found[where[hit]] = True
                where, needles = where[~hit], needles[~hit]
        return found

    def add_unseen(self, ordered: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """:meth:`contains_sorted` of the sorted ``ordered`` (``starts``: True for the first
        of each distinct hash), then :meth:`add_sorted` of the distinct ones not seen
        (kept, not copied, when that is all of them). The bitmap's slots are worked out
        once for both."""
        slots = self._slots(ordered) if self.runs and self._bits else None
        if not self.runs:
            seen = np.zeros(len(ordered), dtype=bool)
        else:
            seen = self._search(
                ordered, None if slots is None else np.flatnonzero(self._marked(*slots))
            )
        fresh = starts & ~seen
        everything = bool(fresh.all())
        new = ordered if everything else ordered[fresh]
        if len(new):
            bits = self._bits
            self._count += len(new)
            self._grow(self._count)
            if slots is not None and self._bits == bits:
                word, pair = slots if everything else (slots[0][fresh], slots[1][fresh])
                np.bitwise_or.at(self._bitmap, word, pair)
            else:
                self._mark(new)
            self._append(np.asarray(new, dtype=np.uint64))
        return seen

    def contains(self, hashes: np.ndarray, *, likely: bool = False) -> np.ndarray:
        """True where a hash was seen before (any order of ``hashes``; ``likely`` as above)."""
        order = np.argsort(hashes)
        found = np.empty(len(hashes), dtype=bool)
        # Sorted needles make searchsorted walk memory in order: several times faster.
        found[order] = self.contains_sorted(hashes[order], likely=likely)
        return found

    def compact(self) -> None:
        """Merge the runs into one and drop the bitmap, for a set that from now on mostly
        answers look-ups of keys it holds (a parent's keys, complete, for foreign keys):
        each then takes one binary search. Adding again later builds the bitmap anew."""
        if len(self.runs) > 1:
            merged = np.concatenate(self.runs)
            self.runs = []  # the runs go before the sort: one copy at a time
            merged.sort(kind="stable")  # sorted runs: a merge
            self.runs = [merged]
        self._bits = 0
        self._bitmap = np.zeros(0, dtype=np.uint64)

    def _grow(self, count: int) -> None:
        """A bitmap for ``count`` keys: if too small, one twice (or more) the size, marked anew."""
        bits = max(16, int(BITMAP_BITS_PER_KEY * count - 1).bit_length())
        if bits > self._bits:
            self._bitmap = np.zeros(0, dtype=np.uint64)  # the old one goes first
            self._bitmap = np.zeros(1 << (bits - 6), dtype=np.uint64)
            self._bits = bits
            for run in self.runs:
                self._mark(run)

    def expect(self, more: int) -> None:
        """Size the bitmap now for about ``more`` keys to come, so that it is not marked anew
        as they arrive. A hint: a bitmap too small still grows, and the answers are the
        same either way."""
        if more > 0:
            self._grow(self._count + more)

    def add_sorted(self, new: np.ndarray) -> None:
        """Remember ``new``: sorted, distinct and not seen before (kept, not copied)."""
        if not len(new):
            return
        self._count += len(new)
        self._grow(self._count)
        self._mark(new)
        self._append(np.asarray(new, dtype=np.uint64))

    def _append(self, new: np.ndarray) -> None:
        """A new run (kept as given: not to be changed), merged as the policy above says."""
        self.runs.append(new)
        while (
            len(self.runs) > 1
            and 2 * len(self.runs[-1]) >= len(self.runs[-2])
            and len(self.runs[-2]) < MAX_MERGED
        ):
            newer, older = self.runs.pop(), self.runs.pop()
            merged = np.concatenate((older, newer))
            merged.sort(kind="stable")  # two sorted runs: a merge
            self.runs.append(merged)

    def add(self, hashes: np.ndarray) -> None:
        """Remember ``hashes``."""
        self.add_sorted(np.unique(hashes[~self.contains(hashes)]))


__all__ = [
    "AS_TIMESTAMP",
    "ChunkKeys",
    "Forms",
    "KeySet",
    "canonical",
    "chunk_keys",
    "key_forms",
    "key_hashes",
    "key_rows",
    "key_text",
    "pandas_key_text",
    "polars_chunk_keys",
    "reference_forms",
]
