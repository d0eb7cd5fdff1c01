"""The rebuild strategy: same catalog after, validated, errors by line, faults and lock waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import migrate
from seedbed.db import schema_of
from seedbed.errors import ConfigError, DatabaseError, DataError, LoadError, SeedError
from seedbed.loading.catalog import read_definitions
from seedbed.loading.locks import DEFAULT_LOCK_TIMEOUT, lock_timeout
from seedbed.loading.plan import LoadPlan
from seedbed.loading.rebuild import Rebuild, maintenance_work_mem_mb
from seedbed.models import metadata
from tests.helpers import ROOT, counts, run_cli
from tests.load_helpers import (
    backend_gone,
    distinct_seed_set,
    execute,
    file_rows,
    user_rows,
    wait_for,
    write_csv,
)

SEEDS = ROOT / "data" / "seeds"
TABLES = tuple(t.name for t in metadata.sorted_tables)


def catalog(engine: Engine) -> list[tuple[object, ...]]:
    """Every constraint and index of the namespace: name, definition, validated, comment."""
    with engine.connect() as conn:
        constraints = conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                "convalidated, obj_description(oid, 'pg_constraint') FROM pg_constraint "
                "WHERE connamespace = CAST(:s AS regnamespace) ORDER BY 1, 2"
            ),
            {"s": schema_of(engine)},
        ).all()
        indexes = conn.execute(
            sa.text(
                "SELECT indexname, indexdef, obj_description(CAST(format('%I.%I', schemaname, "
                "indexname) AS regclass), 'pg_class') FROM pg_indexes WHERE schemaname = :s "
                "ORDER BY 1"
            ),
            {"s": schema_of(engine)},
        ).all()
    return [tuple(row) for row in [*constraints, *indexes]]


def analyzed(engine: Engine, table: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text("SELECT count(*) FROM pg_stats WHERE schemaname = :s AND tablename = :t"),
                {"s": schema_of(engine), "t": table},
            ).scalar_one()
        )


def test_rebuild_leaves_every_name_definition_and_comment_as_it_was(engine):
    execute(
        engine,
        'CREATE INDEX ix_user_lower_name ON "{schema}"."user" (lower(name)) '
        "WHERE email_verified; "
        """COMMENT ON INDEX "{schema}".ix_user_lower_name IS 'partial, on an expression'; """
        """COMMENT ON CONSTRAINT uq_user_email ON "{schema}"."user" IS 'one per address'""",
    )
    before = catalog(engine)
    assert any(row[0] == "ix_user_lower_name" for row in before)
    result = seedbed.load(SEEDS, engine=engine, progress=False)
    assert {t.table: t.strategy for t in result.tables} == dict.fromkeys(TABLES, "rebuild")
    assert catalog(engine) == before
    assert all(row[3] for row in before if len(row) == 5)  # convalidated
    assert counts(engine) == {p.stem: file_rows(p) for p in SEEDS.glob("*.csv")}
    assert all(analyzed(engine, table) for table in TABLES)


def test_db_check_is_clean_after_a_rebuild(engine, settings):
    result = seedbed.load(SEEDS, engine=engine, strategy="rebuild", progress=False)
    assert result.committed and result.rebuild_seconds > 0
    assert migrate.check(settings) == []


def test_auto_rebuilds_empty_tables_and_writes_into_the_others(engine, settings, tmp_path):
    first = seedbed.load([SEEDS / "user.csv"], engine=engine, progress=False)
    assert [(t.table, t.strategy) for t in first.tables] == [("user", "rebuild")]
    rest = [p for p in SEEDS.glob("*.csv") if p.stem != "user"]
    second = seedbed.load(rest, engine=engine, progress=False)
    assert {t.strategy for t in second.tables} == {"rebuild"}  # the FKs to user stay in place
    other = distinct_seed_set(tmp_path / "other", 50, seed=3)
    third = seedbed.load(other, engine=engine, progress=False)
    assert {t.strategy for t in third.tables} == {"incremental"}
    assert migrate.check(settings) == []


def test_rebuild_is_refused_for_a_table_with_rows_or_another_mode(engine, tmp_path):
    seedbed.load([SEEDS / "tag.csv"], engine=engine, progress=False)
    with pytest.raises(SeedError, match="'tag' cannot be rebuilt: it has rows"):
        seedbed.load(SEEDS, engine=engine, strategy="rebuild", progress=False)
    with pytest.raises(SeedError, match="insert mode"):
        seedbed.load([SEEDS / "user.csv"], engine=engine, strategy="rebuild", mode="upsert")
    with pytest.raises(SeedError, match="unknown load strategy"):
        seedbed.load(SEEDS, engine=engine, strategy="fast")
    assert counts(engine)["user"] == 0


def test_incremental_strategy_and_dry_run_leave_the_catalog_alone(engine):
    before = catalog(engine)
    dry = seedbed.load(SEEDS, engine=engine, dry_run=True, progress=False)
    assert not dry.committed and {t.strategy for t in dry.tables} == {"rebuild"}
    assert catalog(engine) == before and set(counts(engine).values()) == {0}
    result = seedbed.load(SEEDS, engine=engine, strategy="incremental", progress=False)
    assert {t.strategy for t in result.tables} == {"incremental"}
    assert result.rebuild_seconds == 0
    assert catalog(engine) == before


def test_result_shows_strategy_and_the_time_split(engine):
    result = seedbed.load(SEEDS, engine=engine, progress=False)
    text = str(result)
    assert "strategy" in text.splitlines()[0] and "rebuild" in text
    assert "validation" in text and "COPY" in text and "rebuild" in text.splitlines()[-1] + text
    assert list(result.to_frame().columns)[:3] == ["table", "source", "strategy"]
    assert result.copy_seconds > 0
    assert "<th>strategy</th>" in result._repr_html_()


# -- rows only the database refuses, found by a rebuild step --------------------


@pytest.fixture(params=["rebuild", "incremental"])
def strategy(request) -> str:
    return str(request.param)


def test_a_duplicate_found_by_an_expression_index_build_names_its_line(engine, seeds, strategy):
    execute(engine, 'CREATE UNIQUE INDEX uq_user_lower_name ON "{schema}"."user" (lower(name))')
    before = catalog(engine)
    header, rows = user_rows(seeds / "user.csv")
    rows[7][header.index("name")] = rows[3][header.index("name")].upper()
    write_csv(seeds / "user.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert caught.value.constraint == "uq_user_lower_name"
    assert caught.value.line == 9 and caught.value.file is not None
    assert "user.csv, line 9" in str(caught.value)
    assert catalog(engine) == before and set(counts(engine).values()) == {0}


def test_a_check_found_by_the_validating_scan_names_its_line(engine, seeds, strategy):
    execute(
        engine, """ALTER TABLE "{schema}".post ADD CONSTRAINT ck_no_spam CHECK (title <> 'spam')"""
    )
    before = catalog(engine)
    header, rows = user_rows(seeds / "post.csv")
    rows[5][header.index("title")] = "spam"
    write_csv(seeds / "post.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert caught.value.constraint == "ck_no_spam"
    assert caught.value.line == 7
    assert catalog(engine) == before and set(counts(engine).values()) == {0}


def test_a_rebuild_step_refused_for_another_reason_is_named_as_that_step(engine, seeds):
    # A CHECK whose function raises (not a constraint violation): refused when re-added.
    execute(
        engine,
        """CREATE FUNCTION "{schema}".refuse_spam(t text) RETURNS boolean LANGUAGE plpgsql
        IMMUTABLE AS $$ BEGIN IF t = 'spam' THEN RAISE EXCEPTION 'spam is refused'; END IF;
        RETURN true; END $$;
        ALTER TABLE "{schema}".post ADD CONSTRAINT ck_post_no_spam
        CHECK ("{schema}".refuse_spam(title))""",
    )
    before = catalog(engine)
    header, rows = user_rows(seeds / "post.csv")
    rows[5][header.index("title")] = "spam"
    write_csv(seeds / "post.csv", header, rows)
    with pytest.raises(DatabaseError) as caught:
        seedbed.load(seeds, engine=engine, progress=False)
    message = str(caught.value)
    assert message.startswith("the database refused the rebuild step adding check constraint")
    assert "ck_post_no_spam" in message
    assert message.endswith(" on table 'post': spam is refused; nothing was written")
    assert catalog(engine) == before and set(counts(engine).values()) == {0}


def test_a_foreign_key_found_when_it_is_re_added_names_its_line(engine, seeds, strategy):
    execute(
        engine,
        'ALTER TABLE "{schema}".verification ADD CONSTRAINT fk_verification_identifier_user '
        'FOREIGN KEY (identifier) REFERENCES "{schema}"."user" (email)',
    )
    before = catalog(engine)
    header, rows = user_rows(seeds / "verification.csv")
    rows[3][header.index("identifier")] = "nobody@example.com"
    write_csv(seeds / "verification.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    assert caught.value.constraint == "fk_verification_identifier_user"
    assert caught.value.line == 5
    assert "nobody@example.com" in str(caught.value)
    assert catalog(engine) == before and set(counts(engine).values()) == {0}


def test_a_foreign_key_into_an_unloaded_child_of_a_rebuilt_table_is_not_waited_for(
    engine, cli_env, tmp_path
):
    # user is rebuilt, so post (whose foreign key points at user) is locked with it although
    # no post seed is given; post_tag's post_id is then looked up in post. Validation used to
    # wait for that lock, held by the load's own writer, which waited for validation: forever.
    seeds = tmp_path / "seeds"
    for name in ("user.csv", "tag.csv", "post_tag.csv"):
        header, rows = user_rows(SEEDS / name)
        write_csv(seeds / name, header, rows)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "seedbed", "load", str(seeds), "--quiet"],
            env=cli_env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the load waited for its own lock")
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "no post row with this id in the seed set or the database" in said
    assert "[fk_post_tag_post_id_post]" in said and "Traceback" not in said
    assert set(counts(engine).values()) == {0}


def test_a_duplicate_of_a_sensitive_value_is_redacted(engine, seeds, strategy):
    execute(
        engine, 'CREATE UNIQUE INDEX uq_session_upper_token ON "{schema}".session (upper(token))'
    )
    header, rows = user_rows(seeds / "session.csv")
    token = header.index("token")
    rows[6][token] = rows[2][token].swapcase()
    write_csv(seeds / "session.csv", header, rows)
    with pytest.raises(LoadError) as caught:
        seedbed.load(seeds, engine=engine, strategy=strategy, progress=False)
    message = str(caught.value)
    assert caught.value.line == 8
    assert rows[2][token] not in message and rows[2][token].upper() not in message
    assert "[redacted]" in message


# -- faults -------------------------------------------------------------------


@contextmanager
def held_check(engine: Engine) -> Iterator[None]:
    """A CHECK on tag whose every row waits for an advisory lock held until the block ends:
    the rebuild's validating scan stays in progress for as long as the test needs."""
    key = zlib.crc32(schema_of(engine).encode())
    execute(
        engine,
        'CREATE FUNCTION "{schema}".slow_true(text) RETURNS boolean LANGUAGE sql IMMUTABLE '
        f"AS $$ SELECT pg_advisory_xact_lock_shared({key}) IS NOT NULL $$; "
        'ALTER TABLE "{schema}".tag ADD CONSTRAINT ck_tag_slow CHECK ("{schema}".slow_true(name))',
    )
    with engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
        try:
            yield
        finally:
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")


def rebuilding_backend(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE '%ADD CONSTRAINT \"ck_tag_slow\"%' AND pid <> pg_backend_pid()"
            )
        ).scalar()


def start_load(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seedbed", "load", str(SEEDS), "--quiet", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.fixture
def cli_env(db_env, settings) -> dict[str, str]:
    return dict(db_env, SEEDBED_SCHEMA=settings.schema)


def test_sigkill_during_the_rebuild_leaves_every_table_constraint_and_index(engine, cli_env):
    with held_check(engine):
        before = catalog(engine)
        process = start_load(cli_env)
        try:
            pid = wait_for(lambda: rebuilding_backend(engine), what="the rebuild's CHECK scan")
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(30) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
    # The scan ends now; its backend finds its client gone and rolls back.
    wait_for(lambda: backend_gone(engine, pid), what="the killed load's backend to end")
    assert catalog(engine) == before
    assert set(counts(engine).values()) == {0}


def test_a_second_load_gives_up_after_the_lock_timeout_naming_table_and_holder(engine, cli_env):
    first = None
    try:
        with held_check(engine):
            first = start_load(cli_env)
            holder = wait_for(lambda: rebuilding_backend(engine), what="the first load's rebuild")
            second = start_load(dict(cli_env, SEEDBED_LOCK_TIMEOUT="1"))
            _, stderr = second.communicate(timeout=60)
            assert second.returncode == 2, stderr
            assert "waiting up to 1 s for table 'user'" in stderr  # the first in load order
            assert f"backend pid {holder}" in stderr
            assert "nothing was written" in stderr and "Traceback" not in stderr
        _, first_err = first.communicate(timeout=60)
        assert first.returncode == 0, first_err
    finally:
        if first is not None and first.poll() is None:
            first.kill()
            first.communicate()
    assert counts(engine) == {p.stem: file_rows(p) for p in SEEDS.glob("*.csv")}


def test_a_load_waits_for_a_lock_saying_who_holds_it_then_loads(engine, cli_env):
    reader = engine.connect()
    reader.exec_driver_sql(f'SELECT count(*) FROM "{schema_of(engine)}".post')  # holds ACCESS SHARE
    holder = reader.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    process = start_load(cli_env)
    try:
        wait_for(lambda: lock_waiter(engine), what="the load to wait for its lock")
        time.sleep(0.2)
    finally:
        reader.rollback()
        reader.close()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "waiting up to 30 s for table 'post'" in stderr
    assert f"backend pid {holder} (AccessShareLock" in stderr
    assert counts(engine)["post"] == file_rows(SEEDS / "post.csv")


def lock_waiter(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'LOCK TABLE%' AND pid <> pg_backend_pid()"
            )
        ).scalar()


# -- settings and sizing, no server needed ----------------------------------------


def test_lock_timeout_setting():
    assert lock_timeout({}) == DEFAULT_LOCK_TIMEOUT == 30
    assert lock_timeout({"SEEDBED_LOCK_TIMEOUT": "2.5"}) == 2.5
    assert lock_timeout({"SEEDBED_LOCK_TIMEOUT": "10s"}) == 10
    assert lock_timeout({"SEEDBED_LOCK_TIMEOUT": "0"}) == 0
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ConfigError, match="SEEDBED_LOCK_TIMEOUT"):
            lock_timeout({"SEEDBED_LOCK_TIMEOUT": bad})


def test_maintenance_work_mem_follows_the_data_within_the_machine():
    gib = 1 << 30
    assert maintenance_work_mem_mb(0, 24 * gib) == 64
    assert maintenance_work_mem_mb(400 << 20, 24 * gib) == 516
    assert maintenance_work_mem_mb(10 * gib, 24 * gib) == 2048
    assert maintenance_work_mem_mb(10 * gib, 4 * gib) == 512


def test_a_foreign_key_on_an_indexed_column_is_validated_by_merge_join_setting_put_back(engine):
    """The join is chosen by the table's indexes; the transaction's own setting survives."""
    schema = schema_of(engine)
    plan = LoadPlan(strategies={}, locks=(), empty=frozenset(), non_empty=frozenset(), rebuilt=())
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.cursor() as cursor:
            user, tag, post, post_tag = (
                f'"{schema}"."{t}"' for t in ("user", "tag", "post", "post_tag")
            )
            found = read_definitions(cursor, [post, post_tag], [user, tag, post, post_tag])
            keys = {d.name: d for d in found if d.kind == "f"}
            rebuild = Rebuild(driver, plan)
            cursor.execute("SELECT current_setting('enable_hashjoin')")
            assert cursor.fetchone() == (rebuild.hashjoin,) == ("on",)
            author = keys["fk_post_author_id_user"]  # ix_post_author_id
            # post_tag's key (post_id, tag_id) leads with post_id; tag_id has its own index
            assert rebuild._merge_join(cursor, [author])
            assert rebuild._merge_join(cursor, [keys["fk_post_tag_post_id_post"]])
            assert rebuild._merge_join(cursor, [keys["fk_post_tag_tag_id_tag"]])
            cursor.execute(author.drop_sql)
            rebuild._run(cursor, [author], {})
            cursor.execute("SELECT current_setting('enable_hashjoin')")
            assert cursor.fetchone() == ("on",)
            cursor.execute(
                "SELECT convalidated FROM pg_constraint WHERE conname = %s", (author.name,)
            )
            assert cursor.fetchone() == (True,)
            cursor.execute(f'DROP INDEX "{schema}".ix_post_author_id')
            assert not rebuild._merge_join(cursor, [author])
        driver.rollback()


def test_cli_strategy_option(cli_env):

    done = run_cli("load", str(SEEDS), "--strategy", "incremental", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "incremental" in done.stdout and "rebuild" in done.stdout
    bad = run_cli("load", str(SEEDS), env=dict(cli_env, SEEDBED_LOCK_TIMEOUT="soon"))
    assert bad.returncode == 2 and "SEEDBED_LOCK_TIMEOUT" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert Path(ROOT / "README.md").read_text().count("SEEDBED_LOCK_TIMEOUT") >= 1


# -- the incremental path into tables with rows ------------------------------------


def test_keys_the_database_already_has_are_all_reported_by_line(engine, tmp_path):
    seedbed.load([SEEDS / "user.csv"], engine=engine, progress=False)
    other = distinct_seed_set(tmp_path / "other", 20, seed=4)
    header, rows = user_rows(other / "user.csv")
    _, existing = user_rows(SEEDS / "user.csv")
    rows[4][header.index("id")] = existing[0][0]
    rows[9][header.index("email")] = existing[1][header.index("email")]
    path = write_csv(tmp_path / "user.csv", header, rows)
    with pytest.raises(DataError) as caught:
        seedbed.load([path], engine=engine, progress=False)
    failures = caught.value.report.failures
    assert sorted(failures["line"]) == [6, 11]
    assert set(failures["rule"]) == {"pk_user", "uq_user_email"}
    assert counts(engine)["user"] == file_rows(SEEDS / "user.csv")


def test_a_part_folder_row_the_rebuild_refuses_names_its_part_and_line(engine, tmp_path):
    execute(
        engine, """ALTER TABLE "{schema}".tag ADD CONSTRAINT ck_no_spam CHECK (name <> 'spam')"""
    )
    header, rows = user_rows(SEEDS / "tag.csv")
    rows[6][header.index("name")] = "spam"
    write_csv(tmp_path / "tag" / "part-0000.csv", header, rows[:4])
    write_csv(tmp_path / "tag" / "part-0001.csv", header, rows[4:])
    with pytest.raises(LoadError) as caught:
        seedbed.load([tmp_path / "tag"], engine=engine, progress=False)
    assert "part-0001.csv, line 4" in str(caught.value)
    assert counts(engine)["tag"] == 0
