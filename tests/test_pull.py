"""``seedbed db pull``: a namespace another tool created, written as model modules.

Right after a pull, the folder is a model ``SEEDBED_MODELS`` can name: ``db
check`` finds no drift against the same namespace, and validation enforces
the namespace's CHECKs under their own names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts import FolderSource, SqlCheck, table_spec
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings, model_folder, run_cli
from tests.test_model_sources import BETTER_AUTH, SUBSCRIPTIONS, USER_HEADER, VALID_USER

EXTRAS = """
CREATE VIEW {ns}.active_users AS SELECT id FROM {ns}."user";
CREATE FUNCTION {ns}.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END;$$;
CREATE TRIGGER touch_session BEFORE INSERT ON {ns}."session"
  FOR EACH ROW EXECUTE FUNCTION {ns}.touch();
CREATE POLICY own_rows ON {ns}."session" USING (true);
CREATE UNIQUE INDEX "account_provider_unique" ON {ns}."account" ("provider_id", "account_id");
CREATE INDEX "session_live" ON {ns}."session" ("expires_at") WHERE "token" <> '';
CREATE INDEX "user_lower_email" ON {ns}."user" (lower("email"));
COMMENT ON TABLE {ns}."user" IS 'people who sign in';
COMMENT ON COLUMN {ns}."user"."email" IS 'where we write';
CREATE TYPE {ns}.line_state AS ENUM ('open', 'shipped');
CREATE DOMAIN {ns}.qty AS integer CHECK (VALUE > 0);
CREATE TABLE {ns}."Order Line" (
  "state" {ns}.line_state DEFAULT 'open' NOT NULL,
  "qty" {ns}.qty,
  "lineId" integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "select" varchar(20) DEFAULT 'a:b' NOT NULL,
  "price" numeric(10, 2) CHECK ("price" >= 0),
  "tags" text[],
  "total" numeric GENERATED ALWAYS AS ("price" * 2) STORED
);
CREATE TABLE {ns}.audit (
  id bigserial PRIMARY KEY,
  detail jsonb DEFAULT '{{}}'::jsonb NOT NULL,
  at timestamptz DEFAULT CURRENT_TIMESTAMP NOT NULL
);
CREATE INDEX audit_latest ON {ns}.audit (at DESC, id);
"""


@pytest.fixture
def auth(base_settings: Settings) -> Iterator[Settings]:
    """The Better Auth tables, and what a model does not declare, created with plain SQL."""
    settings = fresh_settings(base_settings, prefix="pull")
    ns = quote_ident(settings.schema)
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(BETTER_AUTH.format(ns=ns))
        conn.exec_driver_sql(EXTRAS.format(ns=ns))
    yield settings
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {ns} CASCADE")


def test_a_pulled_namespace_is_a_model_without_drift(auth, db_env, tmp_path):
    env = {**db_env, "SEEDBED_SCHEMA": auth.schema}
    out = tmp_path / "pulled"
    pulled = run_cli("db", "pull", "--out", str(out), env=env)
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[0] == f"{auth.schema}: wrote 8 table(s) to {out}"
    assert (
        "  subscription (subscription.py): 6 columns, 1 keys, 1 foreign keys, 0 indexes, 5 checks"
        in lines
    )
    assert "  view active_users" in lines and "  function touch" in lines
    assert "  trigger touch_session on session" in lines
    assert "  policy own_rows on session" in lines
    assert lines[-1] == "checks: 7 in-process, 1 in the database"  # with the domain qty's
    assert {p.name for p in out.iterdir()} >= {"base.py", "user.py", "twofactor.py"}

    models = {**env, "SEEDBED_MODELS": str(out)}
    check = run_cli("db", "check", env=models)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "matches" in check.stdout

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "user.csv").write_text(USER_HEADER + VALID_USER)
    valid = run_cli("validate", str(seeds / "user.csv"), env=models)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    (seeds / "subscription.csv").write_text(SUBSCRIPTIONS)
    invalid = run_cli("validate", str(seeds), env=models)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    for name in ("subscription_team_seats", "subscription_pro_seats_even"):
        assert f"[{name}]" in invalid.stdout


def test_a_pull_never_writes_into_a_folder_that_holds_files(auth, db_env, tmp_path):
    (tmp_path / "keep.py").write_text("X = 1\n")
    result = run_cli(
        "db", "pull", "--out", str(tmp_path), env={**db_env, "SEEDBED_SCHEMA": auth.schema}
    )
    assert result.returncode == 2
    assert "not an empty folder" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.py"]


def test_quoted_camel_case_and_reserved_names_round_trip(auth, tmp_path):
    from seedbed.facts.pull import pull

    pull(auth, tmp_path / "m")
    source = FolderSource(tmp_path / "m")
    metadata = source.metadata(auth.schema)
    two = metadata.tables[f"{auth.schema}.twoFactor"]
    assert [c.name for c in two.columns] == ["id", "userId", "backupCodes", "order", "größe"]
    line = metadata.tables[f"{auth.schema}.Order Line"]
    assert [c.name for c in line.columns] == [
        "state",
        "qty",
        "lineId",
        "select",
        "price",
        "tags",
        "total",
    ]
    spec = table_spec(two)
    assert [item.name for item in spec.rules] == ["twoFactor_größe_short"]
    assert [fk.name for fk in spec.foreign_keys] == ["twoFactor_userId_fkey"]
    subscription = table_spec(metadata.tables[f"{auth.schema}.subscription"])
    in_db = {item.name for item in subscription.rules if isinstance(item.rule, SqlCheck)}
    assert in_db == {"subscription_pro_seats_even"}


def test_a_rendered_table_declares_quoted_names_exactly(tmp_path):
    from seedbed.facts.pull import render_table

    metadata = sa.MetaData(schema="app")
    table = sa.Table(
        "twoFactor",
        metadata,
        sa.Column("userId", sa.TEXT(), nullable=False),
        sa.Column("order", sa.INTEGER(), server_default=sa.text("1")),
        sa.PrimaryKeyConstraint("userId", name="twoFactor_pkey"),
        sa.UniqueConstraint("order", name="twoFactor order key"),
    )
    source, summary = render_table(table, "app", [])
    assert (summary.columns, summary.keys) == (2, 2)
    folder = model_folder(tmp_path / "m", twofactor=source)
    (declared,) = FolderSource(folder).declared_metadata().tables.values()
    assert declared.name == "twoFactor"
    assert [c.name for c in declared.columns] == ["userId", "order"]
    assert declared.primary_key.name == "twoFactor_pkey"
    assert {c.name for c in declared.constraints} >= {"twoFactor_pkey", "twoFactor order key"}
    assert str(declared.c.order.server_default.arg) == "1"


@contextmanager
def source_and_fresh(
    base_settings: Settings, sql: str, prefixes: tuple[str, str]
) -> Iterator[tuple[Settings, Settings, Engine]]:
    """A namespace made by ``sql`` and a fresh one's settings; both dropped at the end."""
    source, fresh = (fresh_settings(base_settings, prefix=p) for p in prefixes)
    engine = get_engine(source)
    with engine.begin() as conn:
        conn.exec_driver_sql(sql.format(ns=quote_ident(source.schema)))
    try:
        yield source, fresh, engine
    finally:
        with engine.begin() as conn:
            for settings in (source, fresh):
                conn.exec_driver_sql(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE"
                )


def test_a_namespace_pushed_from_a_pulled_model_matches_it(base_settings, db_env, tmp_path):
    with source_and_fresh(base_settings, BETTER_AUTH, ("pulled", "pushed")) as found:
        source, fresh, engine = found
        env = {**db_env, "SEEDBED_SCHEMA": source.schema}
        assert run_cli("db", "pull", "--out", str(tmp_path / "m"), env=env).returncode == 0
        models = {**db_env, "SEEDBED_SCHEMA": fresh.schema, "SEEDBED_MODELS": str(tmp_path / "m")}
        pushed = run_cli("-q", "db", "push", env=models)
        assert pushed.returncode == 0, pushed.stderr
        assert f"created table {fresh.schema}.twoFactor" in pushed.stdout
        check = run_cli("-q", "db", "check", env=models)
        assert check.returncode == 0 and "matches" in check.stdout, check.stdout
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT conname FROM pg_constraint c JOIN pg_namespace n "
                    "ON n.oid = c.connamespace WHERE n.nspname = :ns ORDER BY 1"
                ),
                {"ns": fresh.schema},
            ).scalars()
            names = list(found)
        assert "subscription_seats_range" in names and "user_email_unique" in names
        assert "session_user_id_user_id_fk" in names


def test_pulling_a_namespace_without_tables_is_one_line_exit_2(db_env, tmp_path):
    env = {**db_env, "SEEDBED_SCHEMA": "no_such_namespace_here"}
    result = run_cli("-q", "db", "pull", "--out", str(tmp_path / "m"), env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "has no tables" in result.stderr
    assert not (tmp_path / "m").exists()


REFERENCES = """
CREATE SCHEMA {ref};
CREATE TABLE {ref}.country (code text PRIMARY KEY);
CREATE DOMAIN {ref}.cents AS integer CHECK (VALUE >= 0);
CREATE TYPE {ref}.channel AS ENUM ('web', 'store');
CREATE SCHEMA {ns};
CREATE TABLE {ns}.sale (
  id integer PRIMARY KEY,
  country text NOT NULL CONSTRAINT sale_country_fkey REFERENCES {ref}.country (code),
  price {ref}.cents,
  channel {ref}.channel
);
"""


@pytest.fixture
def sales(base_settings: Settings) -> Iterator[tuple[Settings, str]]:
    """A namespace whose table refers to a table, a domain and an enum of another namespace."""
    settings = fresh_settings(base_settings, prefix="sales")
    ref = "ref" + settings.schema.removeprefix("sales")
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            REFERENCES.format(ns=quote_ident(settings.schema), ref=quote_ident(ref))
        )
        conn.exec_driver_sql(f"INSERT INTO {quote_ident(ref)}.country VALUES ('fr')")
    yield settings, ref
    with engine.begin() as conn:
        for schema in (settings.schema, ref):
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")


def test_keys_and_types_in_another_namespace_are_referenced_and_left_to_the_database(
    sales, db_env, tmp_path
):
    settings, ref = sales
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    out = tmp_path / "m"
    pulled = run_cli("-q", "db", "pull", "--out", str(out), env=env)
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert f"  sale.sale_country_fkey -> {ref}.country" in lines
    assert any(line.startswith("foreign keys to other namespaces (1)") for line in lines)
    module = (out / "sale.py").read_text()
    assert f"DOMAIN('cents', INTEGER(), schema={ref!r}, create_type=False)" in module
    assert f"name='channel', schema={ref!r}, create_type=False" in module
    assert "CREATE" not in module and f"REFERENCES {ref}.country(code)" in module

    models = {**env, "SEEDBED_MODELS": str(out)}
    check = run_cli("-q", "db", "check", env=models)
    assert check.returncode == 0, check.stdout + check.stderr
    table = FolderSource(out).metadata(settings.schema).tables[f"{settings.schema}.sale"]
    assert table_spec(table).foreign_keys == ()
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sale.csv").write_text("id,country,price,channel\n1,fr,5,web\n2,xx,5,store\n")
    valid = run_cli("-q", "validate", str(seeds), env=models)
    assert valid.returncode == 0, valid.stdout + valid.stderr  # the key is the database's
    loaded = run_cli("-q", "load", str(seeds), env=models)
    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    assert "sale_country_fkey" in loaded.stdout + loaded.stderr
    with get_engine(settings).connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT count(*) FROM {quote_ident(settings.schema)}.sale")
        assert rows.scalar_one() == 0


PLACES = """
CREATE SCHEMA {ns};
CREATE TYPE {ns}.span AS (low integer, high integer);
CREATE TABLE {ns}.place (
  id integer PRIMARY KEY,
  at point NOT NULL,
  area box,
  reach {ns}.span
);
"""


def test_types_sqlalchemy_does_not_know_are_pulled_under_their_catalog_names(
    base_settings, db_env, tmp_path
):
    with source_and_fresh(base_settings, PLACES, ("places", "placed")) as found:
        source, fresh, engine = found
        env = {**db_env, "SEEDBED_SCHEMA": source.schema}
        out = tmp_path / "m"
        pulled = run_cli("db", "pull", "--out", str(out), env=env)
        assert pulled.returncode == 0, pulled.stderr
        module = (out / "place.py").read_text()
        assert "CatalogType('point')" in module and "CatalogType('box')" in module
        assert "CatalogType('span')" in module  # the namespace's own type, by its bare name
        models = {**env, "SEEDBED_MODELS": str(out)}
        check = run_cli("-q", "db", "check", env=models)
        assert check.returncode == 0 and "matches" in check.stdout, check.stdout + check.stderr
        seeds = tmp_path / "place.csv"
        seeds.write_text('id,at,area,reach\n1,"(1,2)","((0,0),(1,1))","(1,5)"\n2,"(3,4)",,\n')
        valid = run_cli("validate", str(seeds), env=models)
        assert valid.returncode == 0, valid.stdout + valid.stderr
        loaded = run_cli("-q", "load", str(seeds), env=models)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        with engine.connect() as conn:
            far = conn.exec_driver_sql(
                f"SELECT (at[0] + at[1])::int FROM {quote_ident(source.schema)}.place WHERE id = 2"
            ).scalar_one()
        assert far == 7
        # A namespace pushed from the pulled model has the same column types.
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(fresh.schema)}")
            conn.exec_driver_sql(
                f"CREATE TYPE {quote_ident(fresh.schema)}.span AS (low integer, high integer)"
            )
        pushed = run_cli("-q", "db", "push", env={**models, "SEEDBED_SCHEMA": fresh.schema})
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        with engine.connect() as conn:
            kinds = conn.execute(
                sa.text(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0 ORDER BY a.attnum"
                ),
                {"table": f"{quote_ident(fresh.schema)}.place"},
            ).all()
        assert [k for _, k in kinds][1:3] == ["point", "box"]
        assert kinds[3][1].endswith("span")


MOODS = """
CREATE SCHEMA {ns};
CREATE TYPE {ns}.mood AS ENUM ('calm', 'busy');
CREATE DOMAIN {ns}.level AS integer CHECK (VALUE > 0);
CREATE TABLE {ns}.day (id integer PRIMARY KEY, mood {ns}.mood, moods {ns}.mood[],
  levels {ns}.level[]);
"""


def test_an_array_of_the_namespace_s_own_type_is_pulled_without_its_namespace(
    base_settings, db_env, tmp_path
):
    """A pulled model serves another namespace: ``mood[]`` names the enum as ``mood`` does,
    so it is the other namespace's once the one pulled is gone."""
    with source_and_fresh(base_settings, MOODS, ("moods", "moods_again")) as found:
        source, fresh, engine = found
        env = {**db_env, "SEEDBED_SCHEMA": source.schema}
        assert run_cli("db", "pull", "--out", str(tmp_path / "m"), env=env).returncode == 0
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {quote_ident(source.schema)} CASCADE")
        models = {**db_env, "SEEDBED_SCHEMA": fresh.schema, "SEEDBED_MODELS": str(tmp_path / "m")}
        with engine.begin() as conn:  # the same tables, by another tool's hand
            conn.exec_driver_sql(MOODS.format(ns=quote_ident(fresh.schema)))
        check = run_cli("-q", "db", "check", env=models)
        assert check.returncode == 0 and "matches" in check.stdout, check.stdout + check.stderr
        (tmp_path / "day.csv").write_text('id,mood,moods,levels\n1,calm,"{calm,busy}","{1,2}"\n')
        loaded = run_cli("-q", "load", str(tmp_path / "day.csv"), env=models)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        (tmp_path / "day.csv").write_text('id,mood,moods,levels\n2,calm,"{angry}","{0}"\n')
        refused = run_cli("-q", "validate", str(tmp_path / "day.csv"), env=models)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "moods" in refused.stdout and "levels" in refused.stdout
