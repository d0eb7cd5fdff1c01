"""Driver errors become seedbed errors at one boundary, :func:`seedbed.db.database_errors`."""

from __future__ import annotations

import ast
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import DatabaseError, SeedError

SOURCE = Path(seedbed.__file__).parent


def test_a_refused_statement_becomes_a_database_error_with_the_servers_line(
    base_settings: Settings,
) -> None:
    engine = get_engine(base_settings)
    with (
        pytest.raises(DatabaseError) as caught,
        database_errors("cannot count"),
        engine.connect() as conn,
    ):
        conn.exec_driver_sql("SELECT count(*) FROM no_such_table")
    assert str(caught.value) == 'cannot count: relation "no_such_table" does not exist'
    assert isinstance(caught.value.__cause__, sa.exc.ProgrammingError)


def test_a_bare_driver_error_is_mapped_and_a_seedbed_error_passes_unchanged() -> None:
    with pytest.raises(DatabaseError, match=r"^lost: gone$"), database_errors("lost"):
        raise psycopg.OperationalError("gone\nDETAIL: more")
    with pytest.raises(SeedError, match=r"^mine$"), database_errors("lost"):
        raise SeedError("mine")
    with pytest.raises(ValueError), database_errors("lost"):
        raise ValueError("not the database's")


def _catches_driver_errors(handler: ast.ExceptHandler) -> bool:
    caught = ast.unparse(handler.type) if handler.type is not None else ""
    return any(name in caught for name in ("sa.exc", "psycopg", "DRIVER_ERRORS", "sqlalchemy"))


def _raises_with_reason(handler: ast.ExceptHandler) -> bool:
    return any(
        isinstance(node, ast.Raise) and node.exc is not None and "reason(" in ast.unparse(node.exc)
        for node in ast.walk(handler)
    )


def test_no_module_maps_driver_errors_by_hand() -> None:
    """A handler that catches a driver error only to re-raise it with its reason is the
    boundary written again; such code uses ``database_errors`` (or ``map_errors``)."""
    by_hand = [
        f"{path.relative_to(SOURCE)}:{handler.lineno}"
        for path in sorted(SOURCE.rglob("*.py"))
        for handler in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(handler, ast.ExceptHandler)
        and _catches_driver_errors(handler)
        and _raises_with_reason(handler)
    ]
    assert by_hand == []
