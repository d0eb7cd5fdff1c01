"""Validation rules, each declared once.

A rule is a small object that knows three things about itself: the SQL of the
CHECK constraint PostgreSQL enforces (``sql``), the same test on a pandas
frame (``passes``), and a sentence for people (``description``). Models attach
rules with :func:`checks`, which turns each into a named ``CheckConstraint``
carrying the rule in ``info["rule"]``; the Pandera schemas and the generated
docs read the rules back from there. Like a CHECK, a rule passes on NULL.

Each rule kind also knows how to make rows satisfy it (``fill``), so the
synthetic generator (:mod:`seedbed.synthetic`) needs no code for a new table:
it drafts values from the column types, then lets every rule fix its columns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import CheckConstraint

from seedbed.jsontext import InvalidJson, parse_json
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import escaped

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Draft(Protocol):
    """Rows being generated, as a rule's ``fill`` sees them: one typed pyarrow array a column.

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


@dataclass(frozen=True)
class Rule:
    """Base of all rules. ``name`` becomes the constraint suffix: ``ck_<table>_<name>``."""

    name: str
    columns: tuple[str, ...]
    description: str

    @property
    def sql(self) -> str:
        raise NotImplementedError

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean Series aligned with ``frame``: True where the row satisfies the rule."""
        raise NotImplementedError

    def constraint(self) -> CheckConstraint:
        # escaped: SQLAlchemy would read a ``:name`` in the SQL as a parameter
        return CheckConstraint(escaped(self.sql), name=self.name, info={"rule": self})

    def fill(self, draft: Draft) -> None:
        """Change the draft's values of this rule's columns so that every row passes."""
        raise NotImplementedError(
            f"rule {self.name!r} ({type(self).__name__}) has no way to generate valid values"
        )


# Patterns use only constructs that mean the same in Python ``re`` and in
# PostgreSQL's regular expressions: explicit ASCII classes, no \s or \w.
EMAIL = r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
UUID_V4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
URL = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?"
SLUG = r"[a-z0-9]+(-[a-z0-9]+)*"


@dataclass(frozen=True)
class Matches(Rule):
    """The whole value matches ``pattern``."""

    pattern: str = ""

    @property
    def sql(self) -> str:
        literal = self.pattern.replace("'", "''")
        return f"{_q(self.columns[0])} ~ '^({literal})$'"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        values = frame[self.columns[0]]
        text = values.astype("string")
        ok = text.str.fullmatch(self.pattern)
        return ok.fillna(True).astype(bool) | values.isna()

    def fill(self, draft: Draft) -> None:
        """Known patterns get realistic unique values; any other a sample of the regex."""
        from seedbed.synthetic import arrays
        from seedbed.synthetic.pattern import matching_strings

        column = self.columns[0]
        rows = arrays.numbers(np.arange(draft.num_rows))
        domain = arrays.SYNTHETIC_DOMAIN
        if self.pattern == EMAIL:
            values = arrays.join(_word(column, "A-Za-z0-9._+"), rows, f"@{domain}")
        elif self.pattern == UUID_V4:
            values = arrays.uuid4_strings(draft.rng, draft.num_rows)
        elif self.pattern == URL:
            values = arrays.join(f"https://{domain}/{_word(column, 'a-z0-9')}/", rows)
        elif self.pattern == SLUG:
            values = arrays.join(_word(column, "a-z0-9"), "-", rows)
        else:
            seed = int(draft.rng.integers(2**63))
            values = pa.array(matching_strings(self.pattern, draft.num_rows, seed), pa.string())
        draft.set(column, _keep_nulls(draft.column(column), values))


@dataclass(frozen=True)
class UuidV4(Matches):
    """A lowercase UUID version 4: ``pattern`` is :data:`UUID_V4`; the CHECK is cheaper SQL.

    PostgreSQL's regex engine builds its DFA states afresh for every value, and a
    fixed-length pattern visits one new state per character, so the CHECK
    ``id ~ '^(UUID_V4)$'`` costs 2.41 s per million ids (PostgreSQL 18,
    ``SELECT count(*) ... WHERE NOT (check)`` over 1M ids, parallel query off),
    the largest single cost of loading ``user``. The CHECK here costs 0.52 s and accepts exactly
    the same strings:

    - ``~ '^[0-9a-f-]+$'`` (0.31 s): only lowercase hex digits and hyphens;
    - ``LIKE ANY`` of four patterns, one per variant ``8``/``9``/``a``/``b``
      (0.16 s): 36 characters, hyphens at 9, 14, 19 and 24, the version ``4``
      at 15 and the variant at 20;
    - ``NOT LIKE '%-%-%-%-%-%'`` (0.12 s): at most four hyphens, so those four
      are the only ones, and every other position is a hex digit.

    Each part is NULL on NULL, so a NULL passes the CHECK, as it does the
    regex. The forms measured against it (seconds per million): ``[0-9a-f]``
    written out 36 times 2.45, ``SIMILAR TO`` 2.49, ``^[0-9a-f-]{36}$`` 2.12,
    ``translate(...)`` 3.28, ``ltrim(id, '0123456789abcdef-') = ''`` 1.58, the
    relaxed ``^[0-9a-f]+-[0-9a-f]+-4[0-9a-f]+-[89ab][0-9a-f]+-[0-9a-f]+$`` 1.01.
    Pandera and the generator keep using ``pattern``.
    """

    @property
    def sql(self) -> str:
        column = _q(self.columns[0])
        shapes = ", ".join(f"'________-____-4___-{variant}___-____________'" for variant in "89ab")
        return (
            f"{column} ~ '^[0-9a-f-]+$' AND {column} LIKE ANY (ARRAY[{shapes}]) "
            f"AND {column} NOT LIKE '%-%-%-%-%-%'"
        )


@dataclass(frozen=True)
class Length(Rule):
    """Character length between ``minimum`` and ``maximum``, inclusive."""

    minimum: int = 0
    maximum: int = 0

    @property
    def sql(self) -> str:
        return f"char_length({_q(self.columns[0])}) BETWEEN {self.minimum} AND {self.maximum}"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        values = frame[self.columns[0]]
        lengths = values.astype("string").str.len()
        ok = (lengths >= self.minimum) & (lengths <= self.maximum)
        return ok.fillna(True).astype(bool) | values.isna()

    def fill(self, draft: Draft) -> None:
        """Pad short values with ``x``; keep the tail of long ones (where counters are)."""
        column = self.columns[0]
        values = pc.cast(draft.column(column), pa.string())
        if self.minimum > 0:
            values = pc.utf8_rpad(values, self.minimum, "x")
        draft.set(column, pc.utf8_slice_codeunits(values, start=-self.maximum))


@dataclass(frozen=True)
class Later(Rule):
    """``columns[0]`` is strictly later than ``columns[1]``."""

    @property
    def sql(self) -> str:
        return f"{_q(self.columns[0])} > {_q(self.columns[1])}"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        later, earlier = frame[self.columns[0]], frame[self.columns[1]]
        ok = later > earlier
        return ok | later.isna() | earlier.isna()

    def fill(self, draft: Draft) -> None:
        """Set ``columns[0]`` to ``columns[1]`` plus a random positive step."""
        later, earlier = self.columns
        base = draft.column(earlier)
        n = draft.num_rows
        if pa.types.is_timestamp(base.type) or pa.types.is_date(base.type):
            start = base.cast(pa.timestamp("s")) if pa.types.is_date(base.type) else base
            step = draft.rng.integers(60, 30 * 86_400, size=n) * 1_000_000
            moved = pc.add(
                start, pa.array(step, pa.duration("us")).cast(pa.duration(start.type.unit))
            )
            if pa.types.is_date(base.type):
                moved = pc.add(moved, pa.scalar(86_400, pa.duration("s"))).cast(base.type)
        else:
            moved = pc.add(base, pa.array(draft.rng.integers(1, 100, size=n)).cast(base.type))
        current = draft.column(later)
        draft.set(later, _keep_nulls(current, pc.coalesce(moved, current.cast(moved.type))))


@dataclass(frozen=True)
class RequiredWhen(Rule):
    """``columns[0]`` is not null when ``columns[1]`` equals ``value``."""

    value: str = ""

    @property
    def sql(self) -> str:
        literal = self.value.replace("'", "''")
        return f"{_q(self.columns[1])} <> '{literal}' OR {_q(self.columns[0])} IS NOT NULL"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        required, when = frame[self.columns[0]], frame[self.columns[1]]
        triggered = (when.astype("string") == self.value).fillna(False).astype(bool)
        return ~triggered | required.notna()

    def fill(self, draft: Draft) -> None:
        """Give ``columns[0]`` a value in the rows where ``columns[1]`` is ``value``."""
        required, when = self.columns
        text = pc.cast(draft.column(when), pa.string())
        triggered = pc.fill_null(pc.equal(text, self.value), False)
        current = draft.column(required)
        missing = pc.and_(triggered, pc.is_null(current))
        draft.set(required, pc.if_else(missing, draft.candidates(required), current))


@dataclass(frozen=True)
class JsonKey:
    """One optional key of a JSON object: its kind and, for numbers, a lower bound."""

    kind: str  # "string_list" or "non_negative_integer"
    description: str


@dataclass(frozen=True)
class JsonShape(Rule):
    """A JSON object whose keys are all optional and drawn from ``keys``."""

    keys: dict[str, JsonKey] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.name, self.columns))

    @property
    def sql(self) -> str:
        col = _q(self.columns[0])
        allowed = " - ".join([col, *(f"'{k}'" for k in self.keys)])
        parts = [f"jsonb_typeof({col}) = 'object'", f"({allowed}) = '{{}}'::jsonb"]
        for key, spec in self.keys.items():
            item = f"({col} -> '{key}')"
            if spec.kind == "string_list":
                test = (
                    f"jsonb_typeof({item}) = 'array' AND NOT jsonb_path_exists("
                    f"{col}, '$.{key}[*] ? (@.type() != \"string\")')"
                )
            elif spec.kind == "non_negative_integer":
                number = f"({col} ->> '{key}')::numeric"
                test = (
                    f"jsonb_typeof({item}) = 'number' AND {number} >= 0 "
                    f"AND {number} = trunc({number})"
                )
            else:
                raise ValueError(f"unknown JSON key kind {spec.kind!r}")
            parts.append(f"(NOT {col} ? '{key}' OR ({test}))")
        return " AND ".join(parts)

    def conforms(self, value: Any) -> bool:
        """True when an already parsed JSON value has this shape."""
        if not isinstance(value, dict) or not set(value) <= set(self.keys):
            return False
        for key, item in value.items():
            kind = self.keys[key].kind
            if kind == "string_list":
                if not isinstance(item, list) or not all(isinstance(i, str) for i in item):
                    return False
            elif kind == "non_negative_integer":
                if isinstance(item, bool) or not isinstance(item, int | Decimal):
                    return False
                if item < 0 or item != int(item):
                    return False
        return True

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        def one(value: Any) -> bool:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                return True
            if isinstance(value, str):
                try:
                    value = parse_json(value)
                except InvalidJson:
                    return False
            return self.conforms(value)

        values = frame[self.columns[0]]
        # one() passes NULL itself: mapping over NA-only columns must not go through fillna.
        return pd.Series([one(v) for v in values], index=values.index, dtype=bool)

    def fill(self, draft: Draft) -> None:
        """JSON objects holding a random subset of the allowed keys."""
        from seedbed.synthetic import arrays

        n, rng = draft.num_rows, draft.rng
        parts: list[pa.Array | str] = []
        for key, spec in self.keys.items():
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
        column = self.columns[0]
        draft.set(column, _keep_nulls(draft.column(column), values))


def checks(*rules: Rule) -> tuple[CheckConstraint, ...]:
    """The named CHECK constraints for ``rules``, for a model's ``__table_args__``."""
    return tuple(rule.constraint() for rule in rules)


def email(column: str) -> Matches:
    return Matches(f"{column}_format", (column,), "must be an email address", EMAIL)


def uuid_v4(column: str) -> UuidV4:
    return UuidV4(f"{column}_uuid_v4", (column,), "must be a lowercase UUID version 4", UUID_V4)


def url(column: str) -> Matches:
    return Matches(f"{column}_url", (column,), "must be an http(s) URL", URL)


def slug(column: str) -> Matches:
    return Matches(
        f"{column}_format",
        (column,),
        "must be lowercase letters and digits in words joined by single dashes",
        SLUG,
    )


def length(column: str, minimum: int, maximum: int) -> Length:
    return Length(
        f"{column}_length",
        (column,),
        f"must be {minimum} to {maximum} characters long",
        minimum,
        maximum,
    )


def later(column: str, than: str) -> Later:
    return Later(f"{column}_after_{than}", (column, than), f"must be later than {than}")


def required_when(column: str, when: str, value: str) -> RequiredWhen:
    return RequiredWhen(
        f"{column}_required",
        (column, when),
        f"is required when {when} is {value!r}",
        value,
    )


def all_rules(table: Any) -> list[Rule]:
    """Every rule declared on a SQLAlchemy ``Table``, sorted by rule name (a stable order)."""
    found = [c.info["rule"] for c in table.constraints if "rule" in getattr(c, "info", {})]
    return sorted(found, key=lambda rule: rule.name)


__all__ = [
    "EMAIL",
    "SLUG",
    "URL",
    "UUID_V4",
    "Draft",
    "InvalidJson",
    "JsonKey",
    "JsonShape",
    "Later",
    "Length",
    "Matches",
    "RequiredWhen",
    "Rule",
    "UuidV4",
    "all_rules",
    "checks",
    "email",
    "later",
    "length",
    "parse_json",
    "required_when",
    "slug",
    "url",
    "uuid_v4",
]
