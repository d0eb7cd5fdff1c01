"""How the generator makes rows satisfy each rule kind: one fill function per rule class.

The rule kinds (their CHECK, frame check and sentence) are declared with the
model and offered by :mod:`seedbed.facts.declaration`; :data:`FILLS` says
which function fills each rule class. A fill gets the rule and the
:class:`Draft` and changes the values of the rule's columns so that every row
passes. Adding a rule kind is its declaration plus its fill here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.facts.declaration import (
    EMAIL,
    SLUG,
    URL,
    UUID_V4,
    JsonShape,
    Later,
    Length,
    Matches,
    RequiredWhen,
    Rule,
    SqlCheck,
)
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

    def column(self, name: str) -> pa.Array: ...

    def candidates(self, name: str) -> pa.Array: ...

    def set(self, name: str, values: pa.Array) -> None: ...


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


def fill_in_database(rule: SqlCheck, draft: Draft) -> None:
    """None: only PostgreSQL knows which values pass; generating is refused (GenerateError)."""
    raise NoFill(f"it is evaluated by PostgreSQL ({rule.expression}); seedbed has no fill for it")


Fill = Callable[[Any, Draft], None]

FILLS: dict[type[Rule], Fill] = {
    Matches: fill_matches,
    Length: fill_length,
    Later: fill_later,
    RequiredWhen: fill_required_when,
    JsonShape: fill_json_shape,
    SqlCheck: fill_in_database,
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
