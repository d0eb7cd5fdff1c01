"""``seedbed db backup`` / ``db restore``: pg_dump of the namespace, and a faithful round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedbed import migrate, safety
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import BackupError, ConfigError
from seedbed.safety.backup import without_timeout_setting
from seedbed.safety.clients import client_connection
from tests.helpers import fresh_settings, namespace_checksums, run_cli_here


def checksums(settings: Settings) -> dict[str, tuple[int, str]]:
    return namespace_checksums(get_engine(settings), settings.schema)


def test_backup_reset_restore_gives_identical_tables(populated: Settings, tmp_path: Path) -> None:
    before = checksums(populated)
    path = safety.backup(populated, tmp_path / "round.dump")
    migrate.reset(populated)
    assert checksums(populated) == {}
    safety.restore(populated, path)
    assert checksums(populated) == before
    assert before["alembic_version"][0] == 1 and before["user"][0] > 0
    assert migrate.check(populated) == []


def test_cli_backup_default_path_and_restore_needs_yes(
    populated: Settings, db_env: dict[str, str]
) -> None:
    env = {**db_env, "SEEDBED_SCHEMA": populated.schema}
    made = run_cli_here("db", "backup", env=env)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().split(" to ", 1)[1])
    assert path.parent == populated.home / "backups"
    assert path.name.startswith(f"{populated.schema}-") and path.suffix == ".dump"
    before = checksums(populated)
    with get_engine(populated).begin() as connection:
        connection.exec_driver_sql(f'delete from "{populated.schema}".post_tag')
    refused = run_cli_here("db", "restore", str(path), env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines()[-1] == (
        f"seedbed: error: refusing to replace namespace '{populated.schema}' without --yes"
    )
    assert checksums(populated) != before
    done = run_cli_here("db", "restore", str(path), "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert checksums(populated) == before


def test_a_failed_restore_leaves_the_namespace_as_it_was(
    populated: Settings, tmp_path: Path
) -> None:
    good = safety.backup(populated, tmp_path / "good.dump")
    broken = tmp_path / "broken.dump"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size * 9 // 10])  # TOC intact
    before = checksums(populated)
    with pytest.raises(BackupError, match="restore failed"):
        safety.restore(populated, broken)
    assert checksums(populated) == before


def test_restore_refuses_a_backup_of_another_namespace(
    populated: Settings, base_settings: Settings, tmp_path: Path
) -> None:
    path = safety.backup(populated, tmp_path / "other.dump")
    elsewhere = fresh_settings(base_settings)
    with pytest.raises(BackupError, match="no matching schemas"):
        safety.backup(elsewhere, tmp_path / "nothing.dump")
    assert not (tmp_path / "nothing.dump").exists()
    with pytest.raises(BackupError, match=f"holds {populated.schema}, not the namespace"):
        safety.restore(elsewhere, path)
    with pytest.raises(BackupError, match="no backup file"):
        safety.restore(populated, tmp_path / "missing.dump")


def test_the_password_goes_to_the_environment_not_the_command_line() -> None:
    settings = load_settings(
        database_url="postgresql://me:hunter2@db.example:5433/app?sslmode=require"
    )
    with client_connection(settings) as connection:
        assert connection.conninfo == "host=db.example dbname=app user=me port=5433 sslmode=require"
        assert connection.env["PGPASSWORD"] == "hunter2"
        assert "PGSERVICEFILE" not in connection.env
        assert connection.redact("no hunter2 here") == "no *** here"


def test_a_password_in_the_query_wins_over_the_user_part_as_for_psycopg() -> None:
    url = "postgresql://me:first@db.example/app?password=second%20one"
    with client_connection(load_settings(database_url=url)) as connection:
        assert connection.env["PGPASSWORD"] == "second one"
        assert "first" not in connection.conninfo and "second" not in connection.conninfo


def test_an_sslpassword_goes_to_a_private_service_file_removed_afterwards(tmp_path: Path) -> None:
    key = tmp_path / "me.key"  # a file libpq would find: a missing one is refused first
    key.write_text("not a real key\n")
    url = f"postgresql://me@db.example/app?sslpassword=k%C3%A9y%3D1&sslkey={key}"
    with client_connection(load_settings(database_url=url)) as connection:
        service_file = Path(connection.env["PGSERVICEFILE"])
        assert service_file.read_text(encoding="utf-8") == "[seedbed]\nsslpassword=kéy=1\n"
        assert service_file.stat().st_mode & 0o777 == 0o600
        assert connection.conninfo.endswith(f"sslkey={key} service=seedbed")
        assert "kéy" not in connection.conninfo
    assert not service_file.parent.exists()


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        ("service=prod&sslpassword=s3cret", BackupError, "put sslpassword in the service file"),
        ("sslpassword=s3cret%20", BackupError, "ends in a space or holds a line break"),
        ("sslpassword=s3cret%0Amore", BackupError, "ends in a space or holds a line break"),
        ("colour=s3cret", ConfigError, 'invalid connection option "colour"'),
    ],
)
def test_a_url_the_client_programs_cannot_be_given_is_one_error_without_the_secret(
    query: str, error: type[Exception], message: str
) -> None:
    settings = load_settings(database_url=f"postgresql://me@db.example/app?{query}")
    with pytest.raises(error, match=message) as raised, client_connection(settings):
        pytest.fail("no connection expected")
    assert "s3cret" not in str(raised.value)


def test_old_servers_get_the_script_without_transaction_timeout() -> None:
    script = [b"SET lock_timeout = 0;\n", b"SET transaction_timeout = 0;\n", b"CREATE SCHEMA s;\n"]
    data = [b"COPY s.t (a) FROM stdin;\n", b"SET transaction_timeout = 0;\n"]
    kept = list(without_timeout_setting(script + data))
    assert kept == [script[0], script[2], *data]


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("folder", "Is a directory"),
        ("a-file/x.dump", "Not a directory"),
        ("/proc/x.dump", "No such file or directory"),
    ],
)
def test_a_backup_that_cannot_be_written_there_is_a_backup_error(
    out: str, reason: str, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("kept")
    target = tmp_path / out
    with pytest.raises(BackupError, match=f"cannot write the backup to {target}: {reason}"):
        safety.backup(settings, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []
