"""Model changes flow into revisions with no hand edits: generate, migrate, check clean.

Each test changes a copy of the model in memory (``metadata_for`` plus edits),
writes a revision into a temporary copy of ``migrations/``, applies it, and
asserts that ``check`` then finds nothing, both ways (upgrade and downgrade).
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import DOMAIN, JSONB

from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts.referenced import DOMAINS
from seedbed.models import NAMING_CONVENTION, metadata_for, rules
from seedbed.models.base import CatalogType, created_at, updated_at
from tests.helpers import ROOT, fresh_settings, imported_modules, model_folder, run_cli

VERSIONS = ROOT / "migrations" / "versions"


@pytest.fixture
def migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of migrations/ that generate writes into."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("SEEDBED_MIGRATIONS", str(copy))
    yield copy


def model_copy(schema: str) -> sa.MetaData:
    copy = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    for table in metadata_for(schema).sorted_tables:
        table.to_metadata(copy)
    return copy


def table(metadata: sa.MetaData, name: str) -> sa.Table:
    return metadata.tables[f"{metadata.schema}.{name}"]


def replace_check(target: sa.Table, name: str, rule: rules.Rule) -> None:
    old = next(c for c in target.constraints if c.name == name)
    target.constraints.discard(old)
    target.append_constraint(rule.constraint())


def changed_model(schema: str) -> sa.MetaData:
    """A new table (FKs, rules, enum, timestamps), a new enum value, a changed CHECK,
    a new nullable column with a rule, and a new partial index."""
    metadata = model_copy(schema)
    sa.Table(
        "comment",
        metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("post_id", sa.ForeignKey("post.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.ForeignKey("user.id"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("mood", sa.Enum("calm", "excited", name="comment_mood"), nullable=True),
        sa.Column("extra", JSONB),
        sa.Column("created_at", created_at().column.type, server_default=sa.func.now()),
        sa.Column("updated_at", updated_at().column.type, server_default=sa.func.now()),
        *rules.checks(rules.uuid_v4("id"), rules.length("body", 1, 2000)),
        sa.Index(None, "post_id"),
    )
    post = table(metadata, "post")
    post.c.status.type = sa.Enum(
        "idea", "draft", "published", "archived", "scheduled", name="post_status", schema=schema
    )
    replace_check(table(metadata, "tag"), "ck_tag_name_length", rules.length("name", 1, 80))
    user = table(metadata, "user")
    user.append_column(sa.Column("nickname", sa.Text))
    user.append_column(sa.Column("spot", CatalogType("point")))  # a type SQLAlchemy lacks
    user.append_constraint(rules.length("nickname", 1, 40).constraint())
    session = table(metadata, "session")
    sa.Index(
        "ix_session_live", session.c.expires_at, postgresql_where=sa.text("user_agent IS NOT NULL")
    )
    return metadata


def revision_source(path: Path) -> str:
    source = path.read_text()
    ast.parse(source)
    return source


def assert_round_trip(settings: Settings, metadata: sa.MetaData) -> Path:
    before = migrate.current_revision(settings)
    path = migrate.generate(settings, "change", metadata=metadata)
    source = revision_source(path)
    assert settings.schema not in source
    assert "seedbed" not in source
    migrate.upgrade_unchecked(settings)
    assert migrate.check(settings, metadata=metadata) == []
    migrate.downgrade(settings, str(before))
    assert migrate.check(settings) == []
    migrate.upgrade_unchecked(settings)
    assert migrate.check(settings, metadata=metadata) == []
    return path


def test_check_names_every_kind_of_change(settings: Settings, migrations: Path) -> None:
    found = set(migrate.check(settings, metadata=changed_model(settings.schema)))
    s = settings.schema
    assert {
        f"missing table {s}.comment",
        f"missing enum {s}.comment_mood",
        f"missing trigger trg_comment_updated_at on {s}.comment",
        f"missing value 'scheduled' in enum {s}.post_status",
        "changed constraint ck_tag_name_length on tag: "
        "database CHECK (((char_length(name) >= 1) AND (char_length(name) <= 64))), "
        "models CHECK (((char_length(name) >= 1) AND (char_length(name) <= 80)))",
        f"missing column {s}.user.nickname",
        "missing constraint ck_user_nickname_length on user",
        "missing index ix_session_live on session",
    } <= found


def test_generated_revision_brings_every_change(settings: Settings, migrations: Path) -> None:
    metadata = changed_model(settings.schema)
    path = assert_round_trip(settings, metadata)
    assert path.parent == migrations / "versions"
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(
            f'insert into "{settings.schema}".tag (id, name) '
            f"values ('2d2e6f4c-8f55-4d5e-9a43-2f3c1b8e7d12', '{'x' * 70}')"
        )
        labels = conn.exec_driver_sql(
            f'select enum_range(null::"{settings.schema}".post_status)::text'
        ).scalar_one()
    assert labels == "{idea,draft,published,archived,scheduled}"


def test_a_percent_sign_in_a_check_reaches_the_database_as_written(
    settings: Settings, migrations: Path
) -> None:
    """Alembic renders a condition with the driver's ``%%`` escaping; a revision must not."""
    metadata = model_copy(settings.schema)
    tag = table(metadata, "tag")
    tag.constraints.discard(next(c for c in tag.constraints if c.name == "ck_tag_name_length"))
    tag.append_constraint(sa.CheckConstraint("name NOT LIKE '%x%'", name="name_length"))
    sa.Table(
        "label",
        metadata,
        sa.Column("name", sa.Text, primary_key=True),
        sa.CheckConstraint("name LIKE '%y'", name="name_end"),
    )
    path = assert_round_trip(settings, metadata)
    source = revision_source(path)
    assert "'%x%'" in source.replace("\\", "") and "'%y'" in source.replace("\\", "")
    assert "%%" not in source


def test_a_colon_name_in_a_rule_reaches_the_database_as_written(
    settings: Settings, migrations: Path
) -> None:
    """``text()`` reads ``:v`` as a parameter; the model and the revision both escape it."""
    metadata = model_copy(settings.schema)
    rule = rules.Matches("name_format", ("name",), "a tag, maybe versioned", r"tag(:v[0-9]+)?")
    sa.Table("label", metadata, sa.Column("name", sa.Text, primary_key=True), rule.constraint())
    path = assert_round_trip(settings, metadata)
    assert "\\\\:v" in revision_source(path)  # ``'\\:v'`` in the file: ``text()`` undoes it
    with get_engine(settings).connect() as conn:
        definition = conn.execute(
            sa.text(
                "select pg_get_constraintdef(k.oid) from pg_constraint k "
                "join pg_namespace n on n.oid = k.connamespace "
                "where k.conname = 'ck_label_name_format' and n.nspname = :schema"
            ),
            {"schema": settings.schema},
        ).scalar_one()
    assert "(:v[0-9]+)" in definition


def _collation(settings: Settings, table_name: str, column: str) -> str | None:
    with get_engine(settings).connect() as conn:
        return conn.execute(
            sa.text(
                "select c.collname from pg_attribute a "
                "join pg_collation c on c.oid = a.attcollation "
                "join pg_type t on t.oid = a.atttypid "
                "where a.attrelid = cast(:rel as regclass) and a.attname = :col "
                "and a.attcollation <> t.typcollation"
            ),
            {"rel": f'"{settings.schema}"."{table_name}"', "col": column},
        ).scalar()


def test_a_collation_declared_or_removed_is_a_change(settings: Settings, migrations: Path) -> None:
    """Alembic compares collations only when both sides name one; seedbed compares them always."""
    metadata = model_copy(settings.schema)
    table(metadata, "user").c.name.type = sa.Text(collation="C")
    assert migrate.check(settings, metadata=metadata) == [
        "changed type of column user.name: database TEXT(), models Text(collation='C')"
    ]
    path = assert_round_trip(settings, metadata)
    assert "collation='C'" in revision_source(path)
    assert _collation(settings, "user", "name") == "C"
    with get_engine(
        settings
    ).begin() as conn:  # the database's collation, not the model's, differs now
        conn.exec_driver_sql(f'alter table "{settings.schema}"."user" alter column name type text')
    assert migrate.check(settings, metadata=metadata) == [
        "changed type of column user.name: database TEXT(), models Text(collation='C')"
    ]
    migrate.push(settings, metadata=metadata)
    assert _collation(settings, "user", "name") == "C"
    assert migrate.check(settings, metadata=metadata) == []
    assert migrate.check(settings) == [
        "changed type of column user.name: database TEXT(collation='C'), models Text()"
    ]


def test_a_server_default_changed_added_or_removed_is_a_change(
    settings: Settings, migrations: Path
) -> None:
    metadata = model_copy(settings.schema)
    user, post = table(metadata, "user"), table(metadata, "post")
    user.c.email_verified.server_default = sa.DefaultClause(sa.text("true"))
    user.c.name.server_default = sa.DefaultClause("anonymous")
    post.c.published_at.server_default = sa.DefaultClause(sa.text("now()"))
    # The same value written another way is no change: PostgreSQL compares them.
    user.c.created_at.server_default = sa.DefaultClause(sa.text("CURRENT_TIMESTAMP"))
    assert set(migrate.check(settings, metadata=metadata)) == {
        "changed default of column user.email_verified: database false, models true",
        "changed default of column user.name: database none, models anonymous",
        "changed default of column post.published_at: database none, models now()",
    }
    assert_round_trip(settings, metadata)
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(
            f'insert into "{settings.schema}"."user" (id, email) '
            "values ('2d2e6f4c-8f55-4d5e-9a43-2f3c1b8e7d12', 'new@example.com')"
        )
        row = conn.exec_driver_sql(
            f'select email_verified, name from "{settings.schema}"."user"'
        ).one()
    assert tuple(row) == (True, "anonymous")
    assert set(migrate.check(settings)) == {
        "changed default of column user.email_verified: database true, models false",
        "changed default of column user.name: database 'anonymous'::text, models none",
        "changed default of column post.published_at: database now(), models none",
    }


def test_a_default_the_column_type_cannot_read_yet_is_a_change(
    settings: Settings, migrations: Path
) -> None:
    """PostgreSQL reads the model's default as the column's type in the database: a label the
    same change adds to the enum, or text for a column that becomes text, is not an error."""
    metadata = model_copy(settings.schema)
    post, user = table(metadata, "post"), table(metadata, "user")
    post.c.status.type = sa.Enum(
        "draft", "published", "archived", "scheduled", name="post_status", schema=settings.schema
    )
    post.c.status.server_default = sa.DefaultClause(sa.text("'scheduled'"))
    user.c.email_verified.type = sa.Text()
    user.c.email_verified.server_default = sa.DefaultClause(sa.text("'maybe'"))
    found = set(migrate.check(settings, metadata=metadata))
    assert {
        f"missing value 'scheduled' in enum {settings.schema}.post_status",
        "changed default of column post.status: database 'draft'::post_status, models 'scheduled'",
        "changed default of column user.email_verified: database false, models 'maybe'",
    } <= found
    path = migrate.generate(settings, "change", metadata=metadata)
    assert "server_default=sa.text(\"'scheduled'\")" in revision_source(path)


def test_dropping_tables_columns_and_enums(settings: Settings, migrations: Path) -> None:
    metadata = model_copy(settings.schema)
    for name in ("post_tag", "verification"):
        metadata.remove(table(metadata, name))
    post = table(metadata, "post")
    post._columns.remove(post.c.status)
    post.constraints.discard(
        next(c for c in post.constraints if c.name == "ck_post_published_at_required")
    )
    for index in list(post.indexes):
        if index.name == "ix_post_published_listing":
            post.indexes.discard(index)
    session = table(metadata, "session")
    session._columns.remove(session.c.updated_at)
    found = set(migrate.check(settings, metadata=metadata))
    s = settings.schema
    assert {
        f"extra table {s}.verification",
        f"extra trigger trg_verification_updated_at on {s}.verification",
        f"extra trigger trg_session_updated_at on {s}.session",
        f"extra enum {s}.post_status",
    } <= found
    assert_round_trip(settings, metadata)


def test_a_changed_partial_index_predicate_is_recreated(
    settings: Settings, migrations: Path
) -> None:
    metadata = model_copy(settings.schema)
    post = table(metadata, "post")
    index = next(i for i in post.indexes if i.name == "uq_post_slug_live")
    index.dialect_options["postgresql"]["where"] = sa.text("deleted_at IS NULL AND slug <> ''")
    assert migrate.check(settings, metadata=metadata) == [
        "changed index uq_post_slug_live on post: database (deleted_at IS NULL), "
        "models ((deleted_at IS NULL) AND (slug <> ''::text))"
    ]
    assert_round_trip(settings, metadata)


def test_a_domain_the_model_declares_is_created_before_its_table_and_dropped_after(
    settings: Settings, migrations: Path
) -> None:
    metadata = model_copy(settings.schema)
    metadata.info[DOMAINS] = {
        "positive": "AS integer DEFAULT 1 NOT NULL CONSTRAINT positive_check CHECK (VALUE > 0)"
    }
    kind = DOMAIN("positive", sa.Integer(), create_type=False)
    # A column declares its domain's NOT NULL and default as its own (the catalog reports them).
    n = sa.Column("n", kind, nullable=False, server_default=sa.text("1"))
    sa.Table("stock", metadata, sa.Column("id", sa.Integer, primary_key=True), n)
    s = settings.schema
    assert migrate.check(settings, metadata=metadata)[:2] == [
        f"missing domain {s}.positive",
        f"missing table {s}.stock",
    ]
    path = assert_round_trip(settings, metadata)
    source = revision_source(path)
    assert source.index("CREATE DOMAIN") < source.index("create_table")
    with get_engine(settings).connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT t.typnotnull, t.typdefault, pg_get_constraintdef(c.oid) "
                "FROM pg_type t JOIN pg_constraint c ON c.contypid = t.oid AND c.contype = 'c' "
                "WHERE t.typname = 'positive' AND t.typnamespace = CAST(:s AS regnamespace)"
            ),
            {"s": s},
        ).one()
    assert tuple(found) == (True, "1", "CHECK ((VALUE > 0))")


def test_a_changed_domain_is_altered_part_by_part_and_put_back_on_downgrade(
    settings: Settings, migrations: Path
) -> None:
    def model(definition: str) -> sa.MetaData:
        metadata = model_copy(settings.schema)
        metadata.info[DOMAINS] = {"positive": definition}
        kind = DOMAIN("positive", sa.Integer(), create_type=False)
        sa.Table(
            "stock",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("n", kind, nullable=False, server_default=sa.text("1")),
        )
        return metadata

    first = "AS integer DEFAULT 1 NOT NULL CONSTRAINT positive_check CHECK (VALUE > 0)"
    migrate.generate(settings, "first", metadata=model(first))
    migrate.upgrade_unchecked(settings)
    s = settings.schema
    changed = model(
        "AS integer DEFAULT 2 CONSTRAINT positive_check CHECK (VALUE >= 0) "
        "CONSTRAINT positive_small CHECK (VALUE < 1000)"
    )
    assert migrate.check(settings, metadata=changed) == [
        f"changed domain {s}.positive: positive_check was CHECK ((VALUE > 0))",
        f"changed domain {s}.positive: default 1 -> 2",
        f"changed domain {s}.positive: NULL allowed",
        f"changed domain {s}.positive: positive_check is CHECK ((VALUE >= 0))",
        f"changed domain {s}.positive: missing positive_small CHECK ((VALUE < 1000))",
    ]
    source = revision_source(migrate.generate(settings, "changed", metadata=changed))
    assert s not in source and "seedbed" not in source
    migrate.upgrade_unchecked(settings)
    assert migrate.check(settings, metadata=changed) == []
    migrate.downgrade(settings, "-1")
    assert migrate.check(settings, metadata=model(first)) == []
    retyped = model(first.replace("AS integer", "AS bigint"))
    assert [line for line in migrate.check(settings, metadata=retyped) if "domain" in line] == [
        f"changed domain {s}.positive: base type integer -> bigint (PostgreSQL cannot alter "
        "a domain's type: write this change by hand)"
    ]


def test_push_runs_the_same_operations(settings: Settings) -> None:
    metadata = changed_model(settings.schema)
    expected = migrate.check(settings, metadata=metadata)
    done = migrate.push(settings, metadata=metadata)
    assert len(done) == len(expected)
    assert f"created trigger trg_comment_updated_at on {settings.schema}.comment" in done
    assert migrate.check(settings, metadata=metadata) == []


def test_base_to_head_and_back_leaves_only_the_version_table(empty_settings: Settings) -> None:
    migrate.upgrade_unchecked(empty_settings)
    migrate.downgrade(empty_settings, "base")
    with get_engine(empty_settings).connect() as conn:
        left = conn.execute(
            sa.text(
                "select 'relation ' || relname from pg_class c join pg_namespace n "
                "on n.oid = c.relnamespace where n.nspname = :s "
                "union all select 'type ' || typname from pg_type t join pg_namespace n "
                "on n.oid = t.typnamespace where n.nspname = :s and t.typtype <> 'c' "
                "and t.typname not like '\\_%' "
                "union all select 'function ' || proname from pg_proc p join pg_namespace n "
                "on n.oid = p.pronamespace where n.nspname = :s"
            ),
            {"s": empty_settings.schema},
        ).scalars()
        assert set(left) == {"relation alembic_version", "relation alembic_version_pkc"}
    migrate.upgrade_unchecked(empty_settings)
    assert migrate.check(empty_settings) == []


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("*.py")), ids=lambda p: p.name)
def test_no_revision_imports_seedbed(path: Path) -> None:
    imported = imported_modules(path)
    assert not {name for name in imported if name.split(".")[0] == "seedbed"}
    assert imported <= {"typing", "alembic", "sqlalchemy", "sqlalchemy.dialects"}


def test_generate_writes_nothing_when_nothing_changed(
    settings: Settings, migrations: Path, db_env: dict[str, str]
) -> None:
    assert migrate.generate(settings, "nothing") is None
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MIGRATIONS": str(migrations)}
    result = run_cli("db", "generate", "-m", "nothing", env=env)
    assert result.returncode == 0, result.stderr
    assert "no revision written" in result.stdout
    written = sorted(p.name for p in (migrations / "versions").glob("*.py"))
    assert written == sorted(p.name for p in VERSIONS.glob("*.py"))


def test_a_check_changed_in_the_database_is_named_and_pushed_back(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(
            f'alter table "{settings.schema}".tag drop constraint ck_tag_name_length, '
            "add constraint ck_tag_name_length check (char_length(name) < 10)"
        )
    (line,) = migrate.check(settings)
    assert line.startswith("changed constraint ck_tag_name_length on tag: database CHECK")
    assert migrate.push(settings) == [f"fixed: {line}"]
    assert migrate.check(settings) == []


def test_a_changed_updated_at_function_is_replaced_and_restored(
    settings: Settings, migrations: Path
) -> None:
    old_body = "\nBEGIN\n  NEW.updated_at := now() - interval '1 day';\n  RETURN NEW;\nEND;\n"
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(
            f'CREATE OR REPLACE FUNCTION "{settings.schema}".set_updated_at() RETURNS trigger '
            f"LANGUAGE plpgsql AS $${old_body}$$"
        )
    assert migrate.check(settings) == [f"changed function {settings.schema}.set_updated_at()"]
    before = migrate.current_revision(settings)
    path = migrate.generate(settings, "function")
    assert path is not None
    migrate.upgrade_unchecked(settings)
    assert migrate.check(settings) == []
    migrate.downgrade(settings, str(before))
    with get_engine(settings).connect() as conn:
        body = conn.execute(
            sa.text(
                "select prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname = :s and proname = 'set_updated_at'"
            ),
            {"s": settings.schema},
        ).scalar_one()
    assert body == old_body


KEYED = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Club(Base):
    __tablename__ = "club"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    club = mapped_column("club_id", sa.Integer, sa.ForeignKey("club.id"), key="clubRef")
"""


def test_a_foreign_key_of_a_column_keyed_otherwise_is_generated_migrated_and_checked(
    base_settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    """``Column(..., key=...)``: the key qualified with the namespace was rebuilt from the
    column's name, which Alembic's table holds under its key: push and generate failed."""
    settings = fresh_settings(base_settings, "keyedfk")
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    for revision in (migrations / "versions").glob("*.py"):
        revision.unlink()
    models = model_folder(tmp_path / "models", clubs=KEYED)
    env = {
        **db_env,
        "SEEDBED_SCHEMA": settings.schema,
        "SEEDBED_MODELS": str(models),
        "SEEDBED_MIGRATIONS": str(migrations),
    }
    try:
        generated = run_cli("-q", "db", "generate", "-m", "clubs", env=env)
        assert generated.returncode == 0, generated.stderr
        (revision,) = (migrations / "versions").glob("*.py")
        text = revision.read_text()
        assert "sa.Column('club_id'" in text and "ForeignKeyConstraint(['club_id']" in text
        for command in (("db", "migrate"), ("db", "check")):
            done = run_cli("-q", *command, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        with get_engine(settings).connect() as conn:
            keys = conn.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE contype = 'f' AND connamespace = CAST(:s AS regnamespace)"
                ),
                {"s": settings.schema},
            ).scalars()
            assert [k.split(" REFERENCES")[0] for k in keys] == ["FOREIGN KEY (club_id)"]
    finally:
        migrate.reset(settings)
