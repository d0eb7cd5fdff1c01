"""JSON Lines values reach PostgreSQL as the text they were written as, and bad lines are rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import DataError
from seedbed.jsontext import InvalidJson, object_cells
from tests.helpers import ROOT, run_cli, snapshot

SEEDS = ROOT / "data" / "seeds"


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def jsonl_line(row: dict[str, str], raw: dict[str, str] | None = None) -> str:
    """``row`` as one JSON object; ``raw`` members are written as the JSON text given."""
    members = [
        f"{json.dumps(k)}: {json.dumps(v or None)}" for k, v in row.items() if k not in (raw or {})
    ]
    members += [f"{json.dumps(k)}: {text}" for k, text in (raw or {}).items()]
    return "{" + ", ".join(members) + "}"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def texts(engine: Engine, table: str, column: str) -> dict[str, str | None]:
    """``column`` of every row of ``table`` as PostgreSQL prints it, by id."""
    query = f'SELECT id, "{column}"::text FROM "{schema_of(engine)}"."{table}"'
    with engine.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(sa.text(query))}


@pytest.mark.parametrize(
    "line, cells",
    [
        (
            '{"a": 1.10, "b": 1e2, "c": -0, "d": 1E+2}',
            {"a": "1.10", "b": "1e2", "c": "-0", "d": "1E+2"},
        ),
        (
            '{"a": 12345678901234567890.5, "b": 1e999}',
            {"a": "12345678901234567890.5", "b": "1e999"},
        ),
        (
            '{"a": true, "b": false, "c": null, "d": "x\\u00e9"}',
            {"a": "true", "b": "false", "c": None, "d": "xé"},
        ),
        (
            '{"m": {"n": 1.0,  "t": [ "a" ]}, "z": [1.50]}',
            {"m": '{"n": 1.0,  "t": [ "a" ]}', "z": "[1.50]"},
        ),
        ('{"m": {"k": 1, "k": 2}}', {"m": '{"k": 1, "k": 2}'}),  # jsonb keeps the last, as for CSV
        ('\t{ "q\\"{" : "}" , "r" : { "s" : "," } }\r\n', {'q"{': "}", "r": '{ "s" : "," }'}),
    ],
)
def test_a_line_gives_each_value_as_written(line: str, cells: dict[str, str | None]) -> None:
    assert object_cells(line) == cells


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"a": NaN}', "holds NaN, which is not JSON"),
        ('{"a": -Infinity}', "holds -Infinity, which is not JSON"),
        ('{"a": {"b": [Infinity]}}', "holds Infinity, which is not JSON"),
        ('{"a": "\\ud800"}', "has a string with a lone surrogate escape"),
        ('{"\\udc00": 1}', "has a key with a lone surrogate escape"),
        ('{"a": 1, "a": 2}', 'names the key "a" twice in one object'),
        ('{"a": [1], "a": 2}', 'names the key "a" twice in one object'),
        ("[1, 2]", "must hold one JSON object"),
        ('{"a": 1} {}', "is not valid JSON: Extra data at character 9"),
        ('{"a": 1,}', "is not valid JSON: Expecting property name"),
        ("[" * 100_000, "is nested too deeply"),
    ],
)
def test_a_line_that_is_not_one_json_object_says_why(line: str, message: str) -> None:
    with pytest.raises(InvalidJson) as caught:
        object_cells(line)
    assert str(caught.value).startswith(message)


def test_numbers_and_nested_json_load_as_written(engine: Engine, tmp_path: Path) -> None:
    users = seed_rows("user")
    user_lines = [jsonl_line(users[0], {"name": "1.10"}), jsonl_line(users[1], {"name": "1e2"})]
    user_lines += [jsonl_line(users[2], {"name": "12345678901234567890.5"})]
    user_lines += [jsonl_line(users[3], {"name": "-0"})]
    user_lines += [jsonl_line(row) for row in users[4:]]
    folder = tmp_path / "seeds"
    write_lines(folder / "user.jsonl", user_lines)
    posts = [row for row in seed_rows("post") if row["author_id"] in {u["id"] for u in users}]
    written = ['{"reading_minutes": 1.0}', '{"tags": ["a"], "reading_minutes": 15}']
    post_lines = [jsonl_line(posts[0], {"metadata": written[0]})]
    post_lines += [jsonl_line(posts[1], {"metadata": written[1]})]
    post_lines += [jsonl_line(row) for row in posts[2:]]
    write_lines(folder / "post.jsonl", post_lines)
    assert seedbed.validate(folder).ok
    seedbed.load(folder, engine=engine, progress=False)
    names = texts(engine, "user", "name")
    assert [names[u["id"]] for u in users[:4]] == ["1.10", "1e2", "12345678901234567890.5", "-0"]
    stored = texts(engine, "post", "metadata")
    # jsonb keeps a number's scale: 1.0 stays 1.0 (a float would have made it 1.0 or 1)
    assert stored[posts[0]["id"]] == '{"reading_minutes": 1.0}'
    assert stored[posts[1]["id"]] == '{"tags": ["a"], "reading_minutes": 15}'


@pytest.mark.parametrize(
    "metadata",
    [
        '{"reading_minutes": 1.10}',
        '{"reading_minutes": 1e2}',
        '{"reading_minutes": -0}',
        '{"reading_minutes": 12345678901234567890}',
        '{"reading_minutes": 1e400}',
        '{"tags": ["a"], "tags": 5}',
        '{"tags": ["a"], "tags": ["b"]}',
        '"{\\"tags\\": []}"',
    ],
)
def test_a_json_column_gets_the_verdict_of_the_same_csv_cell(metadata: str, tmp_path: Path) -> None:
    post = seed_rows("post")[0]
    header = list(post)
    csv_path = tmp_path / "csv" / "post.csv"
    csv_path.parent.mkdir()
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        cell = json.loads(metadata) if metadata.startswith('"') else metadata
        writer.writerow([cell if c == "metadata" else post[c] for c in header])
    jsonl_path = write_lines(
        tmp_path / "jsonl" / "post.jsonl", [jsonl_line(post, {"metadata": metadata})]
    )

    def verdict(path: Path) -> list[tuple[object, object]]:
        report = seedbed.validate({"post": path})
        return [(r["column"], r["rule"]) for r in report.to_records() if r["column"] == "metadata"]

    assert verdict(jsonl_path) == verdict(csv_path)


@pytest.mark.parametrize(
    "member",
    ['"name": NaN', '"name": Infinity', '"name": "\\ud800"', '"name": "a", "name": "b"'],
)
def test_a_line_that_is_not_json_is_a_report_row_and_exit_1(
    member: str, tmp_path: Path, engine: Engine, db_env: dict[str, str], settings: seedbed.Settings
) -> None:
    users = seed_rows("user")
    lines = [jsonl_line(row) for row in users]
    row = {k: v for k, v in users[1].items() if k != "name"}
    lines[1] = jsonl_line(row)[:-1] + ", " + member + "}"
    path = write_lines(tmp_path / "user.jsonl", lines)
    report = seedbed.validate([path])
    assert [(r["line"], r["rule"]) for r in report.to_records()] == [(2, "json_format")]
    before = snapshot(engine)
    with pytest.raises(DataError):
        seedbed.load([path], engine=engine, progress=False)
    assert snapshot(engine) == before
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    for command in ("validate", "load"):
        done = run_cli(command, str(path), env=env)
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert "user.jsonl:2" in done.stdout + done.stderr
