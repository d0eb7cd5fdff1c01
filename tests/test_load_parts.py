"""Part folders whose part files do not share one header, loaded end to end.

Validation reads each part with its own header (the folder's columns are the
union of the parts'), and COPY reads each part with its own header too.
These tests load such folders (columns in another order, a column that one
part leaves out, JSON Lines and Parquet parts with other fields, empty
parts) with both strategies and in every mode, through ``seedbed.load`` and
the CLI, and read the table back row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import DataError, LoadError, SeedError
from tests.helpers import counts, run_cli_here, snapshot
from tests.load_helpers import execute, write_csv

Row = dict[str, Any]
Part = tuple[tuple[str, ...], list[Row]]

COLUMNS = ("id", "email", "name", "email_verified", "image", "created_at")
#: stands for the load's ``now()``: the server default of ``created_at``
NOW = "<now()>"
#: what the database gives a ``user`` column that a part leaves out
DEFAULTS: dict[str, object] = {
    "name": None,
    "image": None,
    "email_verified": False,
    "created_at": NOW,
}
FORMATS = [".csv", ".jsonl", ".parquet"]


def user(number: int, **changes: object) -> Row:
    """User ``number`` with every column, values unlike the defaults (but users 4, 8 unverified)."""
    row: Row = {
        "id": str(uuid.UUID(int=number, version=4)),
        "email": f"user{number}@example.com",
        "name": f"User {number}",
        "email_verified": number % 4 != 0,
        "image": f"https://img.example.com/u/{number}.png",
        "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number),
    }
    return row | changes


def users(*numbers: int) -> list[Row]:
    return [user(n) for n in numbers]


def as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def write_part(path: Path, header: tuple[str, ...], rows: list[Row]) -> Path:
    """A part file in the format its name ends with: ``header``'s columns of ``rows``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        write_csv(path, list(header), [[as_text(r[c]) for c in header] for r in rows])
    elif path.suffix == ".jsonl":  # no objects: a zero-byte file
        objects = [
            {c: r[c] if c == "email_verified" else as_text(r[c]) for c in header} for r in rows
        ]
        path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    else:
        types = {"email_verified": pa.bool_(), "created_at": pa.timestamp("us", tz="UTC")}
        schema = pa.schema([(c, types.get(c, pa.string())) for c in header])
        data = [{c: r[c] for c in header} for r in rows]
        pq.write_table(pa.Table.from_pylist(data, schema=schema), path)
    return path


def write_folder(root: Path, suffix: str, parts: list[Part]) -> Path:
    """``root/user/part-0000<suffix>``, … one part file per entry of ``parts``."""
    folder = root / "user"
    for index, (header, rows) in enumerate(parts):
        write_part(folder / f"part-{index:04d}{suffix}", header, rows)
    return folder


def expected(
    parts: list[Part], before: Mapping[str, Row] | None = None, mode: str = "insert"
) -> dict[str, Row]:
    """Each user row after loading ``parts`` in ``mode`` into a table holding ``before``.

    A new row gets the default of every column its part leaves out; an upsert
    changes only the columns the row's part gives; skip-existing changes nothing.
    """
    rows = {key: dict(row) for key, row in (before or {}).items()}
    for header, given in parts:
        for row in given:
            new = {c: row[c] for c in header}
            if row["id"] not in rows:
                rows[row["id"]] = {c: new.get(c, DEFAULTS.get(c)) for c in COLUMNS}
            elif mode == "upsert":
                rows[row["id"]].update(new)
    return rows


def table_rows(engine: Engine) -> dict[str, Row]:
    schema = schema_of(engine)
    columns = ", ".join(f'"{c}"' for c in (*COLUMNS, "updated_at"))
    with engine.connect() as conn:
        found = conn.execute(sa.text(f'SELECT {columns} FROM "{schema}"."user"')).mappings()
        return {row["id"]: dict(row) for row in found}


def database_now(engine: Engine) -> dt.datetime:
    with engine.connect() as conn:
        now: dt.datetime = conn.execute(sa.text("SELECT now()")).scalar_one()
    return now


def assert_rows(engine: Engine, wanted: Mapping[str, Row], started: dt.datetime) -> None:
    """The table holds exactly ``wanted``; ``NOW`` is one time, after ``started``."""
    found = table_rows(engine)
    assert sorted(found) == sorted(wanted)
    stamps = set()
    for key, row in wanted.items():
        got = dict(found[key])
        updated_at = got.pop("updated_at")
        if row["created_at"] == NOW:
            assert got["created_at"] > started and got["created_at"] == updated_at, got
            stamps.add(got["created_at"])
            got["created_at"] = NOW
        assert got == row
    assert len(stamps) <= 1  # the default of one transaction


@pytest.fixture
def cli_env(db_env: dict[str, str], settings: Any) -> dict[str, str]:
    return dict(db_env, SEEDBED_SCHEMA=settings.schema)


def loaded(engine: Engine, parts: list[Part], started: dt.datetime) -> None:
    """The table holds exactly what inserting ``parts`` gives."""
    assert_rows(engine, expected(parts), started)


#: column orders, left-out columns and an empty part (header only; a zero-byte JSONL;
#: a Parquet file without rows)
MIXED: list[Part] = [
    (COLUMNS, users(1, 2, 3)),
    (("image", "email", "id"), users(4, 5)),  # name, email_verified, created_at left out
    (("email", "id", "name"), []),
    (("created_at", "email_verified", "id", "email"), users(6, 7, 8)),  # no name, no image
]


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_parts_with_other_columns_load_every_value_and_defaults_where_left_out(
    engine: Engine, tmp_path: Path, suffix: str, strategy: str
) -> None:
    folder = write_folder(tmp_path, suffix, MIXED)
    started = database_now(engine)
    result = seedbed.load(folder, engine=engine, strategy=strategy, progress=False)
    assert result.committed
    assert [(t.table, t.strategy) for t in result.tables] == [("user", strategy)]
    assert (result.inserted, result.updated, result.skipped) == (
        {"user": 8},
        {"user": 0},
        {"user": 0},
    )
    loaded(engine, MIXED, started)


@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
def test_cli_loads_parts_with_other_columns(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path, strategy: str
) -> None:
    folder = write_folder(tmp_path, ".csv", MIXED)
    started = database_now(engine)
    done = run_cli_here("load", str(folder), "--strategy", strategy, env=cli_env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["user"])
    assert line.split()[1:5] == [strategy, "8", "0", "0"]
    loaded(engine, MIXED, started)


@pytest.mark.parametrize("mode", ["upsert", "skip-existing"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_modes_into_an_empty_table_give_defaults_where_a_part_leaves_a_column_out(
    engine: Engine, tmp_path: Path, suffix: str, mode: str
) -> None:
    folder = write_folder(tmp_path, suffix, MIXED)
    started = database_now(engine)
    result = seedbed.load(folder, engine=engine, mode=mode, progress=False)
    assert [(t.strategy, t.inserted, t.updated, t.skipped) for t in result.tables] == [
        ("incremental", 8, 0, 0)
    ]
    loaded(engine, MIXED, started)


#: users 1 to 6, every column given
BEFORE: list[Part] = [(COLUMNS, users(1, 2, 3, 4, 5, 6))]
#: each part leaves other columns out: users 1 and 3 changed, 2 and 4 as they were, 7 and 8 new
CHANGES: list[Part] = [
    (("id", "email", "name"), [user(1, name="Renamed 1"), user(2), user(7)]),
    (("email", "id", "name"), []),
    (
        ("email_verified", "email", "id", "created_at"),
        [user(3, email_verified=False), user(4), user(8)],
    ),
]


def load_before(engine: Engine, root: Path) -> dict[str, Row]:
    seedbed.load(write_folder(root, ".csv", BEFORE), engine=engine, progress=False)
    return {key: {c: row[c] for c in COLUMNS} for key, row in table_rows(engine).items()}


@pytest.mark.parametrize("suffix", FORMATS)
def test_upsert_changes_only_the_columns_each_part_gives(
    engine: Engine, tmp_path: Path, suffix: str
) -> None:
    before = load_before(engine, tmp_path / "before")
    stamps = {key: row["updated_at"] for key, row in table_rows(engine).items()}
    folder = write_folder(tmp_path / "changes", suffix, CHANGES)
    started = database_now(engine)
    result = seedbed.load(folder, engine=engine, mode="upsert", progress=False)
    assert (result.inserted, result.updated, result.skipped) == (
        {"user": 2},
        {"user": 2},
        {"user": 2},
    )
    assert_rows(engine, expected(CHANGES, before, "upsert"), started)
    after = table_rows(engine)
    unchanged = [user(n)["id"] for n in (2, 4, 5, 6)]
    assert {key: after[key]["updated_at"] for key in unchanged} == {k: stamps[k] for k in unchanged}


@pytest.mark.parametrize("suffix", FORMATS)
def test_skip_existing_leaves_existing_rows_and_gives_new_ones_defaults(
    engine: Engine, tmp_path: Path, suffix: str
) -> None:
    before = load_before(engine, tmp_path / "before")
    folder = write_folder(tmp_path / "changes", suffix, CHANGES)
    started = database_now(engine)
    result = seedbed.load(folder, engine=engine, mode="skip-existing", progress=False)
    assert (result.inserted, result.updated, result.skipped) == (
        {"user": 2},
        {"user": 0},
        {"user": 4},
    )
    assert_rows(engine, expected(CHANGES, before, "skip-existing"), started)


@pytest.mark.parametrize("mode", ["upsert", "skip-existing"])
def test_cli_modes_with_parts_that_give_other_columns(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path, mode: str
) -> None:
    before = load_before(engine, tmp_path / "before")
    folder = write_folder(tmp_path / "changes", ".csv", CHANGES)
    started = database_now(engine)
    done = run_cli_here("load", str(folder), "--mode", mode, env=cli_env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.split()[:1] == ["user"])
    counted = ["2", "2", "2"] if mode == "upsert" else ["2", "0", "4"]
    assert line.split()[1:5] == ["incremental", *counted]
    assert_rows(engine, expected(CHANGES, before, mode), started)


# -- invalid folders: the report names the part file and line, and nothing is written ----------

#: part 1 leaves out ``email`` (NOT NULL, no default)
NO_EMAIL: list[Part] = [(COLUMNS, users(1, 2)), (("name", "id"), users(3, 4))]
#: part 1, in its own column order, has a bad value in its 2nd row, in a column part 0 leaves out
BAD_VALUE: list[Part] = [
    (("id", "email"), users(1, 2)),
    (("image", "id", "email"), [user(3), user(4, image="not a url")]),
]
#: the position of part 1's 2nd row: a line (header = 1), a line, a row (from 0)
SECOND_ROW = {".csv": 3, ".jsonl": 2, ".parquet": 1}
INVALID = {
    "missing_column": (NO_EMAIL, "email", "missing_column"),
    "bad_value": (BAD_VALUE, "image", "ck_user_image_url"),
}


def where(case: str, suffix: str) -> int | None:
    """The position a report row gives for ``case``: the header's line, or the bad row's."""
    if case == "bad_value":
        return SECOND_ROW[suffix]
    return None if suffix == ".parquet" else 1


@pytest.mark.parametrize("case", sorted(INVALID))
@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_an_invalid_second_part_is_reported_by_part_and_line_and_nothing_is_written(
    engine: Engine, tmp_path: Path, suffix: str, strategy: str, case: str
) -> None:
    parts, column, rule = INVALID[case]
    folder = write_folder(tmp_path, suffix, parts)
    with pytest.raises(DataError) as caught:
        seedbed.load(folder, engine=engine, strategy=strategy, progress=False)
    failures = caught.value.report.failures
    assert len(failures) == 1
    problem = failures.iloc[0]
    assert problem["file"].endswith(f"user/part-0001{suffix}")
    line = where(case, suffix)
    assert (problem["line"] if line is not None else None) == line
    assert (problem["table"], problem["column"], problem["rule"]) == ("user", column, rule)
    assert counts(engine)["user"] == 0


@pytest.mark.parametrize("mode", ["upsert", "skip-existing"])
@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_second_part_changes_no_existing_row(
    engine: Engine, tmp_path: Path, case: str, mode: str
) -> None:
    load_before(engine, tmp_path / "before")
    before = snapshot(engine)
    parts, column, rule = INVALID[case]
    folder = write_folder(tmp_path / "changes", ".csv", parts)
    with pytest.raises(DataError) as caught:
        seedbed.load(folder, engine=engine, mode=mode, progress=False)
    problem = caught.value.report.failures.iloc[0]
    assert (problem["line"], problem["column"], problem["rule"]) == (
        where(case, ".csv"),
        column,
        rule,
    )
    assert snapshot(engine) == before


@pytest.mark.parametrize("case", sorted(INVALID))
def test_cli_names_the_part_file_and_line_and_exits_1(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path, case: str
) -> None:
    parts, column, rule = INVALID[case]
    folder = write_folder(tmp_path, ".csv", parts)
    done = run_cli_here("load", str(folder), env=cli_env)
    assert done.returncode == 1, done.stderr
    assert f"user/part-0001.csv:{where(case, '.csv')} {column}: " in done.stderr
    assert f"[{rule}]" in done.stderr and "Traceback" not in done.stderr
    assert counts(engine)["user"] == 0


def test_a_zero_byte_csv_part_is_an_empty_file_problem_named_by_its_part(
    engine: Engine, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path, ".csv", [(COLUMNS, users(1, 2)), (COLUMNS, users(3))])
    (folder / "part-0001.csv").write_bytes(b"")
    with pytest.raises(DataError) as caught:
        seedbed.load(folder, engine=engine, progress=False)
    problem = caught.value.report.failures.iloc[0]
    assert problem["file"].endswith("user/part-0001.csv")
    assert (problem["line"], problem["rule"]) == (1, "empty_file")
    assert counts(engine)["user"] == 0


@pytest.mark.parametrize("empty_first", [False, True])
@pytest.mark.parametrize("strategy", ["rebuild", "incremental"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_a_row_only_the_database_refuses_is_named_by_its_part_whatever_the_headers(
    engine: Engine, tmp_path: Path, suffix: str, strategy: str, empty_first: bool
) -> None:
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    parts: list[Part] = [
        (("id", "email"), users(1, 2)),
        (("name", "email", "id"), [user(3), user(4, name="Mallory")]),
    ]
    empty: list[Part] = [(("image", "id", "email"), [])] if empty_first else []
    folder = write_folder(tmp_path, suffix, [*empty, *parts])
    with pytest.raises(LoadError) as caught:
        seedbed.load(folder, engine=engine, strategy=strategy, progress=False)
    error = caught.value
    part = f"user/part-{len(empty) + 1:04d}{suffix}"
    assert error.file is not None and error.file.endswith(part)
    assert (error.line, error.constraint) == (SECOND_ROW[suffix], "ck_no_mallory")
    assert counts(engine)["user"] == 0


def test_a_part_without_any_key_cannot_be_merged_and_is_named(
    cli_env: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    parts: list[Part] = [(COLUMNS, users(1)), (("name", "image"), users(2))]
    folder = write_folder(tmp_path, ".csv", parts)
    with pytest.raises(
        SeedError, match=r"part-0001\.csv: .*cannot upsert or skip existing rows without a key"
    ):
        seedbed.load(folder, engine=engine, mode="upsert", progress=False)
    done = run_cli_here("load", str(folder), "--mode", "skip-existing", env=cli_env)
    assert done.returncode == 2
    assert "part-0001.csv" in done.stderr and "Traceback" not in done.stderr
    assert counts(engine)["user"] == 0


def test_an_empty_jsonl_file_holds_no_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "user.jsonl"
    path.write_bytes(b"")
    assert seedbed.validate(path).ok
    result = seedbed.load(path, engine=engine, progress=False)
    assert result.committed and result.inserted == {"user": 0}
    assert counts(engine)["user"] == 0


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_a_jsonl_object_that_leaves_a_key_out_has_null_there(
    engine: Engine, tmp_path: Path, mode: str
) -> None:
    parts: list[Part] = [(COLUMNS, users(1)), (("id", "email"), users(2))]
    folder = write_folder(tmp_path, ".jsonl", parts)
    third = {c: as_text(v) for c, v in user(3).items() if c not in ("name", "image")}
    with (folder / "part-0000.jsonl").open("a") as handle:
        handle.write(json.dumps(third) + "\n")
    started = database_now(engine)
    seedbed.load(folder, engine=engine, mode=mode, progress=False)
    wanted = expected([*parts, (COLUMNS, users(3))])
    # its part names every column: an object that leaves one out has NULL there, no default
    wanted[user(3)["id"]] |= {"name": None, "image": None}
    assert_rows(engine, wanted, started)


def test_a_jsonl_object_that_leaves_a_not_null_key_out_is_reported_at_its_line(
    engine: Engine, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path, ".jsonl", [(("id", "email"), users(1)), (COLUMNS, users(2))])
    third = {c: as_text(v) for c, v in user(3).items() if c != "email_verified"}
    with (folder / "part-0001.jsonl").open("a") as handle:
        handle.write(json.dumps(third) + "\n")
    with pytest.raises(DataError) as caught:
        seedbed.load(folder, engine=engine, progress=False)
    problems = caught.value.report.failures
    assert list(problems["file"].str.endswith("user/part-0001.jsonl")) == [True]
    assert list(problems[["line", "column"]].itertuples(index=False, name=None)) == [
        (2, "email_verified")
    ]
    assert counts(engine)["user"] == 0


def test_insert_into_a_table_with_rows_adds_parts_with_other_columns(
    engine: Engine, tmp_path: Path
) -> None:
    before = load_before(engine, tmp_path / "before")
    parts: list[Part] = [
        (("email", "id"), users(7)),
        (("id", "email", "name", "created_at"), users(8, 9)),
    ]
    folder = write_folder(tmp_path / "new", ".parquet", parts)
    started = database_now(engine)
    result = seedbed.load(folder, engine=engine, progress=False)
    assert [(t.strategy, t.inserted) for t in result.tables] == [("incremental", 3)]
    assert_rows(engine, expected(parts, before), started)


def test_a_key_the_database_has_is_named_by_its_part_and_line(
    engine: Engine, tmp_path: Path
) -> None:
    load_before(engine, tmp_path / "before")
    state = snapshot(engine)
    parts: list[Part] = [
        (("email", "id"), users(7)),
        (("name", "id", "email"), []),
        (("name", "id", "email"), [user(8), user(5, name="Again")]),
    ]
    folder = write_folder(tmp_path / "new", ".csv", parts)
    with pytest.raises(DataError) as caught:
        seedbed.load(folder, engine=engine, progress=False)
    problems = caught.value.report.failures
    assert set(problems["file"].str.rsplit("/", n=2).str[-2:].str.join("/")) == {
        "user/part-0002.csv"
    }
    assert set(problems["line"]) == {3}
    assert snapshot(engine) == state
