"""``seedbed db pull --adopt``: seedbed's migrations take over a namespace plain SQL made.

After adopting, the namespace is stamped at a baseline revision that creates
the pulled model: ``db check`` is clean, ``db migrate`` has nothing to do, a
change to a pulled module becomes a revision that ``db migrate`` applies, and
a fresh namespace migrated from the baseline matches the pulled model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.safety.owner import MARK
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings, run_cli

SHOP = """
CREATE SCHEMA {ref};
CREATE TABLE {ref}.country (code text PRIMARY KEY);
CREATE DOMAIN {ref}.cents AS integer CHECK (VALUE >= 0);
CREATE TYPE {ref}.channel AS ENUM ('web', 'store');
CREATE SCHEMA {ns};
CREATE TYPE {ns}.order_state AS ENUM ('open', 'paid', 'shipped');
CREATE DOMAIN {ns}.quantity AS integer DEFAULT 1 NOT NULL CONSTRAINT quantity_positive
  CHECK (VALUE > 0);
CREATE TABLE {ns}.customer (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email varchar(200) NOT NULL CONSTRAINT customer_email_key UNIQUE,
  "displayName" text,
  created_at timestamp DEFAULT now() NOT NULL,
  CONSTRAINT customer_email_at CHECK (email LIKE '%%@%%')
);
CREATE TABLE {ns}."order" (
  id bigserial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES {ns}.customer (id) ON DELETE CASCADE,
  state {ns}.order_state DEFAULT 'open' NOT NULL,
  total numeric(10, 2) NOT NULL CHECK (total >= 0),
  items {ns}.quantity,
  number serial NOT NULL,
  country text CONSTRAINT order_country_fkey REFERENCES {ref}.country (code) ON DELETE SET NULL,
  shipping {ref}.cents,
  channel {ref}.channel DEFAULT 'web',
  lines jsonb DEFAULT '[]'::jsonb NOT NULL,
  deleted_at timestamptz
);
CREATE INDEX order_live ON {ns}."order" (customer_id) WHERE deleted_at IS NULL;
COMMENT ON TABLE {ns}.customer IS 'who buys';
"""


def _drop(engine: sa.Engine, *schemas: str) -> None:
    with engine.begin() as conn:
        for schema in schemas:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


@pytest.fixture
def shop(base_settings: Settings) -> Iterator[Settings]:
    """A namespace written by hand in SQL, with no migration history anywhere."""
    settings = fresh_settings(base_settings, prefix="shop")
    engine = get_engine(settings)
    ns, ref = settings.schema, _ref(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(SHOP.format(ns=quote_ident(ns), ref=quote_ident(ref)))
    yield settings
    _drop(engine, ns, ref)


def _ref(shop: Settings) -> str:
    """The namespace of the tables and types the shop refers to (not named like the shop)."""
    return "ref" + shop.schema.removeprefix("shop")


def _env(db_env: dict[str, str], settings: Settings, **more: str) -> dict[str, str]:
    return {**db_env, "SEEDBED_SCHEMA": settings.schema, **more}


def _adopted(db_env: dict[str, str], settings: Settings, tmp_path: Path) -> dict[str, str]:
    """Adopt ``settings``' namespace; the environment that names the pulled model and folder."""
    out, migrations = tmp_path / "models", tmp_path / "migrations"
    result = run_cli("-q", "db", "pull", "--adopt", "--out", str(out), env=_env(db_env, settings))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (baseline,) = (migrations / "versions").glob("*.py")
    assert f"baseline: wrote {baseline}" in lines
    assert lines[-1] == f"use: SEEDBED_MODELS={out} SEEDBED_MIGRATIONS={migrations}"
    return _env(db_env, settings, SEEDBED_MODELS=str(out), SEEDBED_MIGRATIONS=str(migrations))


def test_an_adopted_namespace_is_at_its_baseline_and_takes_model_changes(shop, db_env, tmp_path):
    env = _adopted(db_env, shop, tmp_path)
    check = run_cli("-q", "db", "check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    migrated = run_cli("-q", "db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with get_engine(shop).connect() as conn:
        (version,) = conn.exec_driver_sql(
            f"SELECT version_num FROM {quote_ident(shop.schema)}.alembic_version"
        ).scalars()
        comment = conn.execute(
            sa.text(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :ns"
            ),
            {"ns": shop.schema},
        ).scalar()
    (baseline,) = (tmp_path / "migrations" / "versions").glob("*.py")
    assert baseline.name.startswith(version)
    assert comment == MARK

    module = tmp_path / "models" / "customer.py"
    source = module.read_text()
    module.write_text(
        source.replace(
            "    sa.Column('email',",
            "    sa.Column('nickname', TEXT(), nullable=True),\n    sa.Column('email',",
        )
    )
    assert module.read_text() != source
    generated = run_cli("-q", "db", "generate", "-m", "add nickname", env=env)
    assert generated.returncode == 0, generated.stderr
    written = sorted(
        (tmp_path / "migrations" / "versions").glob("*.py"), key=lambda p: p.stat().st_mtime
    )
    assert len(written) == 2
    assert generated.stdout.splitlines() == [f"wrote {written[-1]}"]  # not Alembic's "Generating"
    applied = run_cli("-q", "db", "migrate", env=env)
    assert applied.returncode == 0, applied.stderr
    assert run_cli("-q", "db", "check", env=env).returncode == 0
    with get_engine(shop).connect() as conn:
        columns = sa.inspect(conn).get_columns("customer", schema=shop.schema)
    assert "nickname" in [c["name"] for c in columns]


def test_a_fresh_namespace_migrated_from_the_baseline_matches_the_original(
    shop, base_settings, db_env, tmp_path
):
    env = _adopted(db_env, shop, tmp_path)
    fresh = fresh_settings(base_settings, prefix="fresh")
    engine = get_engine(fresh)
    try:
        fresh_env = {**env, "SEEDBED_SCHEMA": fresh.schema}
        (baseline,) = (tmp_path / "migrations" / "versions").glob("*.py")
        assert baseline.read_text().count("CREATE DOMAIN") == 1  # quantity; cents is referenced
        lint = run_cli("db", "lint", env=fresh_env)
        assert "CREATE DOMAIN" not in lint.stdout and "CREATE SEQUENCE" not in lint.stdout
        assert "unchecked-sql" in lint.stdout  # the serial's default and the key elsewhere
        migrated = run_cli("-q", "db", "migrate", env=fresh_env)
        assert migrated.returncode == 0, migrated.stderr
        check = run_cli("-q", "db", "check", env=fresh_env)
        assert check.returncode == 0, check.stdout + check.stderr
        names = {
            settings.schema: _constraints(engine, settings.schema) for settings in (shop, fresh)
        }
        assert names[fresh.schema] == names[shop.schema]
        found = dict(names[shop.schema])
        assert {"customer_email_at", "order_live", "quantity_positive"} <= set(found)
        assert found["order.number"] == "integer nextval('order_number_seq'::regclass) NO"
        assert found["order.items"] == "integer quantity"
        assert found["order_country_fkey"] == (
            f"FOREIGN KEY (country) REFERENCES {_ref(shop)}.country(code) ON DELETE SET NULL"
        )
    finally:
        _drop(engine, fresh.schema)


def _constraints(engine: sa.Engine, schema: str) -> set[tuple[str, str]]:
    """Every constraint and index of ``schema``: name and definition."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}")
        rows = conn.execute(
            sa.text(
                "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = :ns AND c.contype <> 'n' "  # NOT NULL: is_nullable below
                "UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :ns "
                "UNION ALL SELECT table_name || '.' || column_name, concat_ws(' ', data_type, "
                # a pulled column declares its domain's default and NOT NULL as its own
                "domain_name, CASE WHEN domain_name IS NULL THEN column_default || ' ' "
                "|| is_nullable END) FROM information_schema.columns WHERE table_schema = :ns"
            ),
            {"ns": schema},
        )
        return {(str(name), str(sql).replace(schema, "NS")) for name, sql in rows}


@pytest.fixture
def drizzle_history(shop: Settings) -> Iterator[str]:
    """drizzle-kit's migration history beside the namespace, as drizzle-kit keeps it."""
    schema = f"drizzle_{shop.schema}"
    engine = get_engine(shop)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE SCHEMA {quote_ident(schema)}; CREATE TABLE {quote_ident(schema)}"
            ".__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL)"
        )
    yield schema
    _drop(engine, schema)


def test_adopting_a_namespace_drizzle_owns_is_refused_and_writes_nothing(
    shop, drizzle_history, db_env, tmp_path
):
    args = ("-q", "db", "pull", "--adopt", "--out", str(tmp_path / "models"))
    result = run_cli(*args, env=_env(db_env, shop))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"belongs to drizzle-kit (its migration history is {drizzle_history}." in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_adopting_twice_or_into_a_folder_with_revisions_is_refused(shop, db_env, tmp_path):
    _adopted(db_env, shop, tmp_path)
    again = run_cli(
        "-q", "db", "pull", "--adopt", "--out", str(tmp_path / "again"), env=_env(db_env, shop)
    )
    assert again.returncode == 2 and "at revision" in again.stderr, again.stderr
    assert not (tmp_path / "again").exists()

    other = get_engine(shop)
    with other.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {quote_ident(shop.schema)}.alembic_version")
    into = run_cli(
        "-q",
        "db",
        "pull",
        "--adopt",
        "--out",
        str(tmp_path / "again"),
        "--migrations",
        str(tmp_path / "migrations"),
        env=_env(db_env, shop),
    )
    assert into.returncode == 2 and "holds 1 revision(s)" in into.stderr, into.stderr
    assert not (tmp_path / "again").exists()


def test_a_failed_adoption_leaves_no_files_behind(shop, db_env, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "env.py").write_text("raise RuntimeError('broken environment')\n")
    (migrations / "script.py.mako").write_text("")
    args = ("db", "pull", "--adopt", "--out", str(tmp_path / "models"))
    result = run_cli(*args, "--migrations", str(migrations), env=_env(db_env, shop))
    assert result.returncode == 2, result.stderr
    assert "broken environment" in result.stderr
    assert not (tmp_path / "models").exists()
    assert sorted(p.name for p in migrations.iterdir()) == ["env.py", "script.py.mako"]
    with get_engine(shop).connect() as conn:
        tables = sa.inspect(conn).get_table_names(schema=shop.schema)
    assert "alembic_version" not in tables
