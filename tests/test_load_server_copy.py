"""A seed file the server can read itself: ``COPY ... FROM 'path'``, with the streamed verdicts."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.db import schema_of
from seedbed.errors import LoadError
from seedbed.loading.copy import _MAY_READ_SQL, INTRANS, server_readable
from seedbed.models import metadata_for
from seedbed.validation.formats.compressed import Gzipped
from seedbed.validation.formats.delimited import CsvFile
from tests.helpers import snapshot
from tests.load_helpers import execute, user_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
WRITER = sys.modules["seedbed.loading.writer"]


def _in_transaction(engine: sa.Engine) -> psycopg.Connection[Any]:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(url)
    connection.execute("SELECT 1")  # a transaction is open now, as the writer's is
    return connection


def _spy(monkeypatch: pytest.MonkeyPatch, answer: bool = True) -> list[str | None]:
    """Record what the loader's probe answered; with ``answer=False``, always stream."""
    seen: list[str | None] = []

    def probe(connection: psycopg.Connection[Any], fmt: Any) -> str | None:
        path = server_readable(connection, fmt) if answer else None
        seen.append(path)
        return path

    monkeypatch.setattr(WRITER, "server_readable", probe)
    return seen


def test_the_server_on_this_machine_reads_a_plain_csv_itself(engine):
    connection = _in_transaction(engine)
    try:
        path = SEEDS / "user.csv"
        assert server_readable(connection, CsvFile(path)) == str(path.resolve())
        assert connection.execute("SELECT 2").fetchone() == (2,)  # the savepoint left it usable
    finally:
        connection.close()


def test_a_file_with_a_bom_a_compressed_file_or_no_transaction_is_streamed(engine, tmp_path):
    tmp_path.chmod(0o755)  # the server may run as another user
    data = (SEEDS / "user.csv").read_bytes()
    bom = tmp_path / "user.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + data)
    packed = tmp_path / "packed" / "user.csv.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(data))
    plain = tmp_path / "plain" / "user.csv"
    plain.parent.mkdir()
    plain.write_bytes(data)
    connection = _in_transaction(engine)
    try:
        assert server_readable(connection, CsvFile(plain)) == str(plain)
        assert server_readable(connection, CsvFile(bom)) is None
        assert server_readable(connection, Gzipped(packed)) is None
        assert server_readable(connection, CsvFile(tmp_path / "missing.csv")) is None
        connection.rollback()
        assert server_readable(connection, CsvFile(SEEDS / "user.csv")) is None  # no savepoint
    finally:
        connection.close()


def _load_twice(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, load: Callable[[], object]
) -> tuple[list[str | None], list[str | None]]:
    """Run ``load`` read by the server, then streamed; the probe's answers of each."""
    read = _spy(monkeypatch)
    load()
    first = _seeded(engine)
    names = ", ".join(
        f'"{{schema}}"."{t.name}"' for t in metadata_for(schema_of(engine)).tables.values()
    )
    execute(engine, f"TRUNCATE {names}")
    streamed = _spy(monkeypatch, answer=False)
    load()
    assert _seeded(engine) == first
    return read, streamed


def _seeded(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in the columns its seed file gives (the others hold ``now()``)."""
    schema = schema_of(engine)
    found = {}
    with engine.connect() as conn:
        for path in sorted(SEEDS.glob("*.csv")):
            header, _ = user_rows(path)
            columns = ", ".join(f'"{c}"' for c in header)
            query = f'SELECT {columns} FROM "{schema}"."{path.stem}" ORDER BY {columns}'
            found[path.stem] = [tuple(row) for row in conn.exec_driver_sql(query)]
    assert all(found.values())
    return found


def test_a_set_the_server_reads_lands_the_same_rows_as_a_streamed_one(
    engine, monkeypatch: pytest.MonkeyPatch
):
    def load() -> None:
        assert seedbed.load(SEEDS, engine=engine).committed

    read, streamed = _load_twice(engine, monkeypatch, load)
    assert len(read) == len(list(SEEDS.glob("*.csv"))) and all(read)
    assert streamed and not any(streamed)


def test_a_row_only_the_database_refuses_in_a_file_the_server_reads_is_named_by_line(
    engine, seeds, monkeypatch: pytest.MonkeyPatch
):
    execute(
        engine,
        """ALTER TABLE "{schema}"."user" ADD CONSTRAINT ck_no_mallory CHECK (name <> 'Mallory')""",
    )
    seeds.parent.chmod(0o755)  # the server may run as another user
    header, rows = user_rows(seeds / "user.csv")
    rows[0][header.index("name")] = "two\nlines"
    rows[4][header.index("name")] = "Mallory"
    path = write_csv(seeds / "user.csv", header, rows)
    before = snapshot(engine)
    for answer in (True, False):
        seen = _spy(monkeypatch, answer)
        with pytest.raises(LoadError) as caught:
            seedbed.load([path], engine=engine, strategy="incremental")
        assert seen == [str(path.resolve()) if answer else None]
        error = caught.value
        assert (error.table, error.line, error.constraint) == ("user", 7, "ck_no_mallory")
        assert snapshot(engine) == before


def test_a_role_that_may_not_read_server_files_streams_without_an_error(engine):
    connection = _in_transaction(engine)
    try:
        connection.execute("CREATE ROLE seedbed_no_files NOLOGIN")
        connection.execute("SET LOCAL ROLE seedbed_no_files")
        assert connection.execute(_MAY_READ_SQL).fetchone() == (False,)  # an answer, no error
        assert server_readable(connection, CsvFile(SEEDS / "user.csv")) is None
        assert connection.info.transaction_status == INTRANS
    finally:
        connection.rollback()
        connection.close()
