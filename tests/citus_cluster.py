"""A three-node Citus cluster for the tests that need one: a coordinator and two workers.

Citus is in no package registry; ``../shared/tools/citus/build.sh`` builds it into
Debian's PostgreSQL 15. Where it is not installed (CI), the fixture skips and says
so. The cluster lives in a temporary folder on free loopback ports, with
schema-based sharding on, and is stopped at the end of the module that used it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import as_server_user, free_port

PG15 = Path("/usr/lib/postgresql/15/bin")
PG15_LIB = Path("/usr/lib/postgresql/15/lib")

#: Why Citus tests skip where Citus is not built (CI).
NOT_BUILT = (
    "Citus is not installed into PostgreSQL 15 on this machine "
    "(build it with ../shared/tools/citus/build.sh GIT_DIR)"
)


def citus_installed() -> bool:
    return (PG15 / "postgres").exists() and (PG15_LIB / "citus.so").exists()


@dataclass(frozen=True)
class CitusCluster:
    coordinator: int
    workers: tuple[int, ...]

    @property
    def url(self) -> str:
        """``DATABASE_URL`` for the coordinator."""
        return f"postgresql://postgres@127.0.0.1:{self.coordinator}/postgres"

    def engine(self, port: int | None = None) -> sa.Engine:
        port = self.coordinator if port is None else port
        return sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")

    def placement(self, schema: str) -> set[int]:
        """The worker ports that hold the shards of ``schema``'s tables."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return set(
                    conn.execute(
                        sa.text(
                            "SELECT DISTINCT p.nodeport FROM pg_dist_shard_placement AS p "
                            "JOIN pg_dist_shard AS s USING (shardid) "
                            "JOIN pg_class AS c ON c.oid = s.logicalrelid "
                            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = :s"
                        ),
                        {"s": schema},
                    ).scalars()
                )
        finally:
            engine.dispose()


def _start_node(home: Path, name: str, port: int) -> list[str]:
    data = home / name
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        as_server_user([str(PG15 / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        **run,
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{home}'\n"
            "shared_preload_libraries = 'citus'\nmax_connections = 200\n"
            "max_prepared_transactions = 200\nwal_level = logical\n"
            "citus.enable_schema_based_sharding = on\n"
        )
    ctl = [str(PG15 / "pg_ctl"), "-D", str(data), "-l", str(home / f"{name}.log"), "-w"]
    subprocess.run(as_server_user([*ctl, "start"]), **run)
    return ctl


@pytest.fixture(scope="module")
def citus(
    tmp_path_factory: pytest.TempPathFactory, base_settings: object
) -> Iterator[CitusCluster]:
    """A running coordinator and two workers; skipped where Citus is not installed.

    ``base_settings`` starts the embedded server first, which creates the system user
    that PostgreSQL runs as when the suite runs as root.
    """
    if not citus_installed():
        pytest.skip(NOT_BUILT)
    home = tmp_path_factory.mktemp("citus")
    if os.geteuid() == 0:
        shutil.chown(home, "embedded_postgres")
    ports = {name: free_port() for name in ("coord", "w1", "w2")}
    started: list[list[str]] = []
    try:
        for name, port in ports.items():
            started.append(_start_node(home, name, port))
        for port in ports.values():
            engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
            with engine.begin() as conn:
                conn.exec_driver_sql("SET client_min_messages = warning")
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS citus")
            engine.dispose()
        cluster = CitusCluster(ports["coord"], (ports["w1"], ports["w2"]))
        engine = cluster.engine()
        with engine.begin() as conn:
            conn.execute(
                sa.text("SELECT citus_set_coordinator_host('127.0.0.1', :p)"), {"p": ports["coord"]}
            )
            for worker in cluster.workers:
                conn.execute(sa.text("SELECT citus_add_node('127.0.0.1', :p)"), {"p": worker})
        engine.dispose()
        yield cluster
    finally:
        for ctl in started:
            subprocess.run(
                as_server_user([*ctl, "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=120,
                check=False,
            )
