"""seedbed on a Citus cluster, each namespace a distributed schema.

These tests need Citus built into Debian's PostgreSQL 15; where it is not (CI),
they skip and say so (see ``tests/citus_cluster.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from seedbed import migrate
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.loading import load
from tests.citus_cluster import CitusCluster
from tests.helpers import ROOT, fresh_namespace, run_cli
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
    migrated = run_cli("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "(Citus 13.2, namespace " in migrated.stderr
    assert "not created yet, will be a distributed schema" in migrated.stderr
    checked = run_cli("db", "check", env=env)
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
