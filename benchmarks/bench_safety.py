"""Migration safety benchmark: lint, dry run, backup and restore on a large ``user`` table.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_safety.py                  # 1,000,000 users
    .venv/bin/python benchmarks/bench_safety.py --rows 100000    # a quick run

It fills ``user`` in the namespace ``bench_safety`` with ``--rows`` rows (one
``INSERT ... SELECT`` from ``generate_series``; a tenth of the names are
digits), writes one revision into a temporary copy of the migrations that
adds a NOT NULL column, changes ``name`` to integer, drops ``image``, adds a
CHECK and builds an index, then times:

(a) ``safety.lint`` of that revision (every count from the data);
(b) counting the values that would not convert to integer, both ways
    (``pg_input_is_valid``, and PL/pgSQL as on PostgreSQL 14/15), for
    ``name`` (nine in ten fail) and ``code`` (about one in 10,000 fails);
(c) ``safety.dry_run`` (stops at the first failing operation);
(d) ``safety.backup`` and ``safety.restore`` of the namespace.

Uses ``DATABASE_URL`` when set, else the embedded server under ``SEEDBED_HOME``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from seedbed import migrate, safety
from seedbed.config import load_settings
from seedbed.db import get_engine
from seedbed.safety import probes

SCHEMA = "bench_safety"
T = TypeVar("T")

REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "bench"
down_revision = {head!r}


def upgrade() -> None:
    schema = op.get_context().version_table_schema
    op.add_column("user", sa.Column("nickname", sa.Text(), nullable=False), schema=schema)
    op.alter_column("user", "name", type_=sa.Integer(), postgresql_using="name::integer",
                    schema=schema)
    op.drop_column("user", "image", schema=schema)
    op.create_check_constraint("ck_user_name_short", "user", "char_length(name) < 11",
                               schema=schema)
    op.create_index("ix_user_created_at", "user", ["created_at"], schema=schema)
"""


def timed(label: str, call: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = call()
    print(f"{label:<52}{time.perf_counter() - started:8.2f} s", flush=True)
    return result


def fill(rows: int) -> None:
    settings = load_settings(schema=SCHEMA)
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    sql = f"""
        insert into "{SCHEMA}"."user" (id, email, name, image)
        select gen_random_uuid()::text, 'user' || i || '@example.com',
               case when mod(i, 10) = 0 then i::text else 'User ' || i end,
               case when mod(i, 3) = 0 then null
                    else 'https://img.example.com/u/' || i || '.png' end
        from generate_series(1, {rows}) as i
    """
    with get_engine(settings).begin() as connection:
        connection.exec_driver_sql(sql)
        connection.exec_driver_sql(f'alter table "{SCHEMA}"."user" add column code text')
        connection.exec_driver_sql(
            f'update "{SCHEMA}"."user" set code = case when mod(abs(hashtext(id)), 10000) = 0 '
            "then 'n/a' else length(email)::text end"
        )
    with get_engine(settings).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'vacuum analyze "{SCHEMA}"."user"'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="users (default 1,000,000)")
    rows = parser.parse_args().rows
    settings = load_settings(schema=SCHEMA)
    timed(f"fill user with {rows:,} rows", lambda: fill(rows))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "migrations"
        shutil.copytree(migrate.migrations_dir(), folder)
        os.environ["SEEDBED_MIGRATIONS"] = str(folder)
        head = migrate.current_revision(settings)
        (folder / "versions" / "bench.py").write_text(REVISION.format(head=head))
        report = timed(
            "(a) lint (5 operations, counts from the data)", lambda: safety.lint(settings)
        )
        for finding in report:
            print(f"      {finding.rule:<36} {finding.affected:>10,}")
        with get_engine(settings).connect() as connection:
            relation = probes.Relation(connection, SCHEMA, "user")
            ways = (("pg_input_is_valid", True), ("PL/pgSQL", False))
            for (label, check), column in itertools.product(ways, ("name", "code")):
                bad = timed(
                    f"(b) {column} to integer, {label}",
                    lambda c=column, i=check: probes.unconvertible_count(  # type: ignore[misc]
                        relation, c, "integer", input_check=i
                    ),
                )
                print(f"      {bad:,} of {rows:,} would not convert")
        result = timed("(c) dry run", lambda: safety.dry_run(settings))
        print(f"      {result.failure.render() if result.failure else 'ok'}")
        dump = Path(scratch) / "bench.dump"
        timed("(d) backup (pg_dump, custom format)", lambda: safety.backup(settings, dump))
        print(f"      {dump.stat().st_size / 2**20:,.1f} MB")
        timed("(d) restore (one transaction)", lambda: safety.restore(settings, dump))
    migrate.reset(settings)


if __name__ == "__main__":
    main()
