"""The columnar row engine: rules as Polars expressions give the pandas frame side's verdicts.

The engine's verdicts against PostgreSQL are proven by tests/test_parity.py
(``validate`` runs this engine) and, for the rule kinds read from a catalog,
by tests/test_checksql.py. Here: each compiled rule kind against its pandas
frame side, both row engines on the bad-seed corpus, reports that do not
depend on the number of worker threads, and the public Polars schema.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seedbed
from seedbed.errors import SeedError
from seedbed.facts import UniqueKey, declared_metadata
from seedbed.facts import declaration as d
from seedbed.validation.api import check_sources
from seedbed.validation.columnar import (
    COLUMNAR,
    all_pass,
    compiler_for,
    fixed_width_ranges,
    passes_expr,
    truth_expr,
)
from seedbed.validation.keys import KeySet, chunk_keys, polars_chunk_keys
from seedbed.validation.schemas import (
    PlainCheck,
    PlainColumn,
    PolarsChunkSchema,
    polars_chunk_schema,
)
from seedbed.validation.sources import resolve_sources

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted(p for p in (ROOT / "data" / "invalid").iterdir() if p.is_dir())
CASES = [case for case in CASES if case.name != "inputs"]  # inputs: unreadable on purpose

TEXT = ["a@b.co", "", "x", "ÄÖÜ@b.co", None, "user@example.com", "a" * 5, "ab\ncd"]
STAMPS = [datetime(2024, 1, day, tzinfo=UTC) for day in (1, 2, 3, 3, 1, 2, 5, 4)]
STAMPS[4] = None


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": pd.array(TEXT, dtype="str"),
            "u": pd.array(["published", "draft", None, *["published"] * 2, "", "y", "z"], "str"),
            "a": pd.Series(STAMPS, dtype="datetime64[us, UTC]"),
            "b": pd.Series(list(reversed(STAMPS)), dtype="datetime64[us, UTC]"),
        }
    )


def _columnar(rule: d.Rule, frame: pd.DataFrame) -> list[bool] | None:
    polars = pl.from_pandas(frame)
    expr = passes_expr(rule, dict(polars.schema))
    return None if expr is None else polars.select(expr).to_series().to_list()


RULES = [
    d.Matches("email", ("t",), "", d.EMAIL),
    d.Matches("any", ("t",), "", "a+"),
    d.UuidV4("id", ("t",), "", d.UUID_V4),
    d.Length("len", ("t",), "", 1, 3),
    d.Later("later", ("a", "b"), ""),
    d.RequiredWhen("req", ("t", "u"), "", "published"),
    d.IsNull("null", ("t",), "", d.Column("t", "text")),
    d.IsNull("not_null", ("t",), "", d.Column("t", "text"), negated=True),
]
COMBINED = [
    d.AllOf("all", ("t", "u"), "", (RULES[6], RULES[1])),
    d.AnyOf("any_of", ("t", "u"), "", (RULES[6], RULES[3])),
    d.Not("not", ("t",), "", RULES[7]),
    d.SameTruth("same", ("t",), "", (RULES[6], RULES[3])),
]


@pytest.mark.parametrize("rule", RULES + COMBINED, ids=lambda r: f"{type(r).__name__}:{r.name}")
def test_a_compiled_rule_gives_the_verdicts_of_its_pandas_frame_side(rule):
    frame = _frame()
    expected = rule.passes(frame).tolist()
    assert _columnar(rule, frame) == expected
    assert any(expected) and not all(expected)


def test_every_compiler_is_registered_by_rule_class_and_found_along_the_bases():
    assert compiler_for(d.UuidV4("id", ("t",), "", d.UUID_V4)) is COLUMNAR[d.Matches]
    compare = d.Compare("c", ("n",), "", d.Column("n", "number"), ">", d.Constant(0, "number", "0"))
    assert compiler_for(compare) is COLUMNAR[d.Compare]
    check = d.SqlCheck("c", ("n",), "", "n > 0")
    assert compiler_for(check) is None  # the database judges it


def test_a_rule_without_a_columnar_form_is_left_to_its_pandas_frame_side():
    dtypes = {"t": pl.String(), "n": pl.Int64()}
    assert passes_expr(d.JsonShape("shape", ("n",), ""), dtypes) is None  # not text
    assert passes_expr(d.Matches("lookbehind", ("t",), "", "(?<=a)b"), dtypes) is None
    assert passes_expr(d.Length("len", ("n",), "", 1, 2), dtypes) is None  # not text
    assert passes_expr(d.Matches("m", ("missing",), "", "a"), dtypes) is None
    # a combination is columnar only when every part is
    part = d.Matches("lookahead", ("t",), "", "a(?=b)")
    assert truth_expr(d.Not("not", ("t",), "", part), dtypes) is None
    # a pattern Rust's regex runs otherwise: a look-ahead, a non-ASCII letter in any case
    ahead = d.Pattern("p", ("t",), "", d.Column("t", "text"), "regex", "a(?=b)")
    assert passes_expr(ahead, dtypes) is None
    folded = d.Pattern("p", ("t",), "", d.Column("t", "text"), "regex", "é", case_insensitive=True)
    assert passes_expr(folded, dtypes) is None
    # a number compared with a time: no form (nor a CHECK PostgreSQL would take)
    odd = d.Compare("c", ("n",), "", d.Column("n", "number"), ">", d.Constant(0, "date", "0"))
    assert passes_expr(odd, dtypes) is None


def test_a_json_shape_judges_each_distinct_text_as_its_pandas_frame_side_does():
    from seedbed.models.post import POST_METADATA

    texts = [
        '{"tags": ["a"], "reading_minutes": 3}',
        None,
        '{"tags": ["a"], "reading_minutes": 3}',
        '{"other": 1}',
        "[]",
        '{"reading_minutes": -1}',
        "not json",
        '{"reading_minutes": 2.0}',
        '{"tags": [1]}',
        "{}",
    ]
    frame = pd.DataFrame({"metadata": pd.array(texts, dtype="str")})
    expected = POST_METADATA.passes(frame).tolist()
    assert _columnar(POST_METADATA, frame) == expected
    assert _columnar(POST_METADATA, frame.iloc[[1]]) == [True]  # NULL only: passes
    assert expected.count(True) == 5


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_both_row_engines_report_the_bad_seed_corpus_alike(case):
    sources = resolve_sources(case, "seedbed")
    reference = check_sources(sources, row_engine="pandas", workers=1).failures
    columnar = check_sources(sources, row_engine="polars").failures
    assert len(reference)
    pd.testing.assert_frame_equal(columnar.reset_index(drop=True), reference.reset_index(drop=True))


def test_a_null_in_a_column_checked_for_not_null_alone_is_reported_by_both_engines(tmp_path):
    lines = (ROOT / "data" / "seeds" / "user.csv").read_text().splitlines()[:6]
    lines[3] = lines[3].rsplit(",", 1)[0] + ","  # created_at: NOT NULL, and nothing else
    (tmp_path / "user.csv").write_text("\n".join(lines) + "\n")
    sources = resolve_sources(tmp_path, "seedbed")
    reference = check_sources(sources, row_engine="pandas", workers=1).failures
    columnar = check_sources(sources, row_engine="polars").failures
    assert list(zip(columnar["line"], columnar["column"], columnar["rule"], strict=True)) == [
        (4, "created_at", "not_null")
    ]
    pd.testing.assert_frame_equal(columnar.reset_index(drop=True), reference.reset_index(drop=True))


def _seed_set(folder: Path) -> Path:
    """Users in three part files (a duplicate across parts), sessions pointing at them."""
    users = folder / "user"
    users.mkdir(parents=True)
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(9)]
    for part in range(3):
        rows = [f"{ids[i]},u{i}@example.com" for i in range(part * 3, part * 3 + 3)]
        if part == 2:
            rows.append(f"{ids[0]},again@example.com")
        (users / f"part-{part}.csv").write_text("id,email\n" + "\n".join(rows) + "\n")
    sessions = ["id,user_id,token,expires_at,created_at"]
    for i, owner in enumerate([ids[1], ids[8], "ffffffff-0000-4000-8000-000000000000"]):
        sessions.append(
            f"{i:08x}-1111-4000-8000-000000000000,{owner},t{i},"
            "2030-01-01T00:00:00Z,2024-01-01T00:00:00Z"
        )
    (folder / "session.csv").write_text("\n".join(sessions) + "\n")
    return folder


def test_the_report_does_not_depend_on_the_number_of_workers(tmp_path):
    sources = resolve_sources(_seed_set(tmp_path / "set"), "seedbed")
    reports = [check_sources(sources, workers=n).failures for n in (1, 2, 4)]
    assert sorted(reports[0]["rule"]) == ["fk_session_user_id_user", "pk_user"]
    assert reports[0]["file"].str.endswith("part-2.csv").sum() == 1
    for other in reports[1:]:
        pd.testing.assert_frame_equal(other, reports[0])


def test_a_file_has_at_most_read_ahead_blocks_read_beyond_the_checks_across_chunks(
    tmp_path, monkeypatch
):
    from seedbed.validation import api, csvread

    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(2000)]
    rows = [f"{uid},u{i}@example.com" for i, uid in enumerate(ids)]
    (tmp_path / "user.csv").write_text("id,email\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(csvread, "BLOCK_BYTES", 2048)  # a chunk of about 40 rows
    read = [0]
    pieces = api.read_seed_pieces

    def counted(source):
        for piece in pieces(source):
            read[0] += 1  # the block is read (a CSV piece is parsed, typed and checked later)
            yield piece

    class Meter:
        def __init__(self):
            self.ahead: list[int] = []

        def chunk(self, seed, chunk):
            self.ahead.append(read[0])

        def source_done(self, seed):
            return None

    monkeypatch.setattr(api, "read_seed_pieces", counted)
    meter = Meter()
    report = check_sources(resolve_sources(tmp_path, "seedbed"), meter=meter, workers=2)
    assert report.checked.rows == 2000 and len(meter.ahead) > 40
    # At the n-th chunk's checks across chunks, at most READ_AHEAD more blocks are read.
    assert max(r - n for n, r in enumerate(meter.ahead, 1)) <= api.READ_AHEAD


def test_a_file_that_cannot_be_read_is_an_error_in_its_turn(tmp_path):
    folder = _seed_set(tmp_path / "set")
    (folder / "session.csv").unlink()
    (folder / "session.csv.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip after all")
    with pytest.raises(SeedError, match=r"session.csv.gz: cannot read"):
        seedbed.validate(folder)


def test_a_key_set_of_sorted_runs_remembers_every_key_it_was_given():
    keys = KeySet()
    for start in range(0, 1000, 100):
        keys.add(pd.util.hash_array(pd.array(range(start, start + 100)).to_numpy()))
    assert len(keys) == 1000 and len(keys.runs) <= 10
    assert keys.contains(pd.util.hash_array(pd.array([5, 999, 1000]).to_numpy())).tolist() == [
        True,
        True,
        False,
    ]


def test_a_key_set_answers_as_a_set_of_the_same_hashes_while_its_bitmap_grows():
    rng = np.random.default_rng(7)
    keys, seen = KeySet(), set()
    for size in (1, 50, 3000, 20000, 40000):
        batch = rng.integers(0, 2**64 - 1, size, dtype=np.uint64)
        batch[: size // 3] = rng.choice(np.array(sorted(seen) or [0], dtype=np.uint64), size // 3)
        assert keys.contains(batch).tolist() == [int(h) in seen for h in batch]
        keys.add(batch)
        seen.update(int(h) for h in batch)
    assert len(keys) == len(seen)
    misses = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64)
    assert keys.contains(misses).tolist() == [int(h) in seen for h in misses]


def test_a_compacted_key_set_answers_as_before_and_takes_new_keys_again():
    rng = np.random.default_rng(11)
    keys, seen = KeySet(), set()
    for size in (3000, 1000, 500, 200):
        batch = rng.integers(0, 2**64 - 1, size, dtype=np.uint64)
        keys.add(batch)
        seen.update(int(h) for h in batch)
    assert len(keys.runs) > 1
    asked = np.concatenate(
        [
            rng.choice(np.array(sorted(seen), dtype=np.uint64), 2000),
            rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64),
        ]
    )
    expected = [int(h) in seen for h in asked]
    keys.compact()
    assert len(keys.runs) == 1 and len(keys) == len(seen)
    assert keys.contains(asked).tolist() == expected
    assert keys.contains(asked, likely=True).tolist() == expected
    later = rng.integers(0, 2**64 - 1, 700, dtype=np.uint64)
    keys.add(later)
    seen.update(int(h) for h in later)
    assert keys.contains(np.concatenate([asked, later])).tolist() == [
        *expected[:2000],
        *(int(h) in seen for h in asked[2000:]),
        *([True] * len(later)),
    ]


def test_a_key_set_sized_in_advance_answers_as_one_that_grew_and_is_no_larger():
    rng = np.random.default_rng(13)
    batches = [rng.integers(0, 2**64 - 1, 4000, dtype=np.uint64) for _ in range(10)]
    grown, sized = KeySet(), KeySet()
    sized.expect(40000)
    for batch in batches:
        assert sized.contains(batch).tolist() == grown.contains(batch).tolist()
        grown.add(batch)
        sized.add(batch)
    asked = np.concatenate([batches[3], rng.integers(0, 2**64 - 1, 4000, dtype=np.uint64)])
    assert sized.contains(asked).tolist() == grown.contains(asked).tolist()
    assert sized._bitmap.nbytes == grown._bitmap.nbytes


def test_adding_the_unseen_keys_answers_what_was_seen_and_remembers_the_rest():
    rng = np.random.default_rng(17)
    keys, seen = KeySet(), set()
    for size in (500, 3000, 20000, 40000):
        batch = rng.integers(0, 2**64 - 1, size, dtype=np.uint64)
        batch[: size // 4] = rng.choice(np.array(sorted(seen) or [0], dtype=np.uint64), size // 4)
        batch[size // 4 : size // 3] = batch[size // 3 : size // 3 + (size // 3 - size // 4)]
        ordered = np.sort(batch)
        starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
        assert keys.add_unseen(ordered, starts).tolist() == [int(h) in seen for h in ordered]
        seen.update(int(h) for h in batch)
        assert len(keys) == len(seen)
    keys.compact()
    later = np.sort(rng.integers(0, 2**64 - 1, 900, dtype=np.uint64))
    assert not keys.add_unseen(later, np.ones(900, dtype=bool)).any()
    assert keys.contains(later).all() and len(keys) == len(seen) + 900


def test_a_files_key_sets_are_sized_from_its_size_and_never_past_one_row_in_16_bytes(tmp_path):
    from seedbed.validation.validator import _expected_rows

    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(400)]
    (tmp_path / "user.csv").write_text(
        "id,email\n" + "".join(f"{u},u{i}@example.com\n" for i, u in enumerate(ids))
    )
    (source,) = resolve_sources(tmp_path / "user.csv", "seedbed").values()
    assert 360 <= _expected_rows(source) <= 440
    # a sample of short lines only: one row in 2 bytes, were it not for the bound
    (tmp_path / "user.csv").write_text("id\n" + "1\n" * 530_000 + ("x" * 1000 + "\n") * 10)
    (source,) = resolve_sources(tmp_path / "user.csv", "seedbed").values()
    assert _expected_rows(source) <= (tmp_path / "user.csv").stat().st_size // 16


def _user_chunk_schema() -> PolarsChunkSchema:
    tables = {t.name: t for t in declared_metadata().sorted_tables}
    return polars_chunk_schema(tables["user"])


USER_ROW = {
    "id": "c5e633de-70a1-4a46-ad3b-b627a9162141",
    "email": "a@example.com",
    "email_verified": True,
    "image": "https://example.com/a.png",
}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (None, None),
        ("id", "not-a-uuid"),
        ("id", None),
        ("email", "nope"),
        ("email_verified", None),
        ("image", "ftp:/x"),
        ("image", None),
    ],
)
def test_the_row_engines_happy_path_passes_a_frame_exactly_when_pandera_does(column, value):
    chunk = _user_chunk_schema()
    rows = [dict(USER_ROW) for _ in range(3)]
    if column is not None:
        rows[1][column] = value
    frame = pl.DataFrame(
        rows,
        schema={
            "id": pl.String,
            "email": pl.String,
            "email_verified": pl.Boolean,
            "image": pl.String,
        },
    )
    try:
        chunk.schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors:
        valid = False
    else:
        valid = True
    assert chunk.clean(frame) is valid
    assert chunk.clean(frame.drop("image")) is (valid or column == "image")


UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _one_off_uuids() -> list[str]:
    """A version 4 UUID with each position changed to each character that might pass."""
    out = []
    for at in range(len(UUID)):
        for char in "0123456789abcdefgAF-4_ä\n":
            out.append(UUID[:at] + char + UUID[at + 1 :])
    return [*out, UUID[:-1], UUID + "0", "", UUID.upper(), f" {UUID[1:]}"]


def test_a_uuid_column_passes_by_its_bytes_only_when_every_value_matches_the_pattern():
    rule = d.UuidV4("id_uuid_v4", ("id",), "a UUID", pattern=d.UUID_V4)
    expr = passes_expr(rule, {"id": pl.String()})
    assert expr is not None
    for value in _one_off_uuids():
        values = pa.array([UUID, value, UUID])
        matches = pl.DataFrame({"id": pl.from_arrow(values)}).select(expr.all()).item()
        assert all_pass(rule, values) is matches, value
        assert all_pass(rule, pa.array([UUID, value], pa.large_string())) is matches, value
    assert all_pass(rule, pa.array([UUID, UUID, "x"]).slice(0, 2))
    assert all_pass(rule, pa.array(["x", UUID, UUID]).slice(1))
    many = [UUID] * 9000
    assert all_pass(rule, pa.array(many))
    assert not all_pass(rule, pa.array([*many, UUID.replace("a", "A")]))  # the last row counts
    assert not all_pass(rule, pa.array([UUID, None]))  # NULL passes, but only the query says so
    assert not all_pass(d.Matches("digits", ("id",), "digits", pattern="[0-9]+"), pa.array(["1"]))


FIXED_PATTERNS = [
    "[A-Z]{2}[0-9]{6}",
    "[a-c-e]x{3}",
    "[-a]{2}",
    "v[0-9]",
    "[0-9a-fA-F]{4}",
    "ab",
    "[a-z]{0}q",
]
NOT_FIXED = ["[0-9]+", "a|b", "[^a]", r"\d{3}", "[[:alpha:]]", "[a-z&&b]", "(ab)", "a."]
NOT_FIXED += ["ä", "[a-z]{1,2}", "[]a]"]


def _near(example: str, rng: random.Random, alphabet: str) -> str:
    """``example`` with one or two characters changed, or one added or taken away."""
    chars = list(example)
    for _ in range(rng.choice((1, 2))):
        chars[rng.randrange(len(chars))] = rng.choice(alphabet)
    text = "".join(chars)
    return rng.choice((text, text, text, text + rng.choice(alphabet), text[1:]))


def test_any_fixed_width_pattern_passes_by_its_bytes_exactly_when_the_regex_matches():
    rng = random.Random(7)
    alphabet = "aAbcdefqvxzZ0159-_ä. \n"
    for pattern in FIXED_PATTERNS:
        rule = d.Matches("code", ("code",), "a code", pattern=pattern)
        layout = fixed_width_ranges(pattern)
        assert layout is not None, pattern
        example = "".join(chr(byte) for byte in layout[0][0])  # each position's first byte
        assert re.fullmatch(pattern, example), pattern
        for value in [_near(example, rng, alphabet) for _ in range(3000)]:
            matches = bool(re.fullmatch(pattern, value))
            assert all_pass(rule, pa.array([example, value])) is matches, (pattern, value)
        assert all_pass(rule, pa.array([example] * 9000)), pattern  # more rows than one pass
        assert not all_pass(rule, pa.array([example] * 9000 + [example + "x"])), pattern
    for pattern in NOT_FIXED:
        assert fixed_width_ranges(pattern) is None, pattern
        rule = d.Matches("code", ("code",), "a code", pattern=pattern)
        assert not all_pass(rule, pa.array(["a"]))


@pytest.mark.parametrize("minimum", [0, 1, 2, 3])
def test_a_length_passes_by_its_byte_counts_only_when_every_value_has_that_many_characters(
    minimum,
):
    rule = d.Length("size", ("t",), "a size", minimum=minimum, maximum=4)
    expr = passes_expr(rule, {"t": pl.String()})
    assert expr is not None
    texts = ["", "a", "ab", "abc", "abcd", "abcde", "ä", "äb", "äöü", "äöüß", "€", "😀", "😀😀"]
    for text in texts:
        values = pa.array(["ab", text])
        passes = pl.DataFrame({"t": pl.from_arrow(values)}).select(expr.all()).item()
        assert not all_pass(rule, values) or passes, text  # a shortcut never passes a failure
    assert all_pass(rule, pa.array(["abc", "äb"])) is (minimum <= 1)  # the plain case
    assert not all_pass(rule, pa.array(["abc", None]))  # NULL passes, but only the query says so


def test_the_happy_path_leaves_what_it_does_not_read_to_pandera():
    def schema(*fields: PlainColumn) -> PolarsChunkSchema:
        return PolarsChunkSchema("t", fields, (), False, (), ())

    def column(name: str, *checks: PlainCheck, dtype=None, required=False) -> PlainColumn:
        return PlainColumn(name, dtype, checks, True, required, None)

    frame = pl.DataFrame({"x": [1, 2]})
    assert not schema(column("x", dtype=pl.String())).clean(frame)  # only validate reads it
    raising = PlainCheck(lambda data: 1 / 0, "raises", None)
    assert not schema(column("x", raising)).clean(frame)
    assert not schema(column("y", required=True)).clean(frame)
    passing = PlainCheck(lambda data: data.lazyframe.select(pl.col("x") > 0), "positive", None)
    plain = schema(column("x", passing))
    failing = pl.DataFrame({"x": [1, -2]})
    assert plain.clean(frame) and not plain.clean(failing)
    plain.schema.validate(frame, lazy=True)  # Pandera, from the same functions, agrees
    with pytest.raises(pandera.errors.SchemaErrors):
        plain.schema.validate(failing, lazy=True)


def test_keys_hashed_from_the_polars_frame_are_the_keys_hashed_from_pandas():
    frame = pd.DataFrame(
        {
            "a": pd.array(["x", "y", "x", None, "y", "z"], dtype="str"),
            "b": pd.array(["1", "1", "1", "1", None, "2"], dtype="str"),
            "gone": pd.array([None, None, "t", None, None, None], dtype="str"),
            "n": pd.array([1, 2, 1, 2, 1, 2], dtype="Int64"),
        }
    )
    keys = [
        UniqueKey("uq_a", ("a",)),
        UniqueKey("uq_ab", ("a", "b")),
        UniqueKey("uq_a_live", ("a",), where_null=("gone",)),
        UniqueKey("uq_n", ("n",)),
    ]
    hashed = polars_chunk_keys(pl.from_pandas(frame), keys)
    assert sorted(hashed) == ["uq_a", "uq_a_live", "uq_ab", "uq_n"]  # integers as str() writes
    for key in keys:
        expected, found = chunk_keys(frame, key), hashed[key.name]
        assert found.rows.tolist() == expected.rows.tolist()
        assert found.hashes.tolist() == expected.hashes.tolist()
        assert found.earlier.tolist() == expected.earlier.tolist()
    assert hashed["uq_a"].passes().tolist() == [True, True, False, True, False, True]


def test_the_polars_schema_flags_what_the_pandas_schema_flags():
    frame = pd.DataFrame(
        {
            "id": ["c5e633de-70a1-4a46-ad3b-b627a9162141", "not-a-uuid", None],
            "email": ["a@example.com", "a@example.com", "nope"],
            "email_verified": [True, False, True],
        }
    )
    with pytest.raises(pandera.errors.SchemaErrors) as pandas_caught:
        seedbed.pandera_schema("user").validate(frame, lazy=True)
    with pytest.raises(pandera.errors.SchemaErrors) as polars_caught:
        seedbed.pandera_schema("user", backend="polars").validate(pl.from_pandas(frame), lazy=True)

    def failed(cases) -> set[tuple[str, int]]:
        rows = cases.to_dicts() if isinstance(cases, pl.DataFrame) else cases.to_dict("records")
        return {(str(r["check"]), int(r["index"])) for r in rows if pd.notna(r["index"])}

    expected = {
        ("not_nullable", 2),
        ("ck_user_id_uuid_v4", 1),
        ("ck_user_email_format", 2),
        ("uq_user_email", 1),
    }
    assert failed(polars_caught.value.failure_cases) == expected
    assert expected <= failed(pandas_caught.value.failure_cases)


def test_an_unknown_schema_backend_is_refused():
    with pytest.raises(SeedError, match="backend must be"):
        seedbed.pandera_schema("user", backend="spark")


@given(st.lists(st.sampled_from([b"a", b",", b'"', b"\n", b"\r", b"\r\n"]), min_size=1))
@settings(max_examples=300, deadline=None)
def test_the_header_record_is_found_where_the_full_scan_finds_it(parts):
    from seedbed.validation.csvread import first_record
    from seedbed.validation.csvscan import find_records

    buf = np.frombuffer(b"".join(parts), dtype=np.uint8)
    records = find_records(buf, 1, True)
    expected = (int(records.starts[0]), int(records.stops[0]), bool(records.crlf[0]))
    assert first_record(buf) == expected
