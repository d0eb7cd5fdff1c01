"""CHECK expressions read from a catalog, turned into rule objects by PostgreSQL's own parser.

:func:`rules_from_check` parses a CHECK (as ``pg_get_constraintdef`` prints
it, or as written) with ``pglast``, which is PostgreSQL's parser, and walks
the tree. Comparisons with constants and between columns, ``BETWEEN``,
``IN``/``= ANY (ARRAY[...])``/``<> ALL``, ``length``/``char_length``/
``octet_length``, ``~``/``~*``/``!~``/``!~*``, ``LIKE``/``ILIKE``/``SIMILAR TO``,
``IS [NOT] NULL``, ``lower``/``upper``/``btrim``/``ltrim``/``rtrim``, ``split_part`` with
constant arguments, casts that keep a value's meaning, ``COALESCE(column, constant)``
compared with a constant, and their combinations with ``AND``, ``OR`` and ``NOT``, become the
rule kinds of :mod:`seedbed.models.predicates`. Anything else gives None, and
the caller leaves that CHECK to PostgreSQL. The text is never matched with
regular expressions; only the parser reads it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

from seedbed.models import predicates as p
from seedbed.models.rules import Rule
from seedbed.sqltext import quote_literal

_FAMILIES = {
    p.NUMBER: (
        "smallint integer bigint int int2 int4 int8 numeric decimal smallserial serial bigserial"
        " serial2 serial4 serial8"
    ),
    p.FLOAT: "float8 float",
    p.FLOAT4: "real float4",
    p.TEXT: "text varchar name",
    p.BPCHAR: "character char bpchar",
    p.DATE: "date",
    p.TIMESTAMP: "timestamp",
    p.TIMESTAMPTZ: "timestamptz",
    p.BOOLEAN: "boolean bool",
    p.ENUM: "enum",
}
_BY_NAME = {name: family for family, names in _FAMILIES.items() for name in names.split()}
_BY_NAME.update(
    {
        "double precision": p.FLOAT,
        "character varying": p.TEXT,
        "timestamp without time zone": p.TIMESTAMP,
        "timestamp with time zone": p.TIMESTAMPTZ,
    }
)
_EPOCH = dt.datetime(1970, 1, 1)
_MICRO = dt.timedelta(microseconds=1)
_REGEX = {"~": (False, False), "~*": (False, True), "!~": (True, False), "!~*": (True, True)}
_LIKE = {"~~": (False, False), "~~*": (False, True), "!~~": (True, False), "!~~*": (True, True)}
_TRUTH_TESTS = {
    enums.BoolTestType.IS_TRUE: "TRUE",
    enums.BoolTestType.IS_NOT_TRUE: "NOT TRUE",
    enums.BoolTestType.IS_FALSE: "FALSE",
    enums.BoolTestType.IS_NOT_FALSE: "NOT FALSE",
    enums.BoolTestType.IS_UNKNOWN: "UNKNOWN",
    enums.BoolTestType.IS_NOT_UNKNOWN: "NOT UNKNOWN",
}
#: Families whose constants compare in Python exactly as in PostgreSQL.
_EXACT_FAMILIES = (p.NUMBER, p.TEXT, p.DATE, p.TIMESTAMP, p.TIMESTAMPTZ)
_TRIMS = ("btrim", "ltrim", "rtrim")
_LENGTHS = {
    "length": "char_length",
    "char_length": "char_length",
    "character_length": "char_length",
}


class _Unknown(Exception):
    """The expression holds something outside the known kinds."""


def type_family(type_name: str) -> str:
    """The comparison family of a SQL type name (``format_type`` spelling or short)."""
    text = type_name.strip().lower()
    if text.endswith("]"):
        return p.OTHER
    head, _, rest = text.partition("(")
    text = " ".join((head + rest.partition(")")[2]).split())
    if text.startswith("pg_catalog."):
        text = text[len("pg_catalog.") :]
    return _BY_NAME.get(text, p.OTHER)


def rounds_first(type_name: str) -> bool:
    """Does a column of this SQL type round a value before its CHECKs see it, in a way
    validation does not? The times with a precision (``timestamp(3)`` stores
    ``…00.0005`` as ``…00.001``): a rule judging the written value could pass what the
    CHECK refuses, so such a CHECK is left to the database. (``numeric(p, s)`` rounds
    too; validation rounds its values the same way, ``coerce``.)"""
    text = " ".join(type_name.strip().lower().split())
    if text.startswith("pg_catalog."):
        text = text[len("pg_catalog.") :]
    head, paren, _ = text.partition("(")
    return bool(paren) and head.strip() in ("timestamp", "time")


def _name(names: Any) -> str:
    parts = [n.sval for n in names or ()]
    if len(parts) == 2 and parts[0] == "pg_catalog":
        parts = parts[1:]
    if len(parts) != 1:
        raise _Unknown
    return str(parts[0])


def _type_names(type_text: str) -> tuple[str, ...]:
    """A type's name as the parser reads it: ``"my-app".mood`` as ``("my-app", "mood")``."""
    statement: Any = parse_sql(f"SELECT CAST(NULL AS {type_text})")[0].stmt
    return tuple(str(n.sval) for n in statement.targetList[0].val.typeName.names)


def _cast_family(type_name: Any, enums: frozenset[tuple[str, ...]] = frozenset()) -> str:
    if type_name.arrayBounds:
        return p.OTHER
    if tuple(str(n.sval) for n in type_name.names) in enums:
        return p.ENUM
    name = _name(type_name.names)
    family = _BY_NAME.get(name, p.OTHER)
    if type_name.typmods and family in (p.TEXT, p.BPCHAR, p.NUMBER, p.TIMESTAMP, p.TIMESTAMPTZ):
        raise _Unknown  # a length, scale or precision cast changes values
    return family


class _Walker:
    def __init__(
        self,
        columns: Mapping[str, str],
        name: str,
        codepoint_order: bool,
        ascii_case: bool,
        enums: Collection[str] = (),
    ) -> None:
        self.enums = frozenset(_type_names(kind) for kind in enums)
        self.families = {
            column: p.ENUM if kind in enums else type_family(kind)
            for column, kind in columns.items()
        }
        self.name = name
        self.codepoint_order = codepoint_order
        self.ascii_case = ascii_case
        self.seen: list[str] = []

    # --- operands ---

    def term(self, node: Any) -> p.Column | p.Constant | tuple[str, str]:
        """A column term, a typed constant, or ("unknown", text) for an untyped literal."""
        if isinstance(node, ast.ColumnRef):
            fields: Any = node.fields
            if len(fields) != 1 or not isinstance(fields[0], ast.String):
                raise _Unknown
            column = fields[0].sval
            if column not in self.families:
                raise _Unknown
            if column not in self.seen:
                self.seen.append(column)
            return p.Column(column, self.families[column], ascii_case=self.ascii_case)
        if isinstance(node, ast.A_Const):
            return self.literal(node)
        if isinstance(node, ast.TypeCast):
            family = _cast_family(node.typeName, self.enums)
            return self.cast(self.term(node.arg), family, node)
        if isinstance(node, ast.FuncCall):
            return self.function(node)
        if (
            isinstance(node, ast.A_Expr)
            and node.kind == enums.A_Expr_Kind.AEXPR_OP
            and node.lexpr is None
            and _name(node.name) == "-"
        ):
            inner = self.term(node.rexpr)
            if isinstance(inner, p.Constant) and inner.family == p.NUMBER:
                return p.Constant(-inner.value, p.NUMBER, RawStream()(node))
        raise _Unknown

    def literal(self, node: Any) -> p.Constant | tuple[str, str]:
        value: Any = node.val
        if node.isnull or value is None:
            raise _Unknown
        if isinstance(value, ast.Integer):
            return p.Constant(Decimal(str(value.ival)), p.NUMBER, str(value.ival))
        if isinstance(value, ast.Float):
            return p.Constant(Decimal(str(value.fval)), p.NUMBER, str(value.fval))
        if isinstance(value, ast.Boolean):
            return p.Constant(bool(value.boolval), p.BOOLEAN, "true" if value.boolval else "false")
        if isinstance(value, ast.String):
            return ("unknown", str(value.sval))
        raise _Unknown

    def cast(
        self, inner: p.Column | p.Constant | tuple[str, str], family: str, node: Any
    ) -> p.Column | p.Constant:
        if isinstance(inner, tuple):
            if family == p.OTHER:  # a label cast to a type of the schema: an enum's, say
                return p.Constant(inner[1], p.OTHER, RawStream()(node))
            return _constant(inner[1], family, RawStream()(node))
        if isinstance(inner, p.Constant):
            if inner.family == family or (
                inner.family == p.NUMBER and family in p.NUMERIC_FAMILIES
            ):
                value = inner.value if family == inner.family else float(inner.value)
                return p.Constant(value, family, RawStream()(node))
            raise _Unknown
        source = inner.result_family
        if source in p.TEXT_FAMILIES and family == p.TEXT:
            return inner  # char(n) to text drops trailing spaces: those never count here
        if source == family or (source == p.NUMBER and family == p.NUMBER):
            return inner
        if source == p.DATE and family == p.TIMESTAMP and not inner.functions:
            return p.Column(inner.name, p.TIMESTAMP, ascii_case=self.ascii_case)
        raise _Unknown

    def function(self, node: Any) -> p.Column:
        name = _name(node.funcname)
        args: Any = node.args or ()
        if name in _TRIMS and len(args) == 2 and _is_space(self.term(args[1])):
            args = args[:1]  # trimming spaces, as with one argument
        if node.agg_star or node.agg_distinct or node.over:
            raise _Unknown
        if name == "split_part" and len(args) == 3:
            return self.split_part(*args)
        if len(args) != 1:
            raise _Unknown
        inner = self.term(args[0])
        if not isinstance(inner, p.Column) or inner.result_family not in p.TEXT_FAMILIES:
            raise _Unknown
        if name in ("lower", "upper", *_TRIMS):
            return p.Column(inner.name, inner.family, (*inner.functions, name), self.ascii_case)
        if name in _LENGTHS or (name == "octet_length" and inner.family != p.BPCHAR):
            functions = (*inner.functions, _LENGTHS.get(name, name))
            return p.Column(inner.name, inner.family, functions, self.ascii_case)
        raise _Unknown

    def split_part(self, text: Any, delimiter: Any, field: Any) -> p.Column:
        inner, cut, position = self.term(text), self._text(delimiter), self.term(field)
        if not isinstance(inner, p.Column) or inner.result_family not in p.TEXT_FAMILIES:
            raise _Unknown
        if not (isinstance(position, p.Constant) and position.family == p.NUMBER):
            raise _Unknown
        number = position.value
        if number != int(number) or not 0 < abs(number) < 2**31:
            raise _Unknown  # PostgreSQL refuses field 0 and fractions; the field is an int4
        functions = (*inner.functions, p.SplitPart(cut, int(number)))
        return p.Column(inner.name, inner.family, functions, self.ascii_case)

    # --- predicates ---

    def rule(self, node: Any) -> Rule:
        if isinstance(node, ast.BoolExpr):
            args: Any = node.args
            parts = tuple(self.rule(arg) for arg in args)
            if node.boolop == enums.BoolExprType.AND_EXPR:
                return p.AllOf(self.name, self._cols(parts), "", parts)
            if node.boolop == enums.BoolExprType.OR_EXPR:
                return p.AnyOf(self.name, self._cols(parts), "", parts)
            return p.Not(self.name, parts[0].columns, "", parts[0])
        if isinstance(node, ast.NullTest):
            term = self.term(node.arg)
            if not isinstance(term, p.Column):
                raise _Unknown
            negated = node.nulltesttype == enums.NullTestType.IS_NOT_NULL
            return p.IsNull(self.name, (term.name,), "", term, negated)
        if isinstance(node, ast.ColumnRef):
            term = self.term(node)
            if not isinstance(term, p.Column) or term.family != p.BOOLEAN:
                raise _Unknown
            return self.compare(term, "=", p.Constant(True, p.BOOLEAN, "true"))
        if isinstance(node, ast.A_Expr):
            return self.expression(node)
        if isinstance(node, ast.BooleanTest):
            part = self.rule(node.arg)
            kind = node.booltesttype
            test = None if kind is None else _TRUTH_TESTS.get(kind)
            if test is None:
                raise _Unknown
            return p.TruthTest(self.name, part.columns, "", part, test)
        raise _Unknown

    def _cols(self, parts: tuple[Rule, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for part in parts for c in part.columns))

    def expression(self, node: Any) -> Rule:
        kind = node.kind
        k = enums.A_Expr_Kind
        if kind in (
            k.AEXPR_BETWEEN,
            k.AEXPR_NOT_BETWEEN,
            k.AEXPR_BETWEEN_SYM,
            k.AEXPR_NOT_BETWEEN_SYM,
        ):
            low, high = node.rexpr
            between: Rule = self.between(node.lexpr, low, high)
            if kind in (k.AEXPR_BETWEEN_SYM, k.AEXPR_NOT_BETWEEN_SYM):  # either way round
                parts = (between, self.between(node.lexpr, high, low))
                between = p.AnyOf(self.name, self._cols(parts), "", parts)
            if kind in (k.AEXPR_BETWEEN, k.AEXPR_BETWEEN_SYM):
                return between
            return p.Not(self.name, between.columns, "", between)
        if kind in (k.AEXPR_DISTINCT, k.AEXPR_NOT_DISTINCT):
            distinct = self.distinct(self.term(node.lexpr), self.term(node.rexpr))
            if kind == k.AEXPR_DISTINCT:
                return distinct
            return p.Not(self.name, distinct.columns, "", distinct)
        op = _name(node.name)
        if kind == k.AEXPR_IN:
            items = tuple(node.rexpr)
            return self.listed(op, node.lexpr, items, any_=op == "=")
        if kind in (k.AEXPR_OP_ANY, k.AEXPR_OP_ALL):
            array: Any = node.rexpr
            while isinstance(array, ast.TypeCast) and getattr(array.typeName, "arrayBounds", None):
                array = array.arg
            if not isinstance(array, ast.A_ArrayExpr):
                raise _Unknown
            return self.listed(op, node.lexpr, tuple(array.elements or ()), kind == k.AEXPR_OP_ANY)
        if kind in (k.AEXPR_OP, k.AEXPR_LIKE, k.AEXPR_ILIKE, k.AEXPR_SIMILAR):
            return self.binary(op, node.lexpr, node.rexpr)
        raise _Unknown

    def between(self, value: Any, low: Any, high: Any) -> p.AllOf:
        parts = (self.binary(">=", value, low), self.binary("<=", value, high))
        return p.AllOf(self.name, self._cols(parts), "", parts)

    def distinct(self, left: Any, right: Any) -> Rule:
        """``left IS DISTINCT FROM right``: never NULL. With a constant, ``left IS NULL OR
        left <> c``; between two columns, different values, or exactly one of them NULL."""
        if not isinstance(left, p.Column):
            left, right = right, left
        if not isinstance(left, p.Column):
            raise _Unknown
        differ = self.compare(left, "<>", right)
        missing = p.IsNull(self.name, (left.name,), "", left)
        if not isinstance(right, p.Column):
            return p.AnyOf(self.name, differ.columns, "", (missing, differ))
        given = tuple(p.IsNull(self.name, (c.name,), "", c, True) for c in (left, right))
        both = p.AllOf(self.name, differ.columns, "", (differ, *given))
        other = p.IsNull(self.name, (right.name,), "", right)
        one = p.SameTruth(self.name, differ.columns, "", (missing, other), True)
        return p.AnyOf(self.name, differ.columns, "", (both, one))

    def null_count(self, node: Any, op: str, other: Any) -> p.NullCount:
        """``num_nulls(a, b, ...) op n`` (or ``num_nonnulls``) with an integer ``n``."""
        args: Any = node.args or ()
        names = []
        for arg in args:
            term = self.term(arg)
            if not isinstance(term, p.Column) or term.functions:
                raise _Unknown
            names.append(term.name)
        value = self.term(other)
        if not names or not (isinstance(value, p.Constant) and value.family == p.NUMBER):
            raise _Unknown
        number = value.value
        if number != int(number):
            raise _Unknown
        nulls = _name(node.funcname) == "num_nulls"
        columns = tuple(dict.fromkeys(names))
        return p.NullCount(self.name, columns, "", op, int(number), nulls)

    def listed(self, op: str, left: Any, items: tuple[Any, ...], any_: bool) -> Rule:
        parts = tuple(self.binary(op, left, item) for item in items)
        if op in ("=", "<>") and all(isinstance(part, p.Compare) for part in parts):
            compares = [part for part in parts if isinstance(part, p.Compare)]
            if (any_ == (op == "=")) and all(isinstance(c.right, p.Constant) for c in compares):
                term = compares[0].left if compares else self.term(left)
                values = tuple(c.right for c in compares if isinstance(c.right, p.Constant))
                if isinstance(term, p.Column):
                    return p.OneOf(self.name, (term.name,), "", term, values, op == "<>")
        kind = p.AnyOf if any_ else p.AllOf
        return kind(self.name, self._cols(parts) or self._columns_of(left), "", parts)

    def _columns_of(self, node: Any) -> tuple[str, ...]:
        term = self.term(node)
        return (term.name,) if isinstance(term, p.Column) else ()

    def binary(self, op: str, left_node: Any, right_node: Any) -> Rule:
        if op in _REGEX or op in _LIKE:
            return self.pattern(op, left_node, right_node)
        if op not in p.OPERATORS:
            raise _Unknown
        if op in ("=", "<>") and _is_predicate(left_node) and _is_predicate(right_node):
            parts = (self.rule(left_node), self.rule(right_node))
            return p.SameTruth(self.name, self._cols(parts), "", parts, op == "<>")
        if _counts_nulls(right_node):
            return self.null_count(right_node, p.FLIPPED[op], left_node)
        if _counts_nulls(left_node):
            return self.null_count(left_node, op, right_node)
        if isinstance(right_node, ast.CoalesceExpr):
            return self.coalesced(right_node, p.FLIPPED[op], left_node)
        if isinstance(left_node, ast.CoalesceExpr):
            return self.coalesced(left_node, op, right_node)
        return self.compare(self.term(left_node), op, self.term(right_node))

    def coalesced(self, node: Any, op: str, other_node: Any) -> Rule:
        """``COALESCE(column, k) op c``: ``column op c``, with NULL read as ``k op c`` says.

        Exact for the families whose constants compare exactly (numbers, text,
        dates and times): NULL makes the comparison NULL, so ``OR column IS
        NULL`` turns it true and ``AND column IS NOT NULL`` false.
        """
        args: Any = node.args or ()
        if len(args) != 2:
            raise _Unknown
        term = self.term(args[0])
        if not isinstance(term, p.Column) or term.result_family not in _EXACT_FAMILIES:
            raise _Unknown
        compared = self.compare(term, op, self.term(other_node))
        family = term.result_family
        fallback = _typed(self.term(args[1]), family)
        bound = _typed(compared.right, family)
        if family == p.BPCHAR:
            fallback = p.Constant(str(fallback.value).rstrip(" "), family, fallback.sql)
        fallback_holds = p.OPERATORS[op](fallback.value, bound.value)
        null = p.IsNull(self.name, (term.name,), "", term, negated=not fallback_holds)
        parts = (compared, null)
        if null.negated:
            return p.AllOf(self.name, compared.columns, "", parts)
        return p.AnyOf(self.name, compared.columns, "", parts)

    def pattern(self, op: str, left_node: Any, right_node: Any) -> Rule:
        term = self.term(left_node)
        if not isinstance(term, p.Column) or term.result_family != p.TEXT:
            raise _Unknown  # patterns on char(n) are left to the database
        kind = "regex" if op in _REGEX else "like"
        negated, insensitive = (_REGEX if op in _REGEX else _LIKE)[op]
        if isinstance(right_node, ast.FuncCall) and _name(right_node.funcname) == (
            "similar_to_escape"
        ):
            if kind != "regex" or insensitive:
                raise _Unknown
            args = [self._text(arg) for arg in right_node.args or ()]
            if len(args) == 1:
                kind, text = "similar", args[0]
            elif len(args) == 2:
                converted = p.similar_to_regex(args[0], args[1] or None)
                if converted is None:
                    raise _Unknown
                kind, text = "regex", converted
            else:
                raise _Unknown
        else:
            text = self._text(right_node)
        if p.python_regex(kind, text) is None:
            raise _Unknown
        if insensitive and kind == "regex" and not text.isascii():
            raise _Unknown  # the case variants of other letters depend on the locale
        return p.Pattern(self.name, (term.name,), "", term, kind, text, negated, insensitive)

    def _text(self, node: Any) -> str:
        term = self.term(node)
        if isinstance(term, tuple):
            return term[1]
        if isinstance(term, p.Constant) and term.family == p.TEXT:
            return str(term.value)
        raise _Unknown

    def compare(self, left: Any, op: str, right: Any) -> p.Compare:
        if not isinstance(left, p.Column):
            if not isinstance(right, p.Column):
                raise _Unknown
            left, op, right = right, p.FLIPPED[op], left
        family = left.result_family
        if isinstance(right, tuple):
            right = _constant(right[1], family, quote_literal(right[1]))
        if isinstance(right, p.Constant) and right.family == p.OTHER and family == p.ENUM:
            right = p.Constant(right.value, p.ENUM, right.sql)
        other = right.result_family if isinstance(right, p.Column) else right.family
        if not self.comparable(family, other, op):
            raise _Unknown
        if (
            isinstance(right, p.Constant)
            and family in p.TEXT_FAMILIES
            and p.BPCHAR in (right.family, family)
        ):
            right = p.Constant(str(right.value).rstrip(" "), right.family, right.sql)
        columns = tuple(
            dict.fromkeys([left.name] + ([right.name] if isinstance(right, p.Column) else []))
        )
        return p.Compare(self.name, columns, "", left, op, right)

    def comparable(self, left: str, right: str, op: str) -> bool:
        ordered = op not in ("=", "<>")
        if left in p.NUMERIC_FAMILIES and right in p.NUMERIC_FAMILIES:
            return True
        if left in p.TEXT_FAMILIES and right in p.TEXT_FAMILIES:
            if left == p.TEXT and right == p.BPCHAR:
                return False
            return self.codepoint_order or not ordered
        if left in p.TIME_FAMILIES and right in p.TIME_FAMILIES:
            return left == right or {left, right} == {p.DATE, p.TIMESTAMP}
        if left in (p.BOOLEAN, p.ENUM) and right == left:
            return not ordered
        return False


def _typed(term: Any, family: str) -> p.Constant:
    """A constant of exactly ``family``: a literal read as one, or a constant already of it."""
    if isinstance(term, tuple):
        return _constant(term[1], family, quote_literal(term[1]))
    if isinstance(term, p.Constant) and term.family == family:
        return term
    raise _Unknown


def _is_space(term: Any) -> bool:
    """True for the constant ``' '`` (typed as text or not): what a trim removes by default."""
    if isinstance(term, tuple):
        return bool(term[1] == " ")
    return isinstance(term, p.Constant) and term.family == p.TEXT and bool(term.value == " ")


def _counts_nulls(node: Any) -> bool:
    """True for ``num_nulls(...)`` and ``num_nonnulls(...)``."""
    if not isinstance(node, ast.FuncCall) or node.agg_star or node.agg_distinct or node.over:
        return False
    return _name(node.funcname) in ("num_nulls", "num_nonnulls")


def _is_predicate(node: Any) -> bool:
    """True for a node that is a truth value itself: ``(a IS NULL)``, ``(x > 0 AND ...)``."""
    if isinstance(node, ast.NullTest | ast.BoolExpr | ast.BooleanTest):
        return True
    if isinstance(node, ast.A_Expr):
        if node.kind != enums.A_Expr_Kind.AEXPR_OP:
            return True  # IN, LIKE, BETWEEN, ANY and the others are all truth values
        return _name(node.name) in (*p.OPERATORS, *_REGEX, *_LIKE)
    return False


def _constant(text: str, family: str, sql: str) -> p.Constant:
    """An untyped or cast string literal read as a value of ``family``."""
    try:
        if family in p.TEXT_FAMILIES or family == p.ENUM:
            return p.Constant(text, family, sql)
        if family in p.NUMERIC_FAMILIES:
            number = Decimal(text.strip())
            if not number.is_finite():
                raise _Unknown
            return p.Constant(number if family == p.NUMBER else float(number), family, sql)
        if family == p.BOOLEAN and text.strip().lower() in ("true", "false"):
            return p.Constant(text.strip().lower() == "true", family, sql)
        if family == p.DATE:
            day = dt.date.fromisoformat(text.strip())
            return p.Constant((dt.datetime.combine(day, dt.time()) - _EPOCH) // _MICRO, family, sql)
        if family in (p.TIMESTAMP, p.TIMESTAMPTZ):
            stamp = dt.datetime.fromisoformat(text.strip())
            if (stamp.tzinfo is None) != (family == p.TIMESTAMP):
                raise _Unknown  # a zone would come from the session's TimeZone
            offset = stamp.utcoffset() or dt.timedelta()
            return p.Constant((stamp.replace(tzinfo=None) - offset - _EPOCH) // _MICRO, family, sql)
    except (ValueError, InvalidOperation, OverflowError):
        raise _Unknown from None
    raise _Unknown


def _expression(text: str) -> Any:
    """The expression tree of a CHECK: ``CHECK (...)`` as printed, or the bare expression."""
    stripped = text.strip()
    if stripped[:5].upper() == "CHECK":
        statement: Any = parse_sql(f"CREATE TABLE _seedbed_check ({stripped})")[0].stmt
        elements = statement.tableElts
        if len(elements) != 1 or not isinstance(elements[0], ast.Constraint):
            raise _Unknown
        return elements[0].raw_expr
    statements: Any = parse_sql(f"SELECT 1 WHERE {stripped}")
    if len(statements) != 1:
        raise _Unknown
    return statements[0].stmt.whereClause


class _ValueAs(Visitor):
    """Replaces a domain CHECK's ``VALUE`` with a column."""

    def __init__(self, column: str) -> None:
        self.column = column

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> Any:
        fields: Any = node.fields
        if len(fields) == 1 and isinstance(fields[0], ast.String) and fields[0].sval == "value":
            return ast.ColumnRef(fields=(ast.String(sval=self.column),))
        return None


def domain_check_on(expression: str, column: str) -> str:
    """A domain CHECK's expression (``VALUE > 0``) written for a column of the domain.

    The parser reads the expression and the tree is printed again with
    ``VALUE`` replaced, so the result holds the column's quoted name.
    """
    tree = _expression(expression)
    _ValueAs(column)(tree)
    return str(RawStream()(tree))


class _Columns(Visitor):
    """Collects the names of the columns an expression reads, in order of first use."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> None:
        fields: Any = node.fields
        name = fields[-1].sval if fields and isinstance(fields[-1], ast.String) else None
        if name is not None and name not in self.names:
            self.names.append(str(name))


def check_columns(expression: str) -> tuple[str, ...] | None:
    """The columns a CHECK expression (as written, or ``CHECK (...)``) reads, in order of
    first use; None when the parser cannot read it."""
    try:
        tree = _expression(expression)
    except (_Unknown, ParseError):
        return None
    found = _Columns()
    found(tree)
    return tuple(found.names)


def rules_from_check(
    expression: str,
    columns: Mapping[str, str],
    *,
    name: str = "check",
    codepoint_order: bool = False,
    ascii_case: bool = False,
    enums: Collection[str] = (),
) -> tuple[Rule, ...] | None:
    """The rules a CHECK expression stands for, or None when it is not a known kind.

    ``columns`` maps each column name to its SQL type name (``integer``,
    ``character varying(20)``, ``timestamp with time zone``; ``enum`` for an
    enum column, a domain's base type for a domain column; a domain CHECK's
    ``VALUE`` is the column ``value``). ``name`` becomes the rule's name.
    ``codepoint_order``: the column's collation orders text by code point
    (``C``, ``POSIX``, ``C.UTF-8``), so ``<``/``>`` on text can be translated;
    otherwise they are left to the database. ``ascii_case``: the ctype is
    ``C`` or ``POSIX``, so ``lower``, ``upper`` and ``ILIKE`` change ASCII
    letters only; otherwise they follow Unicode's simple case mapping.
    ``enums``: the type names (as in ``columns``) that are enums, so their
    columns and the labels cast to them compare as labels.
    """
    try:
        walker = _Walker(columns, name, codepoint_order, ascii_case, enums)
        rule = walker.rule(_expression(expression))
    except (_Unknown, ParseError, ValueError, KeyError, TypeError):
        return None
    return (_named(rule, name),)


def _named(rule: Rule, name: str) -> Rule:
    return dataclasses.replace(rule, name=name, description=p.sentence(rule))


__all__ = [
    "check_columns",
    "domain_check_on",
    "rounds_first",
    "rules_from_check",
    "type_family",
]
