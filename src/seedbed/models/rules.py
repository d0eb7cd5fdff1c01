"""Validation rules, each declared once.

A rule is a small object that knows three things about itself: the SQL of the
CHECK constraint PostgreSQL enforces (``sql``), the same test on a pandas
frame (``passes``), and a sentence for people (``description``). Models attach
rules with :func:`checks`, which turns each into a named ``CheckConstraint``
carrying the rule in ``info["rule"]``; the Pandera schemas and the generated
docs read the rules back from there. Like a CHECK, a rule passes on NULL.

How the synthetic generator makes rows satisfy each rule kind lives with the
generator, in :mod:`seedbed.synthetic.fills`: a new rule kind is declared here
and gets its fill there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from seedbed.errors import SeedError
from seedbed.jsontext import InvalidJson, parse_json
from seedbed.lazymodules import lazy_module
from seedbed.sqltext import escaped, quote_ident, quote_literal

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import CheckConstraint
else:
    pd = lazy_module("pandas")


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
        from sqlalchemy import CheckConstraint

        # escaped: SQLAlchemy would read a ``:name`` in the SQL as a parameter
        return CheckConstraint(escaped(self.sql), name=self.name, info={"rule": self})


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
        return f"{quote_ident(self.columns[0])} ~ {quote_literal(f'^({self.pattern})$')}"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        values = frame[self.columns[0]]
        text = values.astype("string")
        ok = text.str.fullmatch(self.pattern)
        return ok.fillna(True).astype(bool) | values.isna()


@dataclass(frozen=True)
class UuidV4(Matches):
    """A lowercase UUID version 4: ``pattern`` is :data:`UUID_V4`; the CHECK is cheaper SQL.

    PostgreSQL's regex is the largest single cost of loading ``user``; this CHECK accepts
    exactly the same strings, and Pandera and the generator keep using ``pattern``.
    See docs/decisions/2026-11-uuid-v4-check.md.
    """

    @property
    def sql(self) -> str:
        # Only hex digits and hyphens; 36 characters shaped like a version 4 id (one
        # LIKE per variant); at most four hyphens, so every other position is a hex
        # digit. Each part is NULL on NULL, so NULL passes, as it does the regex.
        column = quote_ident(self.columns[0])
        shapes = ", ".join(f"'________-____-4___-{variant}___-____________'" for variant in "89ab")
        return (
            f"{column} ~ '^[0-9a-f-]+$' AND {column} LIKE ANY (ARRAY[{shapes}]) "
            f"AND {column} NOT LIKE '%-%-%-%-%-%'"
        )


@dataclass(frozen=True)
class Url(Matches):
    """An http(s) URL: ``pattern`` is :data:`URL`; the CHECK is cheaper SQL.

    The same strings pass as with the regex: printable ASCII throughout (the path's
    ``[!-~]*``), the scheme by ``LIKE``, and the host and port in the third
    ``/``-separated field, the text between ``//`` and the path. Pandera and the
    generator keep using ``pattern``. See docs/decisions/2026-12-06-url-check.md.
    """

    @property
    def sql(self) -> str:
        # Each part is NULL on NULL, so NULL passes, as it does the regex.
        column = quote_ident(self.columns[0])
        return (
            f"({column} LIKE 'http://%' OR {column} LIKE 'https://%') "
            f"AND {column} ~ '^[!-~]+$' "
            f"AND split_part({column}, '/', 3) ~ '^[A-Za-z0-9.-]+(:[0-9]{{1,5}})?([?#]|$)'"
        )


@dataclass(frozen=True)
class Length(Rule):
    """Character length between ``minimum`` and ``maximum``, inclusive."""

    minimum: int = 0
    maximum: int = 0

    @property
    def sql(self) -> str:
        column = quote_ident(self.columns[0])
        return f"char_length({column}) BETWEEN {self.minimum} AND {self.maximum}"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        values = frame[self.columns[0]]
        lengths = values.astype("string").str.len()
        ok = (lengths >= self.minimum) & (lengths <= self.maximum)
        return ok.fillna(True).astype(bool) | values.isna()


@dataclass(frozen=True)
class Later(Rule):
    """``columns[0]`` is strictly later than ``columns[1]``."""

    @property
    def sql(self) -> str:
        return f"{quote_ident(self.columns[0])} > {quote_ident(self.columns[1])}"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        later, earlier = frame[self.columns[0]], frame[self.columns[1]]
        if not (later.notna() & earlier.notna()).any():
            # NULL passes; a column left out of the seed is NULL text, of no time type
            return pd.Series(True, index=frame.index, dtype=bool)
        zoned = [isinstance(s.dtype, pd.DatetimeTZDtype) for s in (later, earlier)]
        if zoned[0] != zoned[1]:
            first, second = self.columns if zoned[0] else reversed(self.columns)
            raise SeedError(
                f"rule {self.name}: {first} is a timestamptz and {second} is not, which "
                "PostgreSQL compares in the session's TimeZone; declare them alike"
            )
        ok = later > earlier
        return ok | later.isna() | earlier.isna()


@dataclass(frozen=True)
class RequiredWhen(Rule):
    """``columns[0]`` is not null when ``columns[1]`` equals ``value``."""

    value: str = ""

    @property
    def sql(self) -> str:
        column, when = quote_ident(self.columns[0]), quote_ident(self.columns[1])
        return f"{when} <> {quote_literal(self.value)} OR {column} IS NOT NULL"

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        required, when = frame[self.columns[0]], frame[self.columns[1]]
        triggered = (when.astype("string") == self.value).fillna(False).astype(bool)
        return ~triggered | required.notna()


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
        col = quote_ident(self.columns[0])
        allowed = " - ".join([col, *(quote_literal(k) for k in self.keys)])
        parts = [f"jsonb_typeof({col}) = 'object'", f"({allowed}) = '{{}}'::jsonb"]
        for key, spec in self.keys.items():
            item = f"({col} -> {quote_literal(key)})"
            if spec.kind == "string_list":
                path = f'$.{key}[*] ? (@.type() != "string")'
                test = (
                    f"jsonb_typeof({item}) = 'array' AND NOT jsonb_path_exists("
                    f"{col}, {quote_literal(path)})"
                )
            elif spec.kind == "non_negative_integer":
                number = f"({col} ->> {quote_literal(key)})::numeric"
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
        if not isinstance(value, dict) or not value.keys() <= self.keys.keys():
            return False
        keys = self.keys
        for key, item in value.items():
            kind = keys[key].kind
            if kind == "string_list":
                if not isinstance(item, list):
                    return False
                for element in item:
                    if not isinstance(element, str):
                        return False
            elif kind == "non_negative_integer":
                if isinstance(item, bool) or not isinstance(item, int | Decimal):
                    return False
                if item < 0 or item != int(item):
                    return False
        return True

    def text_conforms(self, text: str) -> bool:
        """True when ``text`` is JSON of this shape: :meth:`passes` of one text."""
        try:
            return self.conforms(parse_json(text))
        except InvalidJson:
            return False

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        seen: dict[str, bool] = {}  # each distinct text parsed once: values often repeat

        def one(value: Any) -> bool:
            if isinstance(value, str):
                verdict = seen.get(value)
                if verdict is None:
                    verdict = seen[value] = self.text_conforms(value)
                return verdict
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                return True
            return self.conforms(value)

        values = frame[self.columns[0]]
        # one() passes NULL itself: mapping over NA-only columns must not go through fillna.
        return pd.Series([one(v) for v in values.tolist()], index=values.index, dtype=bool)


def checks(*rules: Rule) -> tuple[CheckConstraint, ...]:
    """The named CHECK constraints for ``rules``, for a model's ``__table_args__``."""
    return tuple(rule.constraint() for rule in rules)


def email(column: str) -> Matches:
    return Matches(f"{column}_format", (column,), "must be an email address", EMAIL)


def uuid_v4(column: str) -> UuidV4:
    return UuidV4(f"{column}_uuid_v4", (column,), "must be a lowercase UUID version 4", UUID_V4)


def url(column: str) -> Url:
    return Url(f"{column}_url", (column,), "must be an http(s) URL", URL)


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


#: ``Column.info`` key: rules a column carries without a table CHECK (its domain's CHECKs).
COLUMN_RULES = "rules"


def all_rules(table: Any) -> list[Rule]:
    """Every rule declared on a SQLAlchemy ``Table``, sorted by rule name (a stable order)."""
    found = [c.info["rule"] for c in table.constraints if "rule" in getattr(c, "info", {})]
    found += [rule for column in table.columns for rule in column.info.get(COLUMN_RULES, ())]
    return sorted(found, key=lambda rule: rule.name)


#: How a rule the database evaluates gets its verdict on a frame: True where a row passes.
Evaluator = Callable[["SqlCheck", "pd.DataFrame"], "pd.Series"]


@dataclass(frozen=True)
class SqlCheck(Rule):
    """A CHECK that only PostgreSQL can judge: ``expression``, as the catalog holds it.

    Its frame check sends the frame's values of ``columns`` (cast to
    ``column_types``) to the database the rule was read from, in one query,
    through ``evaluator``; the verdict is PostgreSQL's own. ``name`` is the
    constraint's name in the database. The generator has no fill for it.
    """

    expression: str = ""
    column_types: tuple[str, ...] = ()
    evaluator: Evaluator | None = field(default=None, compare=False, repr=False)

    #: Where the verdict comes from, for reports and docs.
    runs = "in the database"

    @property
    def sql(self) -> str:
        return self.expression

    def passes(self, frame: pd.DataFrame) -> pd.Series:
        if self.evaluator is None:
            raise SeedError(
                f"CHECK {self.name} is evaluated by PostgreSQL: read the model from a database"
            )
        return self.evaluator(self, frame)


__all__ = [
    "COLUMN_RULES",
    "EMAIL",
    "SLUG",
    "URL",
    "UUID_V4",
    "InvalidJson",
    "JsonKey",
    "JsonShape",
    "Later",
    "Length",
    "Matches",
    "RequiredWhen",
    "Rule",
    "SqlCheck",
    "Url",
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
