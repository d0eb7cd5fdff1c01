"""Running PostgreSQL's client programs (``pg_dump``, ``psql``...) without leaking secrets.

Any local user can read a process's command line (``ps``, ``/proc/PID/cmdline``),
so a child's command line carries no secret. The connection parameters are
the ones psycopg gets for the same ``DATABASE_URL`` (SQLAlchemy's own
translation, so the child and seedbed connect alike); libpq marks which of them
are secret (``password``, ``sslpassword``, ``oauth_client_secret``). A secret
goes to the child's environment where libpq reads one (``PGPASSWORD``); the
others have no environment variable, so they go to a connection service file
that only the owner can read (``0600``, in a private temporary folder),
removed when the child has finished. The command line names the service,
never a secret.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo

from seedbed.config import Settings
from seedbed.db import database_url, postgres_programs
from seedbed.errors import BackupError, ConfigError, map_errors

__all__ = ["ClientConnection", "client_connection", "pg_program", "run_client"]

_SERVICE = "seedbed"


def pg_program(name: str) -> Path:
    """The path of a PostgreSQL client program (``pg_dump``, ``pg_restore``, ``psql``)."""
    folder = postgres_programs()
    path = folder / name
    if not path.is_file():
        raise BackupError(f"{name} not found in {folder}")
    return path


@dataclass(frozen=True)
class ClientConnection:
    """How a client program connects: ``--dbname=`` text, environment, and what to hide.

    ``conninfo`` holds no secret; ``env`` is the child's whole environment;
    ``secrets`` are the values :meth:`redact` removes from anything shown.
    """

    conninfo: str
    env: dict[str, str]
    secrets: tuple[str, ...]

    def redact(self, text: str) -> str:
        """``text`` with every secret of the connection replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


@contextmanager
def client_connection(settings: Settings) -> Iterator[ClientConnection]:
    """The connection for a client program of ``settings``'s database, secrets kept off argv.

    A service file, when one is needed, lives until the block ends.
    """
    url = sa.engine.make_url(database_url(settings))
    params = {
        key: str(value)
        for key, value in url.get_dialect()().create_connect_args(url)[1].items()
        if value is not None and value != ""
    }
    with map_errors({psycopg.Error: ConfigError}, "DATABASE_URL"):
        make_conninfo("", **params)  # an option libpq does not know, named without its value
    hidden = {key: params.pop(key) for key in list(params) if key in _secret_parameters()}
    env = dict(os.environ)
    filed: dict[str, str] = {}
    for key, value in hidden.items():
        variable = _secret_parameters()[key]
        if variable is not None:
            env[variable] = value
        else:
            filed[key] = value
    if not filed:
        yield ClientConnection(make_conninfo("", **params), env, tuple(hidden.values()))
        return
    if "service" in params:
        names = ", ".join(sorted(filed))
        raise BackupError(
            f"DATABASE_URL names a service and gives {names}: the client programs cannot "
            f"get both; put {names} in the service file instead"
        )
    folder = Path(tempfile.mkdtemp(prefix="seedbed-"))  # 0700: only the owner can enter
    try:
        service_file = folder / "pg_service.conf"
        _write_service_file(service_file, filed)
        env["PGSERVICEFILE"] = str(service_file)
        conninfo = make_conninfo("", **params, service=_SERVICE)
        yield ClientConnection(conninfo, env, tuple(hidden.values()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_client(command: list[str], connection: ClientConnection, what: str) -> str:
    """Run a client program; its stdout, or :class:`BackupError` with its first error line."""
    with _spawn_errors(what):
        result = subprocess.run(command, capture_output=True, env=connection.env, check=False)
    if result.returncode != 0:
        reason = first_error(result.stderr, connection, result.returncode)
        raise BackupError(f"{what} failed: {reason}")
    return result.stdout.decode(errors="replace")


def first_error(stderr: bytes, connection: ClientConnection, returncode: int = 1) -> str:
    """The first error line of a client program, with the connection's secrets removed."""
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    line = next((x for x in lines if "error" in x.lower()), lines[0] if lines else None)
    if line is not None:
        return connection.redact(line)
    if returncode < 0:
        return f"the program was stopped by {signal.Signals(-returncode).name}"
    return f"the program ended with exit code {returncode} and no message"


@contextmanager
def _spawn_errors(what: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:  # the program could not be started at all
        raise BackupError(f"{what} failed: {exc.strerror or exc}") from exc


@cache
def _secret_parameters() -> dict[str, str | None]:
    """libpq's secret connection parameters (shown as ``*``), each with its variable or None."""
    from psycopg import pq

    return {
        option.keyword.decode(): option.envvar.decode() if option.envvar else None
        for option in pq.Conninfo.get_defaults()
        if option.dispchar == b"*"
    }


def _write_service_file(path: Path, values: dict[str, str]) -> None:
    """A one-service file only the owner can read; libpq reads each value to the line's end."""
    for key, value in values.items():
        if "\n" in value or "\r" in value or value != value.rstrip():
            raise BackupError(
                f"the {key} in DATABASE_URL ends in a space or holds a line break, "
                "which the client programs cannot be given safely"
            )
    lines = [f"[{_SERVICE}]", *(f"{key}={value}" for key, value in values.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
