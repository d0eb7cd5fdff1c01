"""Streaming one source file into one table with ``COPY ... FROM STDIN``.

The statement's options and its bytes come from the source's format object
(:mod:`seedbed.validation.formats`): a CSV file is streamed as its original
bytes, exactly as ``psql \\copy`` does; other formats are serialized to CSV
by pyarrow in batches. Either way memory stays bounded by the block size,
whatever the size of the source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import sqlalchemy as sa

from seedbed.sqltext import qualified_name, quote_ident


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


def qualified(table: sa.Table) -> str:
    return qualified_name(str(table.schema), table.name)


def copy_sql(relation: str, columns: tuple[str, ...], options: str) -> str:
    """``COPY relation (columns) FROM STDIN (options)``; ``options`` from the source's format."""
    cols = ", ".join(quote_ident(c) for c in columns)
    return f"COPY {relation} ({cols}) FROM STDIN ({options})"


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
