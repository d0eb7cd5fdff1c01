"""seedbed on a Citus cluster, each namespace a distributed schema.

These tests need Citus built into Debian's PostgreSQL 15; where it is not (CI),
they skip and say so (see ``tests/citus_cluster.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed import migrate
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import DatabaseError
from seedbed.loading import load
from seedbed.safety import backup, restore
from seedbed.validation import validate
from tests.citus_cluster import CitusCluster
from tests.helpers import ROOT, counts, fresh_namespace, run_cli_here
from tests.revision_files import RevisionFolder
from tests.test_autogen import assert_round_trip, changed_model


def test_a_new_schema_on_the_cluster_is_a_distributed_schema(citus: CitusCluster) -> None:
    schema = fresh_namespace("citus")
    engine = citus.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY)')
        distributed = conn.execute(
            sa.text("SELECT count(*) FROM citus_schemas WHERE schema_name::text = :s"),
            {"s": schema},
        ).scalar_one()
    engine.dispose()
    assert distributed == 1
    assert citus.placement(schema) <= set(citus.workers) and citus.placement(schema)


def _env(citus: CitusCluster, db_env: dict[str, str], schema: str) -> dict[str, str]:
    return {**db_env, "DATABASE_URL": citus.url, "SEEDBED_SCHEMA": schema}


def test_migrate_makes_a_distributed_schema_whose_updated_at_trigger_fires(
    citus: CitusCluster, db_env: dict[str, str]
) -> None:
    schema = fresh_namespace("cddl")
    env = _env(citus, db_env, schema)
    migrated = run_cli_here("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "(Citus 13.2, namespace " in migrated.stderr
    assert "not created yet, will be a distributed schema" in migrated.stderr
    checked = run_cli_here("db", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (worker,) = citus.placement(schema)
    assert f"distributed schema on worker 127.0.0.1:{worker})" in checked.stderr
    engine = citus.engine()
    with engine.begin() as conn:
        # the setting was for the migration's transaction only
        assert conn.exec_driver_sql("SHOW citus.enable_unsafe_triggers").scalar_one() == "off"
        conn.exec_driver_sql(
            f'INSERT INTO "{schema}".verification (id, identifier, value, expires_at, updated_at) '
            "VALUES ('0b6e9a3e-8c1f-4b7a-9d2e-1f2a3b4c5d6e', 'a', 'b', now() + interval '1 day', "
            "'2000-01-01')"
        )
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE \"{schema}\".verification SET value = 'c'")
        touched = conn.exec_driver_sql(
            f"SELECT updated_at > '2000-01-02' FROM \"{schema}\".verification"
        ).scalar_one()
    engine.dispose()
    assert touched is True


@pytest.fixture
def citus_settings(citus: CitusCluster, base_settings: Settings) -> Iterator[Settings]:
    """A migrated namespace on the cluster, dropped afterwards."""
    settings = load_settings(
        schema=fresh_namespace("cddl"), database_url=citus.url, home=base_settings.home
    )
    migrate.upgrade_unchecked(settings)
    yield settings
    migrate.reset(settings)


def test_a_model_change_generates_applies_and_downgrades_on_a_distributed_schema(
    citus: CitusCluster, citus_settings: Settings, revisions: RevisionFolder
) -> None:
    load(ROOT / "data" / "seeds", engine=get_engine(citus_settings), progress=False)
    assert_round_trip(citus_settings, changed_model(citus_settings.schema))
    assert len(citus.placement(citus_settings.schema)) == 1


def test_seeds_load_by_rebuild_then_upsert_validate_backup_and_restore(
    citus_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(citus_settings)
    tried = load(ROOT / "data" / "seeds", engine=engine, dry_run=True, progress=False)
    assert {t.strategy for t in tried.tables} == {"incremental"}
    assert "auto wrote the empty tables incrementally: on Citus" in str(tried)
    first = load(ROOT / "data" / "seeds", engine=engine, strategy="rebuild", progress=False)
    assert {t.strategy for t in first.tables} == {"rebuild"}
    assert migrate.check(citus_settings) == []
    again = load(ROOT / "data" / "seeds", engine=engine, mode="upsert", progress=False)
    assert again.committed and sum(t.skipped for t in again.tables) == sum(counts(engine).values())
    assert validate(ROOT / "data" / "seeds", engine=engine, mode="upsert").ok
    saved = backup(citus_settings, tmp_path / "ns.dump")
    before = counts(engine)
    migrate.reset(citus_settings)
    restore(citus_settings, saved)
    assert counts(engine) == before
    assert migrate.check(citus_settings) == []


def test_a_lock_held_on_a_worker_is_waited_for_no_longer_than_the_lock_timeout(
    citus: CitusCluster, citus_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SHARE on the worker's shard lets the probe for rows through and blocks the rebuild's
    # first drop there: the coordinator knows nothing of it, only the propagated timeout helps.
    monkeypatch.setenv("SEEDBED_LOCK_TIMEOUT", "1")
    schema = citus_settings.schema
    (worker,) = citus.placement(schema)
    coordinator = citus.engine()
    with coordinator.connect() as conn:
        shard = conn.execute(
            sa.text("SELECT shard_name FROM citus_shards WHERE table_name = CAST(:t AS regclass)"),
            {"t": f'"{schema}".tag'},
        ).scalar_one()
    coordinator.dispose()
    holder = citus.engine(worker)
    try:
        with holder.connect() as conn:
            conn.exec_driver_sql("SET citus.enable_manual_changes_to_shards = on")
            conn.exec_driver_sql("SET idle_in_transaction_session_timeout = '60s'")
            conn.exec_driver_sql(f"LOCK TABLE {shard} IN SHARE MODE")
            with pytest.raises(DatabaseError, match="gave up waiting for a table lock while"):
                seeds, engine = ROOT / "data" / "seeds", get_engine(citus_settings)
                load(seeds, engine=engine, strategy="rebuild", progress=False)
            conn.rollback()
    finally:
        holder.dispose()
    assert set(counts(get_engine(citus_settings)).values()) == {0}


def test_a_namespace_created_with_schema_sharding_off_stays_on_the_coordinator(
    citus: CitusCluster, db_env: dict[str, str]
) -> None:
    schema = fresh_namespace("cddl")
    engine = citus.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL citus.enable_schema_based_sharding = off")
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    env = _env(citus, db_env, schema)
    assert run_cli_here("-q", "db", "migrate", env=env).returncode == 0
    loaded = run_cli_here("load", "data/seeds", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "not a distributed schema; its tables are on the coordinator" in loaded.stderr
    assert citus.placement(schema) == set()
    assert run_cli_here("-q", "db", "reset", "--yes", env=env).returncode == 0


def test_three_migrated_namespaces_are_placed_over_both_workers(
    citus: CitusCluster, base_settings: Settings
) -> None:
    placed: set[int] = set()
    for _ in range(3):
        settings = load_settings(
            schema=fresh_namespace("cddl"), database_url=citus.url, home=base_settings.home
        )
        migrate.upgrade_unchecked(settings)
        placed |= citus.placement(settings.schema)
        migrate.reset(settings)
    assert placed == set(citus.workers)


def test_a_cycle_of_foreign_keys_is_pushed_loaded_and_checked_on_a_distributed_schema(
    citus: CitusCluster, base_settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    """``team.owner_id -> person`` and ``person.team_id -> team`` in one distributed schema:
    created with the closing key added after, loaded (a rebuild, then an upsert that writes
    both tables of the cycle in one statement), and matching the model."""
    from tests.test_foreign_key_cycles import FIRST, SECOND, TEAMS

    settings = load_settings(
        schema=fresh_namespace("ccyc"), database_url=citus.url, home=base_settings.home
    )
    env = {**pushed_citus(tmp_path, db_env, settings, TEAMS)}
    try:
        for name, files in (("first", FIRST), ("second", SECOND)):
            seeds = tmp_path / name
            seeds.mkdir()
            for table, text in files.items():
                (seeds / f"{table}.csv").write_text(text)
            mode = "insert" if name == "first" else "upsert"
            done = run_cli_here("-q", "load", "--mode", mode, str(seeds), env=env)
            assert done.returncode == 0, done.stderr
        checked = run_cli_here("-q", "db", "check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with get_engine(settings).connect() as conn:
            teams = conn.exec_driver_sql(
                f'SELECT id, owner_id FROM "{settings.schema}".team ORDER BY id'
            ).all()
            keys = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                f" AND connamespace = '\"{settings.schema}\"'::regnamespace"
            ).scalar_one()
        assert [tuple(t) for t in teams] == [(1, 20), (2, 11), (3, None), (4, 20), (5, 21)]
        assert keys == 2
        assert len(citus.placement(settings.schema)) == 1
    finally:
        migrate.reset(settings)


def pushed_citus(
    tmp_path: Path, db_env: dict[str, str], settings: Settings, source: str
) -> dict[str, str]:
    """The environment of a model folder of ``source`` pushed to ``settings``' namespace."""
    from tests.helpers import model_folder

    models = model_folder(tmp_path / "models", tables=source)
    env = {
        **db_env,
        "DATABASE_URL": str(settings.database_url),
        "SEEDBED_SCHEMA": settings.schema,
        "SEEDBED_MODELS": str(models),
    }
    pushed = run_cli_here("-q", "db", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    return env
