"""Every seed format validates and loads, and names file and position in its errors."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import DataError, LoadError, SeedError
from seedbed.validation.formats import claim, file_formats
from seedbed.validation.formats.base import REGISTERED
from seedbed.validation.formats.frame import FrameInput
from tests.helpers import counts, run_cli_here, snapshot

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
INVALID = ROOT / "data" / "invalid"
TABLES = ["user", "session", "post"]


def execute(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.format(schema=schema_of(engine)))


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_delimited(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=sep, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_tsv(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    return write_delimited(folder / f"{name}.tsv", header, rows, "\t")


def write_gzip(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    plain = write_delimited(folder / f"{name}.plain", header, rows)
    path = folder / f"{name}.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return path


def _json_value(column: str, text: str) -> object:
    if text == "":
        return None
    if column == "metadata":
        return json.loads(text)  # a JSON column as a nested object
    if text in ("true", "false"):
        return text == "true"
    return text


def write_jsonl(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    path = folder / f"{name}.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({c: _json_value(c, v) for c, v in zip(header, row, strict=True)}) for row in rows
    ]
    lines.insert(1, "")  # a blank line counts as a line, and holds no row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_parquet(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    path = folder / f"{name}.parquet"
    frame.to_parquet(path)
    return path


def write_parts(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    half = len(rows) // 2
    write_delimited(folder / name / "part-0000.csv", header, rows[:half])
    write_delimited(folder / name / "part-0001.csv", header, rows[half:])
    (folder / name / "_SUCCESS").write_text("")
    return folder / name


Writer = Callable[[Path, str, list[str], list[list[str]]], Path]

#: writer, and where the 3rd data row of the file (or of the second part) is reported
FORMATS: dict[str, tuple[Writer, str]] = {
    "tsv": (write_tsv, "user.tsv:4"),
    "csv.gz": (write_gzip, "user.csv.gz:4"),
    "jsonl": (write_jsonl, "user.jsonl:4"),  # no header; line 2 is blank
    "parquet": (write_parquet, "user.parquet:2"),
    "parts": (write_parts, "part-0001.csv:4"),
}


def seed_set(folder: Path, writer: Writer) -> Path:
    for name in TABLES:
        header, rows = read_rows(SEEDS / f"{name}.csv")
        writer(folder, name, header, rows)
    return folder


def bad_users(folder: Path, writer: Writer) -> Path:
    """The seed users with the third row of the file (or of the second part) broken."""
    header, rows = read_rows(SEEDS / "user.csv")
    third = 2 if writer is not write_parts else len(rows) // 2 + 2
    rows[third][header.index("email")] = "not-an-email"
    return writer(folder, "user", header, rows)


def where(report: seedbed.ValidationReport) -> list[str]:
    return [f"{Path(r['file']).name}:{r['line']}" for r in report.to_records()]


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_validates_and_loads_the_seed_set(
    kind: str, engine: Engine, tmp_path: Path
) -> None:
    folder = seed_set(tmp_path / kind, FORMATS[kind][0])
    assert seedbed.validate(folder).ok
    result = seedbed.load(folder, engine=engine, progress=False)
    loaded = counts(engine)
    for name in TABLES:
        assert loaded[name] == len(read_rows(SEEDS / f"{name}.csv")[1]), (kind, name)
    assert {t.table: t.inserted for t in result.tables}["user"] == loaded["user"]


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_reports_file_and_position(kind: str, engine: Engine, tmp_path: Path) -> None:
    writer, expected = FORMATS[kind]
    path = bad_users(tmp_path, writer)
    report = seedbed.validate([path])
    assert [(r["column"], r["rule"]) for r in report.to_records()] == [
        ("email", "ck_user_email_format")
    ]
    assert where(report) == [expected]
    before = snapshot(engine)
    with pytest.raises(DataError):
        seedbed.load([path], engine=engine, progress=False)
    assert snapshot(engine) == before


def test_a_row_only_the_database_refuses_is_named_by_part_file_and_line(
    engine: Engine, tmp_path: Path
) -> None:
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = read_rows(SEEDS / "user.csv")
    rows[len(rows) // 2 + 1][header.index("name")] = "Mallory"
    folder = write_parts(tmp_path, "user", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(folder, engine=engine, progress=False)
    error = caught.value
    assert error.file is not None and error.file.endswith("user/part-0001.csv")
    assert (error.line, error.constraint) == (3, "ck_no_mallory")


def test_a_row_only_the_database_refuses_in_jsonl_is_named_by_line(
    engine: Engine, tmp_path: Path
) -> None:
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    header, rows = read_rows(SEEDS / "user.csv")
    rows[3][header.index("name")] = "Mallory"
    path = write_jsonl(tmp_path, "user", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load([path], engine=engine, progress=False)
    assert caught.value.line == 5  # rows on line 1, then 3, 4, 5 (line 2 is blank)
    assert "line 5" in str(caught.value)


def test_table_binds_a_file_of_another_name(engine: Engine, tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    people = write_delimited(tmp_path / "people.csv", header, rows)
    with pytest.raises(SeedError, match="no table named 'people'"):
        seedbed.validate(people)
    assert seedbed.validate({"user": people}).ok
    assert seedbed.validate({"user": str(people)}).ok
    seedbed.load({"user": people}, engine=engine, progress=False)
    assert counts(engine)["user"] == len(rows)


def test_cli_table_binds_for_validate_and_load(
    engine: Engine, tmp_path: Path, db_env: dict[str, str], settings: seedbed.Settings
) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    people = write_delimited(tmp_path / "people.csv", header, rows)
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    done = run_cli_here("validate", str(people), env=env)
    assert done.returncode == 2 and "no table named 'people'" in done.stderr
    done = run_cli_here("validate", str(people), "--table", "user", env=env)
    assert done.returncode == 0, done.stderr
    done = run_cli_here("validate", str(people), "--table", "users", env=env)
    assert done.returncode == 2 and "no table named 'users'" in done.stderr
    done = run_cli_here("validate", str(people), str(people), "--table", "user", env=env)
    assert done.returncode == 2 and "exactly one PATH" in done.stderr
    done = run_cli_here("load", str(people), "--table", "user", "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    assert counts(engine)["user"] == len(rows)


def test_names_that_match_no_table_are_errors(tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    write_delimited(tmp_path / "a" / "users.tsv", header, rows, "\t")
    with pytest.raises(SeedError, match="no table named 'users'"):
        seedbed.validate(tmp_path / "a")
    write_parts(tmp_path / "b", "people", header, rows)
    with pytest.raises(SeedError, match="no table named 'people'"):
        seedbed.validate(tmp_path / "b")
    with pytest.raises(SeedError, match="no table named 'people'"):
        seedbed.validate({"people": tmp_path / "a" / "users.tsv"})


def test_mixed_frames_and_paths(engine: Engine, tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    session = SEEDS / "session.csv"
    with pytest.raises(SeedError, match="no table name"):
        seedbed.validate([frame, session])  # type: ignore[list-item]
    with pytest.raises(SeedError, match="no table name"):
        seedbed.load([session, frame], engine=engine)  # type: ignore[list-item]
    assert seedbed.validate({"user": frame, "session": session}).ok
    seedbed.load({"user": frame, "session": session}, engine=engine, progress=False)
    assert counts(engine)["session"] == len(read_rows(session)[1])


def test_a_frame_of_sparse_columns_validates_and_loads_as_their_values(engine: Engine) -> None:
    header, rows = read_rows(SEEDS / "tag.csv")
    dense = pd.DataFrame(rows, columns=header)
    sparse = dense.astype({name: pd.SparseDtype(object, None) for name in header})
    assert seedbed.validate({"tag": sparse}).ok
    broken = sparse.copy()
    broken.isetitem(1, pd.arrays.SparseArray([None, *dense.iloc[1:, 1]]))
    assert [
        (r["line"], r["column"], r["rule"]) for r in seedbed.validate({"tag": broken}).to_records()
    ] == [(0, "name", "not_null")]
    seedbed.load({"tag": sparse}, engine=engine, progress=False)
    assert counts(engine)["tag"] == len(rows)


def test_part_folders_report_positions_per_part_and_keys_across_parts(tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    rows[-1][header.index("email")] = rows[0][header.index("email")]
    folder = write_parts(tmp_path, "user", header, rows)
    report = seedbed.validate(folder)
    assert [(r["rule"], where_one(r)) for r in report.to_records()] == [
        ("uq_user_email", f"part-0001.csv:{len(rows) - len(rows) // 2 + 1}")
    ]


def where_one(record: dict[str, object]) -> str:
    return f"{Path(str(record['file'])).name}:{record['line']}"


def test_a_format_is_one_registered_module() -> None:
    kinds = file_formats()
    assert set(REGISTERED) == set(kinds)
    suffixes = [s for kind in kinds for s in kind.suffixes]
    assert len(suffixes) == len(set(suffixes))
    assert {".csv", ".tsv", ".csv.gz", ".jsonl", ".ndjson", ".parquet"} <= set(suffixes)
    assert claim(Path("user.CSV.GZ")) is not None
    assert claim(Path("user.csv.gz")) is not claim(Path("user.csv"))
    assert claim(Path("notes.txt")) is None


def test_broken_jsonl_lines_are_reported_with_their_line(tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "tag.csv")
    path = write_jsonl(tmp_path, "tag", header, rows[:3])
    text = path.read_text().splitlines()
    text[2] = '{"id": "x", "name": '  # line 3: cut off
    text.append('["not", "an", "object"]')  # line 5
    text.append("[" * 100_000)  # line 6: deeper than any parser goes
    path.write_text("\n".join(text) + "\n")
    report = seedbed.validate([path])
    assert [(r["line"], r["rule"]) for r in report.to_records()] == [
        (3, "json_format"),
        (5, "json_format"),
        (6, "json_format"),
    ]


def test_the_shipped_broken_format_examples(tmp_path: Path) -> None:
    for case, expected in {
        "bad_email_tsv": ("user.tsv", 3, "ck_user_email_format"),
        "bad_email_gzip": ("user.csv.gz", 3, "ck_user_email_format"),
        "bad_jsonl_line": ("tag.jsonl", 2, "json_format"),
        "duplicate_email_parts": ("part-0001.csv", 2, "uq_user_email"),
    }.items():
        report = seedbed.validate(INVALID / case)
        found = [(Path(r["file"]).name, r["line"], r["rule"]) for r in report.to_records()]
        assert found == [expected], case


def test_a_key_only_the_database_sees_is_found_in_its_part_file(
    engine: Engine, tmp_path: Path
) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    seedbed.load({"user": write_delimited(tmp_path / "first.csv", header, rows[:1])}, engine=engine)
    execute(engine, 'CREATE UNIQUE INDEX uq_user_name_extra ON "{schema}"."user" (name)')
    rest = rows[1:]
    rest[len(rest) // 2 + 1][header.index("name")] = rows[0][header.index("name")]
    folder = write_parts(tmp_path / "upsert", "user", header, rest)
    with pytest.raises(LoadError) as caught:
        seedbed.load(folder, engine=engine, mode="upsert", progress=False)
    error = caught.value
    assert error.file is not None and error.file.endswith("user/part-0001.csv")
    assert (error.line, error.constraint) == (3, "uq_user_name_extra")


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet", "csv.gz"])
def test_each_file_format_says_how_many_bytes_a_position_spans(kind: str, tmp_path: Path) -> None:
    header, rows = read_rows(SEEDS / "user.csv")
    writer = FORMATS[kind][0] if kind in FORMATS else _write_csv
    path = writer(tmp_path, "user", header, rows)
    kind_of = claim(path)
    assert kind_of is not None
    seed = kind_of(path)
    assert seed.size_in_bytes() == path.stat().st_size
    per = seed.bytes_per_position()
    if kind == "csv.gz":
        assert per is None  # compressed bytes do not map to lines cheaply
        return
    assert per is not None
    # a header line (csv, tsv) or a blank line (jsonl) counts as a position; Parquet rows do not
    positions = len(rows) + (1 if seed.unit == "line" else 0)
    assert per * positions == pytest.approx(seed.size_in_bytes())


def test_a_frame_counts_its_memory_per_row() -> None:
    frame = pd.read_csv(SEEDS / "user.csv", dtype=str)
    seed = FrameInput(frame, "user")
    assert seed.size_in_bytes() == int(frame.memory_usage(index=False).sum()) > 0
    assert seed.bytes_per_position() == pytest.approx(seed.size_in_bytes() / len(frame))


def _write_csv(folder: Path, name: str, header: list[str], rows: list[list[str]]) -> Path:
    return write_delimited(folder / f"{name}.csv", header, rows)
