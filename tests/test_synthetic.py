"""The synthetic seed generator: proportional, deterministic, consistent, optionally broken."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pytest
from sqlalchemy.engine import Engine

from seedbed.db import schema_of
from seedbed.models import metadata_for
from seedbed.synthetic import generate_seed_set, generate_tables, uuid4_strings
from tests.helpers import run_cli


def _copy_folder(engine: Engine, folder: Path) -> dict[str, int]:
    """COPY each file straight into its table (no seedbed code), in FK order; commit."""
    schema = schema_of(engine)
    raw = engine.raw_connection()
    counts = {}
    try:
        with raw.cursor() as cursor:
            for table in metadata_for(schema).sorted_tables:
                path = folder / f"{table.name}.csv"
                with path.open() as handle:
                    header = handle.readline().strip()
                sql = f'COPY "{schema}"."{table.name}" ({header}) FROM STDIN (FORMAT csv, HEADER)'
                with cursor.copy(sql) as copy:
                    copy.write(path.read_bytes())
                counts[table.name] = cursor.rowcount
        raw.commit()
    finally:
        raw.close()
    return counts


def test_row_counts_are_proportional_to_users():
    tables = generate_tables(1000, seed=3)
    counts = {name: table.num_rows for name, table in tables.items()}
    assert counts == {
        "user": 1000,
        "session": 2000,
        "account": 1000,
        "verification": 200,
        "post": 500,
        "tag": 8,
        "post_tag": 1000,
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate_seed_set(300, tmp_path / "a", seed=5)
    generate_seed_set(300, tmp_path / "b", seed=5)
    generate_seed_set(300, tmp_path / "c", seed=6)
    for name in ("user", "session", "post_tag"):
        a = (tmp_path / "a" / f"{name}.csv").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.csv").read_bytes()
        assert a != (tmp_path / "c" / f"{name}.csv").read_bytes()


def test_uuids_are_version_4_and_unique():
    import numpy as np

    ids = uuid4_strings(np.random.default_rng(0), 5000).to_pylist()
    assert len(set(ids)) == 5000
    assert all(len(i) == 36 and i[14] == "4" and i[19] in "89ab" for i in ids)


def test_generated_set_is_accepted_by_postgres(engine, tmp_path):
    counts = generate_seed_set(500, tmp_path, seed=11)
    assert _copy_folder(engine, tmp_path) == counts


def test_invalid_fraction_breaks_about_that_many_rows_and_keeps_the_rest():
    clean = generate_tables(2000, seed=4)
    broken = generate_tables(2000, seed=4, invalid_fraction=0.1)
    for name in ("user", "session", "post"):
        a, b = clean[name], broken[name]
        differs = sum(1 for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True) if x != y)
        assert 0.05 * a.num_rows < differs < 0.15 * a.num_rows, name
    emails = broken["user"].column("email")
    assert pc.sum(pc.match_substring(emails, " at ")).as_py() > 0


def test_broken_rows_are_refused_by_postgres(engine, tmp_path):
    generate_seed_set(200, tmp_path, seed=2, invalid_fraction=0.5)
    with pytest.raises(psycopg.errors.IntegrityError):
        _copy_folder(engine, tmp_path)


def test_generate_cli_accepts_both_argument_orders(tmp_path, db_env):
    for args in (["--users", "40", str(tmp_path / "a")], [str(tmp_path / "b"), "--users", "40"]):
        done = run_cli("generate", *args, "--seed", "1", env=db_env)
        assert done.returncode == 0, done.stderr
        assert "user" in done.stdout
    with (tmp_path / "a" / "user.csv").open() as handle:
        assert sum(1 for _ in csv.reader(handle)) == 41
    assert (tmp_path / "a" / "user.csv").read_bytes() == (tmp_path / "b" / "user.csv").read_bytes()


def test_generate_cli_refuses_a_fraction_above_one(tmp_path, db_env):
    command = ["generate", str(tmp_path), "--users", "5", "--invalid-fraction", "1.5"]
    done = run_cli(*command, env=db_env)
    assert done.returncode == 2
    assert "invalid_fraction" in done.stderr or "invalid-fraction" in done.stderr
    assert "Traceback" not in done.stderr
