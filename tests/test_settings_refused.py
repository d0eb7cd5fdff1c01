"""A setting that names a folder or file that is not there is exit 2, for every command.

Never passed over for a default: a ``SEEDBED_MIGRATIONS`` that names no
Alembic folder must not migrate the checkout's revisions instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import ROOT, run_cli_here


def settings_naming_what_is_not_there(tmp_path: Path) -> dict[str, dict[str, str]]:
    (tmp_path / "file").write_text("")
    (tmp_path / "no-env").mkdir()
    (tmp_path / "no-env" / "notes.txt").write_text("")  # empty, db generate would start it
    return {
        "migrations missing": {"SEEDBED_MIGRATIONS": str(tmp_path / "missing")},
        "migrations without env.py": {"SEEDBED_MIGRATIONS": str(tmp_path / "no-env")},
        "home under a file": {"SEEDBED_HOME": str(tmp_path / "file" / "home")},
        "socket folder missing": {"DATABASE_URL": "postgresql://u:pw@/d?host=/no/such/dir"},
        "root certificate missing": {
            "DATABASE_URL": "postgresql://u:pw@db.example/d?sslmode=require&sslrootcert=/no/ca"
        },
    }


@pytest.mark.parametrize(
    "case",
    [
        "migrations missing",
        "migrations without env.py",
        "home under a file",
        "socket folder missing",
        "root certificate missing",
    ],
)
def test_every_command_refuses_a_setting_naming_what_is_not_there(
    case: str, tmp_path: Path, db_env: dict[str, str]
) -> None:
    env = {key: value for key, value in db_env.items() if key != "DATABASE_URL"}
    env.update(settings_naming_what_is_not_there(tmp_path)[case])
    result = run_cli_here("validate", str(ROOT / "data" / "seeds"), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seedbed: error: "), result.stderr
    assert "pw" not in result.stderr and "Traceback" not in result.stderr


def test_migrate_with_missing_migrations_applies_nothing(
    empty_settings: Settings, tmp_path: Path, db_env: dict[str, str]
) -> None:
    env = {
        **db_env,
        "SEEDBED_SCHEMA": empty_settings.schema,
        "SEEDBED_MIGRATIONS": str(tmp_path / "migrations"),
    }
    result = run_cli_here("-q", "db", "migrate", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        f"seedbed: error: SEEDBED_MIGRATIONS {str(tmp_path / 'migrations')!r} is not a folder\n"
    )
    with get_engine(empty_settings).connect() as connection:
        found = connection.execute(
            sa.text("select 1 from pg_namespace where nspname = :s"), {"s": empty_settings.schema}
        )
        assert found.first() is None
