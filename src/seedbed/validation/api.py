"""``validate``: the whole check of a seed set, built from the streaming pieces."""

from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from seedbed.db import require_tables, schema_of
from seedbed.models import metadata
from seedbed.validation.report import Checked, ValidationReport
from seedbed.validation.sources import SeedInput, read_seed_chunks, resolve_sources
from seedbed.validation.validator import SeedValidator


def validate(
    source: SeedInput,
    *,
    engine: Engine | None = None,
    mode: str = "insert",
    progress: bool | None = False,
) -> ValidationReport:
    """Check a seed set and report every problem: file, line, column, rule, value, message.

    ``source`` is a folder of ``<table>.csv`` / ``<table>.parquet`` files, a
    list of such files, or a mapping of table name to DataFrame. With an
    ``engine``, foreign keys may point at rows already in the database and,
    for ``mode="insert"``, unique values must not collide with them; for
    ``"upsert"`` and ``"skip-existing"`` a key already in the database is
    what the load will update or skip, not a problem. The verdict is the one
    :func:`seedbed.load` in that mode gives. ``progress`` shows a progress
    display (``None``: in terminals and notebooks). Files that cannot be read
    or name no table raise :class:`~seedbed.errors.SeedError`; invalid data
    never raises, it is in the report.

    >>> report = validate("data/seeds")            # doctest: +SKIP
    >>> report.ok                                  # doctest: +SKIP
    True
    """
    from seedbed.loading.modes import LoadMode
    from seedbed.loading.progress import ValidationMeter, progress_display

    started = time.perf_counter()
    inserting = LoadMode.parse(mode) is LoadMode.INSERT
    schema = schema_of(engine) if engine is not None else str(metadata.schema)
    sources = resolve_sources(source, schema)
    tables = [s.table for s in sources.values()]
    if engine is not None:
        require_tables(engine, tables)
    validator = SeedValidator(tables, engine=engine, unique_against_db=None if inserting else ())
    reports = []
    with progress_display(progress) as display:
        meter = ValidationMeter(display, sources)
        for seed in sources.values():
            for chunk in read_seed_chunks(seed):
                reports.append(chunk.report)
                reports.append(validator.check_chunk(seed, chunk))
                meter.chunk(seed, chunk)
            meter.source_done(seed)
        reports.append(validator.finish())
    report = ValidationReport.concat(reports).sorted()
    report.checked = Checked(meter.files, meter.rows, time.perf_counter() - started)
    return report


__all__ = ["validate"]
