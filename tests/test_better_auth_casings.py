"""Better Auth's schema in both column casings validates and loads, from the catalog or pulled.

snake_case is ``tests.test_model_sources.BETTER_AUTH``, the default casing
since Better Auth 1.2. camelCase is ``tests/fixtures/better_auth_camel.sql``:
the schema drizzle-kit creates from what Better Auth's CLI generates for the
Drizzle adapter with ``camelCase: true`` (better-auth/better-auth,
packages/cli/src/generators/drizzle.ts with the fields of
packages/core/src/db/get-tables.ts; the file says how it was written).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import DataError
from seedbed.facts.pull import pull
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings
from tests.test_model_sources import BETTER_AUTH

FIXTURES = Path(__file__).parent / "fixtures"

SEEDS = {
    "camel": {
        "user.csv": (
            "id,name,email,emailVerified,image,createdAt,updatedAt\n"
            "u1,Ann,ann@example.com,true,,2026-01-01 10:00:00,2026-01-01 10:00:00\n"
            "u2,Bo,bo@example.com,false,https://img.example.com/bo.png,"
            "2026-01-02 09:30:00.123456,2026-01-02 09:30:00\n"
        ),
        "session.csv": (
            "id,expiresAt,token,createdAt,updatedAt,ipAddress,userAgent,userId\n"
            "s1,2026-02-01 00:00:00,tok1,2026-01-01 10:00:00,2026-01-01 10:00:00,"
            "203.0.113.9,curl/8,u1\n"
        ),
        "account.csv": (
            "id,issuer,accountId,providerId,userId,password,updatedAt\n"
            "a1,https://accounts.example.com,ann,credential,u1,hash,2026-01-01 10:00:00\n"
            "a2,https://accounts.example.com,bo,credential,u2,,2026-01-01 10:00:00\n"
        ),
        "verification.csv": (
            "id,identifier,value,expiresAt\nv1,ann@example.com,123456,2026-01-01 00:00:00\n"
        ),
    },
    "snake": {
        "user.csv": (
            "id,name,email,email_verified,image,created_at,updated_at\n"
            "u1,Ann,ann@example.com,true,,2026-01-01 10:00:00,2026-01-01 10:00:00\n"
            "u2,Bo,bo@example.com,false,,2026-01-02 09:30:00.123456,2026-01-02 09:30:00\n"
        ),
        "session.csv": (
            "id,expires_at,token,created_at,updated_at,ip_address,user_agent,user_id\n"
            "s1,2026-02-01 00:00:00,tok1,2026-01-01 10:00:00,2026-01-01 10:00:00,"
            "203.0.113.9,curl/8,u1\n"
        ),
        "account.csv": (
            "id,account_id,provider_id,user_id,password,updated_at\n"
            "a1,ann,credential,u1,hash,2026-01-01 10:00:00\n"
            "a2,bo,credential,u2,,2026-01-01 10:00:00\n"
        ),
        "verification.csv": (
            "id,identifier,value,expires_at\nv1,ann@example.com,123456,2026-01-01 00:00:00\n"
        ),
    },
}
ROWS = {"user": 2, "session": 1, "account": 2, "verification": 1}


def _create(settings: Settings, casing: str) -> None:
    ns = quote_ident(settings.schema)
    with get_engine(settings).begin() as conn:
        if casing == "snake":
            conn.exec_driver_sql(BETTER_AUTH.format(ns=ns))
            return
        conn.exec_driver_sql(f"CREATE SCHEMA {ns}")
        conn.exec_driver_sql(f"SET LOCAL search_path TO {ns}")
        conn.exec_driver_sql((FIXTURES / "better_auth_camel.sql").read_text())


@pytest.fixture(params=["camel", "snake"])
def casing(
    request: pytest.FixtureRequest, base_settings: Settings
) -> Iterator[tuple[str, Settings]]:
    """A namespace holding Better Auth's tables in one casing."""
    settings = fresh_settings(base_settings, prefix=f"ba{request.param}")
    _create(settings, request.param)
    yield request.param, settings
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")


def _seeds(folder: Path, casing: str, **changed: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in {**SEEDS[casing], **changed}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _counts(settings: Settings) -> dict[str, int]:
    ns = quote_ident(settings.schema)
    with get_engine(settings).connect() as conn:
        return {
            table: conn.execute(
                sa.text(f"SELECT count(*) FROM {ns}.{quote_ident(table)}")
            ).scalar_one()
            for table in ROWS
        }


@pytest.mark.parametrize("source", ["database", "pulled"])
def test_better_auth_seeds_validate_and_load_in_either_casing(
    casing, source, tmp_path, monkeypatch
):
    name, settings = casing
    engine = get_engine(settings)
    models: str | Path = "database"
    if source == "pulled":
        monkeypatch.setenv("SEEDBED_SCHEMA", settings.schema)
        models = tmp_path / "pulled"
        result = pull(settings, models)
        checks = (result.in_process, result.in_database)
        assert checks == {"camel": (0, 0), "snake": (5, 1)}[name]  # snake: plus subscription
    seeds = _seeds(tmp_path / "seeds", name)
    report = seedbed.validate(seeds, engine=engine, models=models)
    assert report.ok, report.failures[["file", "line", "column", "rule", "message"]].to_string()
    loaded = seedbed.load(seeds, engine=engine, models=models, progress=False)
    assert loaded.committed
    assert _counts(settings) == ROWS


def test_camel_case_problems_name_the_camel_case_columns_and_nothing_is_written(
    base_settings, tmp_path
):
    settings = fresh_settings(base_settings, prefix="bacamel")
    _create(settings, "camel")
    try:
        engine = get_engine(settings)
        account = SEEDS["camel"]["account.csv"] + (
            "a3,https://accounts.example.com,ann,google,u1,,2026-01-01 10:00:00\n"
        )
        session = SEEDS["camel"]["session.csv"].replace("2026-02-01 00:00:00", "soon")
        seeds = _seeds(
            tmp_path / "seeds", "camel", **{"account.csv": account, "session.csv": session}
        )
        report = seedbed.validate(seeds, engine=engine, models="database")
        found = {
            (Path(row.file).name, row.line, row.column, row.rule)
            for row in report.failures.itertuples()
        }
        assert ("session.csv", 2, "expiresAt", "type") in found
        duplicates = {
            (line, column)
            for file, line, column, rule in found
            if rule == "account_issuer_accountId_uidx"
        }
        assert duplicates == {(4, "issuer, accountId")}  # the second row with the pair
        with pytest.raises(DataError):
            seedbed.load(seeds, engine=engine, models="database", progress=False)
        assert set(_counts(settings).values()) == {0}
    finally:
        with get_engine(settings).begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")
