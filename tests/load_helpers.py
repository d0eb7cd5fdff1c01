"""Helpers for the load tests: CSV files to edit, SQL to run, backends to wait for."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import LoadError
from seedbed.synthetic import generate_tables
from tests.helpers import counts


def file_rows(path: Path) -> int:
    with path.open(newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def execute(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.format(schema=schema_of(engine)))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def user_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def backend_gone(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        return not conn.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()


def refused_by_a_foreign_key(
    engine: Engine, seeds: Path, *, deferred: bool = False, **load: Any
) -> LoadError:
    """Load ``seeds`` (a private copy) with one missing parent behind a foreign key the
    database checks (``deferred``: at commit), with ``load``'s options.

    The refusal names table, constraint and line; nothing is written. The error
    is returned for what a caller checks on top (plain PostgreSQL and Citus).
    """
    when = " DEFERRABLE INITIALLY DEFERRED" if deferred else ""
    execute(
        engine,
        'ALTER TABLE "{schema}".verification ADD CONSTRAINT fk_verification_identifier_user '
        'FOREIGN KEY (identifier) REFERENCES "{schema}"."user" (email)' + when,
    )
    header, rows = user_rows(seeds / "verification.csv")
    rows[4][header.index("identifier")] = "nobody@example.com"
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, progress=False, **load)
    error = caught.value
    assert (error.table, error.constraint, error.line) == (
        "verification",
        "fk_verification_identifier_user",
        6,
    )
    assert ("at commit: " in str(error)) is deferred
    assert "nobody@example.com" in str(error)
    assert set(counts(engine).values()) == {0}
    return error


def distinct_seed_set(folder: Path, users: int, seed: int) -> Path:
    """A generated seed set whose unique values differ from the repository's seeds."""
    tables = generate_tables(users, seed=seed)
    renamed = {"user": "email", "account": "account_id", "tag": "name", "post": "slug"}
    folder.mkdir(parents=True)
    for name, table in tables.items():
        if name in renamed:
            column = renamed[name]
            index = table.schema.get_field_index(column)
            table = table.set_column(
                index, column, pc.binary_join_element_wise("x", table[column], "")
            )
        pacsv.write_csv(table, folder / f"{name}.csv")
    return folder
