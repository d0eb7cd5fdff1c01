"""``seedbed db lint``: pending revisions checked with static rules and the rows there now."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed import safety
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import MigrationError
from seedbed.safety import Severity, probes
from tests.helpers import ROOT, run_cli_here
from tests.revision_files import RevisionFolder


def scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(sql).scalar_one())


def rename_users(settings: Settings, name: str, *, before_email: str) -> int:
    """Give the users whose email sorts before ``before_email`` this name; return how many."""
    with get_engine(settings).begin() as connection:
        return connection.execute(
            sa.text(f'update "{settings.schema}"."user" set name = :n where email < :e'),
            {"n": name, "e": before_email},
        ).rowcount


def only(report: safety.LintReport, rule: str) -> safety.Finding:
    found = [f for f in report if f.rule == rule]
    assert len(found) == 1, report.render()
    return found[0]


def test_required_column_on_a_table_with_rows_is_an_error_that_counts_them(
    populated: Settings, revisions: RevisionFolder
) -> None:
    rev = revisions.add(
        "op.add_column('user', sa.Column('nickname', sa.Text(), nullable=False), schema=schema)"
    )
    users = scalar(get_engine(populated), f'select count(*) from "{populated.schema}"."user"')
    report = safety.lint(populated)
    finding = only(report, "adding-required-field")
    assert (finding.severity, finding.revision, finding.target) == (
        Severity.ERROR,
        rev,
        "user.nickname",
    )
    assert finding.affected == users > 0
    assert f"user has {users} row(s)" in finding.effect
    assert "server_default" in finding.fix
    assert not report.ok
    assert report.revisions == (rev,)


def test_required_column_with_a_server_default_or_on_an_empty_table_passes(
    settings: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.add_column('user', sa.Column('nickname', sa.Text(), nullable=False), schema=schema)
        rank = sa.Column('rank', sa.Integer(), server_default='0', nullable=False)
        op.add_column('post', rank, schema=schema)
        """
    )
    assert safety.lint(settings).findings == ()


def test_type_change_counts_the_values_that_would_not_convert(
    populated: Settings, revisions: RevisionFolder
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    numeric = rename_users(populated, "42", before_email="user2")
    named = scalar(engine, f'select count(*) from "{schema}"."user" where name is not null')
    long_slugs = scalar(engine, f'select count(*) from "{schema}".post where char_length(slug) > 8')
    rev = revisions.add(
        """
        op.alter_column(
            'user', 'name', type_=sa.Integer(), postgresql_using='name::integer', schema=schema
        )
        op.alter_column('post', 'slug', type_=sa.String(8), schema=schema)
        op.alter_column('post', 'title', type_=sa.Text(), schema=schema)
        """
    )
    name, slug, title = [f for f in safety.lint(populated) if f.rule == "changing-column-type"]
    assert 0 < numeric < named
    assert (name.target, name.severity, name.affected) == (
        "user.name",
        Severity.ERROR,
        named - numeric,
    )
    assert f"{named - numeric:,} of {named:,} non-null value(s)" in name.effect
    assert name.revision == rev
    assert (slug.target, slug.severity, slug.affected) == ("post.slug", Severity.ERROR, long_slugs)
    assert long_slugs > 0
    assert (title.severity, title.affected) == (Severity.WARNING, 0)
    assert "convert" in title.effect


def test_type_change_without_an_automatic_cast_fails_whatever_the_data(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add("op.alter_column('user', 'email_verified', type_=sa.Integer(), schema=schema)")
    finding = only(safety.lint(populated), "changing-column-type")
    assert finding.severity is Severity.ERROR
    assert "no automatic cast from boolean to INTEGER" in finding.effect
    assert "postgresql_using" in finding.effect


def test_type_change_to_an_enum_the_same_migrate_creates_fails_whatever_the_data(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """The enum does not exist while lint reads the revision; no type casts to an enum by
    assignment, so the ALTER fails however the rows look."""
    revisions.add(
        """
        op.execute(f'CREATE TYPE "{schema}"."user_kind" AS ENUM (\\'a\\', \\'b\\')')
        op.alter_column('user', 'name', type_=sa.Enum('a', 'b', name='user_kind',
                        create_type=False), schema=schema)
        """
    )
    finding = only(safety.lint(populated), "changing-column-type")
    assert finding.severity is Severity.ERROR
    assert "no automatic cast from text to user_kind: the ALTER fails" in finding.effect


@pytest.mark.parametrize("input_check", [True, False], ids=["pg_input_is_valid", "plpgsql"])
def test_both_ways_of_counting_conversion_failures_agree(
    populated: Settings, input_check: bool
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    rename_users(populated, "7", before_email="user3")
    with engine.connect() as connection:
        expected = connection.exec_driver_sql(
            f'select count(*) from "{schema}"."user" '
            "where name is not null and name !~ '^[0-9]+$'"
        ).scalar_one()
    with engine.connect() as connection:
        relation = probes.Relation(connection, schema, "user")
        found = probes.unconvertible_count(relation, "name", "integer", input_check=input_check)
        assert probes.unconvertible_count(relation, "email_verified", "text") == 0
    assert found == expected > 0


def test_dropped_column_and_table_count_what_is_lost(
    populated: Settings, revisions: RevisionFolder
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    revisions.add(
        "op.drop_column('user', 'name', schema=schema)\nop.drop_table('tag', schema=schema)"
    )
    report = safety.lint(populated)
    column, table = only(report, "ban-drop-column"), only(report, "ban-drop-table")
    names = scalar(engine, f'select count(*) from "{schema}"."user" where name is not null')
    tags = scalar(engine, f'select count(*) from "{schema}".tag')
    assert (column.target, column.affected, column.severity) == ("user.name", names, Severity.ERROR)
    assert (table.target, table.affected, table.severity) == ("tag", tags, Severity.ERROR)
    assert f"{names} non-null value(s) in user.name are lost" in column.effect


def test_a_drop_beside_one_added_column_of_its_table_names_the_rename(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """Autogenerate writes a renamed column as an add and a drop; the drop's finding says
    how to keep the values. Two added columns, or one in another table, name no rename."""
    revisions.add(
        "op.add_column('user', sa.Column('full_name', sa.Text()), schema=schema)\n"
        "op.add_column('tag', sa.Column('colour', sa.Text()), schema=schema)\n"
        "op.drop_column('user', 'name', schema=schema)\n"
        "op.drop_column('tag', 'name', schema=schema)"
    )
    report = safety.lint(populated)
    user, tag = (f for f in report if f.rule == "ban-drop-column")
    assert user.effect.endswith(
        ". If full_name, added before it, is name renamed, write op.alter_column('user', "
        "'name', new_column_name='full_name', schema=schema) instead of the add and the drop: "
        "the values stay"
    )
    assert "renamed" in tag.effect
    revisions.add(
        "op.add_column('post', sa.Column('a', sa.Text()), schema=schema)\n"
        "op.add_column('post', sa.Column('b', sa.Text()), schema=schema)\n"
        "op.drop_column('post', 'title', schema=schema)"
    )
    post = next(f for f in safety.lint(populated) if f.target == "post.title")
    assert "renamed" not in post.effect


def test_a_revision_acknowledges_findings_in_its_own_file(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add("op.drop_column('user', 'name', schema=schema)", assured={"ban-drop-column"})
    report = safety.lint(populated)
    finding = only(report, "ban-drop-column")
    assert finding.acknowledged and not finding.blocking
    assert report.ok
    assert finding.render().startswith("acknowledged: ban-drop-column")
    frame = report.to_frame()
    assert frame[["rule", "severity", "acknowledged"]].values.tolist() == [
        ["ban-drop-column", "error", True]
    ]


def test_renamed_column_is_a_warning(populated: Settings, revisions: RevisionFolder) -> None:
    revisions.add("op.alter_column('user', 'image', new_column_name='picture', schema=schema)")
    report = safety.lint(populated)
    finding = only(report, "renaming-column")
    assert (finding.severity, finding.target) == (Severity.WARNING, "user.image")
    assert report.ok


def test_index_without_concurrently_warns_above_the_size_threshold(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.create_index('ix_user_name', 'user', ['name'], schema=schema)
        with op.get_context().autocommit_block():
            op.create_index(
                'ix_user_image', 'user', ['image'], schema=schema, postgresql_concurrently=True
            )
        """
    )
    assert safety.lint(populated).findings == ()  # the seed set is far below 10 MB
    finding = only(
        safety.lint(populated, index_size_threshold=1), "require-concurrent-index-creation"
    )
    assert finding.target == "user.name"
    assert "ix_user_name without CONCURRENTLY" in finding.effect


def test_check_and_foreign_key_count_the_rows_that_break_them(
    populated: Settings, revisions: RevisionFolder
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    broken = scalar(
        engine, f'select count(*) from "{schema}"."user" where not (char_length(name) < 7)'
    )
    agents = scalar(engine, f'select count(*) from "{schema}".session where user_agent is not null')
    revisions.add(
        """
        op.create_check_constraint(
            'ck_user_short_name', 'user', 'char_length(name) < 7', schema=schema
        )
        op.create_check_constraint(
            'ck_user_mail', 'user', "email like '%@%'", schema=schema, postgresql_not_valid=True
        )
        op.create_foreign_key('fk_session_agent', 'session', 'user', ['user_agent'], ['id'],
                              source_schema=schema, referent_schema=schema)
        """
    )
    report = safety.lint(populated)
    missing = [f.target for f in report if f.rule == "constraint-missing-not-valid"]
    violated = {f.target: f for f in report if f.rule == "constraint-violated-by-data"}
    assert missing == ["user (ck_user_short_name)", "session.user_agent"]
    assert set(violated) == {"user (ck_user_short_name)", "session.user_agent"}
    assert violated["user (ck_user_short_name)"].affected == broken > 0
    assert violated["session.user_agent"].affected == agents > 0
    assert all(f.severity is Severity.ERROR for f in violated.values())


def test_a_revisions_escaped_colon_is_counted_as_the_database_will_read_it(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """Alembic passes a revision's condition through ``text()``: ``\\:draft`` means ``:draft``."""
    engine = get_engine(populated)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"update \"{populated.schema}\".tag set name = ':draft' "
            f'where id = (select min(id) from "{populated.schema}".tag)'
        )
    revisions.add(
        """
        op.create_check_constraint('ck_tag_not_draft', 'tag', "name <> '\\\\:draft'", schema=schema)
        """
    )
    report = safety.lint(populated)
    found = {f.target: f.affected for f in report if f.rule == "constraint-violated-by-data"}
    assert found == {"tag (ck_tag_not_draft)": 1}


def test_lint_executes_nothing(populated: Settings, revisions: RevisionFolder) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    before = scalar(engine, f'select count(*) from "{schema}"."user"')
    revisions.add(
        """
        op.drop_table('post_tag', schema=schema)
        op.execute(f'delete from "{schema}".tag')
        op.get_bind().execute(sa.text(f'delete from "{schema}"."user"'))
        op.drop_column('user', 'name', schema=schema)
        """
    )
    report = safety.lint(populated)
    assert [f.rule for f in report] == ["ban-drop-table", "unchecked-sql", "unchecked-code"]
    assert "read-only transaction" in report.findings[-1].effect
    assert scalar(engine, f'select count(*) from "{schema}"."user"') == before
    assert scalar(engine, f'select count(*) from "{schema}".post_tag') > 0
    assert scalar(engine, f'select count(*) from "{schema}".tag') > 0


def test_creating_a_domain_or_a_sequence_is_no_unchecked_sql(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        """
        op.execute(f'CREATE DOMAIN "{schema}".cents AS integer CHECK (VALUE >= 0)')
        op.execute(f'CREATE SEQUENCE "{schema}".note_id_seq AS integer')
        op.execute(f'delete from "{schema}".tag')
        """
    )
    report = safety.lint(populated)
    assert [(f.rule, f.effect) for f in report] == [
        (
            "unchecked-sql",
            f"op.execute('delete from \"{populated.schema}\".tag') is not checked against the data",
        )
    ]


def test_tables_created_by_an_earlier_pending_step_hold_no_rows(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        "op.create_table('note', sa.Column('id', sa.Text(), primary_key=True), schema=schema)"
    )
    revisions.add(
        """
        op.add_column('note', sa.Column('body', sa.Text(), nullable=False), schema=schema)
        op.drop_table('note', schema=schema)
        """
    )
    report = safety.lint(populated)
    assert len(report.revisions) == 2
    assert report.findings == ()


def test_named_and_unknown_revisions(populated: Settings, revisions: RevisionFolder) -> None:
    first = revisions.add("op.drop_column('user', 'name', schema=schema)")
    revisions.add("op.add_column('user', sa.Column('nick', sa.Text()), schema=schema)")
    assert safety.lint(populated, [first]).revisions == (first,)
    with pytest.raises(MigrationError, match="nope"):
        safety.lint(populated, ["nope"])


def test_cli_lint_exit_codes_and_finding_lines(
    populated: Settings, revisions: RevisionFolder, db_env: dict[str, str]
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": populated.schema, "SEEDBED_MIGRATIONS": str(revisions.root)}
    clean = run_cli_here("db", "lint", env=env)
    assert clean.returncode == 0, clean.stderr
    assert "no pending revision" in clean.stdout
    rev = revisions.add(
        "op.add_column('user', sa.Column('nickname', sa.Text(), nullable=False), schema=schema)"
    )
    found = run_cli_here("db", "lint", env=env)
    assert found.returncode == 1, found.stderr
    assert f"error: adding-required-field in {rev} on user.nickname" in found.stdout
    assert "fix: " in found.stdout
    unknown = run_cli_here("db", "lint", "nope", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.splitlines()[-1].startswith("seedbed: error:")
    assert "Traceback" not in unknown.stderr


def test_generate_lints_the_revision_it_wrote(
    populated: Settings, revisions: RevisionFolder, db_env: dict[str, str]
) -> None:
    schema = populated.schema
    with get_engine(populated).begin() as connection:
        connection.exec_driver_sql(f'alter table "{schema}"."user" add column legacy text')
        connection.exec_driver_sql(
            f"update \"{schema}\".\"user\" set legacy = 'x' where email < 'user2'"
        )
        kept = connection.exec_driver_sql(
            f'select count(*) from "{schema}"."user" where legacy is not null'
        ).scalar_one()
    env = {**db_env, "SEEDBED_SCHEMA": schema, "SEEDBED_MIGRATIONS": str(revisions.root)}
    result = run_cli_here("db", "generate", "-m", "drop legacy", env=env)
    assert result.returncode == 0, result.stderr
    assert "ban-drop-column" in result.stdout
    assert f"{kept} non-null value(s) in user.legacy are lost" in result.stdout


def test_every_rule_is_documented_in_the_migrations_guide() -> None:
    guide = (ROOT / "docs" / "migrations.md").read_text(encoding="utf-8")
    for rule in safety.RULES:
        assert f"`{rule}`" in guide, rule


def test_the_projects_own_revisions_lint_clean_on_an_empty_namespace(
    empty_settings: Settings,
) -> None:
    report = safety.lint(empty_settings)
    assert report.revisions and report.revisions[0] == "0001"
    assert report.findings == (), report.render()


def _sharing(engine: Engine, schema: str, where: str, key: str) -> int:
    """Rows of ``user`` where ``where`` holds that share ``key`` with another (GROUP BY: NULLs
    meet)."""
    return int(
        scalar(
            engine,
            f'select coalesce(sum(n), 0) from (select count(*) n from "{schema}"."user" '
            f"where {where} group by {key} having count(*) > 1) d",
        )
    )


def test_unique_keys_count_the_rows_that_share_a_key(
    populated: Settings, revisions: RevisionFolder
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    shared = rename_users(populated, "Ada", before_email="user2")
    revisions.add(
        """
        op.create_unique_constraint('uq_user_name', 'user', ['name'], schema=schema)
        op.create_index('ix_user_name_image', 'user', ['name', 'image'], unique=True, schema=schema)
        op.create_index('ix_user_id_name', 'user', ['id', 'name'], unique=True, schema=schema)
        """
    )
    report = safety.lint(populated)
    found = {f.target: f.affected for f in report if f.rule == "constraint-violated-by-data"}
    with_image = _sharing(engine, schema, "name = 'Ada' and image is not null", "image")
    assert found == {"user.name": shared} | ({"user.name,image": with_image} if with_image else {})
    assert shared > 1


def test_partial_and_nulls_not_distinct_keys_count_the_rows_they_hold(
    populated: Settings, revisions: RevisionFolder
) -> None:
    engine = get_engine(populated)
    schema = populated.schema
    rename_users(populated, "Ada", before_email="user2")
    revisions.add(
        """
        op.create_index('ix_ada_verified', 'user', ['name'], unique=True, schema=schema,
                        postgresql_where=sa.text("email_verified"))
        op.create_index('ix_ada_unverified', 'user', ['name'], unique=True, schema=schema,
                        postgresql_where=sa.text("NOT email_verified AND name <> 'Ada'"))
        op.create_unique_constraint('uq_user_image', 'user', ['image'], schema=schema,
                                    postgresql_nulls_not_distinct=True)
        """
    )
    report = safety.lint(populated)
    found = {f.target: f.affected for f in report if f.rule == "constraint-violated-by-data"}
    verified = _sharing(engine, schema, "email_verified", "name")
    images = _sharing(engine, schema, "true", "image")  # NULLs meet, as NULLS NOT DISTINCT has it
    assert verified > 1 and images > 1
    assert found == {"user.name": verified, "user.image": images}


def test_unique_keys_on_expressions_count_the_rows_that_share_a_key(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """A unique index on ``lower(email)`` or ``left(name, 3)``: the rows whose expressions
    meet, as the index build will find them."""
    engine = get_engine(populated)
    schema = populated.schema
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f'update "{schema}"."user" set email = upper(email) '
            f'where email = (select min(email) from "{schema}"."user")'
        )
        connection.exec_driver_sql(
            f'insert into "{schema}"."user" (id, email, name, email_verified, created_at, '
            f"updated_at) select gen_random_uuid()::text, lower(email), name, email_verified, "
            f'created_at, updated_at from "{schema}"."user" where email <> lower(email)'
        )
    revisions.add(
        """
        op.create_index('ix_user_lower_email', 'user', [sa.text('lower(email)')], unique=True,
                        schema=schema)
        op.create_index('ix_user_name_start', 'user', [sa.func.left(sa.column('name'), 3)],
                        unique=True, schema=schema, postgresql_where=sa.text("email_verified"))
        op.create_index('ix_user_email_id', 'user', [sa.text('lower(email)'), 'id'], unique=True,
                        schema=schema)
        """
    )
    report = safety.lint(populated)
    found = {f.target: f.affected for f in report if f.rule == "constraint-violated-by-data"}
    starts = _sharing(engine, schema, "email_verified", "left(name, 3)")
    assert starts > 1
    assert found == {"user.lower(email)": 2, "user.left(name, 3)": starts}, report.render()


def test_a_type_change_under_an_expression_key_counts_the_rows_it_makes_meet(
    populated: Settings, revisions: RevisionFolder
) -> None:
    tag = f'"{populated.schema}"."tag"'
    _narrowed_weights(
        populated,
        revisions,
        f"; create unique index ix_tag_weight_abs on {tag} (abs(weight))",
        -3.4,
    )
    report = safety.lint(populated)
    violated = {f.target: f.affected for f in report if f.rule == "constraint-violated-by-data"}
    assert violated == {"tag (ix_tag_weight_abs)": 2}, report.render()


def _narrowed_weights(
    settings: Settings, revisions: RevisionFolder, constraints: str, second: float
) -> None:
    """``tag.weight numeric(10, 2)`` (then ``constraints``) holding 2.6 and ``second`` in two
    rows, and a pending revision that makes it ``numeric(10, 0)``."""
    tag = f'"{settings.schema}"."tag"'
    with get_engine(settings).begin() as connection:
        connection.exec_driver_sql(
            f"alter table {tag} add column weight numeric(10, 2){constraints}; "
            f"update {tag} set weight = case name when (select min(name) from {tag}) then 2.6 "
            f"when (select max(name) from {tag}) then {second} end"
        )
    revisions.add(
        """
        op.alter_column('tag', 'weight', type_=sa.Numeric(10, 0),
                        existing_type=sa.Numeric(10, 2), schema=schema)
        """
    )


def test_constraints_on_columns_added_earlier_see_the_values_rows_will_get(
    populated: Settings, revisions: RevisionFolder
) -> None:
    users = scalar(get_engine(populated), f'select count(*) from "{populated.schema}"."user"')
    revisions.add(
        """
        op.add_column('user', sa.Column('nickname', sa.Text()), schema=schema)
        op.add_column('user', sa.Column('motto', sa.Text(), server_default='hi'), schema=schema)
        op.add_column('user', sa.Column('friend', sa.Text()), schema=schema)
        op.create_check_constraint('ck_nick', 'user', 'char_length(nickname) < 40', schema=schema)
        op.create_check_constraint('ck_motto', 'user', "char_length(motto) > 3", schema=schema)
        op.create_foreign_key('fk_friend', 'user', 'user', ['friend'], ['id'],
                              source_schema=schema, referent_schema=schema)
        """
    )
    report = safety.lint(populated)
    violated = {f.target: f for f in report if f.rule == "constraint-violated-by-data"}
    assert set(violated) == {"user (ck_motto)"}, report.render()
    assert violated["user (ck_motto)"].affected == users
    assert violated["user (ck_motto)"].severity is Severity.ERROR


def test_unique_keys_on_columns_added_earlier_see_the_values_rows_will_get(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """Every row gets the added column's default, so a unique key on it is broken by them all."""
    users = scalar(get_engine(populated), f'select count(*) from "{populated.schema}"."user"')
    revisions.add(
        """
        op.add_column('user', sa.Column('motto', sa.Text(), server_default='hi'), schema=schema)
        op.add_column('user', sa.Column('rank', sa.Integer(), nullable=False,
                                        server_default=sa.text('7')), schema=schema)
        op.add_column('user', sa.Column('nickname', sa.Text()), schema=schema)
        op.create_index('ix_user_motto', 'user', ['motto'], unique=True, schema=schema)
        op.create_unique_constraint('uq_user_rank', 'user', ['rank'], schema=schema)
        op.create_unique_constraint('uq_user_nickname', 'user', ['nickname'], schema=schema)
        """
    )
    report = safety.lint(populated)
    violated = {f.target: f for f in report if f.rule == "constraint-violated-by-data"}
    assert set(violated) == {"user.motto", "user.rank"}, report.render()  # NULLs are distinct
    assert {f.affected for f in violated.values()} == {users}
    assert all(f.severity is Severity.ERROR for f in violated.values())


def test_a_broken_revision_file_is_one_line_exit_2(
    settings: Settings, revisions: RevisionFolder, db_env: dict[str, str]
) -> None:
    (revisions.root / "versions" / "zz_broken.py").write_text("revision = 'zz'\ndef upgrade(:\n")
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MIGRATIONS": str(revisions.root)}
    for command in (["db", "lint"], ["db", "migrate"], ["db", "migrate", "--dry-run"]):
        result = run_cli_here(*command, env=env)
        assert result.returncode == 2, command
        assert "zz_broken.py:2: invalid syntax" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_collation_change_is_a_type_change_that_keeps_every_value(
    populated: Settings, revisions: RevisionFolder
) -> None:
    revisions.add(
        "op.alter_column('user', 'email', type_=sa.Text(collation='C'), "
        "existing_type=sa.TEXT(), schema=schema)"
    )
    finding = only(safety.lint(populated), "changing-column-type")
    assert (finding.target, finding.severity, finding.affected) == (
        "user.email",
        Severity.WARNING,
        0,
    )
    assert 'only the collation of user.email changes (TEXT COLLATE "C")' in finding.effect
    assert "not rewritten" in finding.effect and "indexes" in finding.effect


ADD_SCHEDULED = (
    "op.execute(f'ALTER TYPE \"{schema}\".\"post_status\" ADD VALUE IF NOT EXISTS \\'scheduled\\'')"
)


def test_an_enum_label_used_in_the_transaction_that_adds_it_is_an_error(
    populated: Settings, revisions: RevisionFolder
) -> None:
    from seedbed import migrate
    from seedbed.errors import UnsafeMigrationError

    added = revisions.add(ADD_SCHEDULED)
    assert safety.lint(populated).ok  # adding a label alone is safe
    used = revisions.add(
        """
        op.alter_column(
            'post', 'status', server_default=sa.text("'scheduled'"),
            existing_type=sa.Enum('draft', name='post_status', create_type=False), schema=schema
        )
        op.create_check_constraint('not_scheduled', 'post', "status <> 'scheduled'", schema=schema)
        op.add_column('tag', sa.Column('note', sa.Text(), server_default="scheduled"),
                      schema=schema)
        """
    )
    report = safety.lint(populated)
    found = [f for f in report if f.rule == "enum-value-used-in-same-transaction"]
    assert [(f.revision, f.target, f.severity) for f in found] == [
        (used, "post.status", Severity.ERROR),
        (used, "post (not_scheduled)", Severity.ERROR),
    ], report.render()  # tag.note is text: 'scheduled' there is no use of the label
    assert "unsafe use of new value" in found[0].effect
    with pytest.raises(UnsafeMigrationError):  # refused, where PostgreSQL would fail
        migrate.upgrade(populated)
    assert safety.lint(populated, [added]).ok


def test_constraints_after_a_type_change_see_the_converted_values(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """numeric(10,2) to numeric(10,0) rounds 2.6 and 3.4 to 3: a CHECK and a unique key added
    after the change meet the rounded values, as PostgreSQL's ALTER does."""
    engine = get_engine(populated)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f'alter table "{populated.schema}"."tag" add column weight numeric(10, 2); '
            f'update "{populated.schema}"."tag" set weight = case when random() < 0.5 '
            "then 2.6 else 3.4 end"
        )
    tags = scalar(engine, f'select count(*) from "{populated.schema}"."tag"')
    revisions.add(
        """
        op.alter_column('tag', 'weight', type_=sa.Numeric(10, 0),
                        existing_type=sa.Numeric(10, 2), schema=schema)
        op.create_check_constraint('ck_tag_weight', 'tag', 'weight <> 3', schema=schema)
        op.create_unique_constraint('uq_tag_weight', 'tag', ['weight'], schema=schema)
        """
    )
    report = safety.lint(populated)
    violated = {f.target: f for f in report if f.rule == "constraint-violated-by-data"}
    assert set(violated) == {"tag (ck_tag_weight)", "tag.weight"}, report.render()
    assert {f.affected for f in violated.values()} == {tags}
    assert not report.ok


def test_a_type_change_that_breaks_the_tables_checks_or_keys_is_an_error(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """ALTER TYPE checks the table's CHECKs and rebuilds its unique keys on the converted values:
    2.6 and 3.4 become 3 in numeric(10,0), which breaks both."""
    constraints = " constraint ck_tag_weight check (weight <> 3) constraint uq_tag_weight unique"
    _narrowed_weights(populated, revisions, constraints, 3.4)
    report = safety.lint(populated)
    violated = {f.target: f for f in report if f.rule == "constraint-violated-by-data"}
    assert set(violated) == {"tag (ck_tag_weight)", "tag (uq_tag_weight)"}, report.render()
    assert {f.affected for f in violated.values()} == {2}
    assert all(f.severity is Severity.ERROR for f in violated.values())
    revisions.add("op.alter_column('tag', 'name', type_=sa.String(200), schema=schema)")
    assert [
        f.target for f in safety.lint(populated) if f.rule == "constraint-violated-by-data"
    ] == [
        "tag (ck_tag_weight)",
        "tag (uq_tag_weight)",
    ]  # widening name keeps its own rules (ck_tag_name_length, uq_tag_name)


def test_counts_after_raw_sql_say_so_and_the_fix_names_a_revision_of_its_own(
    populated: Settings, revisions: RevisionFolder
) -> None:
    """lint does not run an op.execute, so the NULLs an UPDATE of the same migrate fills are
    still counted; the finding says so, and its fix is one that lint then sees."""
    with get_engine(populated).begin() as connection:
        connection.exec_driver_sql(f'update "{populated.schema}"."user" set name = null')
    revisions.add(
        """
        op.execute(f'update "{schema}"."user" set name = email where name is null')
        op.alter_column('user', 'name', nullable=False, schema=schema)
        """
    )
    finding = only(safety.lint(populated), "adding-not-nullable-field")
    assert finding.severity is Severity.ERROR  # still refused: the UPDATE might not fill them
    assert finding.effect.endswith(
        "(counted before the op.execute of an earlier step, which lint does not run)"
    )
    assert "in a revision of its own, applied before this one (db migrate --to it)" in finding.fix
    assert "acknowledge this once db migrate --dry-run succeeds" in finding.fix
    assert safety.dry_run(populated).ok


def test_not_null_on_a_column_added_earlier_counts_the_rows_it_leaves_null(
    populated: Settings, revisions: RevisionFolder
) -> None:
    users = scalar(get_engine(populated), f'select count(*) from "{populated.schema}"."user"')
    revisions.add("op.add_column('user', sa.Column('nickname', sa.Text()), schema=schema)")
    revisions.add(
        "op.add_column('user', sa.Column('motto', sa.Text(), server_default='hi'), schema=schema)"
    )
    last = revisions.add(
        """
        op.alter_column('user', 'nickname', nullable=False, schema=schema)
        op.alter_column('user', 'motto', nullable=False, schema=schema)
        """
    )
    finding = only(safety.lint(populated), "adding-not-nullable-field")
    assert (finding.revision, finding.target, finding.affected) == (last, "user.nickname", users)
    assert finding.severity is Severity.ERROR
    assert not safety.dry_run(populated).ok  # PostgreSQL agrees
