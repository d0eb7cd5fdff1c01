"""A namespace another tool migrates holds that tool's migration history (Prisma's
``_prisma_migrations``, ``django_migrations``, an ``alembic_version``...): never a table of the
model read from it, so ``generate`` writes no rows for it and a load never touches it; and
a table whose name starts with ``_`` (Prisma's join tables, ``_PostToTag``) is a seed like any
other, not an export's marker file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.sqltext import quote_ident
from tests.helpers import adopted_namespace, run_cli

TABLES = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}."Post" (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE {ns}."Tag" (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE {ns}."_PostToTag" (
  "A" int NOT NULL REFERENCES {ns}."Post"(id), "B" int NOT NULL REFERENCES {ns}."Tag"(id),
  PRIMARY KEY ("A", "B")
);
CREATE TABLE {ns}._prisma_migrations (
  id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, migration_name varchar(255) NOT NULL
);
INSERT INTO {ns}._prisma_migrations VALUES ('m1', 'abc', '20240101_init');
CREATE TABLE {ns}.alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO {ns}.alembic_version VALUES ('0001');
"""


@pytest.fixture
def adopted(base_settings: Settings) -> Iterator[Settings]:
    with adopted_namespace(base_settings, TABLES) as settings:
        yield settings


def _rows(settings: Settings, table: str) -> list[tuple[object, ...]]:
    with get_engine(settings).connect() as conn:
        found = conn.execute(sa.text(f"SELECT * FROM {quote_ident(settings.schema)}.{table}"))
        return [tuple(row) for row in found]


def test_migration_histories_are_no_tables_of_the_model(
    adopted: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": adopted.schema, "SEEDBED_MODELS": "database"}
    seeds = tmp_path / "made"
    made = run_cli("-q", "generate", "--rows", "20", str(seeds), env=env)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in seeds.iterdir()) == ["Post.csv", "Tag.csv", "_PostToTag.csv"]
    loaded = run_cli("load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "_PostToTag" in loaded.stdout
    assert len(_rows(adopted, '"_PostToTag"')) > 0
    assert _rows(adopted, "_prisma_migrations") == [("m1", "abc", "20240101_init")]
    assert _rows(adopted, "alembic_version") == [("0001",)]

    # a file named after a history is no seed: an export's marker (_...) or an unknown table
    (seeds / "alembic_version.csv").write_text("version_num\nffff\n")
    refused = run_cli("-q", "validate", str(seeds), env=env)
    assert refused.returncode == 2 and "alembic_version" in refused.stderr

    checked = run_cli("-q", "db", "check", env=env)  # no extra table to drop
    assert checked.returncode == 0 and "matches" in checked.stdout, checked.stdout

    pulled = run_cli("db", "pull", "--out", str(tmp_path / "pulled"), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "Prisma's migration history _prisma_migrations" in pulled.stdout
    assert "Alembic's migration history alembic_version" in pulled.stdout
    modules = sorted(p.name for p in (tmp_path / "pulled").iterdir())
    assert not any("migration" in name or "alembic" in name for name in modules), modules
