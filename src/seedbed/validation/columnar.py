"""The columnar form of the rules: each rule kind compiled once to a Polars expression.

A rule (:mod:`seedbed.models.rules`, :mod:`seedbed.models.predicates`) has a
SQL side and a frame side. This module gives it a second frame side, a
Polars expression over the typed columns, which Polars evaluates on every
core. :data:`COLUMNAR` holds one compiler per rule class (looked up along the
class's bases, like the generator's ``FILLS``), so a new rule kind is one
entry here. A compiler gives the rule's *truth* (SQL's three values: True,
False, NULL) or None when the rule, or this frame's column types, has no
columnar form that gives the same verdicts: such a rule is judged by its
pandas frame side (:meth:`Rule.passes`), exactly as before. A JSON shape
(a parse per value) is judged by its frame side too, but once per distinct
text, inside the Polars query. Kinds that stay on the pandas side on
purpose: comparisons, lists and patterns read from a catalog (exact decimal
ties, PostgreSQL's case mapping and pattern dialects), and CHECKs only
PostgreSQL can judge.

Like a CHECK, a rule passes unless its truth is False.

>>> expr = passes_expr(rule, {"email": pl.String})      # doctest: +SKIP
>>> frame.select(expr)                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from seedbed.facts import ColumnSpec
from seedbed.facts import spec as k
from seedbed.facts.declaration import (
    AllOf,
    AnyOf,
    IsNull,
    JsonShape,
    Later,
    Length,
    Matches,
    Not,
    Predicate,
    RequiredWhen,
    Rule,
    SameTruth,
)
from seedbed.lazymodules import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    pl = lazy_module("polars")

#: The column types of the frame a rule is compiled for: column name -> Polars dtype.
Dtypes = Mapping[str, "pl.DataType"]
#: A compiler: the rule's truth over a frame of these column types, or None.
Compiler = Callable[[Any, Dtypes], "pl.Expr | None"]


def _is_text(dtypes: Dtypes, name: str) -> bool:
    dtype = dtypes.get(name)
    return dtype is not None and dtype == pl.String


def _regex_ok(pattern: str) -> bool:
    """Polars (Rust's regex crate) can run ``pattern``: no look-around, no back-references."""
    try:
        pl.DataFrame({"v": ["x"]}, schema={"v": pl.String}).select(
            pl.col("v").str.contains(pattern)
        )
    except pl.exceptions.PolarsError:
        return False
    return True


def _matches(rule: Matches, dtypes: Dtypes) -> pl.Expr | None:
    """The whole value matches, as ``str.fullmatch`` and PostgreSQL's ``~ '^(...)$'`` do."""
    name = rule.columns[0]
    anchored = f"^(?:{rule.pattern})$"
    if not _is_text(dtypes, name) or not _regex_ok(anchored):
        return None
    column = pl.col(name)
    return column.str.contains(anchored).fill_null(True)


def _length(rule: Length, dtypes: Dtypes) -> pl.Expr | None:
    """Characters (code points), as ``char_length`` counts them."""
    name = rule.columns[0]
    if not _is_text(dtypes, name):
        return None
    size = pl.col(name).str.len_chars()
    return size.is_between(rule.minimum, rule.maximum).fill_null(True)


def _later(rule: Later, dtypes: Dtypes) -> pl.Expr | None:
    later, earlier = rule.columns
    kinds = {dtypes.get(later), dtypes.get(earlier)}
    if len(kinds) != 1 or next(iter(kinds)) not in (pl.Datetime, pl.Date):
        return None  # mixed or untyped columns: the pandas side says what they mean
    left, right = pl.col(later), pl.col(earlier)
    return (left > right) | left.is_null() | right.is_null()


def _required_when(rule: RequiredWhen, dtypes: Dtypes) -> pl.Expr | None:
    required, when = rule.columns
    if not _is_text(dtypes, when) or required not in dtypes:
        return None
    triggered = (pl.col(when) == rule.value).fill_null(False)
    return ~triggered | pl.col(required).is_not_null()


def _is_null(rule: IsNull, dtypes: Dtypes) -> pl.Expr | None:
    if rule.term.name not in dtypes:
        return None
    null = pl.col(rule.term.name).is_null()
    return ~null if rule.negated else null


#: Verdicts a JSON shape remembers across chunks, at most (then it starts afresh).
JSON_VERDICTS = 1 << 16


def _json_shape(rule: JsonShape, dtypes: Dtypes) -> pl.Expr | None:
    """The rule's frame side on each distinct text once (values repeat: a few hundred
    distinct in a million rows), its verdicts mapped back onto the rows; NULL stays NULL."""
    name = rule.columns[0]
    if not _is_text(dtypes, name):
        return None
    seen: dict[str, bool] = {}  # across chunks and threads: each entry is final

    def verdicts(values: pl.Series) -> pl.Series:
        distinct = values.drop_nulls().unique()
        texts = distinct.to_list()
        known = {text: seen.get(text) for text in texts}
        new = [text for text, verdict in known.items() if verdict is None]
        if new:
            judged = [rule.text_conforms(text) for text in new]  # what passes() says of each
            known.update(zip(new, judged, strict=True))
            if len(seen) > JSON_VERDICTS:
                seen.clear()
            seen.update(zip(new, judged, strict=True))
        verdict = [known[text] for text in texts]
        if all(verdict):  # the usual case: True for every value, NULL stays NULL
            return pl.select(pl.when(values.is_not_null()).then(True)).to_series()
        found = pl.Series(verdict, dtype=pl.Boolean)
        return values.replace_strict(distinct, found, default=None, return_dtype=pl.Boolean)

    return pl.col(name).map_batches(verdicts, return_dtype=pl.Boolean)


def _part(rule: Rule, dtypes: Dtypes) -> pl.Expr | None:
    """A part of a combination: a predicate's truth, another rule's pass or fail."""
    found = truth_expr(rule, dtypes)
    if found is None or isinstance(rule, Predicate):
        return found
    return found.fill_null(True)


def _parts(parts: Sequence[Rule], dtypes: Dtypes) -> list[pl.Expr] | None:
    compiled = [_part(part, dtypes) for part in parts]
    if any(part is None for part in compiled):
        return None
    return [part for part in compiled if part is not None]


# Polars combines booleans with Kleene logic, as SQL's AND, OR and NOT do with NULL.


def _all_of(rule: AllOf, dtypes: Dtypes) -> pl.Expr | None:
    parts = _parts(rule.parts, dtypes)
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result


def _any_of(rule: AnyOf, dtypes: Dtypes) -> pl.Expr | None:
    parts = _parts(rule.parts, dtypes)
    if not parts:
        return None if parts is None else pl.lit(False)
    result = parts[0]
    for part in parts[1:]:
        result = result | part
    return result


def _not(rule: Not, dtypes: Dtypes) -> pl.Expr | None:
    part = _part(rule.part, dtypes)
    return None if part is None else ~part


def _same_truth(rule: SameTruth, dtypes: Dtypes) -> pl.Expr | None:
    parts = _parts(rule.parts, dtypes)
    if parts is None:
        return None
    same = parts[0] == parts[1]  # NULL on either side stays NULL
    return ~same if rule.negated else same


#: Rule class -> its columnar compiler. Kinds not listed (Compare, OneOf,
#: Pattern, SqlCheck) are judged by their pandas frame side.
COLUMNAR: dict[type[Rule], Compiler] = {
    Matches: _matches,
    Length: _length,
    Later: _later,
    RequiredWhen: _required_when,
    IsNull: _is_null,
    JsonShape: _json_shape,
    AllOf: _all_of,
    AnyOf: _any_of,
    Not: _not,
    SameTruth: _same_truth,
}


def compiler_for(rule: Rule) -> Compiler | None:
    """The compiler of ``rule``'s class, or of the nearest base class that has one."""
    for kind in type(rule).__mro__:
        if kind in COLUMNAR:
            return COLUMNAR[kind]
    return None


def truth_expr(rule: Rule, dtypes: Dtypes) -> pl.Expr | None:
    """``rule``'s truth over a frame with these column types, or None (no columnar form)."""
    if any(name not in dtypes for name in rule.columns):
        return None
    found = compiler_for(rule)
    return None if found is None else found(rule, dtypes)


def passes_expr(rule: Rule, dtypes: Dtypes) -> pl.Expr | None:
    """True where a row passes ``rule`` (NULL passes, as in a CHECK), or None."""
    found = truth_expr(rule, dtypes)
    return None if found is None else found.fill_null(True)


def _text_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A text array without NULLs as its value offsets and bytes (no copy); else None."""
    import pyarrow as pa

    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    if values.null_count or not text:
        return None
    _, offsets, data = values.buffers()
    width = 8 if pa.types.is_large_string(values.type) else 4
    kind = np.int64 if width == 8 else np.int32
    at = np.frombuffer(offsets, kind, len(values) + 1, values.offset * width)
    start, end = int(at[0]), int(at[-1])
    if data is None:
        return at, np.zeros(0, np.uint8)
    return at, np.frombuffer(data, np.uint8, end - start, start)


#: The characters that make a pattern more than a row of character classes.
_META = frozenset(".^$*+?{}[]\\|()")
_MAX_RANGES = 3  # byte ranges a position's class may take; more: judge by the regex
_FIXED_ROWS = 4096  # rows looked at a time: their temporaries stay small


@cache
def fixed_width_ranges(pattern: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The byte ranges each position of ``pattern`` allows, when the pattern is a row of
    ASCII literals and character classes, each repeated a fixed number of times
    (:data:`~seedbed.models.rules.UUID_V4`: ``[0-9a-f]{8}-...``); else None.

    Returned as two ``(ranges, width)`` arrays of ``uint8``: the ranges' first bytes and
    their sizes (0 where a position has fewer ranges). A value of ``width`` bytes
    matches the whole pattern exactly when each byte falls in one of its position's
    ranges. Anything else in the pattern (escapes, negated or nested classes, class set
    operations, alternation, other quantifiers) gives None.
    """
    positions: list[list[tuple[int, int]]] = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "[":
            end = pattern.find("]", at + 2)
            body = pattern[at + 1 : end]
            if end < 0 or body[0] in "^]" or any(s in body for s in ("\\", "[", "&&", "--", "~~")):
                return None
            allowed: set[int] = set()
            i = 0
            while i < len(body):
                if i + 2 < len(body) and body[i + 1] == "-":
                    allowed.update(range(ord(body[i]), ord(body[i + 2]) + 1))
                    i += 3
                else:
                    allowed.add(ord(body[i]))
                    i += 1
            at = end + 1
        elif char in _META:
            return None
        else:
            allowed = {ord(char)}
            at += 1
        if not allowed or max(allowed) > 127:
            return None
        count = 1
        if pattern.startswith("{", at):
            end = pattern.find("}", at)
            if end < 0 or not pattern[at + 1 : end].isdigit():
                return None
            count = int(pattern[at + 1 : end])
            at = end + 1
        ranges: list[tuple[int, int]] = []
        for byte in sorted(allowed):
            if ranges and ranges[-1][0] + ranges[-1][1] == byte:
                ranges[-1] = (ranges[-1][0], ranges[-1][1] + 1)
            else:
                ranges.append((byte, 1))
        if len(ranges) > _MAX_RANGES:
            return None
        positions += [ranges] * count
    if not positions:
        return None
    most = max(len(ranges) for ranges in positions)
    first = np.zeros((most, len(positions)), np.uint8)
    size = np.zeros((most, len(positions)), np.uint8)
    for column, ranges in enumerate(positions):
        for row, (low, span) in enumerate(ranges):
            first[row, column], size[row, column] = low, span
    return first, size


def _all_fixed_width(rule: Matches, values: pa.Array) -> bool:
    """Every value has the width of the rule's fixed-width pattern and each byte is one
    its position allows (:func:`fixed_width_ranges`): exactly what the pattern matches."""
    layout = fixed_width_ranges(rule.pattern)
    found = None if layout is None else _text_bytes(values)
    if layout is None or found is None:
        return False
    first, size = layout
    width = first.shape[1]
    offsets, data = found
    if len(data) != width * len(values) or not (np.diff(offsets) == width).all():
        return False
    rows = data.reshape(len(values), width)
    for start in range(0, len(rows), _FIXED_ROWS):
        part = rows[start : start + _FIXED_ROWS]
        shifted = np.subtract(part, first[0])  # wraps below the range: then too big
        ok = shifted < size[0]
        for low, span in zip(first[1:], size[1:], strict=True):
            np.subtract(part, low, out=shifted)
            ok |= shifted < span
        if not ok.all():
            return False
    return True


def _all_of_length(rule: Length, values: pa.Array) -> bool:
    """Every value's length in bytes shows its length in characters is in the rule's
    range: a character is one to four bytes of UTF-8."""
    found = _text_bytes(values)
    if found is None:
        return False
    sizes = np.diff(found[0])
    if not len(sizes):
        return True
    shortest, longest = int(sizes.min()), int(sizes.max())
    return shortest >= 4 * rule.minimum - 3 and longest <= rule.maximum


def all_pass(rule: Rule, values: pa.Array) -> bool:
    """True only when every value of the Arrow array ``values`` (the rule's one column)
    surely passes ``rule``: a shortcut for the plain case, read from the array's buffers.
    False says nothing: judge the rule by its expression."""
    if len(rule.columns) != 1:
        return False
    if isinstance(rule, Matches):
        return _all_fixed_width(rule, values)
    if isinstance(rule, Length):
        return _all_of_length(rule, values)
    return False


_POLARS_TYPES: dict[str, Callable[[], pl.DataType]] = {
    k.BOOLEAN: lambda: pl.Boolean(),
    k.TIMESTAMPTZ: lambda: pl.Datetime("us", "UTC"),
    k.TIMESTAMP: lambda: pl.Datetime("us"),
    k.INTEGER: lambda: pl.Int64(),
    k.DATE: lambda: pl.Date(),
}


def polars_dtype(column: ColumnSpec) -> pl.DataType:
    """The Polars type of ``column`` in a typed frame (text for the text-like kinds)."""
    make = _POLARS_TYPES.get(column.kind)
    return make() if make is not None else pl.String()


def to_polars(columns: Mapping[str, pa.Array | pd.Series], names: Sequence[str]) -> pl.DataFrame:
    """The columns ``names`` (those ``columns`` holds) of a typed chunk as a Polars frame.

    Arrow arrays go to Polars without Python; pandas series (their Arrow buffers where they
    have them) column by column: a pandas frame of the columns first costs more.
    """
    import pyarrow as pa

    found = []
    for name in names:
        values = columns.get(name)
        if values is None:
            continue
        if isinstance(values, pa.Array):
            series = pl.from_arrow(values)
            assert isinstance(series, pl.Series)
        else:
            series = pl.from_pandas(values)
        found.append(series.alias(name))
    return pl.DataFrame(found) if found else pl.DataFrame(schema={})


__all__ = [
    "COLUMNAR",
    "Compiler",
    "all_pass",
    "compiler_for",
    "passes_expr",
    "polars_dtype",
    "to_polars",
    "truth_expr",
]
