"""The same commands against a second PostgreSQL version named by DATABASE_URL.

Debian's PostgreSQL 15 binaries are used when the machine has them; the suite
does not depend on them (the test is skipped, saying why, when they are absent).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.models import metadata
from seedbed.safety import probes
from tests.helpers import as_server_user, free_port, fresh_namespace, namespace_checksums, run_cli

PG15 = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def pg15_url(tmp_path_factory: pytest.TempPathFactory, base_settings: object) -> Iterator[str]:
    if not (PG15 / "postgres").exists():
        pytest.skip("Debian's PostgreSQL 15 is not installed on this machine")
    home = tmp_path_factory.mktemp("pg15")
    data = home / "data"
    if os.geteuid() == 0:
        shutil.chown(home, "embedded_postgres")
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        as_server_user([str(PG15 / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        **run,
    )
    port = free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    ctl = [str(PG15 / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w"]
    subprocess.run(as_server_user([*ctl, "-o", options, "start"]), **run)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_server_user([*ctl, "-m", "immediate", "stop"]), **run)


def test_migrate_and_check_on_postgres_15(pg15_url: str, db_env: dict[str, str]) -> None:
    schema = fresh_namespace("pg15")
    env = {**db_env, "DATABASE_URL": pg15_url, "SEEDBED_SCHEMA": schema}
    assert run_cli("db", "migrate", env=env).returncode == 0
    engine = sa.create_engine(pg15_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        version = conn.exec_driver_sql("show server_version_num").scalar_one()
        tables = set(
            conn.execute(
                sa.text("select tablename from pg_tables where schemaname = :s"), {"s": schema}
            ).scalars()
        )
        public = conn.exec_driver_sql(
            "select count(*) from pg_tables where schemaname = 'public'"
        ).scalar_one()
    assert version.startswith("15")
    assert tables == {t.name for t in metadata.sorted_tables} | {"alembic_version"}
    assert public == 0
    assert run_cli("db", "check", env=env).returncode == 0
    with engine.begin() as conn:
        conn.exec_driver_sql(f'drop index "{schema}".ix_account_user_id')
    drifted = run_cli("db", "check", env=env)
    assert drifted.returncode == 1
    assert "ix_account_user_id" in drifted.stdout
    engine.dispose()


def test_backup_restore_and_lint_on_postgres_15_with_a_password(
    pg15_url: str, db_env: dict[str, str], tmp_path: Path
) -> None:
    """Password auth (scram): pg_dump and psql get it from the environment; PG15 has no
    pg_input_is_valid, so conversion failures are counted in PL/pgSQL."""
    admin = sa.create_engine(pg15_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.exec_driver_sql("create role seedbed_pw login password 'hunter2'")
        conn.exec_driver_sql("grant create on database postgres to seedbed_pw")
        hba = Path(conn.exec_driver_sql("show hba_file").scalar_one())
        hba.write_text("host all seedbed_pw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        conn.exec_driver_sql("select pg_reload_conf()")
    url = pg15_url.replace("postgres@", "seedbed_pw:hunter2@")
    schema = fresh_namespace("pg15pw")
    env = {**db_env, "DATABASE_URL": url, "SEEDBED_SCHEMA": schema}
    for args in (["db", "migrate"], ["load", "data/seeds", "--quiet"]):
        assert run_cli(*args, env=env).returncode == 0
    wrong = run_cli("db", "backup", env={**env, "DATABASE_URL": url.replace("hunter2", "nope")})
    assert wrong.returncode == 2 and "password authentication failed" in wrong.stderr
    dump = tmp_path / "pg15.dump"
    made = run_cli("db", "backup", "--out", str(dump), env=env)
    assert made.returncode == 0, made.stderr
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    before = namespace_checksums(engine, schema)
    assert run_cli("db", "reset", "--yes", env=env).returncode == 0
    restored = run_cli("db", "restore", str(dump), "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    assert namespace_checksums(engine, schema) == before and before["user"][0] > 0
    for result in (wrong, made, restored):
        assert "hunter2" not in result.stdout + result.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql(f"update \"{schema}\".\"user\" set name = '5' where email < 'user2'")
    with engine.connect() as conn:
        named = conn.exec_driver_sql(
            f'select count(*) from "{schema}"."user" where name !~ \'^[0-9]+$\''
        ).scalar_one()
        found = probes.unconvertible_count(probes.Relation(conn, schema, "user"), "name", "integer")
    assert found == named > 0
    engine.dispose()
    admin.dispose()
