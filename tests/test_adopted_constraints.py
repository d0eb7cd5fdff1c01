"""Constraints another tool wrote that PostgreSQL holds rows to differently from a plain key:

- a MATCH FULL foreign key refuses a row with some of its columns NULL and not all, whatever
  its parent holds: validation reports it, as COPY would refuse it;
- a domain's CHECK is documented under its own name by ``seedbed docs``, and ``db check``
  compares a catalog model's partial index with the database;
- an exclusion constraint is judged by PostgreSQL at load, and the load names it, the
  line of the first row that conflicts with an earlier one, and both keys, with nothing
  written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import adopted_namespace, run_cli

TABLES = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}.parent (a int, b text, PRIMARY KEY (a, b));
CREATE TABLE {ns}.child (
  id int PRIMARY KEY, a int, b text,
  FOREIGN KEY (a, b) REFERENCES {ns}.parent (a, b) MATCH FULL
);
CREATE TABLE {ns}.booking (
  id int PRIMARY KEY, during tstzrange NOT NULL, EXCLUDE USING gist (during WITH &&)
);
CREATE DOMAIN {ns}.cents AS integer CONSTRAINT cents_positive CHECK (VALUE >= 0);
CREATE TABLE {ns}.price (id int PRIMARY KEY, amount {ns}.cents NOT NULL, live boolean);
CREATE UNIQUE INDEX one_live_price ON {ns}.price (amount) WHERE live;
"""


@pytest.fixture
def adopted(base_settings: Settings) -> Iterator[Settings]:
    with adopted_namespace(base_settings, TABLES) as settings:
        yield settings


def test_a_match_full_foreign_key_refuses_rows_partly_null(
    adopted: Settings, tmp_path: Path
) -> None:
    engine = get_engine(adopted)
    (tmp_path / "parent.csv").write_text("a,b\n1,x\n")
    (tmp_path / "child.csv").write_text("id,a,b\n1,1,x\n2,1,\n3,,\n4,,y\n5,oops,\n")
    report = seedbed.validate(tmp_path, engine=engine, models="database")
    found = {(int(r["line"]), str(r["rule"])) for r in report.to_records()}
    assert found == {(3, "child_a_b_fkey"), (5, "child_a_b_fkey"), (6, "type")}
    assert "MATCH FULL" in str(report.to_records()[0]["message"])
    with engine.connect() as conn:  # PostgreSQL refuses the same rows, and takes row 3
        conn.execute(sa.text(f"INSERT INTO \"{adopted.schema}\".parent VALUES (1, 'x')"))
        for a, b, refused in ((1, None, True), (None, "y", True), (None, None, False)):
            insert = sa.text(f'INSERT INTO "{adopted.schema}".child VALUES (9, :a, :b)')
            with conn.begin_nested() as inner:
                if refused:
                    with pytest.raises(sa.exc.IntegrityError, match="MATCH FULL"):
                        conn.execute(insert, {"a": a, "b": b})
                else:
                    conn.execute(insert, {"a": a, "b": b})
                inner.rollback()


def test_an_exclusion_constraint_refusal_names_it_and_writes_nothing(
    adopted: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "booking.csv").write_text(
        "id,during\n"
        '1,"[2024-01-01 10:00+00,2024-01-01 12:00+00)"\n'
        '2,"[2024-01-01 12:00+00,2024-01-01 13:00+00)"\n'
        '3,"[2024-01-01 11:00+00,2024-01-01 12:30+00)"\n'  # overlaps both: the first to break
    )
    env = {**db_env, "SEEDBED_SCHEMA": adopted.schema, "SEEDBED_MODELS": "database"}
    loaded = run_cli("-q", "load", str(tmp_path), env=env)
    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    assert "Traceback" not in loaded.stderr
    assert "booking.csv, line 4: table 'booking': key (during)=(" in loaded.stderr
    assert ") conflicts with key (during)=(" in loaded.stderr
    assert "exclusion constraint 'booking_during_excl'" in loaded.stderr
    with get_engine(adopted).connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{adopted.schema}".booking'))
        assert count.scalar_one() == 0


def test_a_search_for_the_conflicting_row_that_runs_out_of_time_still_names_the_constraint(
    adopted: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seedbed.loading import rebuild_errors

    monkeypatch.setattr(rebuild_errors, "EXCLUSION_SEARCH", "1ms")
    # an hour each, apart; the last overlaps the first: a pairwise search over 20,000 rows
    start = datetime(2024, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=i) for i in range(1, 20_000)] + [start + timedelta(hours=1)]
    rows = [
        f'{i},"[{at.isoformat()},{(at + timedelta(hours=1)).isoformat()})"'
        for i, at in enumerate(hours, 1)
    ]
    (tmp_path / "booking.csv").write_text("id,during\n" + "\n".join(rows) + "\n")
    with pytest.raises(seedbed.SeedbedError) as failed:
        seedbed.load(tmp_path, engine=get_engine(adopted), models="database")
    message = str(failed.value)
    assert "exclusion constraint 'booking_during_excl'" in message
    assert "line" not in message.split(": table")[0]  # no line: the search gave up
    with get_engine(adopted).connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{adopted.schema}".booking'))
        assert count.scalar_one() == 0


def test_the_data_model_document_names_a_domains_check(
    adopted: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": adopted.schema, "SEEDBED_MODELS": "database"}
    out = tmp_path / "model.md"
    written = run_cli("-q", "docs", "--out", str(out), env=env)
    assert written.returncode == 0, written.stderr
    assert "amount must be at least 0 (`cents_positive`)" in out.read_text()


def test_db_check_of_the_catalog_model_matches_its_database(
    adopted: Settings, db_env: dict[str, str]
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": adopted.schema, "SEEDBED_MODELS": "database"}
    checked = run_cli("-q", "db", "check", env=env)  # a partial index's predicate is text
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "matches" in checked.stdout
