"""The Polars typing of ``coerce_column`` against its pyarrow reference, value for value.

Each kind with a Polars form (``POLARS_KINDS``, of which ``COLUMNAR_KINDS`` are
switched on) reads the same cells as the reference
(``columnar=False``) on every corpus: the invalid seed files, the parity
values, and the forms PostgreSQL itself exports.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seedbed.facts import ColumnSpec, declared_metadata, table_spec
from seedbed.facts import spec as kinds
from seedbed.facts.keys import UniqueKey
from seedbed.validation import coerce
from seedbed.validation.coerce import COLUMNAR_KINDS, POLARS_KINDS, coerce_column
from seedbed.validation.keys import chunk_keys

ROOT = Path(__file__).resolve().parents[1]

STAMPS = [
    "2024-01-01 00:00:00+00",
    "2024-01-01 00:00:00+05:30",
    "2024-01-01 00:00:00-0800",
    "2024-01-01T00:00:00Z",
    "2024-01-01 00:00:00.5+00",
    "2024-01-01 00:00:00.123456+00",
    "2024-01-01 00:00:00.1234567Z",
    "2024-01-01 00:00:00",
    "2024-01-01 12:30",
    "2024-01-01",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "2024-04-31 00:00:00Z",
    "2024-04-30 00:00:00Z",
    "2024-12-31 23:59:59Z",
    "2024-02-30 00:00:00Z",
    "2024-13-01 00:00:00Z",
    "2024-00-10 00:00:00Z",
    "2024-01-00 00:00:00Z",
    "2024-01-32 00:00:00Z",
    "2024-01-01 24:00:00Z",
    "2024-01-01 23:59:60Z",
    "2024-01-01 00:00:00+16:00",
    "2024-01-01 00:00:00+15:59",
    "2024-01-01t00:00:00z",
    "0000-01-01 00:00:00Z",
    "0001-01-01 00:00:00+01",
    "0001-01-01 00:00:00-01",
    "9999-12-31 23:59:59-05:00",
    "9999-12-31 23:59:59.999999+00",
    "infinity",
    "-infinity",
    "now",
    "03/09/2024",
    "2024-01-01 00:00:00 UTC",
    "\uff12\uff10\uff12\uff14-01-01 00:00:00Z",  # full-width digits
    "2024-01-01 00:00:00Z\n",
    " 2024-01-01 00:00:00Z",
    "2024-1-1 00:00:00Z",
    "",
    "é",
]
NUMBERS = [
    "0",
    "-0",
    "+7",
    "42",
    "007",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "2147483647",
    "2147483648",
    "-2147483649",
    "32767",
    "32768",
    "99999999999999999999",
    "1e3",
    "1.5",
    ".5",
    "5.",
    "-1.5E-10",
    "1e1000",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "+Infinity",
    "inf",
    "1_000",
    "0x10",
    " 1",
    "1 ",
    "١٢",
    "",
    "-",
]
OTHER = [
    "t",
    "f",
    "true",
    "false",
    "TRUE",
    "tru",
    "fals",
    "truee",
    "falsE",
    "t ",
    " f",
    "yes",
    "1",
    "d0d4808f-f4e5-4b75-8b20-10d8edefc2f2",
    "D0D4808F-F4E5-4B75-8B20-10D8EDEFC2F2",
    "d0d4808ff4e54b758b2010d8edefc2f2",
    "{d0d4808f-f4e5-4b75-8b20-10d8edefc2f2}",
    "d0d4808f-f4e5-4b75-8b20-10d8edefc2f2\n",
    "10.0.0.1",
    "10.0.0.1/8",
    "010.0.0.1",
    "256.0.0.1",
    "10.1",
    "::1",
    "fe80::1/64",
    "::ffff:10.0.0.1",
    "fe80::1%eth0",
    "x\x00y",
    "\x00",
    "a,b",
    "two\nlines",
    "中文",
    "a" * 300,
]


def _corpus_cells() -> list[str]:
    """Every cell of the invalid seed files (CSV and TSV), as text."""
    cells: list[str] = []
    for path in sorted((ROOT / "data" / "invalid").rglob("*")):
        if path.suffix not in (".csv", ".tsv") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        delimiter = "\t" if path.suffix == ".tsv" else ","
        try:
            for row in csv.reader(text.splitlines(), delimiter=delimiter):
                cells.extend(row)
        except csv.Error:  # a file broken on purpose: its lines as cells
            cells.extend(text.splitlines())
    return cells


def _columns() -> dict[str, ColumnSpec]:
    """One column of the model per kind, plus the kinds it lacks made from a text column."""
    found: dict[str, ColumnSpec] = {}
    for table in declared_metadata().sorted_tables:
        for column in table_spec(table).columns.values():
            key = column.kind
            if column.kind == kinds.INTEGER:
                key = f"integer {column.int_range}"
            elif column.kind == kinds.TEXT and column.max_length is not None:
                key = "text with a length"
            found.setdefault(key, column)
    text = found[kinds.TEXT]
    for kind in POLARS_KINDS:
        if kind not in {c.kind for c in found.values()}:
            found[kind] = replace(text, kind=kind)
    found["smallint"] = replace(text, kind=kinds.INTEGER, int_range=(-(2**15), 2**15 - 1))
    return found


VALUES = [*STAMPS, *NUMBERS, *OTHER, *_corpus_cells()]
COLUMNS = _columns()


@pytest.mark.parametrize("key", sorted(COLUMNS))
def test_columnar_typing_reads_every_cell_as_the_reference(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coerce, "COLUMNAR_KINDS", POLARS_KINDS)
    column = COLUMNS[key]
    series = pd.Series([*VALUES, None], dtype="str")
    fast = coerce_column(column, series)
    reference = coerce_column(column, series, columnar=False)
    assert np.array_equal(fast.bad, reference.bad)
    pd.testing.assert_series_equal(fast.values, reference.values)
    assert (fast.rule, fast.message) == (reference.rule, reference.message)
    sliced = series.iloc[5:]  # an Arrow array that starts inside its buffers
    _assert_same(coerce_column(column, sliced), coerce_column(column, sliced, columnar=False))


def _assert_same(fast: coerce.Coerced, reference: coerce.Coerced) -> None:
    assert np.array_equal(fast.bad, reference.bad)
    pd.testing.assert_series_equal(fast.values, reference.values)
    assert (fast.rule, fast.message) == (reference.rule, reference.message)


def _stamps(count: int, seed: int) -> list[str]:
    """Timestamps of many layouts, with fields in and out of range."""
    pick = random.Random(seed)
    found = []
    for _ in range(count):
        year = pick.choice([1, 2, 1969, 1970, 2000, 2024, 2100, 9999, pick.randint(0, 9999)])
        month, day = (
            pick.randint(0, 13),
            pick.choice([0, 1, 28, 29, 30, 31, 32, pick.randint(1, 9)]),
        )
        hour, minute, second = pick.randint(0, 24), pick.randint(0, 60), pick.randint(0, 60)
        digits = pick.randint(1, 7)
        fraction = pick.choice(["", "." + str(pick.randint(0, 10**digits - 1)).zfill(digits)])
        offset = pick.choice(
            ["Z", "+00", "-00", "+05:30", "-0800", "+15:59", "-16", "z", "", "+05:60"]
        )
        separator = pick.choice("T ")
        found.append(
            f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
            f"{fraction}{offset}"
        )
    return found


def _layouts() -> list[list[str]]:
    """The corpus and generated timestamps grouped by layout (digits in the same places)."""
    groups: dict[str, list[str]] = {}
    for value in [*VALUES, *_stamps(400, 1)]:
        groups.setdefault(re.sub("[0-9]", "0", value), []).append(value)
    return list(groups.values())


@pytest.mark.parametrize("kind", [kinds.TIMESTAMPTZ, kinds.TIMESTAMP])
def test_timestamps_of_each_layout_are_read_from_their_bytes_as_the_reference(kind: str) -> None:
    """A column of one layout goes the byte path (its first value sets the layout)."""
    column = COLUMNS[kind]
    for group in _layouts():
        series = pd.Series([None, *group, None, *reversed(group)], dtype="str")
        _assert_same(coerce_column(column, series), coerce_column(column, series, columnar=False))


@pytest.mark.parametrize("kind", [kinds.TIMESTAMPTZ, kinds.TIMESTAMP])
def test_a_column_of_one_layout_is_read_without_the_reference(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pick = random.Random(2)
    stamps = [
        f"{pick.choice([1, 1900, 2000, 2024, 2100, 9999]):04d}-{pick.randint(1, 12):02d}-"
        f"{pick.choice([1, 28, 29, 30, 31]):02d} {pick.randint(0, 23):02d}:"
        f"{pick.randint(0, 59):02d}:{pick.randint(0, 59):02d}.{pick.randint(0, 999999):06d}Z"
        for _ in range(300)
    ]
    series = pd.Series([*stamps[:100], None, *stamps[100:]], dtype="str")
    reference = coerce_column(COLUMNS[kind], series, columnar=False)
    read = []
    monkeypatch.setattr(coerce, "_stamp_micros", lambda arr, **_: read.append(arr))
    fast = coerce_column(COLUMNS[kind], series)
    assert read == []
    _assert_same(fast, reference)
    assert reference.bad.any() and not reference.bad.all()  # 29th-31st of short months


def test_a_postgresql_export_is_read_in_a_few_layouts_from_its_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL leaves out a fraction's trailing zeros: each length is a layout."""
    pick = random.Random(4)
    stamps = []
    for digits in [6] * 60 + [5] * 20 + [4] * 5 + [0] * 5 + [3, 2]:
        fraction = f".{pick.randint(1, 9) * 10 ** (digits - 1):0{digits}d}" if digits else ""
        stamps.append(
            f"2024-{pick.randint(1, 12):02d}-{pick.randint(1, 28):02d} 10:00:00{fraction}+00"
        )
    common = stamps[:-2]
    pick.shuffle(common)
    series = pd.Series([None, *common, *stamps[-2:]], dtype="str")  # the rarest last
    column = COLUMNS[kinds.TIMESTAMPTZ]
    reference = coerce_column(column, series, columnar=False)
    read: list[int] = []
    original = coerce._stamp_micros
    monkeypatch.setattr(
        coerce, "_stamp_micros", lambda arr, **kw: read.append(len(arr)) or original(arr, **kw)
    )
    _assert_same(coerce_column(column, series), reference)
    assert not reference.bad[1:].any()
    assert read == [2]  # four layouts from the bytes, the two rarest by the reference


def test_uuids_are_read_from_their_bytes_as_the_reference() -> None:
    pick = random.Random(3)
    uuids = [
        "-".join(f"{pick.getrandbits(4 * n):0{n}x}" for n in (8, 4, 4, 4, 12)) for _ in range(60)
    ]
    spoilt = []
    for position in range(36):  # each place: a wrong byte, and a hex digit or a dash swapped in
        for char in ("g", "-", "A", "é", "\x00"):
            spoilt.append(uuids[position][:position] + char + uuids[position][position + 1 :])
    hex_for_dash = uuids[0][:8] + "a" + uuids[0][9:]
    dash_for_hex = uuids[1][:9] + "-" + uuids[1][10:]
    both = [hex_for_dash, dash_for_hex, uuids[2].upper(), uuids[3][:35]]  # counts that even out
    column = COLUMNS[kinds.UUID]
    for values in (
        [*uuids, None, *spoilt, *both],
        both,
        uuids,
        [hex_for_dash, uuids[4][:-1] + "z"],
    ):
        series = pd.Series(values, dtype="str")
        fast = coerce_column(column, series)
        _assert_same(fast, coerce_column(column, series, columnar=False))
    assert fast.bad.tolist() == [True, True]


@pytest.mark.parametrize("values", [[], [None], [None, None], [""], ["", None], ["x"]])
def test_empty_and_null_columns_are_read_as_the_reference(values: list[str | None]) -> None:
    for column in COLUMNS.values():
        series = pd.Series(values, dtype="str")
        _assert_same(coerce_column(column, series), coerce_column(column, series, columnar=False))


def test_text_without_nul_characters_is_read_as_the_reference() -> None:
    series = pd.Series([v for v in VALUES if "\x00" not in v] + [None], dtype="str")
    fast = coerce_column(COLUMNS[kinds.TEXT], series)
    _assert_same(fast, coerce_column(COLUMNS[kinds.TEXT], series, columnar=False))
    assert not fast.bad.any()


def test_the_corpora_hold_readable_and_unreadable_values_of_each_kind() -> None:
    series = pd.Series(VALUES, dtype="str")
    for kind in POLARS_KINDS - {kinds.TEXT}:
        column = COLUMNS[kind]
        bad = coerce_column(column, series).bad
        assert bad.any() and not bad.all(), kind


def test_timestamps_keep_offsets_and_fractions_as_instants() -> None:
    series = pd.Series(
        ["2024-01-01 05:30:00.25+05:30", "2024-01-01 00:00:00.25Z", "2024-02-30 00:00:00Z"],
        dtype="str",
    )
    typed = coerce_column(COLUMNS[kinds.TIMESTAMPTZ], series)
    assert typed.values[0] == typed.values[1]
    assert typed.bad.tolist() == [False, False, True]


def test_duplicate_keys_point_at_the_first_row_with_their_value() -> None:
    values = [str(i % 7) for i in range(300)]
    values[10] = None  # not held by the key
    frame = pd.DataFrame({"k": pd.Series(values, dtype="str")})
    keys = chunk_keys(frame, UniqueKey("uq_k", ("k",)))
    held = [i for i, v in enumerate(values) if v is not None]
    first = {}
    for position, row in enumerate(held):
        first.setdefault(values[row], position)
    expected = [-1 if first[values[row]] == p else first[values[row]] for p, row in enumerate(held)]
    assert keys.earlier.tolist() == expected
    assert keys.passes().tolist() == [v is None or i < 7 for i, v in enumerate(values)]


def test_the_kinds_switched_on_have_a_polars_form() -> None:
    assert COLUMNAR_KINDS <= POLARS_KINDS
