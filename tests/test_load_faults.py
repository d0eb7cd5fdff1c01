"""Faults during a load leave every table exactly as it was; concurrent upserts both finish.

To stop a load at a known point, the test holds a lock that the load's COPY
into ``session`` must wait for: by then ``user`` is already written inside
the load's transaction, so a fault there proves earlier tables roll back too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import DatabaseError
from seedbed.synthetic import generate_seed_set
from tests.helpers import counts, snapshot
from tests.load_helpers import backend_gone, distinct_seed_set, wait_for

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"


def copy_backend_waiting_on(engine: Engine, table: str) -> int | None:
    """The pid of a backend whose load waits for a lock on ``table`` before its COPY."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND (query LIKE :copy OR query LIKE :lock) AND pid <> pg_backend_pid() LIMIT 1"
            ),
            {"copy": f'COPY %"{table}"%', "lock": f'LOCK TABLE %"{table}"%'},
        ).scalar()


class TableLock:
    """Holds ``LOCK TABLE ... IN SHARE MODE`` (blocks COPY, allows reads) until released."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.conn = engine.connect()
        self.conn.exec_driver_sql(f'LOCK TABLE "{schema_of(engine)}"."{table}" IN SHARE MODE')

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


@pytest.fixture
def preloaded(engine: Engine) -> dict[str, str]:
    """The repository's seeds loaded; the snapshot every fault must leave intact."""
    seedbed.load(SEEDS, engine=engine)
    return snapshot(engine)


@pytest.fixture
def other_set(tmp_path) -> Path:
    return distinct_seed_set(tmp_path / "other", 2000, seed=21)


def test_connection_killed_mid_load_rolls_back_everything(engine, preloaded, other_set):
    lock = TableLock(engine, "session")
    outcome: dict[str, BaseException | None] = {}

    def run() -> None:
        try:
            seedbed.load(other_set, engine=engine, progress=False)
            outcome["error"] = None
        except BaseException as exc:
            outcome["error"] = exc

    loader = threading.Thread(target=run)
    loader.start()
    try:
        pid = wait_for(lambda: copy_backend_waiting_on(engine, "session"), what="COPY to block")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        lock.release()
        loader.join(60)
    error = outcome["error"]
    assert isinstance(error, DatabaseError)
    assert "connection" in str(error) and "nothing was committed" in str(error)
    assert snapshot(engine) == preloaded
    # the pool hands out a working connection afterwards
    assert seedbed.load(SEEDS, engine=engine, mode="skip-existing").committed


def test_loading_process_killed_mid_copy_leaves_tables_as_before(
    engine, preloaded, other_set, db_env, settings
):
    lock = TableLock(engine, "session")
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    process = subprocess.Popen(
        [sys.executable, "-m", "seedbed", "load", str(other_set), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid = wait_for(lambda: copy_backend_waiting_on(engine, "session"), what="COPY to block")
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        lock.release()
        if process.poll() is None:
            process.kill()
    wait_for(lambda: backend_gone(engine, pid), what="the killed load's backend to end")
    assert snapshot(engine) == preloaded


def test_two_concurrent_upserts_on_overlapping_data_both_finish(engine, tmp_path, db_env, settings):
    import csv

    generate_seed_set(3000, tmp_path / "all", seed=5)
    with (tmp_path / "all" / "user.csv").open(newline="") as handle:
        header, *users = list(csv.reader(handle))
    with (tmp_path / "all" / "session.csv").open(newline="") as handle:
        session_header, *sessions = list(csv.reader(handle))
    user_at = session_header.index("user_id")

    def write_set(name: str, chosen: list[list[str]], rename: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        ids = {row[0] for row in chosen}
        renamed = [[*row[:2], row[2] + rename, *row[3:]] for row in chosen]
        with (folder / "user.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows([header, *renamed])
        with (folder / "session.csv").open("w", newline="") as handle:
            picked = [row for row in sessions if row[user_at] in ids]
            csv.writer(handle).writerows([session_header, *picked])
        return folder

    first = write_set("a", users[:2000], " a")
    second = write_set("b", users[1000:], " b")
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "seedbed", "load", str(folder), "--mode", "upsert", "--quiet"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in (first, second)
    ]
    results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in processes]
    for process in processes:
        if process.stderr:
            process.stderr.close()
        if process.stdout:
            process.stdout.close()
    for code, stderr in results:
        assert code == 0, stderr
        assert "deadlock" not in stderr.lower()
    assert counts(engine)["user"] == 3000
    schema = schema_of(engine)
    with engine.connect() as conn:
        duplicates = conn.execute(
            sa.text(
                f'SELECT count(*) FROM (SELECT email FROM "{schema}"."user" '
                "GROUP BY email HAVING count(*) > 1) d"
            )
        ).scalar_one()
        overlap = conn.execute(
            sa.text(
                f'SELECT count(*) FROM "{schema}"."user" '
                "WHERE name LIKE '% a' OR name LIKE '% b'"
            )
        ).scalar_one()
    assert duplicates == 0
    assert overlap == 3000
