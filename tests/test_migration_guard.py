"""``seedbed db migrate``: refuses unsafe revisions, backs up before acknowledged data loss,
and ``--dry-run`` runs everything in a transaction that is rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed import migrate, safety
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import UnsafeMigrationError
from seedbed.models import metadata_for, rules
from seedbed.models.base import NAMING_CONVENTION
from seedbed.safety.backup import backup_namespaces
from seedbed.safety.dryrun import describe
from tests.helpers import run_cli_here, snapshot
from tests.revision_files import RevisionFolder

NOT_NULL_NICKNAME = (
    "op.add_column('user', sa.Column('nickname', sa.Text(), nullable=False), schema=schema)"
)


@pytest.fixture
def env(populated: Settings, revisions: RevisionFolder, db_env: dict[str, str]) -> dict[str, str]:
    return {**db_env, "SEEDBED_SCHEMA": populated.schema, "SEEDBED_MIGRATIONS": str(revisions.root)}


def columns(settings: Settings, table: str) -> set[str]:
    inspector = sa.inspect(get_engine(settings))
    return {c["name"] for c in inspector.get_columns(table, schema=settings.schema)}


def test_migrate_refuses_an_unsafe_revision_and_applies_nothing(
    populated: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    safe = revisions.add("op.add_column('user', sa.Column('bio', sa.Text()), schema=schema)")
    unsafe = revisions.add(NOT_NULL_NICKNAME)
    before = (migrate.current_revision(populated), snapshot(get_engine(populated)))
    result = run_cli_here("db", "migrate", env=env)
    assert result.returncode == 1, result.stderr
    assert f"error: adding-required-field in {unsafe} on user.nickname" in result.stdout
    assert result.stderr.splitlines()[-1].startswith("seedbed: error: 1 error-level finding(s)")
    assert (migrate.current_revision(populated), snapshot(get_engine(populated))) == before
    assert {"bio", "nickname"}.isdisjoint(columns(populated, "user"))
    assert safe != unsafe


def test_migrate_stops_short_of_the_unsafe_revision_with_to(
    populated: Settings, revisions: RevisionFolder
) -> None:
    safe = revisions.add("op.add_column('user', sa.Column('bio', sa.Text()), schema=schema)")
    revisions.add(NOT_NULL_NICKNAME)
    outcome = migrate.upgrade(populated, safe)
    assert outcome.revision == safe and outcome.backup is None
    assert "bio" in columns(populated, "user")
    with pytest.raises(UnsafeMigrationError) as refused:
        migrate.upgrade(populated)
    assert refused.value.exit_code == 1
    assert [f.rule for f in refused.value.report.blocking] == ["adding-required-field"]


def test_acknowledged_data_loss_is_backed_up_first(
    populated: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    revisions.add("op.drop_column('user', 'name', schema=schema)", assured={"ban-drop-column"})
    result = run_cli_here("db", "migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert "acknowledged: ban-drop-column" in result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("backed up"))
    path = Path(line.split(" to ", 1)[1].split(" before ")[0])
    assert path.is_file() and path.stat().st_size > 0
    assert path.parent == populated.home / "backups"
    assert "name" not in columns(populated, "user")
    assert backup_namespaces(path) == [populated.schema]


def test_dry_run_reports_the_failing_operation_and_changes_nothing(
    populated: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    first = revisions.add("op.add_column('user', sa.Column('bio', sa.Text()), schema=schema)")
    second = revisions.add(
        "op.create_index('ix_user_bio', 'user', ['bio'], schema=schema)\n" + NOT_NULL_NICKNAME
    )
    before = (migrate.current_revision(populated), snapshot(get_engine(populated)))
    result = run_cli_here("db", "migrate", "--dry-run", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{first}  add_column user.bio  ok"
    assert lines[1] == f"{second}  create_index ix_user_bio on user  ok"
    assert lines[2].startswith(f'{second}  add_column user.nickname  failed: column "nickname"')
    assert lines[3].startswith(f"would fail: {second} add_column user.nickname:")
    assert "Traceback" not in result.stdout + result.stderr
    assert (migrate.current_revision(populated), snapshot(get_engine(populated))) == before
    assert "bio" not in columns(populated, "user")


def test_dry_run_of_safe_revisions_would_succeed(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.add_column('user', sa.Column('bio', sa.Text()), schema=schema)
        with op.get_context().autocommit_block():
            op.create_index(
                'ix_user_bio', 'user', ['bio'], schema=schema, postgresql_concurrently=True
            )
        op.execute(f'update "{schema}"."user" set bio = name')
        """
    )
    result = safety.dry_run(populated)
    assert result.ok, result.render()
    assert [s.status for s in result.steps] == ["ok", "skipped (autocommit block)", "ok"]
    assert result.render().splitlines()[-1].startswith("would succeed")
    assert "bio" not in columns(populated, "user")


def test_dry_run_names_errors_raised_by_revision_code(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add("op.get_bind().execute(sa.text('select 1/0'))")
    failure = safety.dry_run(populated).failure
    assert failure is not None
    assert (failure.operation, failure.error) == ("revision code", "division by zero")


def test_operations_are_described_by_kind_and_target() -> None:
    from alembic.operations import ops

    assert describe(ops.DropColumnOp("user", "name")) == "drop_column user.name"
    assert describe(ops.ExecuteSQLOp("select 1")) == "execute select 1"
    assert describe(ops.CreateIndexOp("ix_a", "t", ["a"])) == "create_index ix_a on t"


def changed_model(schema: str) -> sa.MetaData:
    """The models plus a nullable ``user.nickname`` with a length rule and a ``note`` table."""
    changed = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    for table in metadata_for(schema).sorted_tables:
        table.to_metadata(changed)
    user = changed.tables[f"{schema}.user"]
    user.append_column(sa.Column("nickname", sa.Text))
    user.append_constraint(rules.length("nickname", 1, 40).constraint())
    sa.Table(
        "note",
        changed,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.ForeignKey("user.id"), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        *rules.checks(rules.length("body", 1, 500)),
        sa.Index(None, "user_id"),
    )
    return changed


def test_a_routine_model_change_lints_without_errors_and_migrates(
    populated: Settings, revisions: RevisionFolder
) -> None:
    model = changed_model(populated.schema)
    path = migrate.generate(populated, "nickname and notes", metadata=model)
    assert path is not None
    report = safety.lint(populated)
    assert report.ok, report.render()
    assert [f.rule for f in report] == ["constraint-missing-not-valid"], report.render()
    outcome = migrate.upgrade(populated)
    assert outcome.backup is None
    assert migrate.check(populated, metadata=model) == []
