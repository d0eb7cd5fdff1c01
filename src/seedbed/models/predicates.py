"""Rule kinds for CHECK expressions of any shape: comparisons, lists, patterns, NULL tests.

A CHECK read from a database catalog is turned into these rules by
:mod:`seedbed.facts.checksql`; a model may also declare them by hand. Each is
a :class:`~seedbed.models.rules.Rule`: its SQL, its frame check and its
sentence. Their frame checks follow SQL's three-valued logic: :meth:`truth`
is True, False or NA (SQL's NULL) per row, ``AllOf``/``AnyOf``/``Not`` combine
truths as ``AND``/``OR``/``NOT`` do, and a rule passes unless its truth is
False, as a CHECK does.

Operands are :class:`Column` (a column, optionally wrapped in ``lower``,
``upper``, ``btrim``, ``char_length`` or ``octet_length``) and
:class:`Constant`. A column's *family* says how its values compare:

- ``number``: integers and ``numeric``, compared exactly (floats first, ties
  settled with ``Decimal``); ``float`` and ``float4``: compared as PostgreSQL's
  ``double precision`` and ``real``;
- ``text``; ``bpchar`` (``char(n)``: trailing spaces do not count, as in
  PostgreSQL). Ordering (``<``, ``>``) compares code points, which is
  PostgreSQL's order only under a bytewise collation (``C``, ``C.UTF-8``);
  ``lower``/``upper`` and ``ILIKE`` use Unicode's simple case mapping, one
  character at a time, or ASCII only for a column whose ctype is ``C`` or
  ``POSIX`` (``Column.ascii_case``); ``~*`` patterns are ASCII;
- ``date``, ``timestamp``, ``timestamptz``: compared as instants (microseconds);
- ``boolean`` and ``enum``: equality and lists; ``other``: only ``IS [NOT] NULL``.

Patterns are PostgreSQL regular expressions, ``LIKE`` patterns (backslash
escapes) or ``SIMILAR TO`` patterns; :func:`python_regex` gives the Python
regular expression of each, or None for constructs whose meaning differs
between the two engines (the translator then leaves such a CHECK to the
database).
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from seedbed.lazymodules import lazy_module
from seedbed.models.rules import Rule
from seedbed.sqltext import quote_ident, quote_literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

NUMBER, FLOAT, FLOAT4 = "number", "float", "float4"
TEXT, BPCHAR = "text", "bpchar"
DATE, TIMESTAMP, TIMESTAMPTZ = "date", "timestamp", "timestamptz"
BOOLEAN, ENUM, OTHER = "boolean", "enum", "other"
NUMERIC_FAMILIES = (NUMBER, FLOAT, FLOAT4)
TEXT_FAMILIES = (TEXT, BPCHAR)
TIME_FAMILIES = (DATE, TIMESTAMP, TIMESTAMPTZ)

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "<>": operator.ne,
}
#: Each comparison with its sides swapped: ``a < b`` is ``b > a``.
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}
_WORDS = {
    "<": "less than",
    "<=": "at most",
    ">": "greater than",
    ">=": "at least",
    "=": "equal to",
    "<>": "different from",
}
_TEXT_FUNCTIONS = ("lower", "upper", "btrim", "ltrim", "rtrim")
_LENGTH_FUNCTIONS = ("char_length", "octet_length")
#: PostgreSQL's trims of spaces, by the name of the ``str`` method that does the same.
_TRIMS = {"btrim": "strip", "ltrim": "lstrip", "rtrim": "rstrip"}


@dataclass(frozen=True)
class SplitPart:
    """``split_part(text, delimiter, field)``: the ``field``-th piece of the text cut at
    each ``delimiter``, counted from the end when negative; ``''`` past the last piece."""

    delimiter: str
    field: int  # never 0: PostgreSQL refuses that position

    def sql(self, text: str) -> str:
        return f"split_part({text}, {quote_literal(self.delimiter)}, {self.field})"

    def apply(self, text: str) -> str:
        if not self.delimiter:  # PostgreSQL: the whole text is the only piece
            return text if self.field in (1, -1) else ""
        pieces = text.split(self.delimiter)
        index = self.field - 1 if self.field > 0 else self.field
        return pieces[index] if -len(pieces) <= index < len(pieces) else ""


#: A function of a text: a name (``lower``, a trim, a length) or a call with arguments.
TextFunction = str | SplitPart


def call_sql(function: TextFunction, text: str) -> str:
    """The SQL of ``function`` applied to the SQL ``text``."""
    return function.sql(text) if isinstance(function, SplitPart) else f"{function}({text})"


@dataclass(frozen=True)
class Column:
    """A column's value, with functions applied to it in order (innermost first)."""

    name: str
    family: str
    functions: tuple[TextFunction, ...] = ()
    ascii_case: bool = False  # lower/upper/ILIKE change ASCII letters only (a C or POSIX ctype)

    @property
    def result_family(self) -> str:
        if self.functions and self.functions[-1] in _LENGTH_FUNCTIONS:
            return NUMBER
        return TEXT if self.functions else self.family

    @property
    def sql(self) -> str:
        text = quote_ident(self.name)
        for function in self.functions:
            text = call_sql(function, text)
        return text


@dataclass(frozen=True)
class Constant:
    """A constant: its value (Decimal, float, str, bool, or microseconds for times) and SQL."""

    value: Any
    family: str
    sql: str


Term = Column | Constant


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
# Where Unicode's full lower-case mapping (Python's) is longer than its simple one.
_SIMPLE_LOWER = {"\u0130": "i"}


def _case(text: str, upper: bool, ascii_only: bool = False) -> str:
    """Unicode simple case mapping, one character at a time (as ``towlower``/``towupper``)."""
    if ascii_only:
        table = _ASCII_UPPER if upper else _ASCII_LOWER
        return text.translate(table)
    if text.isascii():
        return text.upper() if upper else text.lower()
    out = []
    for char in text:
        mapped = char.upper() if upper else _SIMPLE_LOWER.get(char, char.lower())
        out.append(mapped if len(mapped) == 1 else char)
    return "".join(out)


def _apply(function: TextFunction, value: str, ascii_only: bool) -> Any:
    if isinstance(function, SplitPart):
        return function.apply(value)
    if function == "lower":
        return _case(value, upper=False, ascii_only=ascii_only)
    if function == "upper":
        return _case(value, upper=True, ascii_only=ascii_only)
    if function in _TRIMS:
        return getattr(value, _TRIMS[function])(" ")
    if function == "char_length":
        return len(value)
    return len(value.encode("utf-8"))


def text_function(function: TextFunction, value: str, ascii_only: bool = False) -> Any:
    """``function`` (``lower``, ``upper``, a trim, a length, a piece) of one text, as the frame side
    computes it: Unicode's simple case mapping, or ASCII only (a C or POSIX ctype)."""
    return _apply(function, value, ascii_only)


def _applied(function: TextFunction, objects: np.ndarray, ascii_only: bool) -> np.ndarray:
    """``function`` applied to each text (None stays None); pandas' string kernels where exact."""
    text = pd.Series(objects, dtype=object)
    result: pd.Series
    if function == "char_length":
        result = text.str.len()
    elif function in _TRIMS:
        result = getattr(text.str, _TRIMS[function])(" ")
    elif function in ("lower", "upper"):
        result = text.str.lower() if function == "lower" else text.str.upper()
        odd = ~text.str.isascii().fillna(True).astype(bool)
        if odd.any():  # Unicode case needs the simple mapping, one character at a time
            result.loc[odd] = pd.Series(
                [_apply(function, v, ascii_only) for v in text[odd]], index=text.index[odd]
            )
    else:
        result = pd.Series([v if v is None else _apply(function, v, ascii_only) for v in objects])
    values: np.ndarray = result.astype(object).where(text.notna(), None).to_numpy(dtype=object)
    return values


def _micros(series: pd.Series, family: str) -> np.ndarray:
    """Times as int64 microseconds (UTC instants for ``timestamptz``); NULL as 0."""
    if family == DATE and not pd.api.types.is_datetime64_any_dtype(series.dtype):
        # Straight to microseconds: a date's cell may hold infinity's (see coerce.arrow_series).
        held = series.astype(object).where(series.notna(), None)
        result: np.ndarray = np.array(held, dtype="datetime64[us]").astype("int64")
    else:
        stamps = pd.to_datetime(series)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        result = stamps.astype("datetime64[us]").to_numpy().astype("int64")
    return result


@dataclass
class _Values:
    """An operand over a frame: values, NULL mask, and exact values for ties."""

    values: np.ndarray
    null: np.ndarray
    exact: Callable[[int], Any] | None = None


class _NotANumber:
    """PostgreSQL's NaN: equal to itself and greater than every other number, Infinity too."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NotANumber)

    def __hash__(self) -> int:
        return 0

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return isinstance(other, _NotANumber)

    def __gt__(self, other: object) -> bool:
        return not isinstance(other, _NotANumber)

    def __ge__(self, other: object) -> bool:
        return True


_NAN = _NotANumber()


def _values(term: Term, frame: pd.DataFrame) -> _Values:
    n = len(frame)
    if isinstance(term, Constant):
        value = term.value
        if term.family in NUMERIC_FAMILIES:
            exact: Any = Decimal(value) if term.family == NUMBER else float(value)
            number = float(np.float32(exact)) if term.family == FLOAT4 else float(exact)
            if number != number:  # NaN, as a column's NaN compares
                exact, number = _NAN, np.inf
            elif term.family != NUMBER:
                exact = number
            return _Values(np.full(n, number), np.zeros(n, bool), lambda i: exact)
        if term.family in TIME_FAMILIES:
            return _Values(np.full(n, int(value), dtype="int64"), np.zeros(n, bool))
        filled = np.empty(n, dtype=object)
        filled[:] = [value] * n
        return _Values(filled, np.zeros(n, bool))
    series = frame[term.name]
    null = series.isna().to_numpy(dtype=bool)
    family = term.family
    if family in NUMERIC_FAMILIES and not term.functions:
        numbers = pd.to_numeric(series, errors="coerce").astype("float64")
        # NaN compares as infinity; a tie is settled by the exact values, where NaN is largest.
        nan = numbers.isna().to_numpy(dtype=bool) & ~null
        floats = np.where(nan, np.inf, numbers.to_numpy(na_value=0.0))
        if family == FLOAT4:
            floats = floats.astype(np.float32).astype(np.float64)
        if family != NUMBER:
            return _Values(floats, null, lambda i: _NAN if nan[i] else floats[i])
        objects = series.to_numpy(dtype=object)
        return _Values(floats, null, lambda i: _NAN if nan[i] else Decimal(str(objects[i])))
    if family in TIME_FAMILIES:
        return _Values(_micros(series, family), null)
    objects = series.astype(object).where(~null, None).to_numpy(dtype=object)
    if family == BPCHAR:
        objects = np.array([v if v is None else v.rstrip(" ") for v in objects], dtype=object)
    for function in term.functions:
        objects = _applied(function, objects, term.ascii_case)
    if term.result_family == NUMBER:
        return _Values(np.where(null, 0, objects).astype("float64"), null, lambda i: objects[i])
    return _Values(objects, null)


def _truth(values: np.ndarray, null: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.where(null, False, values).astype(bool), null.copy())


@dataclass(frozen=True)
class Predicate(Rule):
    """A rule whose test is a SQL boolean expression: True, False or NULL per row."""

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        raise NotImplementedError

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        truth = self.truth(frame)
        return pd.Series(truth.to_numpy(dtype=bool, na_value=True), index=frame.index)


@dataclass(frozen=True)
class Compare(Predicate):
    """``left op right``: a column against a constant or another column."""

    left: Term
    op: str
    right: Term

    @property
    def sql(self) -> str:
        return f"{self.left.sql} {self.op} {self.right.sql}"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        left, right = _values(self.left, frame), _values(self.right, frame)
        null = left.null | right.null
        compare = OPERATORS[self.op]
        if left.values.dtype == object or right.values.dtype == object:
            lv = np.where(null, "", left.values) if left.values.dtype == object else left.values
            rv = np.where(null, "", right.values) if right.values.dtype == object else right.values
            return _truth(np.asarray(compare(lv, rv), dtype=bool), null)
        result = np.asarray(compare(left.values, right.values), dtype=bool)
        if left.exact is not None and right.exact is not None:
            for i in np.flatnonzero((left.values == right.values) & ~null):
                result[int(i)] = compare(left.exact(int(i)), right.exact(int(i)))
        return _truth(result, null)


@dataclass(frozen=True)
class OneOf(Predicate):
    """``term IN (values)`` (``= ANY``), or ``NOT IN`` (``<> ALL``) when ``negated``."""

    term: Term
    values: tuple[Constant, ...]
    negated: bool = False

    @property
    def sql(self) -> str:
        listed = ", ".join(value.sql for value in self.values)
        return f"{self.term.sql} {'NOT IN' if self.negated else 'IN'} ({listed})"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        parts = [Compare(self.name, self.columns, "", self.term, "=", v) for v in self.values]
        found = AnyOf(self.name, self.columns, "", tuple(parts)).truth(frame)
        return ~found if self.negated else found


@lru_cache(maxsize=256)
def _compiled(
    kind: str, pattern: str, case_insensitive: bool, ascii_only: bool = False
) -> re.Pattern[str]:
    regex = python_regex(kind, pattern, ascii_only)
    if regex is None:
        raise ValueError(f"pattern {pattern!r} has no Python equivalent")
    # Case-insensitive patterns are ASCII (the translator sees to it): each letter then
    # matches its two ASCII cases, as in PostgreSQL, and no other look-alike letter.
    flags = re.IGNORECASE | re.ASCII if case_insensitive else 0
    return re.compile(regex, re.DOTALL | flags)


@dataclass(frozen=True)
class Pattern(Predicate):
    """``term`` matches ``pattern``: ``kind`` is ``regex`` (``~``), ``like`` or ``similar``."""

    term: Column
    kind: str
    pattern: str
    negated: bool = False
    case_insensitive: bool = False

    @property
    def sql(self) -> str:
        literal = quote_literal(self.pattern)
        if self.kind == "regex":
            op = ("!" if self.negated else "") + ("~*" if self.case_insensitive else "~")
        elif self.kind == "like":
            op = ("NOT " if self.negated else "") + ("ILIKE" if self.case_insensitive else "LIKE")
        else:
            op = "NOT SIMILAR TO" if self.negated else "SIMILAR TO"
        return f"{self.term.sql} {op} {literal}"

    def text_matches(self, text: str) -> bool:
        """True when one text (the term's value, functions applied) matches the pattern,
        before ``negated``: what :meth:`truth` says of it."""
        if self.kind == "like" and self.case_insensitive:
            ascii_only = self.term.ascii_case
            regex = _compiled(self.kind, _case(self.pattern, False, ascii_only), False)
            return bool(regex.search(_case(text, False, ascii_only)))
        regex = _compiled(self.kind, self.pattern, self.case_insensitive, self.term.ascii_case)
        return bool(regex.search(text))

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        values = _values(self.term, frame)
        ci = self.case_insensitive
        if self.kind == "like" and ci:  # ILIKE compares lower-cased text with a lower-cased pattern
            ascii_only = self.term.ascii_case
            regex = _compiled(self.kind, _case(self.pattern, False, ascii_only), False)
            found = [
                v is not None and bool(regex.search(_case(v, False, ascii_only)))
                for v in values.values
            ]
        else:
            regex = _compiled(self.kind, self.pattern, ci, self.term.ascii_case)
            found = [v is not None and bool(regex.search(v)) for v in values.values]
        result = np.array(found, dtype=bool)
        return _truth(~result if self.negated else result, values.null)


@dataclass(frozen=True)
class IsNull(Predicate):
    """``term IS NULL``, or ``IS NOT NULL`` when ``negated``."""

    term: Column
    negated: bool = False

    @property
    def sql(self) -> str:
        return f"{self.term.sql} IS {'NOT ' if self.negated else ''}NULL"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        null = frame[self.term.name].isna().to_numpy(dtype=bool)
        return _truth(~null if self.negated else null, np.zeros(len(null), bool))


def _part(rule: Rule, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
    if isinstance(rule, Predicate):
        return rule.truth(frame)
    # A rule of another kind is not three-valued: it passes (True) or fails (False).
    return pd.arrays.BooleanArray(
        rule.passes(frame).to_numpy(dtype=bool), np.zeros(len(frame), bool)
    )


@dataclass(frozen=True)
class AllOf(Predicate):
    """Every part holds: ``AND``."""

    parts: tuple[Rule, ...]

    @property
    def sql(self) -> str:
        return " AND ".join(f"({part.sql})" for part in self.parts)

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        result = _part(self.parts[0], frame)
        for part in self.parts[1:]:
            result = result & _part(part, frame)
        return result


@dataclass(frozen=True)
class AnyOf(Predicate):
    """At least one part holds: ``OR``."""

    parts: tuple[Rule, ...]

    @property
    def sql(self) -> str:
        return " OR ".join(f"({part.sql})" for part in self.parts)

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        if not self.parts:
            return pd.arrays.BooleanArray(np.zeros(len(frame), bool), np.zeros(len(frame), bool))
        result = _part(self.parts[0], frame)
        for part in self.parts[1:]:
            result = result | _part(part, frame)  # type: ignore[operator]
        return result


@dataclass(frozen=True)
class Not(Predicate):
    """The part does not hold: ``NOT`` (NULL stays NULL)."""

    part: Rule

    @property
    def sql(self) -> str:
        return f"NOT ({self.part.sql})"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        return ~_part(self.part, frame)


@dataclass(frozen=True)
class SameTruth(Predicate):
    """Both parts hold or neither does (``(P) = (Q)``); they differ when ``negated`` (``<>``)."""

    parts: tuple[Rule, Rule]
    negated: bool = False

    @property
    def sql(self) -> str:
        left, right = self.parts
        return f"({left.sql}) {'<>' if self.negated else '='} ({right.sql})"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        left, right = (_part(part, frame) for part in self.parts)
        result: pd.arrays.BooleanArray = left == right  # type: ignore[assignment]  # NA stays NA
        return ~result if self.negated else result


#: ``IS [NOT] TRUE``, ``FALSE``, ``UNKNOWN``: which truths pass each test (NULL: None).
TRUTH_TESTS: dict[str, tuple[bool | None, ...]] = {
    "TRUE": (True,),
    "NOT TRUE": (False, None),
    "FALSE": (False,),
    "NOT FALSE": (True, None),
    "UNKNOWN": (None,),
    "NOT UNKNOWN": (True, False),
}


@dataclass(frozen=True)
class TruthTest(Predicate):
    """``(part) IS [NOT] TRUE`` (``FALSE``, ``UNKNOWN``): never NULL itself."""

    part: Rule
    test: str = "TRUE"  # a key of TRUTH_TESTS

    @property
    def sql(self) -> str:
        return f"({self.part.sql}) IS {self.test}"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        part = _part(self.part, frame)
        values = part.to_numpy(dtype=bool, na_value=False)
        unknown = part.isna()
        taken = TRUTH_TESTS[self.test]
        result = np.zeros(len(values), dtype=bool)
        if True in taken:
            result |= values & ~unknown
        if False in taken:
            result |= ~values & ~unknown
        if None in taken:
            result |= unknown
        return _truth(result, np.zeros(len(result), bool))


@dataclass(frozen=True)
class NullCount(Predicate):
    """``num_nulls(a, b, ...) op n`` (``num_nonnulls`` when not ``nulls``): never NULL."""

    op: str = "="
    value: int = 0
    nulls: bool = False

    @property
    def sql(self) -> str:
        listed = ", ".join(quote_ident(c) for c in self.columns)
        return f"{'num_nulls' if self.nulls else 'num_nonnulls'}({listed}) {self.op} {self.value}"

    def truth(self, frame: pd.DataFrame) -> pd.arrays.BooleanArray:
        missing = np.column_stack([frame[c].isna().to_numpy(dtype=bool) for c in self.columns])
        counted = missing.sum(axis=1) if self.nulls else (~missing).sum(axis=1)
        result = OPERATORS[self.op](counted, self.value)
        return _truth(np.asarray(result, dtype=bool), np.zeros(len(counted), bool))


def sentence(rule: Rule) -> str:
    """A plain sentence for a predicate rule, naming its columns."""
    if isinstance(rule, Compare):
        return f"{_say(rule.left)} must be {_WORDS[rule.op]} {_say(rule.right)}"
    if isinstance(rule, OneOf):
        listed = ", ".join(_say(v) for v in rule.values)
        return f"{_say(rule.term)} must {'not ' if rule.negated else ''}be one of {listed}"
    if isinstance(rule, Pattern):
        kinds = {"regex": "the regular expression", "like": "the LIKE pattern"}
        kind = kinds.get(rule.kind, "the SIMILAR TO pattern")
        case = " (any case)" if rule.case_insensitive else ""
        verb = "must not match" if rule.negated else "must match"
        return f"{_say(rule.term)} {verb} {kind} {rule.pattern!r}{case}"
    if isinstance(rule, IsNull):
        return f"{_say(rule.term)} must be {'given' if rule.negated else 'empty'}"
    if isinstance(rule, AllOf):
        return "; and ".join(sentence(part) for part in rule.parts)
    if isinstance(rule, AnyOf):
        return "either " + ", or ".join(sentence(part) for part in rule.parts)
    if isinstance(rule, Not):
        return f"not so: {sentence(rule.part)}"
    if isinstance(rule, SameTruth):
        said = [sentence(part) for part in rule.parts]
        when = "exactly when not" if rule.negated else "exactly when"
        return f"{said[0]}, {when}: {said[1]}"
    if isinstance(rule, TruthTest):
        return f"({sentence(rule.part)}) must be {rule.test.lower()}"
    if isinstance(rule, NullCount):
        which = "empty" if rule.nulls else "given"
        listed = ", ".join(rule.columns)
        return f"the number of {which} values of {listed} must be {_WORDS[rule.op]} {rule.value}"
    return rule.description


def _say(term: Term) -> str:
    if isinstance(term, Constant):
        if term.family in TIME_FAMILIES:
            stamp = np.datetime64(int(term.value), "us")
            text = str(stamp.astype("datetime64[D]") if term.family == DATE else stamp)
            text = text.replace("T", " ").removesuffix(".000000")
            return text + (" UTC" if term.family == TIMESTAMPTZ else "")
        if term.family in (BOOLEAN, NUMBER, FLOAT, FLOAT4):
            return str(term.value).lower() if term.family == BOOLEAN else str(term.value)
        return repr(term.value)
    text = term.name
    for function in term.functions:
        text = call_sql(function, text)
    return text


# --- patterns -------------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_POSIX_CLASSES = {"digit": "0-9", "xdigit": "0-9A-Fa-f"}
# What ``[[:space:]]`` and ``\s`` hold: under a C or POSIX ctype, and under the
# Unicode ctypes of the C library (``iswspace``: no no-break spaces, no U+0085).
_ASCII_SPACE = re.escape(" \t\n\r\f\v")
_UNICODE_SPACE = _ASCII_SPACE + "\u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000"


def _space(ascii_only: bool) -> str:
    return _ASCII_SPACE if ascii_only else _UNICODE_SPACE


def _class_escape(letter: str, ascii_only: bool) -> str | None:
    """``\\d``, ``\\D``, ``\\s``, ``\\S`` as Python classes (others differ between the engines)."""
    inside = {"d": "0-9", "s": _space(ascii_only)}.get(letter.lower())
    if inside is None:
        return None
    return f"[{'^' if letter.isupper() else ''}{inside}]"


_BOUND = re.compile(r"\{[0-9]{1,3}(,([0-9]{1,3})?)?\}\??")


def _bracket(pattern: str, start: int, ascii_only: bool) -> tuple[str, int] | None:
    """A bracket expression at ``start`` (just after ``[``) as Python text, and where it ends."""
    i, out = start, ["["]
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            return "".join(out) + "]", i + 1
        first = False
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2 : end] if end > 0 else ""
            if name == "space":
                out.append(_space(ascii_only))
            elif name in _POSIX_CLASSES:
                out.append(_POSIX_CLASSES[name])
            else:
                return None
            i = end + 2
            continue
        if char == "[" and pattern[i + 1 : i + 2] in (".", "="):
            return None
        if char == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt in ("d", "s"):
                out.append("0-9" if nxt == "d" else _space(ascii_only))
                i += 2
                continue
            if not nxt or nxt.isalnum():
                return None
            char = nxt
            i += 1
        if char == "-" and out[-1] not in ("[", "^") and pattern[i + 1 : i + 2] != "]":
            out.append("-")
        else:
            out.append(re.escape(char))
        i += 1
    return None


def _regex(pattern: str, ascii_only: bool = False) -> str | None:
    """A PostgreSQL advanced regular expression as Python's, or None if it may differ."""
    if pattern.startswith("***"):
        return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            nxt = pattern[i + 1 : i + 2]
            escape = _class_escape(nxt, ascii_only) if nxt else None
            if escape is not None:
                out.append(escape)
            elif nxt in _ESCAPES:
                out.append(re.escape(_ESCAPES[nxt]))
            elif nxt and not nxt.isalnum():
                out.append(re.escape(nxt))
            else:
                return None
            i += 2
        elif char == "[":
            found = _bracket(pattern, i + 1, ascii_only)
            if found is None:
                return None
            out.append(found[0])
            i = found[1]
        elif char == "(":
            if pattern.startswith("(?", i) and pattern[i + 2 : i + 3] not in (":", "=", "!"):
                return None
            out.append(pattern[i : i + 3] if pattern.startswith("(?", i) else "(")
            i += 3 if pattern.startswith("(?", i) else 1
        elif char == "{":
            bound = _BOUND.match(pattern, i)
            if bound is None or not out:
                return None
            out.append(bound.group(0))
            i = bound.end()
        elif char == "$":
            out.append(r"\Z")
            i += 1
        elif char in ".^|)*+?":
            out.append(char)
            i += 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def _like(pattern: str) -> str | None:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                return None  # PostgreSQL refuses a pattern that ends with the escape
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return r"\A(?:" + "".join(out) + r")\Z"


def similar_to_regex(pattern: str, escape: str | None = "\\") -> str | None:
    """A ``SIMILAR TO`` pattern as the PostgreSQL regular expression it stands for."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if escape and char == escape:
            nxt = pattern[i + 1 : i + 2]
            if not nxt or nxt == '"':
                return None
            out.append("\\" + nxt)
            i += 2
            continue
        if in_class:
            out.append("\\\\" if char == "\\" else char)
            in_class = char != "]"
        elif char == "[":
            if pattern[i + 1 : i + 2] in ("]", "^"):
                return None
            out.append("[")
            in_class = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "(":
            out.append("(?:")
        elif char in "\\.^$":
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    return None if in_class else "^(?:" + "".join(out) + ")$"


def python_regex(kind: str, pattern: str, ascii_only: bool = False) -> str | None:
    """The Python regular expression that ``search``-es what ``pattern`` matches, or None.

    ``ascii_only``: the column's ctype is C or POSIX (``[[:space:]]`` is ASCII only).
    """
    if kind == "like":
        return _like(pattern)
    if kind == "similar":
        pattern_re = similar_to_regex(pattern)
        return None if pattern_re is None else _regex(pattern_re, ascii_only)
    return _regex(pattern, ascii_only)


PREDICATE_KINDS: tuple[type[Predicate], ...] = (
    Compare,
    OneOf,
    Pattern,
    IsNull,
    AllOf,
    AnyOf,
    Not,
    SameTruth,
    TruthTest,
    NullCount,
)

__all__ = [
    "BOOLEAN",
    "BPCHAR",
    "DATE",
    "ENUM",
    "FLOAT",
    "FLOAT4",
    "NUMBER",
    "OPERATORS",
    "OTHER",
    "PREDICATE_KINDS",
    "TEXT",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "TRUTH_TESTS",
    "AllOf",
    "AnyOf",
    "Column",
    "Compare",
    "Constant",
    "IsNull",
    "Not",
    "NullCount",
    "OneOf",
    "Pattern",
    "Predicate",
    "SameTruth",
    "SplitPart",
    "Term",
    "TextFunction",
    "TruthTest",
    "call_sql",
    "python_regex",
    "sentence",
    "similar_to_regex",
    "text_function",
]
