"""Models seedbed did not write: ``SEEDBED_MODELS`` naming a folder of modules or the database.

The database schema is Better Auth's as drizzle-kit generates it (text ids,
``timestamp`` without time zone, ``user_email_unique``), created with plain
SQL in a namespace of its own, plus a table with several CHECKs and a table
with camelCase, reserved and non-ASCII column names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import ConfigError, DataError
from seedbed.facts import DatabaseSource, FolderSource, SqlCheck, table_spec
from seedbed.safety.owner import MARK, mark_namespace, namespace_owner
from seedbed.sqltext import quote_ident
from tests.helpers import fresh_settings, model_folder, run_cli

BETTER_AUTH = """
CREATE SCHEMA {ns};
CREATE TABLE {ns}."user" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"email_verified" boolean DEFAULT false NOT NULL,
	"image" text,
	"created_at" timestamp DEFAULT now() NOT NULL,
	"updated_at" timestamp DEFAULT now() NOT NULL,
	CONSTRAINT "user_email_unique" UNIQUE("email")
);
CREATE TABLE {ns}."session" (
	"id" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp NOT NULL,
	"token" text NOT NULL,
	"created_at" timestamp DEFAULT now() NOT NULL,
	"updated_at" timestamp NOT NULL,
	"ip_address" text,
	"user_agent" text,
	"user_id" text NOT NULL,
	CONSTRAINT "session_token_unique" UNIQUE("token")
);
CREATE TABLE {ns}."account" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"provider_id" text NOT NULL,
	"user_id" text NOT NULL,
	"access_token" text,
	"refresh_token" text,
	"id_token" text,
	"access_token_expires_at" timestamp,
	"refresh_token_expires_at" timestamp,
	"scope" text,
	"password" text,
	"created_at" timestamp DEFAULT now() NOT NULL,
	"updated_at" timestamp NOT NULL
);
CREATE TABLE {ns}."verification" (
	"id" text PRIMARY KEY NOT NULL,
	"identifier" text NOT NULL,
	"value" text NOT NULL,
	"expires_at" timestamp NOT NULL,
	"created_at" timestamp DEFAULT now() NOT NULL,
	"updated_at" timestamp DEFAULT now() NOT NULL
);
ALTER TABLE {ns}."session" ADD CONSTRAINT "session_user_id_user_id_fk" FOREIGN KEY ("user_id")
  REFERENCES {ns}."user"("id") ON DELETE cascade ON UPDATE no action;
ALTER TABLE {ns}."account" ADD CONSTRAINT "account_user_id_user_id_fk" FOREIGN KEY ("user_id")
  REFERENCES {ns}."user"("id") ON DELETE cascade ON UPDATE no action;
CREATE TABLE {ns}."subscription" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL REFERENCES {ns}."user"("id") ON DELETE cascade,
	"plan" text NOT NULL,
	"seats" integer DEFAULT 1 NOT NULL,
	"period_start" timestamp NOT NULL,
	"period_end" timestamp,
	CONSTRAINT "subscription_plan_known" CHECK ("plan" IN ('free', 'pro', 'team')),
	CONSTRAINT "subscription_seats_range" CHECK ("seats" BETWEEN 1 AND 500),
	CONSTRAINT "subscription_period_order"
		CHECK ("period_end" IS NULL OR "period_end" > "period_start"),
	CONSTRAINT "subscription_team_seats" CHECK ("plan" <> 'team' OR "seats" >= 3),
	CONSTRAINT "subscription_pro_seats_even" CHECK ("plan" <> 'pro' OR mod("seats", 2) = 0)
);
CREATE TABLE {ns}."twoFactor" (
	"id" text PRIMARY KEY NOT NULL,
	"userId" text NOT NULL REFERENCES {ns}."user"("id") ON DELETE cascade,
	"backupCodes" text,
	"order" integer,
	"größe" text CONSTRAINT "twoFactor_größe_short" CHECK (char_length("größe") <= 3)
);
"""

USER_HEADER = "id,name,email,email_verified,created_at,updated_at\n"
VALID_USER = "u1,Ann,ann@example.com,false,2026-01-01 10:00:00,2026-01-01 10:00:00\n"
SUBSCRIPTIONS = (
    "id,user_id,plan,seats,period_start,period_end\n"
    "s1,u1,team,5,2026-01-01 00:00:00,2026-02-01 00:00:00\n"  # valid
    "s2,u1,gold,1,2026-01-01 00:00:00,\n"  # plan not known
    "s3,u1,pro,0,2026-01-01 00:00:00,2025-12-01 00:00:00\n"  # seats, period order
    "s4,u1,team,2,2026-01-01 00:00:00,\n"  # two columns: team needs 3 seats
    "s5,u1,pro,3,2026-01-01 00:00:00,\n"  # arithmetic: a CHECK only the database judges
)


@pytest.fixture
def auth(base_settings: Settings) -> Iterator[Settings]:
    """A namespace that another tool owns: the Better Auth tables, created with plain SQL."""
    settings = fresh_settings(base_settings, prefix="auth")
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(BETTER_AUTH.format(ns=quote_ident(settings.schema)))
    yield settings
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")


@pytest.fixture
def auth_engine(auth: Settings) -> Engine:
    return get_engine(auth)


def _env(db_env: dict[str, str], settings: Settings, models: str) -> dict[str, str]:
    return {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MODELS": models}


def _rows(engine: Engine, schema: str, table: str) -> int:
    with engine.connect() as conn:
        query = f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}"
        return int(conn.exec_driver_sql(query).scalar_one())


# -- the database as the model --------------------------------------------------


def test_the_database_source_reads_tables_seedbed_never_created(auth, auth_engine):
    metadata = DatabaseSource(auth_engine).metadata(auth.schema)
    names = {t.name for t in metadata.sorted_tables}
    assert names == {"user", "session", "account", "verification", "subscription", "twoFactor"}
    user = table_spec(metadata.tables[f"{auth.schema}.user"])
    assert user.columns["created_at"].kind == "timestamp"
    assert user.columns["email_verified"].has_default
    assert not user.columns["name"].nullable
    assert {key.name for key in user.unique_keys} == {"user_pkey", "user_email_unique"}
    session = table_spec(metadata.tables[f"{auth.schema}.session"])
    assert [fk.name for fk in session.foreign_keys] == ["session_user_id_user_id_fk"]
    subscription = table_spec(metadata.tables[f"{auth.schema}.subscription"])
    checks = {item.name: item.rule for item in subscription.rules}
    assert set(checks) == {
        "subscription_plan_known",
        "subscription_seats_range",
        "subscription_period_order",
        "subscription_team_seats",
        "subscription_pro_seats_even",
    }
    judged_by_database = {name for name, rule in checks.items() if isinstance(rule, SqlCheck)}
    assert judged_by_database == {"subscription_pro_seats_even"}  # the rest run in-process
    assert checks["subscription_team_seats"].columns == ("plan", "seats")


def test_a_valid_better_auth_row_validates_against_the_database(auth, auth_engine, tmp_path):
    (tmp_path / "user.csv").write_text(USER_HEADER + VALID_USER)
    report = seedbed.validate(tmp_path, engine=auth_engine, models="database")
    assert report.ok, report
    result = seedbed.load(tmp_path, engine=auth_engine, models="database", progress=False)
    assert result.committed
    assert _rows(auth_engine, auth.schema, "user") == 1


def test_every_check_is_enforced_under_its_own_name(auth, auth_engine, tmp_path):
    (tmp_path / "user.csv").write_text(USER_HEADER + VALID_USER)
    (tmp_path / "subscription.csv").write_text(SUBSCRIPTIONS)
    report = seedbed.validate(tmp_path, engine=auth_engine, models="database")
    found = {(row.line, row.rule) for row in report.failures.itertuples()}
    assert found == {
        (3, "subscription_plan_known"),
        (4, "subscription_seats_range"),
        (4, "subscription_period_order"),
        (5, "subscription_team_seats"),
        (6, "subscription_pro_seats_even"),
    }
    in_database = report.failures[report.failures["message"].str.contains("in the database")]
    assert list(in_database["rule"]) == ["subscription_pro_seats_even"]
    with pytest.raises(DataError):
        seedbed.load(tmp_path, engine=auth_engine, models="database", progress=False)
    assert _rows(auth_engine, auth.schema, "user") == 0  # nothing written


def test_camel_case_reserved_and_non_ascii_names_validate_and_load(auth, auth_engine, tmp_path):
    (tmp_path / "user.csv").write_text(USER_HEADER + VALID_USER)
    (tmp_path / "twoFactor.csv").write_text(
        'id,userId,backupCodes,order,größe\nt1,u1,"a,b",1,abc\nt2,u1,,2,abcd\n', encoding="utf-8"
    )
    report = seedbed.validate(tmp_path, engine=auth_engine, models="database")
    assert [(row.line, row.column, row.rule) for row in report.failures.itertuples()] == [
        (3, "größe", "twoFactor_größe_short")
    ]
    (tmp_path / "twoFactor.csv").write_text(
        'id,userId,backupCodes,order,größe\nt1,u1,"a,b",1,abc\n', encoding="utf-8"
    )
    seedbed.load(tmp_path, engine=auth_engine, models="database", progress=False)
    assert _rows(auth_engine, auth.schema, "twoFactor") == 1


def test_pandera_schema_of_a_reflected_table_has_its_types_not_null_and_checks(auth, auth_engine):
    schema = seedbed.pandera_schema("subscription", models=DatabaseSource(auth_engine))
    assert set(schema.columns) == {"id", "user_id", "plan", "seats", "period_start", "period_end"}
    assert not schema.columns["plan"].nullable and schema.columns["period_end"].nullable
    frame = pd.DataFrame(
        {
            "id": ["s1", "s2", "s3"],
            "user_id": ["u1", "u1", None],
            "plan": ["pro", "gold", "pro"],
            "seats": ["1", "2", "x"],
            "period_start": ["2026-01-01 00:00:00"] * 3,
            "period_end": [None, None, None],
        }
    )
    with pytest.raises(Exception) as caught:
        schema.validate(frame, lazy=True)
    cases = caught.value.failure_cases  # type: ignore[attr-defined]
    assert {"subscription_plan_known", "not_nullable"} <= set(cases["check"])
    assert "seats" in set(cases["column"])  # "x" is not an integer


def test_the_cli_validates_loads_and_checks_drift_with_the_database_as_model(
    auth, auth_engine, db_env, tmp_path
):
    env = _env(db_env, auth, "database")
    (tmp_path / "user.csv").write_text(USER_HEADER + VALID_USER)
    valid = run_cli("validate", str(tmp_path / "user.csv"), env=env)
    assert valid.returncode == 0, valid.stderr
    (tmp_path / "subscription.csv").write_text(SUBSCRIPTIONS)
    invalid = run_cli("validate", str(tmp_path), env=env)
    assert invalid.returncode == 1
    assert "[subscription_team_seats]" in invalid.stdout
    (tmp_path / "subscription.csv").unlink()
    loaded = run_cli("load", str(tmp_path), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert _rows(auth_engine, auth.schema, "user") == 1
    check = run_cli("db", "check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "matches" in check.stdout


def test_generated_rows_pass_a_check_only_the_database_can_judge_and_load(
    auth, auth_engine, db_env, tmp_path
):
    """``plan <> 'pro' OR mod(seats, 2) = 0``: the rows the database refuses are drawn again
    until it takes them (generating was refused, exit 2)."""
    env = _env(db_env, auth, "database")
    made = run_cli("-q", "generate", str(tmp_path / "out"), "--users", "200", env=env)
    assert made.returncode == 0, made.stderr
    rows = pd.read_csv(tmp_path / "out" / "subscription.csv")
    pro = rows[rows["plan"] == "pro"]
    assert len(pro) > 10 and (pro["seats"] % 2 == 0).all()
    loaded = run_cli("-q", "load", str(tmp_path / "out"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert _rows(auth_engine, auth.schema, "subscription") == len(rows)


# -- a folder of the user's own models ---------------------------------------------

GADGET = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models import rules
from .base import Base


class Gadget(Base):
    """Things we sell."""

    __tablename__ = "gadget"
    __table_args__ = rules.checks(rules.length("label", 1, 10))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    label: Mapped[str] = mapped_column(sa.Text, nullable=False, info={"doc": "what it is called"})
'''


@pytest.fixture
def gadget_models(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "shop_models", gadget=GADGET)


def test_a_folder_source_declares_only_its_own_tables(gadget_models):
    source = facts.model_source(gadget_models)
    assert isinstance(source, FolderSource)
    assert [t.name for t in source.metadata("shop").sorted_tables] == ["gadget"]
    gadget = source.metadata("shop").tables["shop.gadget"]
    assert [item.name for item in table_spec(gadget).rules] == ["ck_gadget_label_length"]
    declared = source.declaring_class(gadget)
    assert declared is not None and declared.__name__ == "Gadget"


def test_a_folder_source_validates_and_loads(gadget_models, empty_settings, db_env, tmp_path):
    engine = get_engine(empty_settings)
    metadata = facts.model_source(gadget_models).metadata(empty_settings.schema)
    with engine.begin() as conn:
        metadata.create_all(conn)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "gadget.csv").write_text("id,label\n1,lamp\n2,a label far too long\n")
    env = _env(db_env, empty_settings, str(gadget_models))
    invalid = run_cli("validate", str(seeds), env=env)
    assert invalid.returncode == 1 and "[ck_gadget_label_length]" in invalid.stdout
    (seeds / "gadget.csv").write_text("id,label\n1,lamp\n")
    loaded = run_cli("load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert _rows(engine, empty_settings.schema, "gadget") == 1


@pytest.mark.parametrize("value", ["/no/such/folder", "no_such_module_here"])
def test_a_models_setting_that_names_nothing_is_one_line_exit_2(value, db_env, tmp_path):
    (tmp_path / "user.csv").write_text(USER_HEADER)
    result = run_cli("validate", str(tmp_path), env={**db_env, "SEEDBED_MODELS": value})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "SEEDBED_MODELS" in result.stderr


def test_a_folder_without_tables_is_refused(tmp_path):
    (tmp_path / "empty.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match="declares no tables"):
        facts.model_source(tmp_path)


def test_the_package_is_still_the_default(monkeypatch):
    monkeypatch.delenv("SEEDBED_MODELS", raising=False)
    assert facts.model_source().name == "package seedbed.models"
    with facts.using_models("seedbed.models") as source:
        assert facts.model_source() is source


def test_a_namespace_without_tables_is_refused_by_name(base_settings):
    engine = get_engine(base_settings)
    with pytest.raises(ConfigError, match="'no_such_namespace_here' has no tables"):
        DatabaseSource(engine).metadata("no_such_namespace_here")


# -- who owns the namespace -------------------------------------------------------


@pytest.fixture
def drizzle_history(auth: Settings) -> Iterator[str]:
    """drizzle-kit's migration history, in a schema of its own as drizzle-kit keeps it."""
    schema = f"drizzle_{auth.schema}"
    engine = get_engine(auth)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(schema)}")
        conn.exec_driver_sql(
            f"CREATE TABLE {quote_ident(schema)}.__drizzle_migrations "
            "(id serial PRIMARY KEY, hash text NOT NULL, created_at bigint)"
        )
    yield schema
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {quote_ident(schema)} CASCADE")


@pytest.mark.parametrize(
    "verb",
    [("db", "migrate"), ("db", "push"), ("db", "downgrade"), ("db", "reset", "--yes")],
    ids=lambda verb: verb[1],
)
def test_schema_changes_are_refused_in_a_namespace_drizzle_owns(
    verb, auth, drizzle_history, db_env
):
    result = run_cli("-q", *verb, env={**db_env, "SEEDBED_SCHEMA": auth.schema})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"drizzle-kit (its migration history is {drizzle_history}.__drizzle_migrations)" in (
        result.stderr
    )
    assert _rows(get_engine(auth), auth.schema, "user") == 0  # the namespace is still there


def test_restore_is_refused_in_a_namespace_drizzle_owns(auth, drizzle_history, db_env, tmp_path):
    env = {**db_env, "SEEDBED_SCHEMA": auth.schema}
    saved = run_cli("db", "backup", "--out", str(tmp_path / "auth.dump"), env=env)
    assert saved.returncode == 0, saved.stderr
    result = run_cli("db", "restore", str(tmp_path / "auth.dump"), "--yes", env=env)
    assert result.returncode == 2 and "drizzle-kit" in result.stderr


def test_reading_commands_work_in_a_namespace_another_tool_owns(
    auth, drizzle_history, db_env, tmp_path
):
    env = _env(db_env, auth, "database")
    (tmp_path / "user.csv").write_text(USER_HEADER + VALID_USER)
    for command in (("validate", str(tmp_path)), ("load", str(tmp_path)), ("db", "check")):
        result = run_cli(*command, env=env)
        assert result.returncode == 0, (command, result.stderr)


def test_prisma_history_inside_the_namespace_names_prisma(auth):
    with get_engine(auth).begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {quote_ident(auth.schema)}._prisma_migrations (id text PRIMARY KEY)"
        )
    owner = namespace_owner(auth)
    assert owner is not None and owner.tool == "Prisma"


def test_a_new_namespace_is_seedbeds_even_beside_another_tools_history(
    drizzle_history, empty_settings
):
    assert namespace_owner(empty_settings) is None


def test_a_pushed_namespace_stays_seedbeds_beside_another_tools_history(
    drizzle_history, empty_settings, gadget_models, db_env
):
    env = _env(db_env, empty_settings, str(gadget_models))
    pushed = run_cli("-q", "db", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    with get_engine(empty_settings).connect() as conn:
        comment = conn.execute(
            sa.text(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :ns"
            ),
            {"ns": empty_settings.schema},
        ).scalar()
    assert comment == MARK
    assert namespace_owner(empty_settings) is None
    again = run_cli("-q", "db", "push", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr


def test_a_comment_of_someone_elses_is_kept_and_does_not_make_a_namespace_seedbeds(
    auth, drizzle_history
):
    ns = quote_ident(auth.schema)
    with get_engine(auth).begin() as conn:
        conn.exec_driver_sql(f"COMMENT ON SCHEMA {ns} IS 'auth tables'")
        mark_namespace(conn, auth.schema)
    owner = namespace_owner(auth)
    assert owner is not None and owner.tool == "drizzle-kit"


@pytest.mark.parametrize("verb", ["migrate", "push", "generate", "lint"])
def test_with_the_database_as_model_there_is_nothing_to_migrate(verb, auth, db_env):
    # lint too: the checkout's revisions are its own model's, not this namespace's
    args = ("db", verb, "-m", "x") if verb == "generate" else ("db", verb)
    result = run_cli(*args, env=_env(db_env, auth, "database"))
    assert result.returncode == 2
    assert "nothing to generate, lint, push or migrate" in result.stderr
    assert "checked" not in result.stdout


def test_columns_of_every_common_type_validate_and_load_from_the_catalog(
    auth, auth_engine, tmp_path
):
    ns = quote_ident(auth.schema)
    with auth_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE DOMAIN {ns}.posint AS integer CHECK (VALUE > 0); "
            f"CREATE TYPE {ns}.mood AS ENUM ('calm', 'busy'); "
            f"CREATE TABLE {ns}.kinds (id bigserial PRIMARY KEY, b bytea, a int[], i interval, "
            "tm time, ts tsvector, n numeric(10,2), v varchar(20), ch char(3), jb jsonb, u uuid, "
            f"ip inet, d {ns}.posint, m {ns}.mood, "
            "idn int GENERATED BY DEFAULT AS IDENTITY NOT NULL)"
        )
    spec = table_spec(
        DatabaseSource(auth_engine).metadata(auth.schema).tables[f"{auth.schema}.kinds"]
    )
    assert spec.columns["d"].kind == "integer"  # a domain reads as its base type
    assert spec.columns["m"].enum_values == ("calm", "busy")
    assert not spec.columns["idn"].required  # identity: the database fills it in
    (tmp_path / "kinds.csv").write_text(
        "b,a,i,tm,ts,n,v,ch,jb,u,ip,d,m\n"
        '\\xdeadbeef,"{1,2}",1 day,10:00,a b,1.50,x,ab,{},'
        "0b0c1c2e-1f0a-4a9a-9a1a-0a0a0a0a0a0a,10.0.0.1,5,calm\n"
    )
    assert seedbed.validate(tmp_path, engine=auth_engine, models="database").ok
    seedbed.load(tmp_path, engine=auth_engine, models="database", progress=False)
    assert _rows(auth_engine, auth.schema, "kinds") == 1


def test_with_the_database_as_model_reset_and_downgrade_refuse_and_restore_works(
    auth, db_env, tmp_path
):
    env = _env(db_env, auth, "database")
    engine = get_engine(auth)
    down = run_cli("-q", "db", "downgrade", "--to", "base", env=env)
    assert down.returncode == 2 and "at no revision; nothing to undo" in down.stderr
    reset = run_cli("-q", "db", "reset", "--yes", env=env)
    assert reset.returncode == 2 and reset.stderr.count("\n") == 1, reset.stderr
    assert "seedbed did not make it" in reset.stderr
    with engine.begin() as conn:
        tables = sa.inspect(conn).get_table_names(schema=auth.schema)
        conn.exec_driver_sql(
            f'INSERT INTO {quote_ident(auth.schema)}."user" (id, name, email) '
            "VALUES ('u1', 'Ann', 'ann@example.com')"
        )
    assert "user" in tables and "alembic_version" not in tables
    saved = run_cli("-q", "db", "backup", "--out", str(tmp_path / "auth.dump"), env=env)
    assert saved.returncode == 0, saved.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DELETE FROM {quote_ident(auth.schema)}."user"')
    restored = run_cli("-q", "db", "restore", str(tmp_path / "auth.dump"), "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    assert _rows(engine, auth.schema, "user") == 1
