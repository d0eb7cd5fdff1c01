"""A plain, unvalidated load: each seed CSV COPYed as it is, in foreign-key order."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.db import schema_of
from seedbed.errors import DatabaseError, SeedError
from seedbed.models import metadata_for


def seed_files(folder: Path | str, schema: str) -> dict[str, Path]:
    """Map each ``<table>.csv`` in ``folder`` to its table; unknown names are an error."""
    path = Path(folder)
    if not path.is_dir():
        raise SeedError(f"{path}: not a folder")
    tables = metadata_for(schema).tables
    found: dict[str, Path] = {}
    for file in sorted(path.glob("*.csv")):
        if f"{schema}.{file.stem}" not in tables:
            raise SeedError(f"{file}: no table named {file.stem!r}")
        found[file.stem] = file
    return found


def load_seed_folder(folder: Path | str, engine: Engine) -> dict[str, int]:
    """COPY every seed file of ``folder`` in one transaction; return rows per table."""
    schema = schema_of(engine)
    files = seed_files(folder, schema)
    counts: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for table in metadata_for(schema).sorted_tables:
                if table.name not in files:
                    continue
                file = files[table.name]
                with file.open(newline="", encoding="utf-8") as handle:
                    header = next(csv.reader(handle))
                columns = ", ".join(f'"{c}"' for c in header)
                sql = (
                    f'COPY "{schema}"."{table.name}" ({columns}) '
                    "FROM STDIN WITH (FORMAT csv, HEADER true)"
                )
                with cursor.copy(sql) as copy, file.open("rb") as data:
                    while chunk := data.read(1 << 20):
                        copy.write(chunk)
                counts[table.name] = cursor.rowcount
        raw.commit()
    except sa.exc.DBAPIError as exc:
        raw.rollback()
        raise DatabaseError(str(exc.orig).splitlines()[0]) from None
    except Exception as exc:
        raw.rollback()
        if exc.__class__.__module__.startswith("psycopg"):
            raise DatabaseError(str(exc).splitlines()[0]) from None
        raise
    finally:
        raw.close()
    return counts
