"""``DATABASE_URL`` naming several hosts as libpq takes them (``h1:5432,h2:5433``): every
command connects, whether it uses SQLAlchemy (``db`` commands), psycopg alone (``load``) or
a client program (``db backup``); libpq tries the hosts in order."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from seedbed.config import Settings, normalize_url
from seedbed.db import database_url
from tests.helpers import ROOT, run_cli


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        (
            "postgres://me:pw@h1:5432,h2:5433/app",
            "postgresql+psycopg://me:pw@/app?host=h1,h2&port=5432,5433",
        ),
        (
            "postgresql://me@h1,[::1]:5433,h3/app?sslmode=require",
            "postgresql+psycopg://me@/app?sslmode=require&host=h1,::1,h3&port=,5433,",
        ),
        ("postgresql://h1,h2", "postgresql+psycopg://?host=h1,h2"),
    ],
)
def test_several_hosts_move_to_the_query_sqlalchemy_reads(pasted: str, expected: str) -> None:
    normalized = normalize_url(pasted)
    assert normalized == expected
    url = sa.engine.make_url(normalized)
    given = url.get_dialect()().create_connect_args(url)[1]
    hosts = expected.split("host=")[1].split("&")[0]
    assert given["host"] == hosts


def _socket(settings: Settings) -> tuple[str, str]:
    """The embedded server's socket folder and port."""
    folder = database_url(settings).split("host=")[1]
    found = sorted(Path(folder).glob(".s.PGSQL.*"))
    assert found, folder
    return folder, found[0].name.rsplit(".", 1)[1]


def test_every_kind_of_command_connects_through_the_second_host(
    settings: Settings, db_env: dict[str, str], tmp_path: Path
) -> None:
    if "DATABASE_URL" in db_env:
        pytest.skip("the suite runs on DATABASE_URL's server: this test needs the embedded one")
    folder, port = _socket(settings)
    # a closed TCP port first, then the server's socket folder (percent-encoded, as libpq
    # takes a path for a host)
    url = f"postgresql://postgres:@127.0.0.1:1,{quote(folder, safe='')}:{port}/postgres"
    env = {**db_env, "DATABASE_URL": url, "SEEDBED_SCHEMA": settings.schema}
    checked = run_cli("db", "check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.endswith(": database matches the models\n"), checked.stdout
    loaded = run_cli("-q", "load", str(ROOT / "data" / "seeds"), "--dry-run", env=env)
    assert loaded.returncode == 0, loaded.stderr
    dump = tmp_path / "backup.dump"
    backed = run_cli("-q", "db", "backup", "--out", str(dump), env=env)
    assert backed.returncode == 0, backed.stderr
    assert dump.stat().st_size > 0
