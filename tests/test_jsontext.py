"""``parse_json``'s plain-case decoder against the strict reader it replaces, text by text."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from seedbed.jsontext import InvalidJson, parse_json, refused
from seedbed.models.rules import JsonKey, JsonShape


class _Refused(Exception):
    pass


def _reference_number(text: str) -> int | Decimal:
    match = re.fullmatch(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?", text)
    assert match is not None
    whole, fraction, exponent_text = match.groups()
    exponent = int(exponent_text or 0)
    digits = (whole + (fraction or "")).lstrip("0")
    digits_before = len(digits) - len(fraction or "") + exponent if digits else 0
    if abs(exponent) > 1073741823:  # PostgreSQL's numeric input: invalid syntax
        raise _Refused
    if digits_before > 131072 or len(fraction or "") - exponent > 16383:
        raise _Refused
    if fraction is None and exponent_text is None and len(whole) < 4000:
        return int(text)
    return Decimal(text)


def _reference_strings(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise _Refused
    elif isinstance(value, dict):
        for key, item in value.items():
            _reference_strings(key)
            _reference_strings(item)
    elif isinstance(value, list):
        for item in value:
            _reference_strings(item)


def _constant(name: str) -> Any:
    raise _Refused


def reference(text: str) -> Any:
    """The strict reader, one hook call per number and a walk over every string."""
    try:
        value = json.loads(
            text, parse_float=_reference_number, parse_int=_reference_number,
            parse_constant=_constant,
        )  # fmt: skip
    except (json.JSONDecodeError, RecursionError):
        raise _Refused from None
    _reference_strings(value)
    return value


def _typed(value: Any) -> Any:
    """``value`` with every number's type and exact digits spelled out."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def assert_same_verdict(text: str) -> None:
    try:
        expected = _typed(reference(text))
    except _Refused:
        with pytest.raises(InvalidJson):
            parse_json(text)
        assert refused([text]) == [True]
        return
    assert _typed(parse_json(text)) == expected
    assert refused([text]) == [False]


TRICKY = [
    '{"tags": ["index"], "reading_minutes": 25}',
    ' {"a": 1} ',
    "\t[]\n",
    "{} x",
    "",
    " ",
    "true",
    "null",
    '"x"',
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "'a'",
    '{"a":}',
    '{"a": 1,}',
    '{"a": 1, "a": 2}',
    '{"a": {"b": 1, "b": [2]}}',
    "[1, 2.5, -0, -0.0, 0.10, 1e5, 1E-5, 1.5e+3]",
    "1e131071",
    "1e131072",
    "1e131073",
    "1e-16383",
    "1e-16384",
    "0.1e-16382",
    "0.1e-16383",
    "1e400",
    "-1e-400",
    "0e999999",
    "1" * 3999,
    "-" + "1" * 3998,
    "1" * 4000,
    "1" * 5000,
    "[" + "1" * 3998 + "]",
    "0." + "1" * 3990,
    "NaN",
    "Infinity",
    "-Infinity",
    "[NaN]",
    '{"a": -Infinity}',
    '"\\u0000"',
    '"a\\u0000b"',
    '{"\\u0000": 1}',
    '"\\ud800"',
    '"\\udfff"',
    '{"\\udc00": 1}',
    '"\\ud83d\\ude00"',
    '"\\ud83d"',
    '"\\ud83d x"',
    '"\\\\u0000"',
    '"\\\\ud800"',
    '"\\u00e9"',
    '"\\n\\t\\"\\\\\\/"',
    '"a\x00b"',
    "\x00",
    '"\ud800"',
    '{"a": "\udfff"}',
    "\ufeff{}",
    '"\ufeff"',
    '"é"',
    '{"日本": ["語", 1]}',
    '"\U0001f600"',
    '"\n"',
    "[" * 200 + "]" * 200,
    "[" * 1999 + "]" * 1999,
    '{"a":' * 1500 + "1" + "}" * 1500,
    "[" * 100000 + "]" * 100000,
]


@pytest.mark.parametrize("text", TRICKY)
def test_parse_json_gives_the_strict_readers_verdict_and_values(text: str) -> None:
    assert_same_verdict(text)


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str).map(Decimal)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


def _dumped(value: Any, ascii_only: bool) -> str:
    """``value`` as JSON text, a Decimal written as the number it spells."""
    if isinstance(value, dict):
        members = (f"{_dumped(k, ascii_only)}: {_dumped(v, ascii_only)}" for k, v in value.items())
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dumped(item, ascii_only) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=ascii_only)


@settings(max_examples=300, deadline=None)
@given(
    value=_JSON_VALUES,
    ascii_only=st.booleans(),
    cut=st.integers(min_value=0, max_value=40),
    noise=st.sampled_from(["", "\\u0000", "\\ud800", "NaN", "1e999999", ",", "\x00", "\\"]),
)
def test_parse_json_agrees_with_the_strict_reader_on_generated_texts(
    value: Any, ascii_only: bool, cut: int, noise: str
) -> None:
    text = _dumped(value, ascii_only)
    assert_same_verdict(text)
    assert_same_verdict(text[:cut] + noise + text[cut:])


def test_a_json_shape_gives_each_repeated_text_the_verdict_it_gives_it_alone() -> None:
    shape = JsonShape(
        "metadata_shape",
        ("metadata",),
        "must be a metadata object",
        {
            "tags": JsonKey("string_list", "tags"),
            "reading_minutes": JsonKey("non_negative_integer", "minutes"),
        },
    )
    texts = [
        '{"tags": ["a"], "reading_minutes": 3}',
        '{"tags": ["a"], "reading_minutes": -3}',
        '{"reading_minutes": 3.0}',
        '{"reading_minutes": 3.5}',
        '{"reading_minutes": 1e400}',
        '{"tags": [1]}',
        '{"other": 1}',
        "not json",
        '{"tags": ["\\u0000"]}',
        None,
        {"tags": ["a"]},
        {"tags": "a"},
    ]
    cells = texts * 3
    alone = [
        bool(shape.passes(pd.DataFrame({"metadata": pd.Series([cell], dtype=object)})).iloc[0])
        for cell in cells
    ]
    together = shape.passes(pd.DataFrame({"metadata": pd.Series(cells, dtype=object)}))
    assert together.tolist() == alone
    assert alone[:12] == [True, False, True, False, True, False, False, False, False, True,
                          True, False]  # fmt: skip


def test_refused_marks_each_text_jsonb_refuses_repeated_or_not() -> None:
    texts = ['{"a": 1}', "NaN", '{"a": 1}', '"\\u0000"', "[]", "NaN"]
    assert refused(texts) == [False, True, False, True, False, True]
    assert np.array(refused([])).shape == (0,)


def test_a_json_shape_passes_missing_values_of_a_string_column_as_null() -> None:
    shape = JsonShape("metadata_shape", ("metadata",), "must be an object", {})
    column = pd.Series(["{}", None, "[1]"], dtype=pd.StringDtype("python"))  # NA is pd.NA
    assert column.isna().tolist() == [False, True, False]
    verdicts = shape.passes(pd.DataFrame({"metadata": column}))
    assert verdicts.tolist() == [True, True, False]


EXPONENTS = [
    "1e1000", "1e131071", "1e131072", "1e-16383", "1e-16384", "0e500000", "0.0e1073741823",
    "0.0e1073741824", "0e-1073741824", "0.0e999999005593890102", "5e-99999900555",
    "[0.0005e99999900559]", '{"a": 0e2147483648}', "-0e-9999999999999999999999",
    "0.5e131072", "0.5e131073", "0.5e200000", "0.0005e131075", "120.5e131069", "120.5e131070",
]  # fmt: skip


@pytest.mark.parametrize("text", EXPONENTS)
def test_numbers_with_large_exponents_get_postgresql_s_verdict(engine, text: str) -> None:
    with engine.connect() as conn:
        valid = conn.execute(
            sa.text("SELECT pg_input_is_valid(:t, 'jsonb')"), {"t": text}
        ).scalar_one()
    assert (not refused([text])[0]) is valid
    if valid:
        parse_json(text)
    else:
        with pytest.raises(InvalidJson):
            parse_json(text)
