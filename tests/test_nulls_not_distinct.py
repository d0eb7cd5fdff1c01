"""A unique key declared ``NULLS NOT DISTINCT`` (PostgreSQL 15 and later) holds rows with NULL
in its columns too, and two such rows are one key: validation refuses them as PostgreSQL
does, within and across chunks, by both row engines, and against the database's rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import model_folder, report_in_chunks, run_cli

PAIRS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Pair(Base):
    __tablename__ = "pair"
    __table_args__ = (
        sa.UniqueConstraint("a", "b", name="pair_ab", postgresql_nulls_not_distinct=True),
        sa.Index("pair_code", "code", unique=True, postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    a = mapped_column(sa.Integer)
    b = mapped_column(sa.Text)
    code = mapped_column(sa.Text)
"""

HEADER = ["id", "a", "b", "code"]
ROWS = [
    ["1", "1", "", ""],
    ["2", "1", "", "x"],  # (1, NULL) again: refused by pair_ab
    ["3", "", "", "y"],
    ["4", "", "", ""],  # (NULL, NULL) again; a second NULL code: refused by both
    ["5", "2", "p", "z"],
    ["6", "", "p", "w"],
]
REFUSED = {(3, "pair_ab"), (5, "pair_ab"), (5, "pair_code")}


def _write(folder: Path, rows: list[list[str]]) -> Path:
    folder.mkdir(exist_ok=True)
    with (folder / "pair.csv").open("w", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return folder


def _refused(records: list[dict[str, object]]) -> set[tuple[int, str]]:
    return {(int(str(r["line"])), str(r["rule"])) for r in records}


def test_rows_with_nulls_are_one_key_as_postgresql_holds_them(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    models = model_folder(tmp_path / "pair_models", pairs=PAIRS)
    keys = {
        key.name: key
        for key in facts.table_keys(
            facts.model_source(models).metadata("x").tables["x.pair"]
        ).unique
    }
    assert not keys["pair_ab"].nulls_distinct and not keys["pair_code"].nulls_distinct
    seeds = _write(tmp_path / "seeds", ROWS)
    report = seedbed.validate(seeds, models=models)
    assert _refused(report.to_records()) == REFUSED
    assert "1, NULL" in {str(r["value"]) for r in report.to_records()}
    for engine in ("polars", "pandas"):  # two rows a chunk: across chunks too
        assert _refused(report_in_chunks(models, seeds, engine, ["pair"])) == REFUSED

    # PostgreSQL holds them alike: the rest loads, each refused row then fails alone
    metadata = facts.model_source(models).metadata(empty_settings.schema)
    engine = get_engine(empty_settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    kept = [row for line, row in enumerate(ROWS, 2) if line not in {n for n, _ in REFUSED}]
    seedbed.load(_write(tmp_path / "kept", kept), engine=engine, models=models)
    table = f'"{empty_settings.schema}".pair'
    for line in sorted({n for n, _ in REFUSED}):
        row = [str(100 + line), *ROWS[line - 2][1:]]
        with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} VALUES (:id, CAST(NULLIF(:a, '') AS int), "
                    "NULLIF(:b, ''), NULLIF(:code, ''))"
                ),
                dict(zip(HEADER, row, strict=True)),
            )
        again = _write(tmp_path / f"again{line}", [row])
        env = {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": empty_settings.schema}
        checked = run_cli("-q", "validate", str(again), "--against-db", env=env)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert "the database has" in checked.stdout
