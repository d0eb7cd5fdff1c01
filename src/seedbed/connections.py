"""psycopg connections to one server, pooled, without SQLAlchemy.

What ``sqlalchemy.create_engine(url, pool_pre_ping=True)`` gave seedbed's load,
kept without importing SQLAlchemy (:class:`seedbed.db.Database` uses it): a
connection opened with the URL's parameters (libpq reads the URL; the hosts of
its query as SQLAlchemy's psycopg dialect reads them, :func:`query_hosts`),
reused, pinged before reuse, rolled back when given back, dropped when broken,
and closed at exit (:func:`pool_for`). A connection is handed out as
SQLAlchemy's ``Engine.raw_connection()`` hands one out
(:class:`BorrowedConnection`), so a caller holds either the same way.
"""

from __future__ import annotations

import atexit
import re
import threading
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "BorrowedConnection",
    "ConnectionPool",
    "PooledConnection",
    "close_pools",
    "has_pool",
    "pool_for",
    "query_hosts",
]


class BorrowedConnection(Protocol):
    """A connection taken from a pool, as SQLAlchemy's ``Engine.raw_connection()`` gives it:
    the driver's connection, given back with ``close()`` or dropped with ``invalidate()``."""

    @property
    def driver_connection(self) -> Any: ...

    def close(self) -> None: ...

    def invalidate(self) -> None: ...


class ConnectionPool:
    """Idle psycopg connections to one server, for the next ``connect()`` of this process.

    What ``sa.create_engine(url, pool_pre_ping=True)`` gave the load: a connection opened
    with the URL's parameters (libpq reads the URL itself), reused, pinged before reuse,
    rolled back when given back, dropped when broken.
    """

    def __init__(self, url: str) -> None:
        from psycopg.conninfo import make_conninfo

        #: libpq reads the URL, with its query's hosts as SQLAlchemy reads them
        self.conninfo = make_conninfo("postgresql://" + url.split("://", 1)[1], **query_hosts(url))
        self.idle: list[psycopg.Connection[Any]] = []
        self.lock = threading.Lock()

    def take(self) -> psycopg.Connection[Any]:
        import psycopg

        while True:
            with self.lock:
                connection = self.idle.pop() if self.idle else None
            if connection is None:
                return psycopg.connect(self.conninfo)
            try:
                connection.execute(";")  # the pre-ping: a server restarted since is seen here
            except psycopg.Error:
                connection.close()
                continue
            return connection

    def give_back(self, connection: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            if not (connection.closed or connection.broken):
                connection.rollback()
        except psycopg.Error:
            connection.close()
        if connection.closed or connection.broken:
            return
        with self.lock:
            self.idle.append(connection)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


#: One host of a URL's query, with its port (SQLAlchemy's pattern: letters, digits, - and .).
_HOST_PORT = re.compile(r"^([a-zA-Z0-9\-\.]*)(?:\:(\d*))?$")


def query_hosts(url: str) -> dict[str, str]:
    """The hosts and ports a URL's query names as SQLAlchemy's psycopg dialect reads them,
    where libpq alone would read them otherwise: ``?host=h1:5432&host=h2:5433`` (libpq:
    the last one), and ``?host=h1:5432`` without ``port`` (libpq: a host named so)."""
    query = url.partition("?")[2].partition("#")[0]
    pairs = parse_qsl(query, keep_blank_values=True)
    hosts = [value for key, value in pairs if key == "host"]
    if len(hosts) > 1:
        split = [host.partition(":")[::2] for host in hosts]
    elif len(hosts) == 1 and "," not in hosts[0] and ":" in hosts[0]:
        single = _HOST_PORT.match(hosts[0])
        if single is None or any(key == "port" for key, _ in pairs):
            return {}
        split = [(single.group(1), single.group(2) or "")]
    else:
        return {}
    found = {"host": ",".join(host for host, _ in split)}
    ports = ",".join(port for _, port in split)
    return {**found, "port": ports} if ports else found


class PooledConnection:
    """A connection of a :class:`ConnectionPool`, as :class:`BorrowedConnection` describes it."""

    def __init__(self, pool: ConnectionPool, connection: psycopg.Connection[Any]) -> None:
        self.pool = pool
        self.driver_connection = connection

    def close(self) -> None:
        self.pool.give_back(self.driver_connection)

    def invalidate(self) -> None:
        self.driver_connection.close()


_POOLS: dict[str, ConnectionPool] = {}


def pool_for(url: str, new: ConnectionPool | None = None) -> ConnectionPool:
    """The pool of the server at ``url`` (``new``, if it has none yet); every pool's idle
    connections are closed at exit."""
    pool = _POOLS.get(url)
    if pool is None:
        if not _POOLS:
            atexit.register(close_pools)
        pool = _POOLS[url] = new or ConnectionPool(url)
    return pool


def has_pool(url: str) -> bool:
    """Has this process a pool for the server at ``url``?"""
    return url in _POOLS


def close_pools(url: str | None = None) -> None:
    """Close the idle connections of the pool of ``url`` and forget it (default: every pool)."""
    for key in [url] if url is not None else list(_POOLS):
        pool = _POOLS.pop(key, None)
        if pool is not None:
            pool.close()
