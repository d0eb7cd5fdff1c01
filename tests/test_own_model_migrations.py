"""A model of one's own (``SEEDBED_MODELS`` a folder or module) keeps its revisions in a folder
of its own: without ``SEEDBED_MIGRATIONS`` the revision commands refuse (seedbed's shipped
revisions would add seedbed's tables to the namespace, and ``db generate`` would write a
revision dropping them among seedbed's own), and ``db generate`` starts the model's history
in an empty folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import ROOT, model_folder, run_cli, run_cli_here

SHOP = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    title = mapped_column(sa.Text, nullable=False)
"""


def _tables(settings: Settings) -> list[str]:
    with get_engine(settings).connect() as conn:
        found = conn.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY 1"),
            {"s": settings.schema},
        )
        return list(found.scalars())


@pytest.fixture
def env(tmp_path: Path, db_env: dict[str, str], empty_settings: Settings) -> dict[str, str]:
    models = model_folder(tmp_path / "shop_models", shop=SHOP)
    return {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": empty_settings.schema}


@pytest.mark.parametrize(
    "command",
    [("db", "migrate"), ("db", "generate", "-m", "init"), ("db", "downgrade"), ("db", "lint")],
)
def test_without_a_migrations_folder_the_revision_commands_refuse(
    command: tuple[str, ...], env: dict[str, str], empty_settings: Settings
) -> None:
    shipped = sorted((ROOT / "migrations" / "versions").glob("*.py"))
    done = run_cli_here("-q", *command, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("seedbed: error: SEEDBED_MODELS names a model of your own")
    assert "set SEEDBED_MIGRATIONS" in done.stderr and len(done.stderr.splitlines()) == 1
    assert sorted((ROOT / "migrations" / "versions").glob("*.py")) == shipped
    assert _tables(empty_settings) == []


def test_db_generate_starts_the_history_in_an_empty_folder(
    env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "shop_migrations"
    folder.mkdir()
    env = {**env, "SEEDBED_MIGRATIONS": str(folder)}
    migrated = run_cli_here("-q", "db", "migrate", env=env)  # an empty folder has no revisions
    assert migrated.returncode == 2
    assert "or an empty one for db generate to start" in migrated.stderr
    generated = run_cli_here("-q", "db", "generate", "-m", "init", env=env)
    assert generated.returncode == 0, generated.stderr
    written = sorted(p.name for p in (folder / "versions").glob("*.py"))
    assert len(written) == 1 and written[0].endswith("_init.py")
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert run_cli_here("-q", "db", "migrate", env=env).returncode == 0
    assert _tables(empty_settings) == ["alembic_version", "item"]
    checked = run_cli_here("db", "check", env=env)
    assert checked.returncode == 0, checked.stdout


def test_a_type_change_without_an_assignment_cast_converts_with_using(
    env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    """text to integer: PostgreSQL has no assignment cast, so a revision without USING
    failed whatever the rows held. The revision converts each value with a cast; lint
    counts the values that would not convert; the downgrade needs none. (A process per
    command: the model changes between them.)"""
    folder = tmp_path / "shop_migrations"
    folder.mkdir()
    env = {**env, "SEEDBED_MIGRATIONS": str(folder)}
    models = Path(env["SEEDBED_MODELS"])
    (models / "shop.py").write_text(SHOP + "    code = mapped_column(sa.Text)\n")
    for args in (("db", "generate", "-m", "init"), ("db", "migrate")):
        assert run_cli("-q", *args, env=env).returncode == 0
    with get_engine(empty_settings).begin() as conn:
        conn.execute(
            sa.text(
                f"INSERT INTO \"{empty_settings.schema}\".item VALUES (1, 'a', '12'), "
                "(2, 'b', NULL), (3, 'c', 'x7')"
            )
        )
    (models / "shop.py").write_text(SHOP + "    code = mapped_column(sa.Integer)\n")
    generated = run_cli("-q", "db", "generate", "-m", "code", env=env)
    assert generated.returncode == 0, generated.stderr
    (revision,) = (folder / "versions").glob("*_code.py")
    upgrade, downgrade = revision.read_text().split("def downgrade")
    assert "postgresql_using='\"code\"::INTEGER'" in upgrade
    assert "postgresql_using" not in downgrade
    assert "1 of 2 non-null value(s) in item.code would not convert" in generated.stdout
    refused = run_cli("-q", "db", "migrate", env=env)
    assert refused.returncode == 1
    with get_engine(empty_settings).begin() as conn:
        conn.execute(
            sa.text(f"UPDATE \"{empty_settings.schema}\".item SET code = '7' WHERE id = 3")
        )
    assert run_cli("-q", "db", "migrate", env=env).returncode == 0
    with get_engine(empty_settings).connect() as conn:
        found = conn.execute(
            sa.text(f'SELECT code FROM "{empty_settings.schema}".item ORDER BY id')
        )
        assert list(found.scalars()) == [12, None, 7]
    assert run_cli("-q", "db", "downgrade", env=env).returncode == 0
    with get_engine(empty_settings).connect() as conn:
        found = conn.execute(
            sa.text(f'SELECT code FROM "{empty_settings.schema}".item ORDER BY id')
        )
        assert list(found.scalars()) == ["12", None, "7"]
