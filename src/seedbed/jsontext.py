"""JSON text read exactly as strictly as PostgreSQL's ``jsonb`` input.

``parse_json`` is what the ``JsonShape`` rule and the validator use to read a
JSON column: numbers become ``int`` or ``Decimal`` (never a lossy float), and
what ``jsonb`` refuses (NaN, ``\\u0000``, lone surrogates, numbers beyond
``numeric``) raises :class:`InvalidJson`.

``object_cells`` reads one line of a JSON Lines file: the members of its one
object, each value as the text a CSV cell would hold, taken from the line as
written (numbers, nested objects and arrays are never re-printed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any


class InvalidJson(ValueError):
    """Text that PostgreSQL's ``jsonb`` input would refuse."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not valid JSON")


# What ``jsonb`` refuses inside a string: NUL, and a surrogate without its pair
# (Python keeps a lone surrogate escape, such as \ud800, as that one character).
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def _no_bad_strings(value: Any) -> None:
    if isinstance(value, str):
        if _BAD_CHAR.search(value) is not None:
            raise InvalidJson("JSON strings may not contain \\u0000 or lone surrogates")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_bad_strings(key)
            _no_bad_strings(item)
    elif isinstance(value, list):
        for item in value:
            _no_bad_strings(item)


_JSON_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")
# PostgreSQL's numeric (which jsonb numbers are): at most 131072 digits before the
# decimal point and 16383 after it; beyond that, "value overflows numeric format".
_NUMERIC_MAX_WEIGHT_DIGITS = 131072
_NUMERIC_MAX_SCALE = 16383
# numeric's input refuses an exponent beyond PG_INT32_MAX / 2 as invalid syntax.
_NUMERIC_MAX_EXPONENT = 1073741823


def _json_number(text: str) -> int | Decimal:
    match = _JSON_NUMBER.fullmatch(text)
    if match is None:
        raise InvalidJson(f"not a JSON number: {text[:40]}")
    whole, fraction, exponent_text = match.groups()
    exponent = int(exponent_text or 0)
    if abs(exponent) > _NUMERIC_MAX_EXPONENT:
        raise InvalidJson("JSON number with an exponent beyond PostgreSQL's numeric")
    digits = (whole + (fraction or "")).lstrip("0")  # the significant digits
    digits_before = len(digits) - len(fraction or "") + exponent if digits else 0
    if digits_before > _NUMERIC_MAX_WEIGHT_DIGITS or len(fraction or "") - exponent > (
        _NUMERIC_MAX_SCALE
    ):
        raise InvalidJson("JSON number out of the range of PostgreSQL's numeric")
    if fraction is None and exponent_text is None and len(whole) < 4000:
        return int(text)
    return Decimal(text)


def _exact(text: str) -> Any:
    try:
        value = json.loads(
            text, parse_float=_json_number, parse_int=_json_number, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise InvalidJson("JSON nested too deeply") from None
    _no_bad_strings(value)
    return value


# Below this length no integer in the text reaches the 4000 digits from which
# ``_json_number`` gives a Decimal, and no number without an exponent can
# leave numeric's range: ``int`` reads the integers exactly as it would.
_PLAIN_LENGTH = 4000


def _plain_float(text: str) -> int | Decimal:
    if "e" in text or "E" in text:
        return _json_number(text)  # an exponent can leave numeric's range
    return Decimal(text)


# The plain case's decoder: integers through int itself, no hook call per integer.
_PLAIN = json.JSONDecoder(parse_float=_plain_float, parse_constant=_reject_constant)
# Its C scanner: what ``decode`` calls, without the Python frames around it.
_PLAIN_SCAN: Callable[[str, int], tuple[Any, int]] = _PLAIN.scan_once  # type: ignore[attr-defined]


_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(line: str, at: int) -> int:
    """Where the JSON whitespace from ``at`` ends."""
    match = _SPACE.match(line, at)
    return at if match is None else match.end()


def _plain(text: str) -> bool:
    """True when no string of ``text`` can hold what ``jsonb`` refuses, and its
    numbers read as ``int`` are exact: no ``\\u`` escape (the only way to
    write NUL or a surrogate as an escape), no raw surrogate, no byte order mark
    (``json.loads`` refuses it), short enough (see ``_PLAIN_LENGTH``)."""
    if len(text) >= _PLAIN_LENGTH or "\\u" in text:
        return False
    return text.isascii() or (_BAD_CHAR.search(text) is None and not text.startswith("\ufeff"))


def parse_json(text: str) -> Any:
    """Parse JSON text exactly as strictly as PostgreSQL's ``jsonb`` input.

    Numbers become ``int`` or ``Decimal`` (never a lossy float); NaN and
    Infinity, ``\\u0000`` and lone surrogates are refused with :class:`InvalidJson`.
    The plain case (see ``_plain``) is decoded without walking the strings;
    anything else, and every text the plain decoder refuses, goes the exact way.
    """
    if _plain(text):
        # json.JSONDecoder.decode, step by step: space, one value, space, the end.
        at = _skip(text, 0) if text[:1] in " \t\n\r" else 0
        try:
            value, end = _PLAIN_SCAN(text, at)
        except (StopIteration, ValueError, RecursionError):  # the exact way says why
            return _exact(text)
        if end == len(text) or _skip(text, end) == len(text):
            return value
    return _exact(text)


def refused(texts: Iterable[str]) -> list[bool]:
    """For each of ``texts``, whether PostgreSQL's ``jsonb`` input refuses it."""
    verdicts = []
    for text in texts:
        try:
            parse_json(text)
        except InvalidJson:
            verdicts.append(True)
        else:
            verdicts.append(False)
    return verdicts


def _not_json(name: str) -> Any:
    raise ValueError(f"holds {name}, which is not JSON")


class _Literal(str):
    """A JSON number: the text exactly as written."""


class _Pairs(list[tuple[str, Any]]):
    """A JSON object: its members in order, a key given twice kept twice."""


# Numbers stay the text they were written as; objects stay lists of pairs.
_DECODER = json.JSONDecoder(
    parse_float=_Literal, parse_int=_Literal, parse_constant=_not_json, object_pairs_hook=_Pairs
)
# The C scanner behind ``raw_decode``: one value from a position, and where it ends.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")  # only a lone surrogate fails to encode
    except UnicodeEncodeError:
        raise InvalidJson(f"has a {what} with a lone surrogate escape (such as \\ud800)") from None
    return value


def _cell(value: Any, raw: str) -> str | None:
    """The CSV cell for a member's decoded ``value``, whose JSON text is ``raw``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, str):
        return _text(value, "string")
    return raw  # an object or array: its text as written


def _add(cells: dict[str, str | None], key: str, cell: str | None) -> None:
    if _text(key, "key") in cells:
        raise InvalidJson(f"names the key {json.dumps(key)} twice in one object")
    cells[key] = cell


def _flat(line: str) -> dict[str, str | None]:
    """The members of a line without nested values: decoded in one call."""
    value = _DECODER.decode(line)
    if not isinstance(value, _Pairs):
        raise InvalidJson("must hold one JSON object")
    cells: dict[str, str | None] = {}
    for key, item in value:
        _add(cells, key, _cell(item, ""))
    return cells


def _expected(line: str, at: int, what: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(f"Expecting {what}", line, at)


def _walked(line: str) -> dict[str, str | None]:
    """The members of a line that may hold objects or arrays, each value sliced as written."""
    at = _skip(line, 0)
    if not line.startswith("{", at):
        _DECODER.decode(line)  # says why, when the line is not JSON at all
        raise InvalidJson("must hold one JSON object")
    cells: dict[str, str | None] = {}
    at = _skip(line, at + 1)
    closed = line.startswith("}", at)
    while not closed:
        if not line.startswith('"', at):
            raise _expected(line, at, "property name enclosed in double quotes")
        key, at = _SCAN(line, at)
        at = _skip(line, at)
        if not line.startswith(":", at):
            raise _expected(line, at, "':' delimiter")
        at = _skip(line, at + 1)
        try:
            value, end = _SCAN(line, at)
        except StopIteration:
            raise _expected(line, at, "value") from None
        _add(cells, key, _cell(value, line[at:end]))
        at = _skip(line, end)
        closed = line.startswith("}", at)
        if not closed and not line.startswith(",", at):
            raise _expected(line, at, "',' delimiter")
        at = _skip(line, at + 1) if not closed else at
    at = _skip(line, at + 1)
    if at != len(line):
        raise json.JSONDecodeError("Extra data", line, at)
    return cells


def object_cells(line: str) -> dict[str, str | None]:
    """The members of the one JSON object on ``line``, each value as a CSV cell's text.

    A string gives its text; ``null`` gives None; ``true``, ``false``, numbers,
    objects and arrays give their JSON text exactly as written (``1.10`` stays
    ``1.10``, ``-0`` stays ``-0``), so a JSON column's value reaches PostgreSQL
    as the same text a CSV cell would hold, and ``jsonb`` judges it the same
    way (a key given twice inside a nested object included). Raises
    :class:`InvalidJson` for a line that is not one JSON object, for NaN and
    Infinity (not JSON), for a key the object gives twice, and for a lone
    surrogate escape in a key or string value.
    """
    try:
        if "[" in line or line.count("{") > 1:  # maybe nested values (or brackets in text)
            return _walked(line)
        return _flat(line)
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise InvalidJson("is nested too deeply") from None
    except ValueError as exc:  # NaN and Infinity, from parse_constant
        raise InvalidJson(str(exc)) from None


__all__ = ["InvalidJson", "object_cells", "parse_json", "refused"]


def json_text(value: Any) -> str:
    """A Python value as JSON text, as an Arrow list, struct or map reads in Python
    (``to_pylist``): decimals as the numbers they are (``1.50``, not a float's
    ``1.5000000000000002``), dates and times as ISO 8601 strings, bytes as PostgreSQL's hex
    text; a float's NaN or infinity as Python writes it, which ``jsonb`` refuses.

    >>> json_text({"a": [Decimal("1.50"), None, True], "b": "é"})
    '{"a": [1.50, null, true], "b": "é"}'
    """
    if value is None or isinstance(value, bool | int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)  # NaN and Infinity are no JSON: jsonb says so
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {json_text(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_text(v) for v in value) + "]"
    if isinstance(value, bytes):
        return json.dumps("\\x" + value.hex())
    if hasattr(value, "isoformat"):  # date, time, datetime
        return json.dumps(value.isoformat())
    if hasattr(value, "tolist"):  # NumPy's arrays and numbers
        return json_text(value.tolist())
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def _missing(value: Any) -> bool:
    """None, a float's NaN, pandas' NaT and NA: what a DataFrame holds for NULL."""
    if value is None or type(value).__name__ in ("NaTType", "NAType"):
        return True
    return isinstance(value, float) and value != value


def json_cell(value: Any) -> Any:
    """A DataFrame's cell in a ``json`` or ``jsonb`` column as its JSON text: text as it is
    (JSON text already), a missing value as it is, anything else (dicts, lists, numbers,
    NumPy arrays) as :func:`json_text` writes it; a value JSON has no form for (a set, an
    object) as it is, for validation to refuse."""
    if isinstance(value, str) or _missing(value):
        return value
    try:
        return json_text(value)
    except (TypeError, RecursionError):
        return value
