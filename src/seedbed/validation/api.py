"""``validate``: the whole check of a seed set, built from the streaming pieces."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Protocol

from sqlalchemy.engine import Engine

from seedbed.db import require_tables, schema_of
from seedbed.facts import Models, declared_metadata, using_models
from seedbed.loadmode import LoadMode
from seedbed.progress import progress_display
from seedbed.validation.meter import ValidationMeter
from seedbed.validation.report import Checked, ValidationReport
from seedbed.validation.sources import (
    SeedChunk,
    SeedInput,
    SeedSource,
    read_seed_chunks,
    resolve_sources,
)
from seedbed.validation.validator import SeedValidator


class ChunkMeter(Protocol):
    """What follows the loop for a progress display (``validation.meter.ValidationMeter``)."""

    def chunk(self, seed: SeedSource, chunk: SeedChunk) -> None: ...

    def source_done(self, seed: SeedSource) -> None: ...


def check_sources(
    sources: Mapping[str, SeedSource],
    *,
    engine: Engine | None = None,
    unique_against_db: Collection[str] | None = None,
    empty_in_db: Collection[str] = (),
    meter: ChunkMeter | None = None,
) -> ValidationReport:
    """Read every source chunk by chunk and check it; the sorted report of everything.

    The loop ``validate`` and ``load`` share. ``meter`` is told of each chunk
    and each finished source (for progress displays); ``engine``,
    ``unique_against_db`` and ``empty_in_db`` are :class:`SeedValidator`'s. The
    report's ``checked`` says how many sources and rows were read, in how long.
    """
    started = time.perf_counter()
    tables = [s.table for s in sources.values()]
    validator = SeedValidator(
        tables, engine=engine, unique_against_db=unique_against_db, empty_in_db=empty_in_db
    )
    reports = []
    rows = 0
    for seed in sources.values():
        for chunk in read_seed_chunks(seed):
            reports.append(chunk.report)
            reports.append(validator.check_chunk(seed, chunk))
            rows += len(chunk.frame)
            if meter is not None:
                meter.chunk(seed, chunk)
        if meter is not None:
            meter.source_done(seed)
    reports.append(validator.finish())
    report = ValidationReport.concat(reports).sorted()
    report.checked = Checked(len(sources), rows, time.perf_counter() - started)
    return report


def validate(
    source: SeedInput,
    *,
    engine: Engine | None = None,
    mode: str = "insert",
    progress: bool | None = False,
    models: Models = None,
) -> ValidationReport:
    """Check a seed set and report every problem: file, line, column, rule, value, message.

    ``source`` is a folder of seed files named after their tables
    (``user.csv``, ``user.tsv``, ``user.csv.gz``, ``user.jsonl``,
    ``user.parquet``, or a folder ``user/`` of part files), a list of such
    files and folders, or a mapping of table name to a DataFrame, file or
    folder (``{"user": "people.csv"}``). With an ``engine``, foreign keys may
    point at rows already in the database and, for ``mode="insert"``, unique
    values must not collide with them; for ``"upsert"`` and
    ``"skip-existing"`` a key already in the database is what the load will
    update or skip, not a problem: the verdict is the one :func:`seedbed.load`
    in that mode gives. ``progress`` shows a progress display (``None``: in
    terminals and notebooks). Files that cannot be read or name no table
    raise :class:`~seedbed.errors.SeedError`; invalid data never raises, it
    is in the report. ``models`` chooses the model (default: ``SEEDBED_MODELS``):
    ``"database"`` (the namespace as the database holds it), a folder of model
    modules, a dotted module name, or a :class:`~seedbed.facts.ModelSource`.

    >>> report = validate("data/seeds")            # doctest: +SKIP
    >>> report.ok                                  # doctest: +SKIP
    True
    """
    existing_are_errors = LoadMode.parse(mode).existing_keys_are_errors
    with using_models(models, engine=engine):
        schema = schema_of(engine) if engine is not None else str(declared_metadata().schema)
        sources = resolve_sources(source, schema)
    if engine is not None:
        require_tables(engine, [s.table for s in sources.values()])
    with progress_display(progress) as display:
        return check_sources(
            sources,
            engine=engine,
            unique_against_db=None if existing_are_errors else (),
            meter=ValidationMeter(display, sources),
        )


__all__ = ["check_sources", "validate"]
