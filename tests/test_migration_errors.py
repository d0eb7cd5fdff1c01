"""Migration errors a user can cause are one line with exit 2, and apply nothing.

Unknown, empty and ambiguous targets, two heads, cycles, revision files that
raise, a backup that cannot be written; exit 70 stays for seedbed's own bugs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import revision as alembic_revision
from alembic.util import exc as alembic_exc

from seedbed import migrate
from seedbed._alembic import alembic_errors
from seedbed.config import Settings
from seedbed.db import database_url, get_engine
from seedbed.errors import MigrationError
from tests.helpers import run_cli_here, snapshot
from tests.revision_files import RevisionFolder

ADD_BIO = "op.add_column('user', sa.Column('bio', sa.Text()), schema=schema)"


@pytest.fixture
def env(settings: Settings, revisions: RevisionFolder, db_env: dict[str, str]) -> dict[str, str]:
    return {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MIGRATIONS": str(revisions.root)}


def refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    """The one error line of a command that exited 2; it holds every phrase."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seedbed: error: "), result.stderr
    assert "unexpected" not in lines[0]
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


def state(settings: Settings) -> tuple[str | None, set[str]]:
    """The namespace's revision and the columns of its user table."""
    inspector = sa.inspect(get_engine(settings))
    columns = {c["name"] for c in inspector.get_columns("user", schema=settings.schema)}
    return migrate.current_revision(settings), columns


def namespace_exists(settings: Settings) -> bool:
    with get_engine(settings).connect() as connection:
        found = connection.execute(
            sa.text("select 1 from pg_namespace where nspname = :s"), {"s": settings.schema}
        )
        return found.first() is not None


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        (["--to", "garbage"], "'garbage'"),
        (["--to", "garbage", "--dry-run"], "'garbage'"),
        (["--to", ""], "is not a revision"),
        (["--to", "", "--dry-run"], "is not a revision"),
        (["--to", " "], "is not a revision"),
        (["--to", "0001@"], "is not a revision"),
        (["--to", "base"], "forward only"),
        (["--to", "base", "--dry-run"], "forward only"),
    ],
)
def test_migrate_to_a_revision_that_is_not_ahead_is_refused(
    settings: Settings,
    revisions: RevisionFolder,
    env: dict[str, str],
    arguments: list[str],
    phrase: str,
) -> None:
    revisions.add(ADD_BIO)
    before = state(settings)
    refused(run_cli_here("-q", "db", "migrate", *arguments, env=env), phrase)
    assert state(settings) == before
    assert "bio" not in before[1]


@pytest.mark.parametrize("name", ["base", "", "@", "garbage"])
def test_lint_of_something_that_is_not_a_revision_is_refused(
    settings: Settings, env: dict[str, str], name: str
) -> None:
    refused(run_cli_here("-q", "db", "lint", name, env=env), repr(name))


def test_downgrade_to_an_unknown_or_empty_revision_is_refused(
    settings: Settings, env: dict[str, str]
) -> None:
    before = state(settings)
    refused(run_cli_here("-q", "db", "downgrade", "--to", "garbage", env=env), "'garbage'")
    refused(run_cli_here("-q", "db", "downgrade", "--to", "", env=env), "is not a revision")
    assert state(settings) == before


@pytest.mark.parametrize(
    "command", [["db", "migrate"], ["db", "migrate", "--dry-run"], ["db", "lint"]]
)
def test_a_revision_that_raises_on_import_is_named(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str], command: list[str]
) -> None:
    revisions.add(ADD_BIO)
    path = revisions.root / "versions" / "t001_test.py"
    text = path.read_text().replace("\n\n\ndef upgrade", "\n{}['missing']\n\n\ndef upgrade", 1)
    path.write_text(text)
    before = state(settings)
    line = refused(run_cli_here("-q", *command, env=env), f"cannot load {path}", "KeyError")
    assert "'missing'" in line
    assert state(settings) == before


def test_a_revision_whose_upgrade_raises_applies_nothing(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    revisions.add(ADD_BIO + "\nundefined_helper()")
    before = state(settings)
    refused(
        run_cli_here("-q", "db", "migrate", env=env),
        f"upgrade() failed in {revisions.root / 'versions' / 't001_test.py'}",
        "NameError: name 'undefined_helper' is not defined",
    )
    assert state(settings) == before


def test_a_revision_without_upgrade_is_named(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    path = revisions.root / "versions" / "t009_bare.py"
    path.write_text(f"revision = 't009'\ndown_revision = {revisions.head()!r}\n")
    for command in (["db", "migrate"], ["db", "migrate", "--dry-run"]):
        refused(run_cli_here("-q", *command, env=env), f"{path} has no upgrade()")


def test_two_heads_are_refused_with_both_named_unless_both_are_the_target(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    parent = revisions.head()
    for name in ("h1", "h2"):
        (revisions.root / "versions" / f"{name}_head.py").write_text(
            f"revision = {name!r}\ndown_revision = {parent!r}\n\n"
            "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
        )
    before = state(settings)
    for command in (["db", "migrate"], ["db", "migrate", "--dry-run"], ["db", "lint"]):
        refused(run_cli_here("-q", *command, env=env), "more than one head", "h1", "h2", "merge")
    assert state(settings) == before
    both = run_cli_here("-q", "db", "migrate", "--to", "heads", env=env)
    assert both.returncode == 0, both.stderr
    assert both.stdout.splitlines()[-1] in {
        f"{settings.schema}: at revision h1, h2",
        f"{settings.schema}: at revision h2, h1",
    }
    after = run_cli_here("-q", "db", "migrate", "--dry-run", "--to", "heads", env=env)
    assert after.stdout.splitlines() == ["nothing to do: no pending revision"], after.stderr


@pytest.mark.parametrize(
    ("parents", "phrase"),
    [({"c1": "c1"}, "Self-loop"), ({"c1": "c2", "c2": "c1"}, "Cycle is detected")],
)
def test_a_cycle_in_the_history_is_refused(
    settings: Settings,
    revisions: RevisionFolder,
    env: dict[str, str],
    parents: dict[str, str],
    phrase: str,
) -> None:
    for name, parent in parents.items():
        (revisions.root / "versions" / f"{name}_cycle.py").write_text(
            f"revision = {name!r}\ndown_revision = {parent!r}\n\ndef upgrade():\n    pass\n"
        )
    refused(run_cli_here("-q", "db", "migrate", env=env), phrase)


@pytest.mark.parametrize(
    ("source", "phrase"),
    [
        ("revision = 't001'\ndown_revision = 'zzzz'\n", "Revision zzzz referenced from"),
        ("revision = 't001'\ndown_revision = {head}\ndepends_on = 'nope'\n", "'nope'"),
        ("revision = {head}\ndown_revision = None\n", "present more than once"),
        ("revision = 5\ndown_revision = {head}\n", "TypeError"),
        ("import sys\nsys.exit(3)\n", "t001_bad.py: SystemExit: 3"),
    ],
    ids=["missing parent", "missing dependency", "id twice", "id not a string", "sys.exit"],
)
def test_a_history_that_cannot_be_read_is_refused(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str], source: str, phrase: str
) -> None:
    text = source.format(head=repr(revisions.head())) + "\ndef upgrade():\n    pass\n"
    (revisions.root / "versions" / "t001_bad.py").write_text(text)
    before = state(settings)
    for command in (["db", "migrate"], ["db", "lint"]):
        refused(run_cli_here("-q", *command, env=env), phrase)
    assert state(settings) == before


def test_migrate_that_cannot_write_its_backup_applies_nothing(
    populated: Settings, revisions: RevisionFolder, db_env: dict[str, str], tmp_path: Path
) -> None:
    revisions.add("op.drop_column('user', 'name', schema=schema)", assured={"ban-drop-column"})
    home = tmp_path / "home"
    home.mkdir()
    (home / "backups").write_text("a file where the backups folder should be")
    env = {
        **db_env,
        "DATABASE_URL": database_url(populated),
        "SEEDBED_HOME": str(home),
        "SEEDBED_SCHEMA": populated.schema,
        "SEEDBED_MIGRATIONS": str(revisions.root),
    }
    before = state(populated), snapshot(get_engine(populated))
    result = run_cli_here("-q", "db", "migrate", env=env)
    refused(result, str(home / "backups"), "nothing applied")
    assert (state(populated), snapshot(get_engine(populated))) == before
    assert "name" in before[0][1]


def test_dry_run_of_the_first_migration_leaves_no_namespace_behind(
    empty_settings: Settings, db_env: dict[str, str]
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": empty_settings.schema}
    result = run_cli_here("-q", "db", "migrate", "--dry-run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("would succeed: 0001")
    assert "failed" not in result.stdout
    assert not namespace_exists(empty_settings)


@pytest.mark.parametrize("out", ["folder", "file/x.dump", "/proc/x.dump", "/proc/self/none/x.dump"])
def test_a_backup_to_a_place_that_cannot_hold_a_file_is_refused(
    settings: Settings, db_env: dict[str, str], tmp_path: Path, out: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "kept.dump").write_bytes(b"older backup")
    (tmp_path / "file").write_bytes(b"a file")
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    result = run_cli_here("-q", "db", "backup", "--out", str(tmp_path / out), env=env)
    refused(result, out.split("/")[1] if out.startswith("/") else out.split("/")[0])
    assert (tmp_path / "folder" / "kept.dump").read_bytes() == b"older backup"
    assert (tmp_path / "file").read_bytes() == b"a file"


@pytest.mark.parametrize(
    "error",
    [
        alembic_exc.CommandError("Target database is not up to date."),
        alembic_exc.DatabaseNotAtHead("not at head"),
        alembic_revision.ResolutionError("No such revision or branch 'x'", "x"),
        alembic_revision.MultipleHeads(["a", "b"], "head"),
        alembic_revision.RangeNotAncestorError("a", "b"),
        alembic_revision.CycleDetected(["a", "b"]),
        alembic_revision.DependencyCycleDetected(["a", "b"]),
        alembic_revision.LoopDetected("a"),
        alembic_revision.DependencyLoopDetected("a"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_alembic_error_a_user_can_cause_is_a_migration_error(error: Exception) -> None:
    with pytest.raises(MigrationError) as caught, alembic_errors():
        raise error
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value) and str(caught.value)


def test_an_error_outside_revision_files_stays_unexpected() -> None:
    with pytest.raises(KeyError), alembic_errors():
        raise KeyError("a bug in seedbed, not in a revision")


def test_an_env_py_that_raises_is_named(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    env_py = revisions.root / "env.py"
    env_py.write_text(env_py.read_text() + "\nraise RuntimeError('this env.py is broken')\n")
    refused(
        run_cli_here("-q", "db", "migrate", env=env),
        f"failed in {env_py}: RuntimeError: this env.py is broken",
    )


def test_generate_without_a_revision_template_writes_nothing(
    settings: Settings, revisions: RevisionFolder, env: dict[str, str]
) -> None:
    (revisions.root / "script.py.mako").unlink()
    before = sorted((revisions.root / "versions").glob("*.py"))
    refused(run_cli_here("-q", "db", "generate", "-m", "x", env=env), "script.py.mako")
    assert sorted((revisions.root / "versions").glob("*.py")) == before


def test_a_namespace_at_a_revision_no_file_defines_is_refused(
    settings: Settings, env: dict[str, str]
) -> None:
    with get_engine(settings).begin() as connection:
        connection.exec_driver_sql(
            f"update \"{settings.schema}\".alembic_version set version_num = 'gone1234'"
        )
    for command in (["db", "migrate"], ["db", "migrate", "--dry-run"], ["db", "lint"]):
        refused(run_cli_here("-q", *command, env=env), "at revision 'gone1234', which no file")
