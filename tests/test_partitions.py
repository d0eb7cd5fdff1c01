"""Partitioned tables: one table of the model, carried with its key and every partition's bound.

A table partitioned by range, with a partition partitioned again by list
(one of whose partitions is the default), a table whose key points at the
partitioned table, and the partitioned table's own key to another table.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import SeedError
from seedbed.facts import DatabaseSource, table_spec
from seedbed.facts.pull import pull
from seedbed.sqltext import qualified_name, quote_ident
from tests.helpers import ROOT, fresh_settings, run_cli_here
from tests.load_helpers import write_csv

SCHEMA = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}.customer (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE {ns}.payment (
    payment_id integer NOT NULL,
    customer_id integer NOT NULL REFERENCES {ns}.customer,
    amount numeric(5, 2) NOT NULL CHECK (amount >= 0),
    paid_on date NOT NULL,
    PRIMARY KEY (payment_id, paid_on)
) PARTITION BY RANGE (paid_on);
CREATE INDEX payment_customer ON {ns}.payment (customer_id);
CREATE TABLE {ns}.payment_2022_01 PARTITION OF {ns}.payment
    FOR VALUES FROM ('2022-01-01') TO ('2022-02-01');
CREATE TABLE {ns}.payment_2022_02 PARTITION OF {ns}.payment
    FOR VALUES FROM ('2022-02-01') TO ('2022-03-01') PARTITION BY LIST (payment_id);
CREATE TABLE {ns}.payment_2022_02_low PARTITION OF {ns}.payment_2022_02 FOR VALUES IN (1, 2, 3);
CREATE TABLE {ns}.payment_2022_02_rest PARTITION OF {ns}.payment_2022_02 DEFAULT;
CREATE TABLE {ns}.refund (
    id integer PRIMARY KEY,
    payment_id integer NOT NULL,
    paid_on date NOT NULL,
    FOREIGN KEY (payment_id, paid_on) REFERENCES {ns}.payment
);
ALTER TABLE {ns}.payment_2022_01 ADD CONSTRAINT january_small CHECK (amount < 100);
"""
PARTITIONS = [
    ("payment_2022_01", "payment", "FOR VALUES FROM ('2022-01-01') TO ('2022-02-01')", None),
    (
        "payment_2022_02",
        "payment",
        "FOR VALUES FROM ('2022-02-01') TO ('2022-03-01')",
        "LIST (payment_id)",
    ),
    ("payment_2022_02_low", "payment_2022_02", "FOR VALUES IN (1, 2, 3)", None),
    ("payment_2022_02_rest", "payment_2022_02", "DEFAULT", None),
]


@pytest.fixture
def ledger(base_settings: Settings) -> Iterator[Settings]:
    settings = fresh_settings(base_settings, prefix="part")
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEMA.format(ns=quote_ident(settings.schema)))
    yield settings
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")


def _partitions(engine: sa.Engine, schema: str) -> list[tuple[str, str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.relname, p.relname, pg_get_expr(c.relpartbound, c.oid), "
                "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END "
                "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                "JOIN pg_inherits AS i ON i.inhrelid = c.oid "
                "JOIN pg_class AS p ON p.oid = i.inhparent "
                "WHERE n.nspname = :ns AND c.relkind IN ('r', 'p') ORDER BY 1"
            ),
            {"ns": schema},
        ).all()
    return [tuple(row) for row in rows]


def test_the_catalog_sees_a_partitioned_table_as_one_table_with_its_partitions(ledger):
    source = DatabaseSource(get_engine(ledger))
    metadata = source.metadata(ledger.schema)
    assert sorted(t.name for t in metadata.tables.values()) == ["customer", "payment", "refund"]
    payment = metadata.tables[f"{ledger.schema}.payment"]
    assert payment.dialect_options["postgresql"]["partition_by"] == "RANGE (paid_on)"
    found = [
        (p["name"], p["of"], p["bound"], p.get("partition_by")) for p in payment.info["partitions"]
    ]
    assert found == PARTITIONS
    refund = table_spec(metadata.tables[f"{ledger.schema}.refund"])
    assert [(fk.name, fk.parent.name) for fk in refund.foreign_keys] == [
        ("refund_payment_id_paid_on_fkey", "payment")
    ]
    spec = table_spec(payment)
    assert [fk.name for fk in spec.foreign_keys] == ["payment_customer_id_fkey"]


def test_pull_carries_key_and_bounds_and_push_creates_the_same_partitions(
    ledger, base_settings, db_env, tmp_path
):
    result = pull(ledger, tmp_path / "m")
    lines = result.lines()
    assert (
        "  payment (payment.py): 4 columns, 1 keys, 1 foreign keys, 1 indexes, 1 checks, "
        "partitioned by RANGE (paid_on) into 4 partitions" in lines
    )
    assert "  refund (refund.py): 3 columns, 1 keys, 1 foreign keys, 0 indexes, 0 checks" in lines
    assert "  constraint january_small on partition payment_2022_01" in lines
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "base.py",
        "customer.py",
        "payment.py",
        "refund.py",
    ]
    env = {**db_env, "SEEDBED_SCHEMA": ledger.schema, "SEEDBED_MODELS": str(tmp_path / "m")}
    check = run_cli_here("-q", "db", "check", env=env)
    assert check.returncode == 0 and "matches" in check.stdout, check.stdout + check.stderr
    fresh = fresh_settings(base_settings, prefix="pushed")
    env["SEEDBED_SCHEMA"] = fresh.schema
    try:
        pushed = run_cli_here("-q", "db", "push", env=env)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        engine = get_engine(fresh)
        assert _partitions(engine, fresh.schema) == [
            (name, of, bound, by) for name, of, bound, by in PARTITIONS
        ]
        again = run_cli_here("-q", "db", "check", env=env)
        assert again.returncode == 0 and "matches" in again.stdout, again.stdout
    finally:
        with get_engine(fresh).begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(fresh.schema)} CASCADE")


def test_a_partition_the_pulled_model_lacks_is_drift(ledger, db_env, tmp_path):
    pull(ledger, tmp_path / "m")
    with get_engine(ledger).begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {qualified_name(ledger.schema, 'payment_2022_03')} PARTITION OF "
            f"{qualified_name(ledger.schema, 'payment')} "
            "FOR VALUES FROM ('2022-03-01') TO ('2022-04-01')"
        )
    env = {**db_env, "SEEDBED_SCHEMA": ledger.schema, "SEEDBED_MODELS": str(tmp_path / "m")}
    check = run_cli_here("-q", "db", "check", env=env)
    assert check.returncode == 1 and "payment_2022_03" in check.stdout, check.stdout


def _seeds(folder: Path, refund_payment: str = "2") -> Path:
    write_csv(folder / "customer.csv", ["id", "name"], [["1", "Ada"], ["2", "Grace"]])
    write_csv(
        folder / "payment.csv",
        ["payment_id", "customer_id", "amount", "paid_on"],
        [
            ["1", "1", "9.99", "2022-01-05"],
            ["2", "2", "3.50", "2022-02-03"],
            ["7", "1", "1.00", "2022-02-20"],
        ],
    )
    write_csv(
        folder / "refund.csv",
        ["id", "payment_id", "paid_on"],
        [["1", refund_payment, "2022-02-03"]],
    )
    return folder


def test_a_load_routes_rows_through_the_parent_and_says_why_it_is_not_rebuilt(
    ledger, db_env, tmp_path
):
    seeds = _seeds(tmp_path / "seeds")
    env = {**db_env, "SEEDBED_SCHEMA": ledger.schema, "SEEDBED_MODELS": "database"}
    loaded = run_cli_here("load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert (
        "payment: written incrementally, not rebuilt: it is partitioned "
        "(COPY routes its rows to the partitions)" in loaded.stdout
    )
    assert "customer: written incrementally, not rebuilt: the partitioned table" in loaded.stdout
    assert "refund" in loaded.stdout
    engine = get_engine(ledger)
    with engine.connect() as conn:
        routed = conn.exec_driver_sql(
            "SELECT tableoid::regclass::text, payment_id "
            f"FROM {qualified_name(ledger.schema, 'payment')} ORDER BY payment_id"
        ).all()
    assert [(str(t).rsplit(".", 1)[-1], n) for t, n in routed] == [
        ("payment_2022_01", 1),
        ("payment_2022_02_low", 2),
        ("payment_2022_02_rest", 7),
    ]


def test_the_rebuild_strategy_refuses_a_partitioned_table_and_names_why(ledger, tmp_path):
    with pytest.raises(SeedError, match=r"cannot be rebuilt: .*partitioned"):
        seedbed.load(
            _seeds(tmp_path / "seeds"),
            engine=get_engine(ledger),
            models="database",
            strategy="rebuild",
            progress=False,
        )


def test_a_key_to_the_partitioned_table_is_checked_before_load(ledger, tmp_path):
    seeds = _seeds(tmp_path / "seeds", refund_payment="5")
    report = seedbed.validate(seeds, engine=get_engine(ledger), models="database")
    failures = report.failures
    assert failures[["table", "line", "rule"]].values.tolist() == [
        ["refund", 2, "refund_payment_id_paid_on_fkey"]
    ]


def test_a_row_without_a_partition_is_refused_with_its_line_and_nothing_is_written(
    ledger, tmp_path
):
    seeds = _seeds(tmp_path / "seeds")
    write_csv(
        seeds / "payment.csv",
        ["payment_id", "customer_id", "amount", "paid_on"],
        [
            ["1", "1", "9.99", "2022-01-05"],
            ["2", "2", "3.50", "2022-02-03"],
            ["8", "1", "1", "2023-05-01"],
        ],
    )
    (seeds / "refund.csv").unlink()
    engine = get_engine(ledger)
    for mode in ("insert", "upsert", "skip-existing"):
        with pytest.raises(seedbed.LoadError) as caught:
            seedbed.load(seeds, engine=engine, models="database", mode=mode, progress=False)
        assert caught.value.line == 4 and "no partition of relation" in str(caught.value)
        assert caught.value.report.failures["line"].tolist() == [4]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT count(*) FROM {qualified_name(ledger.schema, 'customer')}"
        ).scalar_one()
    assert rows == 0


def test_upsert_into_a_partitioned_table_counts_inserted_and_updated_rows(ledger, tmp_path):
    engine = get_engine(ledger)
    seeds = _seeds(tmp_path / "seeds")
    seedbed.load(seeds, engine=engine, models="database", progress=False)
    write_csv(
        seeds / "payment.csv",
        ["payment_id", "customer_id", "amount", "paid_on"],
        [
            ["1", "1", "19.99", "2022-01-05"],
            ["2", "2", "3.50", "2022-02-03"],
            ["9", "2", "4", "2022-02-21"],
        ],
    )
    result = seedbed.load(seeds, engine=engine, models="database", mode="upsert", progress=False)
    assert (result.inserted["payment"], result.updated["payment"], result.skipped["payment"]) == (
        1,
        1,
        1,
    )


def test_a_revision_generated_from_the_pulled_model_creates_the_partitions(
    ledger, base_settings, db_env, tmp_path
):
    pull(ledger, tmp_path / "m")
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(ROOT / "migrations" / name, migrations / name)
    fresh = fresh_settings(base_settings, prefix="migrated")
    env = {
        **db_env,
        "SEEDBED_SCHEMA": fresh.schema,
        "SEEDBED_MODELS": str(tmp_path / "m"),
        "SEEDBED_MIGRATIONS": str(migrations),
    }
    try:
        generated = run_cli_here("-q", "db", "generate", "-m", "ledger", env=env)
        assert generated.returncode == 0, generated.stdout + generated.stderr
        (revision,) = (migrations / "versions").glob("*.py")
        assert "postgresql_partition_by='RANGE (paid_on)'" in revision.read_text()
        migrated = run_cli_here("-q", "db", "migrate", env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert _partitions(get_engine(fresh), fresh.schema) == PARTITIONS
    finally:
        with get_engine(fresh).begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(fresh.schema)} CASCADE")


def test_a_partition_is_created_by_one_statement_with_its_bound_and_key():
    from seedbed.models.base import partition_sql

    january = {"name": "p 1", "of": "payment", "bound": "FOR VALUES FROM (1) TO (2)"}
    assert partition_sql("my-app", january) == (
        'CREATE TABLE "my-app"."p 1" PARTITION OF "my-app"."payment" FOR VALUES FROM (1) TO (2)'
    )
    nested = {**january, "partition_by": "LIST (id)"}
    assert partition_sql(None, nested).endswith(
        'PARTITION OF "payment" FOR VALUES FROM (1) TO (2) PARTITION BY LIST (id)'
    )


def test_an_upsert_into_a_partitioned_table_counts_by_key_not_by_xmax():
    from seedbed.loading.modes import merge_sql
    from seedbed.loadmode import LoadMode

    table = sa.Table("payment", sa.MetaData(schema="app"), sa.Column("id", sa.Integer))
    plain = merge_sql(table, ["id"], ["id"], LoadMode.UPSERT)
    routed = merge_sql(table, ["id"], ["id"], LoadMode.UPSERT, partitioned=True)
    assert "xmax" in plain and "xmax" not in routed
    assert 'NOT EXISTS (SELECT 1 FROM "app"."payment" AS t WHERE t."id" = m."id")' in routed
