"""Explore on a Citus distributed schema: distributed plans and the shards' index statistics.

The cluster tests need Citus built into Debian's PostgreSQL 15; where it is not
(CI), they skip and say so. The plan-parsing test needs no server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nbformat
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import seedbed
from seedbed import explore, migrate
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from tests.citus_cluster import CitusCluster
from tests.helpers import ROOT, fresh_namespace
from tests.notebook_runs import execute

SEEDS = ROOT / "data" / "seeds"


def _node(node_type: str, **fields: Any) -> dict[str, Any]:
    return {"Node Type": node_type, "Actual Rows": 1, "Shared Hit Blocks": 0, **fields}


def _task(port: int, plan: dict[str, Any]) -> dict[str, Any]:
    return {"Node": f"host=10.0.0.1 port={port} dbname=app", "Remote Plan": [[{"Plan": plan}]]}


def _citus(job: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return _node(
        "Custom Scan",
        **{"Custom Plan Provider": "Citus Adaptive", "Distributed Query": {"Job": job}, **fields},
    )


def test_plan_frame_places_citus_subplans_and_worker_plans_under_the_citus_node() -> None:
    leaf = _node("Index Scan", **{"Relation Name": "user_102008", "Shared Hit Blocks": 3})
    subplan = _citus({"Task Count": 1, "Tasks Shown": "All", "Tasks": [_task(5432, leaf)]})
    join = _node("Hash Join", Plans=[_node("Seq Scan", **{"Shared Hit Blocks": 2})])
    root = _citus(
        {"Task Count": 4, "Tasks Shown": "One of 4", "Tasks": [_task(5433, join)]},
    )
    root["Distributed Query"]["Subplans"] = [{"PlannedStmt": [{"Plan": subplan}]}]
    plan = explore.plan_frame({"Plan": root, "Execution Time": 1.5})
    assert plan["node_type"].tolist() == [
        "Custom Scan (Citus Adaptive)",
        "Custom Scan (Citus Adaptive)",
        "Index Scan",
        "Hash Join",
        "Seq Scan",
    ]
    assert plan["parent_id"].tolist() == [pd.NA, 0, 1, 0, 3]
    assert plan["subplan"].fillna(0).tolist() == [0, 1, 1, 0, 0]
    assert plan["worker"].fillna("").tolist() == [
        "",
        "",
        "10.0.0.1:5432",
        "10.0.0.1:5433",
        "10.0.0.1:5433",
    ]
    assert (plan.loc[0, "task_count"], plan.loc[0, "tasks_shown"]) == (4, "One of 4")
    # the roots of the worker plans are counted, each with its children
    assert explore.buffers_touched(plan) == 3


@pytest.fixture(scope="module")
def loaded(citus: CitusCluster, base_settings: Settings) -> Iterator[Settings]:
    """A distributed schema on the cluster holding the seed set."""
    settings = load_settings(
        schema=fresh_namespace("cexp"), database_url=citus.url, home=base_settings.home
    )
    migrate.upgrade_unchecked(settings)
    seedbed.load(SEEDS, engine=get_engine(settings), progress=False)
    yield settings
    migrate.reset(settings)


@pytest.fixture
def cluster_engine(loaded: Settings) -> Engine:
    return get_engine(loaded)


def test_explain_of_a_join_on_a_distributed_schema_shows_the_worker_plan(
    citus: CitusCluster, cluster_engine: Engine
) -> None:
    plan = explore.explain(
        cluster_engine,
        'select u.email, count(*) from "user" u join session s on s.user_id = u.id '
        "where u.email = :m group by u.email",
        {"m": "user1@example.com"},
    )
    root = plan.iloc[0]
    assert root["node_type"] == "Custom Scan (Citus Adaptive)"
    assert (root["task_count"], root["tasks_shown"]) == (1, "All")
    on_worker = plan[plan["worker"].notna()]
    assert len(on_worker) == len(plan) - 1
    assert {int(w.rsplit(":", 1)[1]) for w in on_worker["worker"]} <= set(citus.workers)
    assert {"user", "session"} <= set(on_worker["relation"].dropna())
    assert explore.uses_index(plan, "uq_user_email")
    assert "Index Scan using uq_user_email on user" in explore.scan_summary(plan)
    assert explore.buffers_touched(plan) > 0
    named = plan["relation"].notna() | plan["index_name"].notna()
    assert plan["shard"].notna().equals(named)


def test_explain_shows_a_distributed_subplan_across_two_schemas(
    loaded: Settings, cluster_engine: Engine
) -> None:
    other = fresh_namespace("cexp_other")
    with cluster_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{other}"')
        conn.exec_driver_sql(f'CREATE TABLE "{other}".pick (id text PRIMARY KEY)')
        conn.exec_driver_sql(f'INSERT INTO "{other}".pick SELECT id FROM "{loaded.schema}"."user"')
    try:
        plan = explore.explain(
            cluster_engine,
            f'with top as (select id from "{other}".pick order by id limit 3) '
            'select u.email from "user" u join top on top.id = u.id',
        )
    finally:
        with cluster_engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{other}" CASCADE')
    subplan = plan[plan["subplan"] == 1]
    assert subplan.iloc[0]["node_type"] == "Custom Scan (Citus Adaptive)"
    assert "pick" in set(subplan["relation"].dropna())
    assert int(plan.loc[plan["parent_id"].isna(), "node_id"].iloc[0]) == 0
    assert plan["actual_rows"].iloc[0] == 3


def test_the_index_catalog_reads_sizes_and_scans_from_the_shards(
    citus: CitusCluster, loaded: Settings, cluster_engine: Engine
) -> None:
    catalog = explore.index_catalog(cluster_engine)
    assert (catalog["size_bytes"] > 0).all()  # the coordinator's shells are empty
    ports = {int(w.rsplit(":", 1)[1]) for w in catalog["workers"]}
    assert ports == citus.placement(loaded.schema)
    assert catalog["scans"].dtype == "int64"  # counted on the workers: see the next test


def test_index_scans_during_counts_a_workload_run_on_a_worker(cluster_engine: Engine) -> None:
    def lookups(conn: Connection) -> None:
        for number in range(5):
            conn.execute(
                sa.text('select id from "user" where email = :m'),
                {"m": f"user{number}@example.com"},
            ).all()

    scans = explore.index_scans_during(cluster_engine, lookups).set_index("index")
    assert scans.loc["uq_user_email", "workload_scans"] == 5
    assert scans.loc["ix_session_user_id", "workload_scans"] == 0


def test_the_index_choices_notebook_runs_on_a_distributed_schema_and_shows_citus_plans(
    citus: CitusCluster, kernel_env: dict[str, str]
) -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "03-index-choices.ipynb", as_version=4)
    execute(notebook, {**kernel_env, "DATABASE_URL": citus.url})
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.output_type == "error"]
    assert errors == []
    shown = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "Custom Scan (Citus Adaptive)" in shown
