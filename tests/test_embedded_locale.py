"""A new embedded cluster collates bytewise, and the translation of CHECKs reads
case rules from whichever locale provider a database uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts.catalog import ascii_case_only
from tests.helpers import fresh_namespace


def test_a_new_embedded_cluster_collates_bytewise(
    base_settings: Settings,
) -> None:
    if not base_settings.embedded:
        pytest.skip("the suite runs against DATABASE_URL, not an embedded cluster it created")
    with get_engine(base_settings).connect() as conn:
        collate, template = conn.execute(
            sa.text(
                "SELECT d.datcollate, t.datcollate FROM pg_database AS d, "
                "pg_database AS t WHERE d.datname = current_database() AND t.datname = 'template1'"
            )
        ).one()
        ordered = conn.exec_driver_sql("SELECT 'B' < 'a' AND 'z' < 'é'").scalar_one()
    assert (collate, template) == ("C", "C")
    assert ordered is True  # code point order, as the in-process rules compare


@pytest.fixture
def databases(base_settings: Settings) -> Iterator[dict[str, sa.Engine]]:
    """One database per locale whose case rules differ."""
    admin = get_engine(base_settings)
    if admin.dialect.server_version_info < (17,):
        pytest.skip("the builtin locale provider needs PostgreSQL 17")
    options = {
        "libc_c": "LOCALE 'C'",
        "builtin_c": "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C'",
        "builtin_utf8": "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'",
    }
    names = {kind: fresh_namespace(kind) for kind in options}
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for kind, name in names.items():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0 {options[kind]}')
    engines = {kind: sa.create_engine(admin.url.set(database=name)) for kind, name in names.items()}
    yield engines
    for engine in engines.values():
        engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in names.values():
            conn.exec_driver_sql(f'DROP DATABASE "{name}"')


def test_case_rules_follow_the_databases_locale_provider(databases: dict[str, sa.Engine]) -> None:
    found = {}
    for kind, engine in databases.items():
        with engine.connect() as conn:
            # What the database does is the reference for what the answer must be.
            ascii_only = conn.exec_driver_sql("SELECT lower('É') = 'É'").scalar_one()
            assert ascii_case_only(conn) is ascii_only
            found[kind] = ascii_only
    assert found == {"libc_c": True, "builtin_c": True, "builtin_utf8": False}
