"""``validate``: the whole check of a seed set, built from the streaming pieces."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from seedbed.db import schema_of
from seedbed.models import metadata
from seedbed.validation.report import ValidationReport
from seedbed.validation.sources import SeedInput, read_seed_chunks, resolve_sources
from seedbed.validation.validator import SeedValidator


def validate(source: SeedInput, *, engine: Engine | None = None) -> ValidationReport:
    """Check a seed set and report every problem: file, line, column, rule, value, message.

    ``source`` is a folder of ``<table>.csv`` / ``<table>.parquet`` files, a
    list of such files, or a mapping of table name to DataFrame. With an
    ``engine``, foreign keys may point at rows already in the database and
    unique values must not collide with them. Files that cannot be read or
    name no table raise :class:`~seedbed.errors.SeedError`; invalid data never
    raises, it is in the report.

    >>> report = validate("data/seeds")            # doctest: +SKIP
    >>> report.ok                                  # doctest: +SKIP
    True
    """
    schema = schema_of(engine) if engine is not None else str(metadata.schema)
    sources = resolve_sources(source, schema)
    validator = SeedValidator([s.table for s in sources.values()], engine=engine)
    reports = []
    for seed in sources.values():
        for chunk in read_seed_chunks(seed):
            reports.append(chunk.report)
            reports.append(validator.check_chunk(seed, chunk))
    reports.append(validator.finish())
    return ValidationReport.concat(reports).sorted()


__all__ = ["validate"]
