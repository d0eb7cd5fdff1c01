"""``validate``, and the one loop that checks a seed set for ``validate`` and ``load``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sqlalchemy.engine import Engine

from seedbed.db import schema_of
from seedbed.models import metadata
from seedbed.validation.report import ValidationReport
from seedbed.validation.sources import SeedInput, SeedSource, read_seed_chunks, resolve_sources
from seedbed.validation.validator import SeedValidator


def check_sources(
    sources: Mapping[str, SeedSource],
    *,
    engine: Engine | None = None,
    unique_against_db: Collection[str] | None = None,
    empty_in_db: Collection[str] = (),
    on_rows: Callable[[int], object] | None = None,
) -> ValidationReport:
    """Read every source chunk by chunk and check it; the sorted report of everything.

    The loop ``validate`` and ``load`` share. ``on_rows`` is told how many
    rows each chunk had (for progress bars); ``engine``, ``unique_against_db``
    and ``empty_in_db`` are :class:`SeedValidator`'s.
    """
    tables = [s.table for s in sources.values()]
    validator = SeedValidator(
        tables, engine=engine, unique_against_db=unique_against_db, empty_in_db=empty_in_db
    )
    reports = []
    for seed in sources.values():
        for chunk in read_seed_chunks(seed):
            reports.append(chunk.report)
            reports.append(validator.check_chunk(seed, chunk))
            if on_rows is not None:
                on_rows(len(chunk.frame))
    reports.append(validator.finish())
    return ValidationReport.concat(reports).sorted()


def validate(source: SeedInput, *, engine: Engine | None = None) -> ValidationReport:
    """Check a seed set and report every problem: file, line, column, rule, value, message.

    ``source`` is a folder of seed files named after their tables
    (``user.csv``, ``user.tsv``, ``user.csv.gz``, ``user.jsonl``,
    ``user.parquet``, or a folder ``user/`` of part files), a list of such
    files and folders, or a mapping of table name to a DataFrame, file or
    folder (``{"user": "people.csv"}``). With an ``engine``, foreign keys may
    point at rows already in the database and unique values must not collide
    with them. Files that cannot be read or name no table raise
    :class:`~seedbed.errors.SeedError`; invalid data never raises, it is in
    the report.

    >>> report = validate("data/seeds")            # doctest: +SKIP
    >>> report.ok                                  # doctest: +SKIP
    True
    """
    schema = schema_of(engine) if engine is not None else str(metadata.schema)
    return check_sources(resolve_sources(source, schema), engine=engine)


__all__ = ["check_sources", "validate"]
