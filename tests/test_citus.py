"""seedbed on a Citus cluster, each namespace a distributed schema.

These tests need Citus built into Debian's PostgreSQL 15; where it is not (CI),
they skip and say so (see ``tests/citus_cluster.py``).
"""

from __future__ import annotations

import sqlalchemy as sa

from tests.citus_cluster import CitusCluster
from tests.helpers import fresh_namespace


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
