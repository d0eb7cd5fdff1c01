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
text, inside the Polars query.

Every rule kind has a columnar form, the CHECKs a catalog gives included:
a number compared with a number is compared as floats, and where the floats
tie, by the exact values of each distinct pair of texts (``Decimal``, as the
frame side); ``lower``/``upper`` and case-blind patterns run in Polars on
ASCII text and through the frame side's Python on each distinct other text
(Polars maps case by Unicode's full mapping, PostgreSQL and the frame side
by its simple one); a date meets an instant in whole days. What stays on
the pandas side: a pattern Rust's regex cannot run as Python's ``re`` does
(look-around, back-references), a case-blind regex with a non-ASCII letter,
a date against a timestamp column, and the CHECKs only PostgreSQL can judge
(:class:`~seedbed.models.rules.SqlCheck`, sent to the database).

Like a CHECK, a rule passes unless its truth is False.

>>> expr = passes_expr(rule, {"email": pl.String})      # doctest: +SKIP
>>> frame.select(expr)                                  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from seedbed.facts import ColumnSpec, UniqueKey
from seedbed.facts import spec as k
from seedbed.facts.declaration import (
    BOOLEAN,
    BPCHAR,
    DATE,
    FLOAT4,
    NUMBER,
    NUMERIC_FAMILIES,
    OPERATORS,
    TIME_FAMILIES,
    TIMESTAMP,
    TIMESTAMPTZ,
    TRUTH_TESTS,
    AllOf,
    AnyOf,
    Column,
    Compare,
    Constant,
    IsNull,
    JsonShape,
    Later,
    Length,
    Matches,
    Not,
    NullCount,
    OneOf,
    Pattern,
    Predicate,
    RequiredWhen,
    Rule,
    SameTruth,
    SplitPart,
    TextFunction,
    TruthTest,
    python_regex,
    text_function,
)
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import DAY_US
from seedbed.validation.arrays import date_array, holds_dates

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


def _truth_test(rule: TruthTest, dtypes: Dtypes) -> pl.Expr | None:
    part = _part(rule.part, dtypes)
    if part is None:
        return None
    taken = TRUTH_TESTS[rule.test]
    found = pl.lit(False)
    if True in taken:
        found = found | part.fill_null(False)
    if False in taken:
        found = found | (~part).fill_null(False)
    if None in taken:
        found = found | part.is_null()
    return found


def _null_count(rule: NullCount, dtypes: Dtypes) -> pl.Expr:
    missing = pl.sum_horizontal(pl.col(c).is_null().cast(pl.Int32) for c in rule.columns)
    counted = missing if rule.nulls else len(rule.columns) - missing
    found: pl.Expr = OPERATORS[rule.op](counted, rule.value)
    return found


# --- comparisons, lists and patterns ------------------------------------------------------


def _nulls(size: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, size, dtype=dtype, eager=True)


def _by_text(
    values: pl.Expr, fast: pl.Expr, slow: Callable[[str], Any], dtype: pl.DataType
) -> pl.Expr:
    """``fast`` where a text is ASCII, where Polars' kernels give the frame side's result;
    ``slow``, the frame side's own Python, once per distinct text on the others."""
    ascii_only = values.str.len_bytes() == values.str.len_chars()

    def others(texts: pl.Series) -> pl.Series:
        odd = (texts.str.len_bytes() != texts.str.len_chars()).fill_null(False)
        if not odd.any():
            return _nulls(len(texts), dtype)
        distinct = texts.filter(odd).unique()
        found = pl.Series([slow(text) for text in distinct.to_list()], dtype=dtype)
        return texts.replace_strict(distinct, found, default=None, return_dtype=dtype)

    return pl.when(ascii_only).then(fast).otherwise(values.map_batches(others, return_dtype=dtype))


def _split_part(part: SplitPart, value: pl.Expr) -> pl.Expr:
    """``split_part`` as PostgreSQL computes it (see :class:`SplitPart`); NULL stays NULL."""
    if not part.delimiter:
        piece = value if part.field in (1, -1) else pl.lit("", pl.String)
    else:
        index = part.field - 1 if part.field > 0 else part.field
        pieces = value.str.split(part.delimiter)
        piece = pieces.list.get(index, null_on_oob=True).fill_null("")
    return pl.when(value.is_null()).then(pl.lit(None, pl.String)).otherwise(piece)


def _text_function(function: TextFunction, value: pl.Expr, ascii_case: bool) -> pl.Expr | None:
    if isinstance(function, SplitPart):
        return _split_part(function, value)
    if function in ("lower", "upper"):
        # Polars maps case by Unicode's full mapping (and a final sigma): exact on ASCII only
        fast = value.str.to_lowercase() if function == "lower" else value.str.to_uppercase()
        return _by_text(
            value, fast, lambda text: text_function(function, text, ascii_case), pl.String()
        )
    trims = {
        "btrim": value.str.strip_chars(" "),
        "ltrim": value.str.strip_chars_start(" "),
        "rtrim": value.str.strip_chars_end(" "),
        "char_length": value.str.len_chars(),
        "octet_length": value.str.len_bytes(),
    }
    return trims.get(function)


def _text_term(term: Column, dtypes: Dtypes) -> pl.Expr | None:
    """A text column's values (``char(n)``: without trailing spaces), functions applied."""
    if not _is_text(dtypes, term.name):
        return None
    value: pl.Expr | None = pl.col(term.name)
    if term.family == BPCHAR:
        value = pl.col(term.name).str.strip_chars_end(" ")
    for function in term.functions:
        value = None if value is None else _text_function(function, value, term.ascii_case)
    return value


_FLOATS, _TEXTS, _BOOLS, _DAYS, _MICROS, _INSTANTS = (
    "floats",
    "texts",
    "bools",
    "days",
    "micros",
    "instants",
)


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison over a frame: its values and what they compare as (a
    constant time as its microseconds in ``constant``, ``value`` unused)."""

    value: pl.Expr
    kind: str
    #: numbers: the exact value of a text of ``text`` (a constant: its own), which settles a tie
    exact: Callable[[str], Any] = float
    text: pl.Expr | None = None
    float_exact: bool = True  # the float is the exact value: a tie is equality
    constant: int | None = None


def _float4(value: float) -> float:
    return float(np.float32(value))


def _constant(term: Constant) -> _Operand | None:
    family, value = term.family, term.value
    if family in NUMERIC_FAMILIES:
        exact: Any = Decimal(value) if family == NUMBER else float(value)
        number = _float4(exact) if family == FLOAT4 else float(exact)
        if family != NUMBER:
            exact = number
        # NaN: Polars holds it equal to itself and above every number, as PostgreSQL does
        held = number != number or Decimal(number) == exact
        return _Operand(pl.lit(number, pl.Float64), _FLOATS, lambda _: exact, None, held)
    if family in TIME_FAMILIES:
        return _Operand(pl.lit(None), family, constant=int(value))
    if family == BOOLEAN:
        return _Operand(pl.lit(bool(value), pl.Boolean), _BOOLS)
    if isinstance(value, str):
        return _Operand(pl.lit(value, pl.String), _TEXTS)
    return None


def _column(term: Column, dtypes: Dtypes) -> _Operand | None:
    family, dtype = term.family, dtypes.get(term.name)
    column = pl.col(term.name)
    if term.functions:
        value = _text_term(term, dtypes)
        if value is None:
            return None
        if term.result_family == NUMBER:  # a length: an integer, exact as a float
            return _Operand(value.cast(pl.Float64), _FLOATS, int, value.cast(pl.String))
        return _Operand(value, _TEXTS)
    if family in NUMERIC_FAMILIES and dtype == pl.String:
        parsed = column.cast(pl.Float64, strict=False)
        # text that is no number compares as NaN, as on the frame side
        nan = column.is_not_null() & parsed.is_null()
        floats = pl.when(nan).then(float("nan")).otherwise(parsed)
        if family == FLOAT4:
            floats = floats.cast(pl.Float32).cast(pl.Float64)
            return _Operand(floats, _FLOATS, lambda text: _float4(float(text)), column)
        if family == NUMBER:
            return _Operand(floats, _FLOATS, Decimal, column, float_exact=False)
        return _Operand(floats, _FLOATS, float, column)
    if family in NUMERIC_FAMILIES and dtype == pl.Int64:
        return _Operand(column.cast(pl.Float64), _FLOATS, int, column.cast(pl.String), False)
    if family == BPCHAR and dtype == pl.String:
        return _Operand(column.str.strip_chars_end(" "), _TEXTS)
    if family == BOOLEAN and dtype == pl.Boolean:
        return _Operand(column, _BOOLS)
    if family == DATE and dtype == pl.Date:
        return _Operand(column.to_physical().cast(pl.Int64), _DAYS)
    if family in (TIMESTAMP, TIMESTAMPTZ) and isinstance(dtype, pl.Datetime):
        if dtype.time_unit != "us" or (dtype.time_zone is None) != (family == TIMESTAMP):
            return None
        return _Operand(column.to_physical(), _MICROS if family == TIMESTAMP else _INSTANTS)
    if family not in (*NUMERIC_FAMILIES, *TIME_FAMILIES, BOOLEAN) and dtype == pl.String:
        return _Operand(column, _TEXTS)
    return None


def _operand(term: Column | Constant, dtypes: Dtypes) -> _Operand | None:
    return _constant(term) if isinstance(term, Constant) else _column(term, dtypes)


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}
_APART = "\x00"  # between two texts of a tie: a text value never holds it (COPY refuses it)


def _settled(op: str, left: _Operand, right: _Operand, tie: pl.Expr) -> pl.Expr:
    """The exact verdict where the floats tie, from each distinct pair of texts (Decimal, as
    the frame side settles a tie); NULL elsewhere."""
    compare = OPERATORS[op]
    texts = [side.text if side.text is not None else pl.lit("") for side in (left, right)]
    keys = pl.when(tie).then(pl.concat_str(texts, separator=_APART))

    def settle(found: pl.Series) -> pl.Series:
        distinct = found.drop_nulls().unique()
        if distinct.is_empty():
            return _nulls(len(found), pl.Boolean())
        verdicts = []
        for key in distinct.to_list():
            one, other = key.split(_APART)
            verdicts.append(bool(compare(left.exact(one), right.exact(other))))
        judged = pl.Series(verdicts, dtype=pl.Boolean)
        return found.replace_strict(distinct, judged, default=None, return_dtype=pl.Boolean)

    return keys.map_batches(settle, return_dtype=pl.Boolean)


def _against_days(op: str, days: pl.Expr, micros: int) -> pl.Expr:
    """A date (days) against an instant (microseconds), as ``days * 86400 s op micros`` in
    whole days: no product that overflows."""
    day, rest = divmod(micros, DAY_US)  # floor
    above = day + (rest > 0)  # the first day not before the instant
    if op == "<":
        return days < above
    if op == "<=":
        return days <= day
    if op == ">":
        return days > day
    if op == ">=":
        return days >= above
    if rest:  # no date is that instant
        return pl.when(days.is_not_null()).then(op == "<>")
    return days == day if op == "=" else days != day


def _compare_operands(op: str, left: _Operand, right: _Operand) -> pl.Expr | None:
    if left.constant is not None and right.constant is None:
        return _compare_operands(_FLIPPED[op], right, left)

    def compare(one: pl.Expr, other: pl.Expr) -> pl.Expr:
        found: pl.Expr = OPERATORS[op](one, other)
        return found

    if right.constant is not None:
        if left.constant is not None:
            return None
        if left.kind == _DAYS:
            return _against_days(op, left.value, right.constant)
        if right.kind not in {_MICROS: (DATE, TIMESTAMP), _INSTANTS: (TIMESTAMPTZ,)}.get(
            left.kind, ()
        ):
            return None  # a zone would come from the session's TimeZone
        return compare(left.value, pl.lit(right.constant, pl.Int64))
    if left.kind != right.kind:
        return None
    if left.kind == _FLOATS:
        found = compare(left.value, right.value)
        if left.float_exact and right.float_exact:
            return found
        tie = (left.value == right.value) & left.value.is_not_nan()
        return pl.when(tie).then(_settled(op, left, right, tie)).otherwise(found)
    if left.kind == _BOOLS and op not in ("=", "<>"):
        return None
    return compare(left.value, right.value)


def _compare(rule: Compare, dtypes: Dtypes) -> pl.Expr | None:
    if not isinstance(rule.left, Column) and not isinstance(rule.right, Column):
        return None  # no column: one value, not one per row
    left, right = _operand(rule.left, dtypes), _operand(rule.right, dtypes)
    if left is None or right is None:
        return None
    return _compare_operands(rule.op, left, right)


def _one_of(rule: OneOf, dtypes: Dtypes) -> pl.Expr | None:
    term = _operand(rule.term, dtypes) if isinstance(rule.term, Column) else None
    if term is None or not rule.values:
        return None
    found: pl.Expr | None
    if term.kind == _TEXTS and all(isinstance(v.value, str) for v in rule.values):
        found = term.value.is_in([value.value for value in rule.values])  # NULL stays NULL
    else:
        found = None
        for value in rule.values:
            constant = _constant(value)
            part = None if constant is None else _compare_operands("=", term, constant)
            if part is None:
                return None
            found = part if found is None else found | part
    if found is None:
        return None
    return ~found if rule.negated else found


def _rust_regex(regex: str | None, ignore_case: bool) -> str | None:
    """A Python regular expression (:func:`python_regex`'s) in the syntax of Rust's regex
    crate with the same matches, or None (look-around, class set operations)."""
    if regex is None:
        return None

    def escape(found: re.Match[str]) -> str:
        char = found.group(0)[1]
        if char == "Z":
            return r"\z"  # Python's end of the text
        return char if char.isspace() or not char.isascii() else found.group(0)

    plain = re.sub(r"\\.", "", regex, flags=re.DOTALL)
    if any(op in plain for op in ("&&", "--", "~~")):
        return None  # a class's set operations in Rust, literal characters in Python
    rust = ("(?si)" if ignore_case else "(?s)") + re.sub(r"\\.", escape, regex, flags=re.DOTALL)
    return rust if _regex_ok(rust) else None


def _pattern(rule: Pattern, dtypes: Dtypes) -> pl.Expr | None:
    value = _text_term(rule.term, dtypes)
    if value is None or rule.term.result_family == NUMBER:
        return None
    like_case = rule.kind == "like" and rule.case_insensitive  # ILIKE: lower-cased both sides
    source = (
        text_function("lower", rule.pattern, rule.term.ascii_case) if like_case else rule.pattern
    )
    regex_case = rule.case_insensitive and not like_case
    if regex_case and not source.isascii():
        return None  # Rust folds a non-ASCII letter's cases; the frame side, ASCII only
    rust = _rust_regex(python_regex(rule.kind, source, rule.term.ascii_case), regex_case)
    if rust is None:
        return None
    if rule.case_insensitive:  # on ASCII text Rust's case folding is ASCII's
        fast = (value.str.to_lowercase() if like_case else value).str.contains(rust)
        found = _by_text(value, fast, rule.text_matches, pl.Boolean())
    else:
        found = value.str.contains(rust)
    return ~found if rule.negated else found


#: Rule class -> its columnar compiler. A kind not listed (SqlCheck: the
#: database judges it) is judged by its frame side.
COLUMNAR: dict[type[Rule], Compiler] = {
    Matches: _matches,
    Length: _length,
    Later: _later,
    RequiredWhen: _required_when,
    IsNull: _is_null,
    Compare: _compare,
    OneOf: _one_of,
    Pattern: _pattern,
    JsonShape: _json_shape,
    AllOf: _all_of,
    AnyOf: _any_of,
    Not: _not,
    SameTruth: _same_truth,
    TruthTest: _truth_test,
    NullCount: _null_count,
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


def condition_expr(key: UniqueKey, dtypes: Dtypes) -> pl.Expr | None:
    """True where a partial key's condition is (NULL is not), or None: no condition, or
    none in columnar form."""
    found = None if key.condition is None else truth_expr(key.condition, dtypes)
    return None if found is None else found.fill_null(False)


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
        elif values.dtype == object and holds_dates(values.to_numpy()):
            # a frame's dates: Python's, and NumPy's where Python's cannot hold them
            dates = pl.from_arrow(date_array(values.to_numpy(), values.isna().to_numpy())[0])
            assert isinstance(dates, pl.Series)
            series = dates
        else:
            series = pl.from_pandas(values)
        found.append(series.alias(name))
    return pl.DataFrame(found) if found else pl.DataFrame(schema={})


__all__ = [
    "COLUMNAR",
    "Compiler",
    "all_pass",
    "compiler_for",
    "condition_expr",
    "passes_expr",
    "polars_dtype",
    "to_polars",
    "truth_expr",
]
