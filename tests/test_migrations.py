"""Migrations and the namespaced schema, against real PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.models import metadata_for
from tests.helpers import fresh_settings, head_revision, run_cli_here

USER_ID = "0b0e6f4c-8f55-4d5e-9a43-2f3c1b8e7d10"
POST_ID = "1c1e6f4c-8f55-4d5e-9a43-2f3c1b8e7d11"
TAG_ID = "2d2e6f4c-8f55-4d5e-9a43-2f3c1b8e7d12"
SESSION_ID = "3e3e6f4c-8f55-4d5e-9a43-2f3c1b8e7d13"


def relations(engine: Engine, schema: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "select c.relname from pg_class c join pg_namespace n "
                    "on n.oid = c.relnamespace where n.nspname = :s"
                ),
                {"s": schema},
            ).scalars()
        )


def test_migrate_creates_exactly_what_the_models_declare(settings: Settings) -> None:
    assert migrate.check(settings) == []
    declared = metadata_for(settings.schema)
    found = relations(get_engine(settings), settings.schema)
    expected = {t.name for t in declared.sorted_tables} | {"alembic_version"}
    for table in declared.sorted_tables:
        expected |= {str(i.name) for i in table.indexes}
        expected |= {
            str(c.name)
            for c in table.constraints
            if isinstance(c, sa.PrimaryKeyConstraint | sa.UniqueConstraint)
        }
    expected.add("alembic_version_pkc")
    assert found == expected


def test_constraint_names_in_the_database_are_as_declared(settings: Settings) -> None:
    with get_engine(settings).connect() as conn:
        found = set(
            conn.execute(
                sa.text(
                    "select con.conname from pg_constraint con join pg_namespace n "
                    "on n.oid = con.connamespace where n.nspname = :s and con.contype <> 'n'"
                ),
                {"s": settings.schema},
            ).scalars()
        )
    declared = {
        str(c.name) for t in metadata_for(settings.schema).sorted_tables for c in t.constraints
    }
    assert found - {"alembic_version_pkc"} == declared


def test_nothing_is_created_outside_the_namespace(settings: Settings) -> None:
    with get_engine(settings).connect() as conn:
        public = conn.execute(
            sa.text("select count(*) from pg_tables where schemaname = 'public'")
        ).scalar_one()
        enum_schema = conn.execute(
            sa.text(
                "select n.nspname from pg_type t join pg_namespace n on n.oid = t.typnamespace "
                "where t.typname = 'post_status' and n.nspname = :s"
            ),
            {"s": settings.schema},
        ).scalar_one()
    assert public == 0
    assert enum_schema == settings.schema


def test_downgrade_then_upgrade_round_trips(settings: Settings) -> None:
    migrate.downgrade(settings, "base")
    assert relations(get_engine(settings), settings.schema) == {
        "alembic_version",
        "alembic_version_pkc",
    }
    assert migrate.current_revision(settings) is None
    migrate.upgrade_unchecked(settings)
    assert migrate.check(settings) == []
    assert migrate.current_revision(settings) == head_revision()


def test_two_namespaces_coexist(settings: Settings, base_settings: Settings) -> None:
    other = fresh_settings(base_settings, "other")
    try:
        migrate.upgrade_unchecked(other)
        with get_engine(settings).begin() as conn:
            insert_user(conn, settings.schema)
        assert migrate.check(settings) == []
        assert migrate.check(other) == []
        with get_engine(other).connect() as conn:
            count = conn.exec_driver_sql(f'select count(*) from "{other.schema}"."user"')
            assert count.scalar_one() == 0
        migrate.reset(other)
        assert migrate.check(settings) == []
    finally:
        migrate.reset(other)


def test_push_builds_the_same_schema_as_migrate(empty_settings: Settings) -> None:
    changes = migrate.push(empty_settings)
    assert f"created table {empty_settings.schema}.post" in changes
    assert migrate.check(empty_settings) == []
    assert migrate.push(empty_settings) == []


def insert_user(conn: sa.Connection, schema: str) -> None:
    conn.execute(
        sa.text(f'insert into "{schema}"."user" (id, email) values (:id, :email)'),
        {"id": USER_ID, "email": "ada@example.com"},
    )


def test_trigger_keeps_updated_at_current(engine: Engine, settings: Settings) -> None:
    schema = settings.schema
    with engine.begin() as conn:
        insert_user(conn, schema)
        conn.exec_driver_sql(
            f"update \"{schema}\".\"user\" set updated_at = '2000-01-01', created_at = '2000-01-01'"
        )
    with engine.begin() as conn:
        conn.exec_driver_sql(f'update "{schema}"."user" set name = \'Ada\'')
        fresh = conn.exec_driver_sql(
            f"select updated_at > created_at, updated_at > now() - interval '1 minute' "
            f'from "{schema}"."user"'
        ).one()
    assert fresh == (True, True)


def test_deleting_a_user_cascades_to_sessions_and_post_tags(
    engine: Engine, settings: Settings
) -> None:
    s = settings.schema
    with engine.begin() as conn:
        insert_user(conn, s)
        conn.exec_driver_sql(
            f'insert into "{s}".session (id, user_id, token, expires_at) values '
            f"('{SESSION_ID}', '{USER_ID}', 'tok', now() + interval '1 day')"
        )
        conn.exec_driver_sql(
            f'insert into "{s}".post (id, author_id, title, slug) values '
            f"('{POST_ID}', '{USER_ID}', 'Hello', 'hello')"
        )
        conn.exec_driver_sql(f"insert into \"{s}\".tag (id, name) values ('{TAG_ID}', 'intro')")
        conn.exec_driver_sql(f"insert into \"{s}\".post_tag values ('{POST_ID}', '{TAG_ID}')")
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError, match="fk_post_author"):
        conn.exec_driver_sql(f'delete from "{s}"."user" where id = \'{USER_ID}\'')
    with engine.begin() as conn:
        conn.exec_driver_sql(f'delete from "{s}".post')
        conn.exec_driver_sql(f'delete from "{s}"."user" where id = \'{USER_ID}\'')
        sessions = conn.exec_driver_sql(f'select count(*) from "{s}".session').scalar_one()
        links = conn.exec_driver_sql(f'select count(*) from "{s}".post_tag').scalar_one()
        tags = conn.exec_driver_sql(f'select count(*) from "{s}".tag').scalar_one()
    assert (sessions, links, tags) == (0, 0, 1)


def test_db_check_names_a_dropped_index(settings: Settings, db_env: dict[str, str]) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    clean = run_cli_here("db", "check", env=env)
    assert clean.returncode == 0, clean.stderr
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f'drop index "{settings.schema}".ix_session_user_id')
    drifted = run_cli_here("db", "check", env=env)
    assert drifted.returncode == 1
    assert "missing index ix_session_user_id on session" in drifted.stdout


def test_db_check_names_a_dropped_check_constraint(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(
            f'alter table "{settings.schema}"."user" drop constraint ck_user_email_format'
        )
    assert migrate.check(settings) == ["missing constraint ck_user_email_format on user"]
    assert migrate.push(settings) == ["created constraint ck_user_email_format on user"]
    assert migrate.check(settings) == []


def test_cli_migrate_then_reset(empty_settings: Settings, db_env: dict[str, str]) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": empty_settings.schema}
    up = run_cli_here("db", "migrate", env=env)
    assert up.returncode == 0, up.stderr
    assert f"at revision {head_revision()}" in up.stdout
    refused = run_cli_here("db", "reset", env=env)
    assert refused.returncode == 2
    done = run_cli_here("db", "reset", "--yes", env=env)
    assert done.returncode == 0
    assert relations(get_engine(empty_settings), empty_settings.schema) == set()


@pytest.mark.parametrize("name", ["pg_toast2", "x" * 64, 'robert"; drop'])
def test_bad_namespace_is_one_line_exit_2(name: str, db_env: dict[str, str]) -> None:
    result = run_cli_here("db", "migrate", env={**db_env, "SEEDBED_SCHEMA": name})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "invalid namespace" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line_without_password(db_env: dict[str, str]) -> None:
    env = {**db_env, "DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/nope"}
    result = run_cli_here("db", "check", env=env)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr + result.stdout
    # The line naming the database (password redacted), then the one error line.
    announced, error = result.stderr.splitlines()
    assert announced == "using postgresql://me:***@127.0.0.1:1/nope (namespace seedbed)"
    assert error.startswith("seedbed: error: cannot connect")
    assert "Traceback" not in result.stderr
