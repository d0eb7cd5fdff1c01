"""Streaming one source file into one table with ``COPY ... FROM STDIN``.

The statement's options and its bytes come from the source's format object
(:mod:`seedbed.validation.formats`): a CSV file is streamed as its original
bytes, exactly as ``psql \\copy`` does; other formats are serialized to CSV
by pyarrow in batches. Either way memory stays bounded by the block size,
whatever the size of the source.

When the server can read the very same file (:func:`server_readable`: a plain
CSV or TSV file on this machine, and a role allowed to read server files, as
the embedded server's owner is), the server reads it itself with
``COPY ... FROM 'path'``: the same bytes under the same options, parsed by the
same code, with nothing to feed from Python. A thread that feeds COPY needs
the interpreter's lock for every few dozen kilobytes it sends, and
validation, which runs meanwhile, holds it often; the server's backend then
waits for data (``docs/decisions/2026-12-05-load-pipeline.md``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.pq import TransactionStatus

from seedbed.sqltext import qualified_name, quote_ident, quote_literal
from seedbed.validation.formats.base import SeedFormat

if TYPE_CHECKING:
    from seedbed.db import NamedTable


class _SecondCopyError(logging.Filter):
    """Drop psycopg's "error ignored terminating <Copy>" warning.

    When the connection dies mid-COPY (a server restart), psycopg logs the
    failure to end the COPY as well as raising the error that stopped it.
    That first error is mapped and reported; the second would be a stray
    line on stderr.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_SecondCopyError())


class Cancelled(Exception):
    """Raised inside the writer when the load was called off (validation failed)."""


def qualified(table: NamedTable) -> str:
    """``"schema"."name"`` of a table (declared, or read back from the model's snapshot)."""
    return qualified_name(str(table.schema), table.name)


def copy_sql(relation: str, columns: tuple[str, ...], options: str, path: str = "") -> str:
    """``COPY relation (columns) FROM STDIN (options)``; ``options`` from the source's format.

    With a ``path`` (from :func:`server_readable`), ``FROM 'path'``: the server reads the file.
    """
    cols = ", ".join(quote_ident(c) for c in columns)
    source = quote_literal(path) if path else "STDIN"
    return f"COPY {relation} ({cols}) FROM {source} ({options})"


def copy_blocks(
    cursor: psycopg.Cursor[Any],
    sql: str,
    blocks: Iterator[bytes],
    cancel: threading.Event,
) -> int:
    """Run ``sql`` (a COPY FROM STDIN) feeding it ``blocks``; return the rows copied."""
    with cursor.copy(sql) as copy:
        for block in blocks:
            if cancel.is_set():
                raise Cancelled
            copy.write(block)
    return max(cursor.rowcount, 0)


#: May the role read files on the server? Asked first, so that a role that may not
#: leaves no error in the server's log.
_MAY_READ_SQL = """
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    OR (pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
        AND has_function_privilege('pg_read_file(text)', 'EXECUTE')
        AND has_function_privilege('pg_stat_file(text)', 'EXECUTE')
        AND has_function_privilege('pg_read_binary_file(text,bigint,bigint)', 'EXECUTE'))
"""

#: Is the server this very machine (its ``postmaster.pid`` the file we read here), may the
#: role read server files, and what does the server see at the path?
_SERVER_FILE_SQL = """
SELECT pg_read_file('postmaster.pid'),
       (f).size, extract(epoch FROM (f).modification)::bigint,
       length(pg_read_binary_file({path}, 0, 1))
FROM (SELECT pg_stat_file({path}) AS f) AS s
"""


INTRANS = TransactionStatus.INTRANS


def server_readable(connection: psycopg.Connection[Any], fmt: SeedFormat) -> str | None:
    """The path to give ``COPY ... FROM``, when the server reads just what the stream would be.

    That is: a file the format sends as it is (:meth:`SeedFormat.file_as_sent`:
    a plain CSV or TSV file without a UTF-8 BOM) at an ASCII path; a server on
    this machine (its ``postmaster.pid``, as the server reads it, is the file
    at the same path here); a role allowed
    to read server files; and the file the server finds at the path of the
    same size and time as here. Else None, and the file is streamed. The
    probe runs under a savepoint: a refusal (no privilege, no such file there)
    leaves the transaction as it was.

    COPY parses a file and a stream with the same code and options. The one
    difference, after a ``\\.`` line that ends the data in CSV (PostgreSQL 17
    and older: the rest of a stream is drained, of a file left unread), loads
    the same rows either way.
    """
    if connection.info.transaction_status != INTRANS:
        return None  # (outside a transaction, the savepoint would be a commit)
    try:
        sent = fmt.file_as_sent()
        if sent is None:
            return None
        path = sent.absolute()
        text = str(path)
        if not text.isascii() or not text.isprintable() or "\\" in text:
            return None
        stat = path.stat()
        if not stat.st_size:
            return None
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(_MAY_READ_SQL)
            allowed = cursor.fetchone()
            if not (allowed and allowed[0]):
                return None
            cursor.execute(_SERVER_FILE_SQL.format(path=quote_literal(text)))
            row = cursor.fetchone()
    except (OSError, ValueError, psycopg.Error):
        return None
    if row is None:
        return None
    pidfile, size, modified, readable = row
    if size != stat.st_size or modified != int(stat.st_mtime) or readable != 1:
        return None
    return text if _same_machine(str(pidfile)) else None


def _same_machine(pidfile: str) -> bool:
    """Is the server's ``postmaster.pid`` (as the server read it) the one at its path here?"""
    lines = pidfile.splitlines()
    if len(lines) < 2 or not lines[1].startswith("/"):
        return False
    try:
        with open(os.path.join(lines[1], "postmaster.pid"), encoding="utf-8") as handle:
            return handle.read() == pidfile
    except (OSError, ValueError):
        return False
