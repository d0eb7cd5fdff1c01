"""Concurrent upserts and skip-existing loads of the same new rows always both finish.

``ON CONFLICT`` arbitrates on one key (here ``tag.id``); a concurrent commit of
the same row can still surface as a violation of another unique key
(``uq_tag_name``). Such a violation is retried, and a real duplicate is not.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.db import schema_of
from seedbed.errors import LoadError
from seedbed.loading import LoadResult

ROUNDS = 100
TAGS = 50


def _tags(count: int) -> pd.DataFrame:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    return pd.DataFrame({"id": ids, "name": [f"tag-{i}" for i in ids]})


def _race(engine: Engine, frame: pd.DataFrame, mode: str) -> list[BaseException | LoadResult]:
    """Load ``frame`` from two threads at the same moment; what each got."""
    start = threading.Barrier(2)
    outcomes: list[BaseException | LoadResult] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(seedbed.load({"tag": frame}, mode=mode, engine=engine, progress=False))
        except BaseException as exc:  # collected, then asserted on
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("mode", ["upsert", "skip-existing"])
def test_two_loads_of_the_same_new_rows_both_finish_every_round(engine: Engine, mode: str) -> None:
    retried = 0
    for round_ in range(ROUNDS):
        frame = _tags(TAGS)
        outcomes = _race(engine, frame, mode)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        assert not failed, f"round {round_}: {failed[0]!r}"
        results = [o for o in outcomes if isinstance(o, LoadResult)]
        assert sum(r.tables[0].inserted for r in results) == TAGS
        retried += sum(r.attempts > 1 for r in results)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT count(*) FROM "{schema_of(engine)}".tag')).scalar()
    assert rows == ROUNDS * TAGS
    print(f"{mode}: {ROUNDS} rounds, {retried} loads retried")


def test_a_real_duplicate_on_another_key_is_reported_not_retried_forever(engine: Engine) -> None:
    first = _tags(3)
    seedbed.load({"tag": first}, mode="upsert", engine=engine, progress=False)
    clash = _tags(1).assign(name=first["name"].iloc[1])  # a new id with a taken name
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"uq_tag_name|already exists") as caught:
        seedbed.load({"tag": clash}, mode="upsert", engine=engine, progress=False)
    assert caught.value.constraint == "uq_tag_name"
    assert time.perf_counter() - started < 10


def test_a_connection_lost_mid_copy_logs_no_stray_driver_line(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    from seedbed.loading.copy import copy_blocks

    raw = engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    pid = driver.info.backend_pid

    def blocks() -> Iterator[bytes]:
        yield b"id,name\n"
        with engine.connect() as conn:  # what a server restart does to this connection
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        for i in range(2000):
            yield f"{uuid.uuid4()},gone-{i}\n".encode() * 50

    table = f'"{schema_of(engine)}".tag'
    sql = f"COPY {table} (id, name) FROM STDIN (FORMAT csv, HEADER true)"
    try:
        lost = pytest.raises(psycopg.OperationalError)
        with caplog.at_level(logging.DEBUG), lost, driver.cursor() as cursor:
            copy_blocks(cursor, sql, blocks(), threading.Event())
    finally:
        raw.invalidate()
    assert not [r for r in caplog.records if "error ignored" in r.getMessage()]
