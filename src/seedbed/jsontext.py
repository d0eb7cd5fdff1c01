"""JSON text read exactly as strictly as PostgreSQL's ``jsonb`` input.

``parse_json`` is what the ``JsonShape`` rule and the validator use to read a
JSON column: numbers become ``int`` or ``Decimal`` (never a lossy float), and
what ``jsonb`` refuses (NaN, ``\\u0000``, lone surrogates, numbers beyond
``numeric``) raises :class:`InvalidJson`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any


class InvalidJson(ValueError):
    """Text that PostgreSQL's ``jsonb`` input would refuse."""


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not valid JSON")


def _no_bad_strings(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
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


def _json_number(text: str) -> int | Decimal:
    match = _JSON_NUMBER.fullmatch(text)
    if match is None:
        raise InvalidJson(f"not a JSON number: {text[:40]}")
    whole, fraction, exponent_text = match.groups()
    exponent = int(exponent_text or 0)
    digits_before = len(whole.lstrip("0")) + exponent if whole.strip("0") else 0
    if digits_before > _NUMERIC_MAX_WEIGHT_DIGITS or len(fraction or "") - exponent > (
        _NUMERIC_MAX_SCALE
    ):
        raise InvalidJson("JSON number out of the range of PostgreSQL's numeric")
    if fraction is None and exponent_text is None and len(whole) < 4000:
        return int(text)
    return Decimal(text)


def parse_json(text: str) -> Any:
    """Parse JSON text exactly as strictly as PostgreSQL's ``jsonb`` input.

    Numbers become ``int`` or ``Decimal`` (never a lossy float); NaN and
    Infinity, ``\\u0000`` and lone surrogates are refused with :class:`InvalidJson`.
    """
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


__all__ = ["InvalidJson", "parse_json"]
