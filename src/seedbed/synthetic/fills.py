"""How the generator makes rows satisfy each rule kind: one fill function per rule class.

The rule kinds (their CHECK, frame check and sentence) are declared with the
model and offered by :mod:`seedbed.facts.declaration`; :data:`FILLS` says
which function fills each rule class. A fill gets the rule and the
:class:`Draft` and changes the values of the rule's columns so that every row
passes. Adding a rule kind is its declaration plus its fill here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.facts.declaration import (
    EMAIL,
    FLIPPED,
    SLUG,
    URL,
    UUID_V4,
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
    RequiredWhen,
    Rule,
    SameTruth,
    SqlCheck,
    TruthTest,
    python_regex,
)
from seedbed.sqltext import DAY_US
from seedbed.synthetic import arrays
from seedbed.synthetic.pattern import matching_strings


class Draft(Protocol):
    """Rows being generated, as a fill sees them: one typed pyarrow array a column.

    Text, UUIDs, inet and JSON are strings; timestamps, dates, numbers and
    booleans keep their Arrow types. ``candidates(column)`` gives a non-null
    value of the column's type for every row, to fill in where one is required.
    """

    rng: np.random.Generator
    num_rows: int
    #: columns a fill leaves as they are: a foreign key's, which holds a parent's key
    fixed: frozenset[str]

    def column(self, name: str) -> pa.Array: ...

    def candidates(self, name: str) -> pa.Array: ...

    def set(self, name: str, values: pa.Array) -> None: ...

    def nullable(self, name: str) -> bool: ...


def _keep_nulls(current: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` where ``current`` has a value; NULL stays NULL (a rule passes on NULL)."""
    return pc.if_else(pc.is_null(current), pa.scalar(None, values.type), values)


def _word(column: str, allowed: str) -> str:
    """``column`` reduced to the characters a pattern allows (``allowed`` is a regex class)."""
    return re.sub(f"[^{allowed}]+", "-", column).strip("-") or "x"


def fill_matches(rule: Matches, draft: Draft) -> None:
    """Known patterns get realistic unique values; any other a sample of the regex."""
    column = rule.columns[0]
    rows = arrays.numbers(np.arange(draft.num_rows))
    domain = arrays.SYNTHETIC_DOMAIN
    if rule.pattern == EMAIL:
        values = arrays.join(_word(column, "A-Za-z0-9._+"), rows, f"@{domain}")
    elif rule.pattern == UUID_V4:
        values = arrays.uuid4_strings(draft.rng, draft.num_rows)
    elif rule.pattern == URL:
        values = arrays.join(f"https://{domain}/{_word(column, 'a-z0-9')}/", rows)
    elif rule.pattern == SLUG:
        values = arrays.join(_word(column, "a-z0-9"), "-", rows)
    else:
        seed = int(draft.rng.integers(2**63))
        values = pa.array(matching_strings(rule.pattern, draft.num_rows, seed), pa.string())
    draft.set(column, _keep_nulls(draft.column(column), values))


def fill_length(rule: Length, draft: Draft) -> None:
    """Pad short values with ``x``; keep the tail of long ones (where counters are)."""
    column = rule.columns[0]
    values = pc.cast(draft.column(column), pa.string())
    if rule.minimum > 0:
        values = pc.utf8_rpad(values, rule.minimum, "x")
    draft.set(column, pc.utf8_slice_codeunits(values, start=-rule.maximum))


def fill_later(rule: Later, draft: Draft) -> None:
    """Set ``columns[0]`` to ``columns[1]`` plus a random positive step."""
    later, earlier = rule.columns
    base = draft.column(earlier)
    n = draft.num_rows
    if pa.types.is_timestamp(base.type) or pa.types.is_date(base.type):
        start = base.cast(pa.timestamp("s")) if pa.types.is_date(base.type) else base
        step = draft.rng.integers(60, 30 * 86_400, size=n) * 1_000_000
        moved = pc.add(start, pa.array(step, pa.duration("us")).cast(pa.duration(start.type.unit)))
        if pa.types.is_date(base.type):
            moved = pc.add(moved, pa.scalar(86_400, pa.duration("s"))).cast(base.type)
    else:
        moved = pc.add(base, pa.array(draft.rng.integers(1, 100, size=n)).cast(base.type))
    current = draft.column(later)
    draft.set(later, _keep_nulls(current, pc.coalesce(moved, current.cast(moved.type))))


def fill_required_when(rule: RequiredWhen, draft: Draft) -> None:
    """Give ``columns[0]`` a value in the rows where ``columns[1]`` is ``value``."""
    required, when = rule.columns
    text = pc.cast(draft.column(when), pa.string())
    triggered = pc.fill_null(pc.equal(text, rule.value), False)
    current = draft.column(required)
    missing = pc.and_(triggered, pc.is_null(current))
    draft.set(required, pc.if_else(missing, draft.candidates(required), current))


def fill_json_shape(rule: JsonShape, draft: Draft) -> None:
    """JSON objects holding a random subset of the allowed keys."""
    n, rng = draft.num_rows, draft.rng
    parts: list[pa.Array | str] = []
    for key, spec in rule.keys.items():
        if spec.kind == "string_list":
            words = arrays.pick(rng, arrays.WORDS, n)
            value = arrays.join('["', words, '"]')
        elif spec.kind == "non_negative_integer":
            value = arrays.numbers(rng.integers(0, 60, size=n))
        else:
            raise ValueError(f"unknown JSON key kind {spec.kind!r}")
        fragment = arrays.join(json.dumps(key), ": ", value, ", ")
        parts.append(arrays.null_where(fragment, rng.random(n) < 0.3))
    body = pc.binary_join_element_wise(
        *parts,
        pa.array([""] * n, pa.string()),
        "",
        null_handling="replace",
        null_replacement="",
    )
    values = arrays.join("{", pc.replace_substring_regex(body, ", $", ""), "}")
    column = rule.columns[0]
    draft.set(column, _keep_nulls(draft.column(column), values))


def passing(rule: Rule, columns: dict[str, pa.Array]) -> np.ndarray:
    """True for each row of ``columns`` (the draft's, by name) that ``rule`` takes.

    Integers and booleans with NULLs stay integers and booleans (pandas' nullable
    types), as validation reads them: a float ``4.0`` is no ``integer`` to PostgreSQL.
    """
    import pandas as pd

    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    frame = pa.table({c: columns[c] for c in rule.columns}).to_pandas(types_mapper=nullable.get)
    found: np.ndarray = rule.passes(frame).to_numpy(dtype=bool)
    return found


def _failing(rule: Rule, draft: Draft) -> pa.Array:
    """True for each row of the draft that ``rule`` refuses."""
    return pa.array(~passing(rule, {c: draft.column(c) for c in rule.columns}))


def _replace(rule: Rule, draft: Draft, column: str, values: pa.Array) -> None:
    """``values`` in the rows that fail ``rule``; the other rows keep theirs."""
    current = draft.column(column)
    draft.set(column, pc.if_else(_failing(rule, draft), values.cast(current.type), current))


def _scalar(constant: Constant, kind: pa.DataType) -> pa.Scalar:
    """``constant`` as a value of the draft column's Arrow type (times are microseconds)."""
    if pa.types.is_date(kind):
        days = int(constant.value) // DAY_US
        return pa.scalar(days, pa.int32()).cast(kind)
    if pa.types.is_timestamp(kind):
        return pa.scalar(int(constant.value), pa.timestamp("us", tz=kind.tz)).cast(kind)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.scalar(str(constant.value), kind)
    if pa.types.is_floating(kind):
        return pa.scalar(float(constant.value)).cast(kind, safe=False)
    return pa.scalar(constant.value).cast(kind, safe=False)


def _step(kind: pa.DataType, values: pa.Array, sign: int) -> pa.Array:
    """``values`` moved a small step up (``sign`` 1) or down (-1)."""
    if pa.types.is_timestamp(kind):
        return pc.add(
            values, pa.scalar(sign * 1_000_000, pa.duration("us")).cast(pa.duration(kind.unit))
        )
    if pa.types.is_date(kind):
        moved = pc.add(values.cast(pa.timestamp("s")), pa.scalar(sign * 86_400, pa.duration("s")))
        return moved.cast(kind)
    if pa.types.is_string(kind):
        if sign < 0:
            raise NoFill("no text value is generated below another one")
        return pc.binary_join_element_wise(values, "~", "")
    return pc.add(values, pa.scalar(sign).cast(kind, safe=False))


def _other_values(
    draft: Draft,
    column: str,
    kind: pa.DataType,
    taken: Callable[[pa.Array], pa.Array],
    moved: pa.Array,
) -> pa.Array:
    """Values of ``column`` that ``taken`` (true where a value may not be used) lets
    through. Text: a candidate in each row (an enum's other labels, text within the
    column's length), drawn again where one is taken, ``moved`` where draws keep meeting
    taken values; other types: ``moved`` (a value a step away)."""
    if not pa.types.is_string(kind):
        return moved
    values = draft.candidates(column).cast(kind)
    for _ in range(40):  # an enum with one label of three allowed: (2/3)**40 a row
        clash = pc.fill_null(taken(values), False)
        if not pc.any(clash).as_py():
            return values
        values = pc.if_else(clash, draft.candidates(column).cast(kind), values)
    return pc.if_else(clash, moved, values)


def _length_fill(rule: Compare, draft: Draft, column: Column) -> None:
    """Pad with ``x`` or cut text so that its length satisfies the comparison."""
    bound = int(rule.right.value) if isinstance(rule.right, Constant) else 0
    want = {"<": bound - 1, "<=": bound, ">": bound + 1, ">=": bound, "=": bound}.get(rule.op)
    if want is None or want < 0:
        raise NoFill(f"rule {rule.name!r}: no length to aim at")
    text = pc.cast(draft.column(column.name), pa.string())
    if rule.op in (">", ">=", "="):
        text = pc.utf8_rpad(text, want, "x")
    if rule.op in ("<", "<=", "="):
        text = pc.utf8_slice_codeunits(text, 0, want)
    _replace(rule, draft, column.name, text)


def fill_compare(rule: Compare, draft: Draft) -> None:
    """Rows that fail get the constant (or the other column), a step away where strict."""
    left, right = rule.left, rule.right
    if not isinstance(left, Column):
        raise NoFill(f"rule {rule.name!r}: no column on the left")
    if left.functions and left.functions[-1] in ("char_length", "octet_length"):
        _length_fill(rule, draft, left)
        return
    if (
        isinstance(right, Column)
        and left.name in draft.fixed
        and right.name not in draft.fixed
        and not left.functions
        and not right.functions
    ):  # a foreign key beside another column: the other one moves
        fill_compare(dataclasses.replace(rule, left=right, op=FLIPPED[rule.op], right=left), draft)
        return
    if left.functions or (isinstance(right, Column) and right.functions):
        if isinstance(right, Column) and rule.op == "=" and right.name == left.name:
            source = pc.cast(draft.column(left.name), pa.string())
            function = right.functions[-1] if right.functions else ""
            mapped = {"lower": pc.utf8_lower, "upper": pc.utf8_upper}.get(str(function))
            if mapped is not None and not left.functions:
                _replace(rule, draft, left.name, mapped(source))
                return
        raise NoFill(f"rule {rule.name!r}: no way to generate values through functions")
    kind = draft.column(left.name).type
    if isinstance(right, Constant):
        base = pa.array([_scalar(right, kind).as_py()] * draft.num_rows, kind)
    else:
        other = draft.column(right.name)
        if pa.types.is_integer(kind) and not pa.types.is_integer(other.type) and rule.op != "=":
            # a whole number beside a fraction: rounded toward the side the rule wants
            rounded = pc.floor if rule.op in ("<", "<=", "<>") else pc.ceil
            other = rounded(other.cast(pa.float64()))
        base = other.cast(kind)
        base = pc.coalesce(base, draft.candidates(left.name).cast(kind))
    if rule.op == "<>":
        avoid, moved = base, _step(kind, base, 1)
        base = _other_values(draft, left.name, kind, lambda v: pc.equal(v, avoid), moved)
    elif rule.op in ("<", ">"):
        base = _step(kind, base, 1 if rule.op == ">" else -1)
    _replace(rule, draft, left.name, base)


def fill_one_of(rule: OneOf, draft: Draft) -> None:
    """Rows that fail get one of the listed values (NOT IN: a candidate, moved on)."""
    term = rule.term
    if not isinstance(term, Column) or term.functions:
        raise NoFill(f"rule {rule.name!r}: no column to fill")
    kind = draft.column(term.name).type
    listed = pa.array([_scalar(v, kind).as_py() for v in rule.values], kind)
    if rule.negated:
        moved = _step(kind, draft.candidates(term.name).cast(kind), 1)
        other = _other_values(
            draft, term.name, kind, lambda v: pc.is_in(v, value_set=listed), moved
        )
        _replace(rule, draft, term.name, other)
        return
    allowed = listed
    picks = draft.rng.integers(0, len(allowed), size=draft.num_rows)
    _replace(rule, draft, term.name, allowed.take(pa.array(picks)))


def _like_sample(pattern: str) -> str:
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:  # "%" stands for a short word, so that length rules on the column hold too
            out.append({"_": "x", "%": "seed"}.get(char, char))
    return "".join(out)


def fill_pattern(rule: Pattern, draft: Draft) -> None:
    """Rows that fail get a sample of the pattern (a negated pattern keeps passing rows only)."""
    column = rule.term.name
    if rule.negated:
        _replace(rule, draft, column, pc.cast(draft.candidates(column), pa.string()))
        return
    if rule.kind == "like":
        values = pa.array([_like_sample(rule.pattern)] * draft.num_rows, pa.string())
    else:
        regex = python_regex(rule.kind, rule.pattern) or ""
        plain = regex.replace("\\A(?:", "(").replace("\\Z", "").lstrip("^")
        seed = int(draft.rng.integers(2**63))
        values = pa.array(matching_strings(plain, draft.num_rows, seed), pa.string())
    _replace(rule, draft, column, values)


def fill_is_null(rule: IsNull, draft: Draft) -> None:
    """IS NOT NULL: candidates where NULL; IS NULL: NULL everywhere (not in a NOT NULL
    column: another part of an ``OR`` must be filled)."""
    column = rule.term.name
    current = draft.column(column)
    if not rule.negated and not draft.nullable(column):
        raise NoFill(f"rule {rule.name!r}: {column} is NOT NULL")
    if rule.negated:
        draft.set(column, pc.coalesce(current, draft.candidates(column).cast(current.type)))
    else:
        draft.set(column, pa.nulls(draft.num_rows, current.type))


def fill_all_of(rule: AllOf, draft: Draft) -> None:
    """Each part in turn (a later part may undo an earlier one: the check after filling sees)."""
    for part in rule.parts:
        fill(part, draft)


def fill_any_of(rule: AnyOf, draft: Draft) -> None:
    """The first part that can be filled."""
    for part in rule.parts:
        try:
            fill(part, draft)
        except NotImplementedError:
            continue
        return
    raise NoFill(f"rule {rule.name!r}: no part of it can be generated")


def fill_same_truth(rule: SameTruth, draft: Draft) -> None:
    """``(a IS NULL) = (b IS NULL)`` and the like: ``b`` is given or left NULL as ``a`` says."""
    left, right = rule.parts
    if not (isinstance(left, IsNull) and isinstance(right, IsNull)):
        raise NoFill(f"rule {rule.name!r}: only NULL tests on both sides can be generated")
    source, target = left.term.name, right.term.name
    holds = pc.xor(pc.is_null(draft.column(source)), pa.scalar(left.negated))
    empty = pc.xor(pc.xor(holds, pa.scalar(rule.negated)), pa.scalar(right.negated))
    current = draft.column(target)
    given = pc.coalesce(current, draft.candidates(target).cast(current.type))
    draft.set(target, pc.if_else(empty, pa.scalar(None, current.type), given))


#: Rounds of new candidates for the rows a rule refuses, where no fill says what passes.
REDRAW_ROUNDS = 16


def redraw(rule: Rule, draft: Draft) -> None:
    """Rows ``rule`` refuses get new candidates in its columns (a foreign key's kept), round
    after round, as long as some fail: the fill of a rule that says no value outright (a
    negation, a truth test, a count of NULLs, a CHECK only PostgreSQL judges, which it
    judges each round). What still fails after :data:`REDRAW_ROUNDS` is left to the
    check after filling."""
    columns = [c for c in rule.columns if c not in draft.fixed]
    if not columns:
        raise NoFill(f"rule {rule.name!r} reads only a foreign key's columns")
    for _ in range(REDRAW_ROUNDS):
        failing = _failing(rule, draft)
        if not pc.any(failing).as_py():
            return
        for column in columns:
            current = draft.column(column)
            fresh = draft.candidates(column).cast(current.type)
            draft.set(column, pc.if_else(failing, fresh, current))


Fill = Callable[[Any, Draft], None]

FILLS: dict[type[Rule], Fill] = {
    Matches: fill_matches,
    Length: fill_length,
    Later: fill_later,
    RequiredWhen: fill_required_when,
    JsonShape: fill_json_shape,
    Compare: fill_compare,
    OneOf: fill_one_of,
    Pattern: fill_pattern,
    IsNull: fill_is_null,
    AllOf: fill_all_of,
    AnyOf: fill_any_of,
    Not: redraw,
    SameTruth: fill_same_truth,
    SqlCheck: redraw,
    TruthTest: redraw,
    NullCount: redraw,
}
"""Which fill makes rows pass which rule class (a class's subclasses included: ``UuidV4``)."""


class NoFill(NotImplementedError):
    """A rule kind the generator has no fill for."""


def fill_for(rule: Rule) -> Fill | None:
    """The fill of ``rule``'s class, or of the nearest base class that has one."""
    for kind in type(rule).__mro__:
        if kind in FILLS:
            return FILLS[kind]
    return None


def fill(rule: Rule, draft: Draft) -> None:
    """Change the draft's values of ``rule``'s columns so that every row passes it."""
    found = fill_for(rule)
    if found is None:
        raise NoFill(
            f"rule {rule.name!r} ({type(rule).__name__}) has no way to generate valid values"
        )
    found(rule, draft)


__all__ = ["FILLS", "Draft", "Fill", "NoFill", "fill", "fill_for"]
