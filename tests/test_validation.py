"""Validation without a server: reading seeds, line numbers, rules, reports, schemas."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.cli import main
from seedbed.errors import SeedError
from seedbed.models import metadata
from seedbed.models.rules import checks, email, later, uuid_v4
from seedbed.validation import (
    SeedValidator,
    ValidationReport,
    coerce_frame,
    csvread,
    csvscan,
    read_seed_chunks,
    resolve_sources,
    schema_for,
    validate,
)
from seedbed.validation.formats import RawPiece
from seedbed.validation.report import DISPLAY_ROWS, REDACTED

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
INVALID = ROOT / "data" / "invalid"
SCHEMA = str(metadata.schema)

U1 = "8b4ae5f1-a941-46a0-956a-26afbccdafe5"
U2 = "62f90a94-5f56-43c6-8227-6ad5ab2da739"
U3 = "4551370e-99b2-474c-b427-fa48d732a1df"
USER_HEADER = "id,email,name,email_verified,image,created_at\n"


def table(name: str) -> sa.Table:
    return metadata.tables[f"{SCHEMA}.{name}"]


def user_row(uid: str, mail: str, name: str = "Ada", when: str = "2024-01-01T00:00:00Z") -> str:
    return f"{uid},{mail},{name},true,,{when}\n"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def rows(report: ValidationReport) -> list[tuple[int | None, str | None, str]]:
    return [(r["line"], r["column"], r["rule"]) for r in report.to_records()]


# -- the shipped seed sets -------------------------------------------------------------

INVALID_CASES = {
    "bad_boolean": ("user", 4, "email_verified", "type"),
    "bad_email_gzip": ("user", 3, "email", "ck_user_email_format"),
    "bad_email_tsv": ("user", 3, "email", "ck_user_email_format"),
    "bad_jsonl_line": ("tag", 2, None, "json_format"),
    "bad_email": ("user", 4, "email", "ck_user_email_format"),
    "bad_image_url": ("user", 4, "image", "ck_user_image_url"),
    "bad_ip_address": ("session", 2, "ip_address", "type"),
    "bad_metadata": ("post", 2, "metadata", "ck_post_metadata_shape"),
    "bad_slug": ("post", 2, "slug", "ck_post_slug_format"),
    "bad_status": ("post", 2, "status", "enum"),
    "bad_timestamp": ("user", 4, "created_at", "type"),
    "bad_uuid": ("user", 4, "id", "ck_user_id_uuid_v4"),
    "duplicate_column": ("user", 1, "email", "duplicate_column"),
    "duplicate_email": ("user", 4, "email", "uq_user_email"),
    "duplicate_email_parts": ("user", 2, "email", "uq_user_email"),
    "duplicate_live_slug": ("post", 3, "slug", "uq_post_slug_live"),
    "duplicate_token": ("session", 3, "token", "uq_session_token"),
    "empty_file": ("user", 1, None, "empty_file"),
    "expires_before_created": (
        "session",
        2,
        "expires_at",
        "ck_session_expires_at_after_created_at",
    ),
    "latin1": ("user", 4, None, "encoding"),
    "missing_column": ("user", 1, "email", "missing_column"),
    "missing_parent": ("session", 3, "user_id", "fk_session_user_id_user"),
    "null_email": ("user", 4, "email", "not_null"),
    "published_without_date": ("post", 2, "published_at", "ck_post_published_at_required"),
    "ragged_row": ("user", 4, None, "csv_format"),
    "title_too_long": ("post", 2, "title", "ck_post_title_length"),
    "unbalanced_quote": ("user", 4, None, "csv_format"),
    "unknown_column": ("user", 1, "nickname", "unknown_column"),
}


def test_the_shipped_seed_set_is_valid() -> None:
    report = validate(SEEDS)
    assert report.ok, str(report)
    assert len(report) == 0


def test_every_invalid_case_is_listed() -> None:
    folders = {p.name for p in INVALID.iterdir() if p.is_dir() and p.name != "inputs"}
    assert folders == set(INVALID_CASES)
    readme = (INVALID / "README.md").read_text()
    assert all(f"| {case} |" in readme for case in folders)


@pytest.mark.parametrize("case", sorted(INVALID_CASES))
def test_each_invalid_case_reports_exactly_its_rule(case: str) -> None:
    table_name, line, column, rule = INVALID_CASES[case]
    report = validate(INVALID / case)
    assert not report.ok
    assert [(r["table"], r["line"], r["column"], r["rule"]) for r in report.to_records()] == [
        (table_name, line, column, rule)
    ]


def test_secrets_never_appear_in_any_rendering() -> None:
    report = validate(INVALID / "duplicate_token")
    failures = report.failures
    assert failures.loc[0, "value"] == REDACTED
    for text in (str(report), report.to_json(), report._repr_html_(), repr(report)):
        assert "st_secret_1" not in text


# -- reading CSV: lines, BOM, bad bytes ------------------------------------------------


def test_lines_count_the_header_quoted_newlines_and_crlf(tmp_path: Path) -> None:
    text = (
        USER_HEADER
        + user_row(U1, "a@example.com", '"two\r\nlines"')
        + user_row(U2, "b@example.com", '"three\nlines\nhere"')
        + user_row(U3, "bad-email", "Ok")
    ).replace("Z\n", "Z\r\n")
    text = text.replace("created_at\n", "created_at\r\n")
    write(tmp_path, "user.csv", text)
    report = validate(tmp_path)
    assert rows(report) == [(7, "email", "ck_user_email_format")]
    chunk = next(read_seed_chunks(resolve_sources(tmp_path, SCHEMA)["user"]))
    assert chunk.lines.tolist() == [2, 4, 7]
    assert chunk.frame["name"].tolist() == ["two\r\nlines", "three\nlines\nhere", "Ok"]


def test_a_utf8_bom_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    write(tmp_path, "user.csv", b"\xef\xbb\xbf" + (USER_HEADER + user_row(U1, "a@b.io")).encode())
    assert validate(tmp_path).ok


def test_a_header_only_file_is_valid_and_loads_nothing(tmp_path: Path) -> None:
    write(tmp_path, "user.csv", USER_HEADER)
    assert validate(tmp_path).ok
    chunks = list(read_seed_chunks(resolve_sources(tmp_path, SCHEMA)["user"]))
    assert len(chunks) == 1 and len(chunks[0].frame) == 0


def test_unquoted_empty_is_null_and_quoted_empty_is_text(tmp_path: Path) -> None:
    write(tmp_path, "user.csv", USER_HEADER + f'{U1},a@b.io,"",true,,2024-01-01T00:00:00Z\n')
    chunk = next(read_seed_chunks(resolve_sources(tmp_path, SCHEMA)["user"]))
    assert chunk.frame.loc[0, "name"] == ""
    assert pd.isna(chunk.frame.loc[0, "image"])


def test_sql_in_names_is_just_data(tmp_path: Path) -> None:
    name = '"Robert\'); DROP TABLE ""user"";--"'
    write(tmp_path, "user.csv", USER_HEADER + user_row(U1, "bobby@example.com", name))
    assert validate(tmp_path).ok
    chunk = next(read_seed_chunks(resolve_sources(tmp_path, SCHEMA)["user"]))
    assert chunk.frame.loc[0, "name"] == 'Robert\'); DROP TABLE "user";--'


def test_a_ten_megabyte_field_is_read_and_its_value_shortened_in_reports(tmp_path: Path) -> None:
    big = "x" * (10 * 1024 * 1024)
    write(
        tmp_path,
        "user.csv",
        USER_HEADER + user_row(U1, "a@b.io", big) + user_row(U2, big + "@nowhere", "Ok"),
    )
    report = validate(tmp_path)
    assert rows(report) == [(3, "email", "ck_user_email_format")]
    value = report.failures.loc[0, "value"]
    assert len(value) < 300 and "10,485,768 characters" in value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (user_row(U1, "a@b.io").replace(",Ada,", ',A""da,'), "stray quote"),
        (user_row(U1, "a@b.io").replace(",Ada,", ',"Ada"x,'), "stray quote"),
        (user_row(U1, "a@b.io").replace("\n", "\r\n"), "line ending differs"),
        (user_row(U1, "a@b.io").replace(",Ada,", ",A\rda,"), "carriage return"),
        ("\n" + user_row(U1, "a@b.io"), "empty line"),
        (user_row(U1, "a@b.io").replace("\n", ",extra\n"), "has 7 fields"),
        ("\\.\n", "has 1 fields"),
        (user_row(U1, "a@b.io").replace("Ada", "A\x00da"), "NUL byte"),
    ],
)
def test_records_copy_would_refuse_are_reported_with_their_line(
    tmp_path: Path, body: str, message: str
) -> None:
    write(tmp_path, "user.csv", USER_HEADER + user_row(U2, "ok@b.io") + body)
    report = validate(tmp_path)
    assert [r["line"] for r in report.to_records()] == [3]
    assert message in report.failures.loc[0, "message"]


@pytest.mark.parametrize(
    ("block", "fast"),
    [
        ('"a",b\n"c","d"\n', True),
        ('"a""b",c\n"""",d\n', True),  # doubled quotes take the full stray-quote check
        ('"",b\n"a,",",c"\n', True),  # empty quoted fields; separators at a value's ends
        ('"a""",b\n', True),  # a doubled quote just before the closing one
        ('"two\nlines",x\ny,z\n', True),
        (",\n", True),  # a row of NULLs that is not an empty line
        ('"a"b",c\n', False),  # an odd number of quotes
        ('"ab"c,"d"\n', False),  # a stray quote, no two quotes adjacent
        ('",a","b"c\n', False),  # as many quotes before a separator as fields quoted
        ('"\na","b"c\n', False),  # the same with a line feed
        ('a""b,c\n', False),  # a stray quote next to another
        ('a,"b"c\n', False),  # a quote closes mid-field
        ('a,b"c"\n', False),  # quotes inside an unquoted field
        ("a,b\n\nc,d\n", False),  # an empty line
        ("a,b\nc\n", False),  # a ragged record
        ("a,b\nc,d", False),  # no final line ending
    ],
)
def test_the_fast_csv_path_takes_only_plain_blocks_and_reads_them_as_the_exact_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: str, fast: bool
) -> None:
    assert (csvread.fast_parse(block.encode(), 2, 2) is not None) == fast
    path = write(tmp_path, "t.csv", "h1,h2\n" + block)

    def read() -> list[tuple[object, ...]]:
        pieces = csvread.CsvReader(path, 100).pieces()
        return [
            (p.table.to_pydict(), p.lines.tolist(), [(r.line, r.rule) for r in p.problems])
            for p in pieces
        ]

    taken = read()
    monkeypatch.setattr(csvread, "fast_parse", lambda *args: None)
    assert taken == read()


@pytest.mark.parametrize("sep", [",", "\t"])
def test_the_quote_check_after_parsing_agrees_with_the_byte_check(sep: str) -> None:
    """Blocks of quotes, separators, line feeds and letters: wherever pyarrow reads
    a block with no invalid row, the check from its reading and the byte check agree."""
    rng = np.random.default_rng(21)
    pieces = np.array(["a", '"', sep, "\n", '""', f'"{sep}"'])
    compared = {True: 0, False: 0}
    for _ in range(3000):
        block = ("".join(rng.choice(pieces, size=int(rng.integers(1, 14)))) + "\n").encode()
        buf = np.frombuffer(block, dtype=np.uint8)
        quotes = np.flatnonzero(buf == ord('"'))
        if len(quotes) % 2:
            continue
        invalid: list[int] = []
        try:
            table = csvread._read_csv(block, ["f0", "f1"], len(block), invalid, ord(sep))
        except Exception:  # pyarrow refuses the block: the fast path falls back before the check
            continue
        if invalid:
            continue
        expected = not len(csvscan.stray_quotes(buf, quotes, ord(sep)))
        assert csvscan.plain_quotes(buf, quotes, ord(sep)) == expected, block
        assert csvread.quotes_plain(buf, len(quotes), table, ord(sep)) == expected, block
        compared[expected] += 1
    assert min(compared.values()) > 50  # both answers were compared often


def _random_records(rng: np.random.Generator, sep: str) -> str:
    """Two-field records, mostly well formed: quoted and unquoted values, doubled quotes,
    separators and line feeds inside quotes; now and then one COPY refuses."""
    plain = ["", "a", "bé", '"x"', '""', '"a""b"', f'"{sep}y"', '"\nz"', f'"{sep}"', '""""']
    odd = ['"q"r', 'a"b', "a\rb", f"a{sep}b", "a\0"]
    out = []
    for _ in range(int(rng.integers(1, 30))):
        fields = [rng.choice(odd if rng.random() < 0.04 else plain) for _ in range(2)]
        ending = "\r\n" if rng.random() < 0.03 else "\n\n" if rng.random() < 0.03 else "\n"
        out.append(sep.join(fields) + ending)
    text = "".join(out)
    return text[:-1] if rng.random() < 0.2 else text


@pytest.mark.parametrize("sep", [",", "\t"])
def test_blocks_counted_as_read_agree_with_their_bytes_and_the_exact_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sep: str
) -> None:
    """Random files read in tiny blocks counted in tinier pieces: each block's counts are
    those of its bytes, the blocks put together are the file, and the pieces read are
    those the exact scan gives (the fast path taken often)."""
    monkeypatch.setattr(csvread, "BLOCK_BYTES", 24)
    monkeypatch.setattr(csvread, "SCAN_BYTES", 5)
    fast_parse = csvread.fast_parse
    taken = {True: 0, False: 0}

    def counted(*args: Any) -> csvread.CsvPiece | None:
        found = fast_parse(*args)
        taken[found is not None] += 1
        return found

    monkeypatch.setattr(csvread, "fast_parse", counted)
    rng = np.random.default_rng(7)
    path = tmp_path / "t.csv"
    for round_ in range(60):
        text = ("\ufeff" if round_ % 5 == 0 else "") + f"h1{sep}h2\n" + _random_records(rng, sep)
        path.write_bytes(text.encode())
        reader = csvread.CsvReader(path, 1000, sep=ord(sep))
        blocks = list(reader._blocks())
        whole = text.encode().removeprefix(b"\xef\xbb\xbf")
        assert b"".join(bytes(b.data) for b in blocks) == whole
        for block in blocks:
            exact = csvscan.count_text(block.data, ord(sep))
            assert block.counts == dataclasses.replace(exact, unusual=block.counts.unusual)
            assert block.counts.unusual >= exact.unusual, text
            if not block.at_eof:
                assert block.data.endswith(b"\n") and block.counts.quotes % 2 == 0

        def read() -> list[tuple[object, ...]]:
            pieces = csvread.CsvReader(path, 1000, sep=ord(sep)).pieces()
            return [
                (p.table.to_pydict(), p.lines.tolist(), [(r.line, r.rule) for r in p.problems])
                for p in pieces
            ]

        fast = read()
        with monkeypatch.context() as exact:
            exact.setattr(csvread, "fast_parse", lambda *args: None)
            assert fast == read(), text
    assert min(taken.values()) > 50


def test_a_parsed_blocks_buffer_is_read_into_again_only_when_nothing_views_it(
    tmp_path: Path,
) -> None:
    reader = csvread.CsvReader(write(tmp_path, "t.csv", "a,b\n"), 10)
    viewed, free = bytearray(b"viewed"), bytearray(b"free")
    reader._spare.extend([viewed, free])
    view = memoryview(viewed)
    assert reader._buffer(8) is free and free == b"free\0\0\0\0"
    fresh = reader._buffer(3)
    assert fresh is not viewed and fresh == bytes(3) and view.tobytes() == b"viewed"


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"id,email\n",
        b"id,email",
        b"\xef\xbb\xbfid,email\r\nx,y\r\n",
        b'"i""d","a\nb"\nx,y\n',
        b"id\remail\rx\r",
        b"id,\xff\n",
        b'"id,email\n',
        b"," * 70_000 + b"\n",  # a header longer than the bytes read for it
        b"id," + b"e" * (csvread.HEAD_BYTES - 4) + b"\r\n",  # CR last, LF just past them
    ],
    ids=range(10),
)
def test_the_header_alone_is_read_as_the_rows_read_it(tmp_path: Path, text: bytes) -> None:
    path = write(tmp_path, "t.csv", text)
    alone = csvread.CsvReader(path, 10)
    with_rows = csvread.CsvReader(path, 10)
    list(with_rows.pieces())
    assert alone.read_header() == with_rows.header
    assert (alone.header_problem, alone.crlf_header) == (
        with_rows.header_problem,
        with_rows.crlf_header,
    )


def test_reading_a_header_imports_no_numpy(tmp_path: Path) -> None:
    path = write(tmp_path, "user.csv", USER_HEADER + user_row(U1, "a@b.io"))
    code = (
        "import sys; from pathlib import Path; from seedbed.validation.formats import open_path; "
        f"print(open_path(Path({str(path)!r})).columns()[0], 'numpy' in sys.modules)"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["id", "False"]


def test_an_unbalanced_quote_swallows_the_rest_and_is_reported_where_it_starts(
    tmp_path: Path,
) -> None:
    text = USER_HEADER + user_row(U1, "a@b.io", '"never closed') + user_row(U2, "b@b.io") * 3
    write(tmp_path, "user.csv", text)
    assert rows(validate(tmp_path)) == [(2, None, "csv_format")]


def test_latin1_rows_are_reported_and_utf8_rows_still_checked(tmp_path: Path) -> None:
    body = user_row(U1, "a@b.io", "Jos\xe9").encode("latin-1") + user_row(U2, "nope").encode()
    write(tmp_path, "user.csv", USER_HEADER.encode() + body)
    assert rows(validate(tmp_path)) == [(2, None, "encoding"), (3, "email", "ck_user_email_format")]


def test_a_header_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "user.csv", b"id,\xe9mail\n")
    assert rows(validate(tmp_path)) == [(1, None, "encoding")]


def test_header_problems_are_all_reported_and_rows_still_checked(tmp_path: Path) -> None:
    text = "id,id,nickname,name\n" + f"{U1},{U1},x,Ada\nnot-a-uuid,y,z,Bo\n"
    write(tmp_path, "user.csv", text)
    assert rows(validate(tmp_path)) == [
        (1, "email", "missing_column"),
        (1, "id", "duplicate_column"),
        (1, "nickname", "unknown_column"),
        (3, "id", "ck_user_id_uuid_v4"),
    ]


@pytest.mark.parametrize(
    ("separator", "said"),
    [
        (";", "semicolons, not commas; save it with commas"),
        ("\t", "tabs, not commas; name the file .tsv"),
    ],
)
def test_a_header_run_together_by_another_separator_says_so(
    tmp_path: Path, separator: str, said: str
) -> None:
    header = separator.join(["id", "email", "name"])
    write(tmp_path, "user.csv", f"{header}\n{U1}{separator}a@b.io{separator}Ada\n")
    report = validate(tmp_path)
    unknown = report.failures[report.failures["rule"] == "unknown_column"]
    assert list(unknown["column"]) == [header]
    assert f"the header's names are separated by {said}" in unknown["message"].iloc[0]


def test_records_that_span_read_blocks_keep_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvread, "BLOCK_BYTES", 64)
    ids = [f"{i:08x}-a941-46a0-956a-26afbccdafe5" for i in range(40)]
    lines = [user_row(uid, f"u{i}@b.io", '"a\nb"') for i, uid in enumerate(ids)]
    lines[25] = lines[25].replace("@b.io", "")
    write(tmp_path, "user.csv", USER_HEADER + "".join(lines))
    assert rows(validate(tmp_path)) == [(2 + 25 * 2, "email", "ck_user_email_format")]


def test_blocks_parsed_later_give_the_pieces_read_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvread, "BLOCK_BYTES", 64)
    ids = [f"{i:08x}-a941-46a0-956a-26afbccdafe5" for i in range(30)]
    lines = [user_row(uid, f"u{i}@b.io", '"a\nb"' if i % 3 else "Ada") for i, uid in enumerate(ids)]
    lines[9] = lines[9].replace(",Ada,", ',"Ada"x,')  # a stray quote
    lines[12] = "\n" + lines[12]  # an empty line
    lines[20] = lines[20].replace("@b.io", "")
    write(tmp_path, "user.csv", USER_HEADER + "".join(lines))
    fmt = resolve_sources(tmp_path, SCHEMA)["user"].format
    items = list(fmt.deferred_pieces(1000))
    assert any(callable(item) for item in items) and not callable(items[0])
    later = [item() if callable(item) else item for item in reversed(items)][::-1]
    eager = list(fmt.pieces(1000))

    def seen(pieces: list[RawPiece]) -> list[tuple[object, ...]]:
        return [
            (p.data.to_pydict(), p.positions.tolist(), [(r.line, r.rule) for r in p.problems])
            for p in pieces
        ]

    assert seen(later) == seen(eager)
    problems = sorted((r.line, r.rule) for p in eager for r in p.problems)
    assert problems == [(17, "csv_format"), (22, "csv_format")]
    assert rows(validate(tmp_path)) == [
        (17, None, "csv_format"),
        (22, None, "csv_format"),
        (36, "email", "ck_user_email_format"),
    ]


def test_duplicates_are_found_across_chunks(tmp_path: Path) -> None:
    ids = [f"{i:08x}-a941-46a0-956a-26afbccdafe5" for i in range(10)]
    body = "".join(user_row(uid, f"u{i}@b.io") for i, uid in enumerate(ids))
    body += user_row("ffffffff-a941-46a0-956a-26afbccdafe5", "u2@b.io")
    write(tmp_path, "user.csv", USER_HEADER + body)
    source = resolve_sources(tmp_path, SCHEMA)["user"]
    validator = SeedValidator([source.table])
    chunks = list(read_seed_chunks(source, chunk_rows=3))
    assert [len(c.frame) for c in chunks] == [3, 3, 3, 2]
    reports = [validator.check_chunk(source, c) for c in chunks] + [validator.finish()]
    report = ValidationReport.concat(reports)
    assert rows(report) == [(12, "email", "uq_user_email")]
    assert "already on an earlier line" in report.failures.loc[0, "message"]


def test_a_clean_csv_chunk_is_checked_in_arrow_without_a_pandas_frame(tmp_path: Path) -> None:
    write(tmp_path, "user.csv", USER_HEADER + user_row(U1, "a@b.io") + user_row(U2, "c@d.io"))
    source = resolve_sources(tmp_path, SCHEMA)["user"]
    validator = SeedValidator([source.table])
    (chunk,) = read_seed_chunks(source)
    report = ValidationReport.concat([validator.check_chunk(source, chunk), validator.finish()])
    assert report.ok and chunk._frame is None
    assert chunk.columns["created_at"].type == pyarrow.timestamp("us", tz="UTC")
    assert chunk.frame["created_at"].dtype == "datetime64[us, UTC]"
    assert chunk.frame["email_verified"].tolist() == [True, True]


def test_a_chunk_with_a_problem_reports_its_values_from_arrow(tmp_path: Path) -> None:
    bad = user_row(U2, "c@d.io").replace("true", "maybe")
    write(tmp_path, "user.csv", USER_HEADER + user_row(U1, "not-an-email") + bad)
    report = validate(tmp_path)
    shown = [(r["line"], r["column"], r["rule"], r["value"]) for r in report.to_records()]
    assert shown == [
        (2, "email", "ck_user_email_format", "not-an-email"),
        (3, "email_verified", "type", "maybe"),
    ]


# -- sources ---------------------------------------------------------------------------


def test_a_file_for_an_unknown_table_is_a_seed_error(tmp_path: Path) -> None:
    write(tmp_path, "users.csv", USER_HEADER)
    with pytest.raises(SeedError, match="no table named 'users'"):
        validate(tmp_path)


def test_two_seeds_for_one_table_are_a_seed_error(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "user.csv", USER_HEADER)
    b = write(tmp_path / "b", "user.csv", USER_HEADER)
    with pytest.raises(SeedError, match="second seed"):
        validate([a, b])


@pytest.mark.parametrize("name", ["missing", "empty_dir", "notes.txt"])
def test_unreadable_paths_are_seed_errors(tmp_path: Path, name: str) -> None:
    (tmp_path / "empty_dir").mkdir()
    write(tmp_path, "notes.txt", "hello")
    with pytest.raises(SeedError):
        validate(tmp_path / name)


def test_sources_come_parents_first(tmp_path: Path) -> None:
    assert list(resolve_sources(SEEDS, SCHEMA))[:2] in (["tag", "user"], ["user", "tag"])
    order = list(resolve_sources(SEEDS, SCHEMA))
    assert order.index("user") < order.index("session") < len(order)
    assert order.index("post") < order.index("post_tag")


def test_frames_are_validated_with_row_positions() -> None:
    users = pd.DataFrame(
        {
            "id": [U1, U2],
            "email": ["a@b.io", "a@b.io"],
            "email_verified": [True, False],
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
        }
    )
    sessions = pd.DataFrame(
        {
            "id": ["eb4f52e5-4417-4b61-904f-65293bd5b540"],
            "user_id": [U3],
            "token": ["t"],
            "expires_at": ["2030-01-01T00:00:00Z"],
        }
    )
    report = validate({"session": sessions, "user": users})
    assert rows(report) == [
        (0, "user_id", "fk_session_user_id_user"),
        (1, "email", "uq_user_email"),
    ]
    assert report.failures["file"].tolist() == ["<frame:session>", "<frame:user>"]
    assert report.failures.loc[1, "message"].endswith("is already on row 0")


def test_naive_datetimes_in_frames_are_a_type_error() -> None:
    users = pd.DataFrame(
        {"id": [U1], "email": ["a@b.io"], "created_at": pd.to_datetime(["2024-01-01"])}
    )
    assert rows(validate({"user": users})) == [(0, "created_at", "type")]


def test_parquet_seeds_are_read(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [U1, "bad"], "name": ["tag-a", "tag-b"]})
    frame.to_parquet(tmp_path / "tag.parquet")
    assert rows(validate(tmp_path)) == [(1, "id", "ck_tag_id_uuid_v4")]


def test_a_child_before_its_parent_is_checked_at_finish(tmp_path: Path) -> None:
    sources = resolve_sources(INVALID / "missing_parent", SCHEMA)
    validator = SeedValidator([s.table for s in sources.values()])
    reports = []
    for name in ["session", "user"]:
        for chunk in read_seed_chunks(sources[name]):
            reports.append(validator.check_chunk(sources[name], chunk))
    assert ValidationReport.concat(reports).ok
    assert rows(validator.finish()) == [(3, "user_id", "fk_session_user_id_user")]


def test_foreign_keys_hashed_with_the_row_checks_give_the_verdicts_of_hashing_later(
    tmp_path: Path,
) -> None:
    users = [str(uuid.UUID(int=i, version=4)) for i in range(1, 41)]
    write(
        tmp_path,
        "user.csv",
        USER_HEADER + "".join(user_row(u, f"u{i}@b.io") for i, u in enumerate(users)),
    )
    owners = [
        users[i % 40] if i % 7 else str(uuid.UUID(int=1000 + i, version=4)) for i in range(60)
    ]
    session = "id,user_id,token,expires_at\n" + "".join(
        f"{uuid.UUID(int=5000 + i, version=4)},{owner},t{i},2999-01-01T00:00:00Z\n"
        for i, owner in enumerate(owners)
    )
    write(tmp_path, "session.csv", session + ",,t-none,2999-01-01T00:00:00Z\n")
    sources = resolve_sources(tmp_path, SCHEMA)
    fk = "fk_session_user_id_user"
    found, looked_up = [], []
    for hash_later in (False, True):
        validator = SeedValidator([s.table for s in sources.values()])
        reports = []
        for name in ["user", "session"]:
            for chunk in read_seed_chunks(sources[name], chunk_rows=16):
                checked = validator.check_rows(sources[name], chunk)
                if name == "session" and checked is not None:
                    if hash_later:
                        checked.references.clear()  # hashed in check_across instead
                    else:
                        looked_up.append(checked.references[fk].found is not None)
                reports.append(validator.check_across(sources[name], chunk, checked))
            if not hash_later:
                validator.table_done(name)  # session's chunks look user's keys up in check_rows
        reports.append(validator.finish())
        found.append(ValidationReport.concat(reports).to_records())
    assert found[0] == found[1]
    assert [r["line"] for r in found[0] if r["rule"] == fk] == list(range(2, 60, 7))
    assert looked_up and all(looked_up)


# -- defaults left out of the file -----------------------------------------------------


def test_left_out_columns_take_their_default_in_rules(tmp_path: Path) -> None:
    header = "id,user_id,token,expires_at\n"
    write(tmp_path, "user.csv", USER_HEADER + user_row(U1, "a@b.io"))
    write(
        tmp_path,
        "session.csv",
        header
        + f"eb4f52e5-4417-4b61-904f-65293bd5b540,{U1},t1,2001-01-01T00:00:00Z\n"
        + f"d39dade1-b6d7-4d74-a32d-2cfe182341a8,{U1},t2,2999-01-01T00:00:00Z\n",
    )
    # created_at defaults to now(): an expiry in 2001 is not after it.
    assert rows(validate(tmp_path)) == [(2, "expires_at", "ck_session_expires_at_after_created_at")]


# -- the report ------------------------------------------------------------------------


def big_report(n: int) -> ValidationReport:
    return ValidationReport.from_rows(
        file="user.csv",
        table="user",
        lines=list(range(2, n + 2)),
        column="email",
        rule="ck_user_email_format",
        values=["<script>alert(1)</script>"] * n,
        message="must be an email address",
    )


def test_report_json_has_every_row_and_the_documented_fields() -> None:
    report = big_report(DISPLAY_ROWS * 3)
    records = json.loads(report.to_json())
    assert len(records) == DISPLAY_ROWS * 3
    assert set(records[0]) == {"file", "table", "line", "column", "rule", "value", "message"}
    assert records[0]["line"] == 2


def test_report_text_and_html_are_capped_and_escaped() -> None:
    report = big_report(DISPLAY_ROWS + 7)
    text = str(report)
    assert "… and 7 more" in text
    assert text.count("\n") < DISPLAY_ROWS + 10
    html = report._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr>") == DISPLAY_ROWS + 1 + 1 + 1  # header, rows, summary header+row
    assert "and 7 more rows" in html


def test_report_summary_counts_per_table_and_rule() -> None:
    report = ValidationReport.concat([big_report(3), validate(INVALID / "duplicate_token")])
    summary = report.summary()
    assert summary.to_dict("records") == [
        {"table": "user", "rule": "ck_user_email_format", "problems": 3},
        {"table": "session", "rule": "uq_session_token", "problems": 1},
    ]
    assert not report.ok and len(report) == 4


def test_an_empty_report_is_ok_everywhere() -> None:
    report = ValidationReport.concat([])
    assert report.ok and report.to_json() == "[]" and report.summary().empty
    assert "valid" in str(report) and "valid" in report._repr_html_()


# -- derived schemas -------------------------------------------------------------------


def test_schema_checks_carry_the_database_constraint_names() -> None:
    for tbl in metadata.sorted_tables:
        schema = schema_for(tbl)
        names = {c.name for c in schema.checks}
        for column in schema.columns.values():
            names |= {c.name for c in column.checks}
        constraints = {
            str(c.name)
            for c in tbl.constraints
            if isinstance(c, sa.CheckConstraint | sa.UniqueConstraint | sa.PrimaryKeyConstraint)
        }
        constraints |= {str(i.name) for i in tbl.indexes if i.unique}
        assert constraints <= names, tbl.name
        assert set(schema.columns) == set(tbl.columns.keys())
        assert schema.strict is True


def test_schema_columns_follow_nullability_and_defaults() -> None:
    schema = schema_for(table("user"))
    assert schema.columns["email"].nullable is False
    assert schema.columns["email"].required is True
    assert schema.columns["name"].required is False
    assert schema.columns["created_at"].required is False  # server default now()
    assert str(schema.columns["created_at"].dtype) == "datetime64[us, UTC]"


def test_pandera_schema_and_report_agree_on_the_invalid_cases() -> None:
    for case in ["bad_email", "duplicate_email", "bad_slug", "duplicate_live_slug", "bad_status"]:
        table_name = INVALID_CASES[case][0]
        raw = pd.read_csv(
            INVALID / case / f"{table_name}.csv", dtype=str, keep_default_na=False, na_values=[""]
        )
        with pytest.raises(pa.errors.SchemaErrors):
            schema_for(table(table_name)).validate(coerce_frame(table(table_name), raw), lazy=True)
    raw = pd.read_csv(SEEDS / "post.csv", dtype=str, keep_default_na=False, na_values=[""])
    typed = schema_for(table("post")).validate(coerce_frame(table("post"), raw), lazy=True)
    assert len(typed) == len(raw)


def test_a_new_table_module_gets_a_schema_with_no_other_code() -> None:
    extra = sa.MetaData(schema="extra")
    gadget = sa.Table(
        "gadget",
        extra,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner_email", sa.Text, nullable=False, unique=True),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True)),
        sa.Column("units", sa.SmallInteger, nullable=False, server_default="0"),
        *checks(uuid_v4("id"), email("owner_email"), later("sold_at", "made_at")),
    )
    schema = schema_for(gadget)
    assert set(schema.columns) == {"id", "owner_email", "made_at", "sold_at", "units"}
    assert {c.name for c in schema.checks} >= {"ck_gadget_sold_at_after_made_at"}
    frame = coerce_frame(
        gadget,
        pd.DataFrame(
            {
                "id": [U1],
                "owner_email": ["x@y.io"],
                "made_at": ["2024-01-02T00:00:00Z"],
                "sold_at": ["2024-01-01T00:00:00Z"],
                "units": ["40000"],
            }
        ),
    )
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    failed = set(caught.value.failure_cases["check"].astype(str))
    assert "ck_gadget_sold_at_after_made_at" in failed  # failure cases name the constraint
    assert any("int" in f.lower() for f in failed)  # 40000 does not fit a SMALLINT


# -- the CLI ---------------------------------------------------------------------------


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SEEDS)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", str(INVALID / "bad_email")]) == 1
    assert "ck_user_email_format" in capsys.readouterr().out
    assert main(["validate", str(INVALID / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_json_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(INVALID / "duplicate_token")]) == 1
    records = json.loads(capsys.readouterr().out)
    assert records == [
        {
            "file": str(INVALID / "duplicate_token" / "session.csv"),
            "table": "session",
            "line": 3,
            "column": "token",
            "rule": "uq_session_token",
            "value": REDACTED,
            "message": "duplicate: the same token is already on line 2",
        }
    ]


def test_public_api_exports_validate() -> None:
    assert seedbed.validate is validate
    assert seedbed.ValidationReport is ValidationReport
    assert {"validate", "ValidationReport"} <= set(seedbed.__all__)


def test_keys_hash_equal_values_equally() -> None:
    from seedbed.validation.keys import KeySet, key_hashes

    a = pd.DataFrame({"x": pd.Series(["a", "b", "c"], dtype="str")})
    b = pd.DataFrame({"y": pd.Series(["c", "z"], dtype="str")})
    keys = KeySet()
    keys.add(key_hashes(a, ["x"]))
    keys.add(key_hashes(a, ["x"]))
    assert len(keys) == 3
    assert keys.contains(key_hashes(b, ["y"])).tolist() == [True, False]
    assert np.all(np.diff(keys.hashes.astype(np.float64)) >= 0)


@pytest.mark.parametrize(
    ("body", "rules"),
    [
        ("name\n\n", [(1, "id", "missing_column"), (2, "name", "not_null")]),
        ('name\n""\ntag-a\n', [(1, "id", "missing_column"), (2, "name", "ck_tag_name_length")]),
        ('name\n"a\nb"\n\n', [(1, "id", "missing_column"), (4, "name", "not_null")]),
    ],
)
def test_one_column_files_read_empty_lines_as_null(
    tmp_path: Path, body: str, rules: list[tuple[int, str, str]]
) -> None:
    write(tmp_path, "tag.csv", body)
    assert rows(validate(tmp_path)) == rules


def test_validate_command_has_help_and_is_in_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["validate", "--help"])
    assert done.value.code == 0
    assert "--against-db" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["validate"])
    assert usage.value.code == 2
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`seedbed validate PATH... [--table NAME]" in readme
    assert "(docs/validating.md)" in readme
    guide = (ROOT / "docs" / "validating.md").read_text(encoding="utf-8")
    assert guide.startswith("# Validating seeds") and "`--against-db`" in guide


@pytest.mark.parametrize("seed", sorted(p.stem for p in SEEDS.glob("*.csv")))
def test_every_shipped_seed_read_by_plain_pandas_passes_its_pandera_schema(seed: str) -> None:
    frame = pd.read_csv(SEEDS / f"{seed}.csv")  # digits-only text columns arrive as int64
    seedbed.pandera_schema(seed).validate(frame, lazy=True)


def test_numbers_pandas_read_from_a_text_column_are_judged_as_their_text() -> None:
    schema = seedbed.pandera_schema("user")
    frame = pd.read_csv(SEEDS / "user.csv").head(3)
    frame["name"] = [7, 8, 9]  # text: any number is a name
    assert schema.validate(frame, lazy=True)["name"].tolist() == ["7", "8", "9"]
    frame["email"] = [1.5, 2.0, 3.0]  # text, but not an address
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert set(cases["check"]) == {"ck_user_email_format"}
    assert sorted(cases["failure_case"]) == ["1.5", "2.0", "3.0"]


def test_the_public_pandera_schema_judges_frames_read_by_plain_pandas() -> None:
    assert "pandera_schema" in seedbed.__all__
    schema = seedbed.pandera_schema("user")
    frame = pd.read_csv(SEEDS / "user.csv")
    schema.validate(frame, lazy=True)  # passes as pandas reads it
    frame.loc[3, "email"] = "not-an-email"
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        schema.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    assert [(r["column"], r["check"], r["index"]) for _, r in cases.iterrows()] == [
        ("email", "ck_user_email_format", 3)
    ]
    with pytest.raises(SeedError, match="no table named 'users'"):
        seedbed.pandera_schema("users")
