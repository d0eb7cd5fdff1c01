"""``validate``: the whole check of a seed set, built from the streaming pieces."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from seedbed.facts import Models, declared_metadata, stored_tables, using_models
from seedbed.loadmode import LoadMode, MergeAction
from seedbed.progress import progress_display
from seedbed.validation.meter import ValidationMeter
from seedbed.validation.report import Checked, ValidationReport
from seedbed.validation.sources import (
    SeedChunk,
    SeedInput,
    SeedSource,
    read_seed_pieces,
    resolve_sources,
)
from seedbed.validation.validator import RowResult, SeedValidator

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from seedbed.db import Database

#: Chunks read, typed and checked ahead per file, beyond the one the checks across chunks
#: have: with the workers, what bounds memory. Two keep both workers busy while the
#: checks across chunks run (docs/decisions/2026-12-05-block-size.md).
READ_AHEAD = 2
_DONE = object()


def default_workers() -> int:
    """Threads that read and check chunks: the machine's cores, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


class ChunkMeter(Protocol):
    """What follows the loop for a progress display (``validation.meter.ValidationMeter``)."""

    def chunk(self, seed: SeedSource, chunk: SeedChunk) -> None: ...

    def source_done(self, seed: SeedSource) -> None: ...


def check_sources(
    sources: Mapping[str, SeedSource],
    *,
    engine: Engine | Database | None = None,
    unique_against_db: Collection[str] | None = None,
    empty_in_db: Collection[str] = (),
    meter: ChunkMeter | None = None,
    workers: int | None = None,
    row_engine: str = "polars",
    merging: MergeAction = MergeAction.NONE,
) -> ValidationReport:
    """Read every source chunk by chunk and check it; the sorted report of everything.

    The loop ``validate`` and ``load`` share. ``meter`` is told of each chunk
    and each finished source (for progress displays); ``engine``,
    ``unique_against_db``, ``empty_in_db``, ``row_engine`` and ``merging`` are
    :class:`SeedValidator`'s. ``workers`` threads (default: the machine's
    cores) read files and part files side by side and check chunks' rows;
    the checks across chunks, files and the database take the chunks in file
    order, so their verdicts do not depend on ``workers``. The report's
    ``checked`` says how many sources and rows were read, in how long.
    """
    started = time.perf_counter()
    tables = [s.table for s in sources.values()]
    validator = SeedValidator(
        tables,
        engine=engine,
        unique_against_db=unique_against_db,
        empty_in_db=empty_in_db,
        row_engine=row_engine,
        merging=merging,
    )
    reports = []
    rows = 0
    chunks = _checked_chunks(sources, validator, workers or default_workers())
    try:
        for seed, chunk, checked in chunks:
            if chunk is None:
                validator.table_done(seed.table.name)
                if meter is not None:
                    meter.source_done(seed)
                continue
            reports.append(chunk.report)
            reports.append(validator.check_across(seed, chunk, checked))
            rows += chunk.rows
            if meter is not None:
                meter.chunk(seed, chunk)
            del chunk, checked  # not held while the next chunk is awaited
        reports.append(validator.finish())
    finally:
        validator.close()  # a file that cannot be read: no connection is left in a transaction
    report = ValidationReport.concat(reports).sorted()
    report.checked = Checked(len(sources), rows, time.perf_counter() - started)
    return report


_Item = tuple[SeedSource, "SeedChunk | None", "RowResult | None"]


def _checked_chunks(
    sources: Mapping[str, SeedSource], validator: SeedValidator, workers: int
) -> Iterator[_Item]:
    """Every chunk of every file, in file order, with its row checks done.

    Readers (``workers`` threads, one file each, files taken in order) read
    up to :data:`READ_AHEAD` chunks ahead and hand each to a checker thread,
    which parses it too when the format leaves that to the piece's call;
    this generator yields them in order, and ``(seed, None, None)`` after
    each source's last file. A file that cannot be read raises here, where
    its turn comes. Parsing, Arrow and Polars kernels release the GIL, so the
    threads share the cores.
    """
    files = [
        (seed, SeedSource(seed.table, fmt))
        for seed in sources.values()
        for fmt in seed.format.files()
    ]
    stop = threading.Event()
    queues: list[queue.Queue[object]] = [queue.Queue() for _ in files]
    # A file's chunks from the read of their block until the checks across chunks are done
    # with them: a slot each (a block is read once it has one).
    slots = [threading.Semaphore(READ_AHEAD + 1) for _ in files]

    def take(slot: threading.Semaphore) -> bool:
        while not stop.is_set():
            if slot.acquire(timeout=0.1):
                return True
        return False

    def check(
        source: SeedSource, typed: Callable[[], SeedChunk]
    ) -> tuple[SeedChunk, RowResult | None]:
        chunk = typed()
        return chunk, validator.check_rows(source, chunk)

    def read(index: int, checkers: ThreadPoolExecutor) -> None:
        _, source = files[index]
        box = queues[index]
        try:
            pieces = read_seed_pieces(source)
            while take(slots[index]):
                typed = next(pieces, None)
                if typed is None:
                    box.put(_DONE)
                    return
                box.put(checkers.submit(check, source, typed))
        except BaseException as exc:  # raised in the consumer, in file order
            box.put(exc)

    with (
        ThreadPoolExecutor(workers, thread_name_prefix="seedbed-read") as readers,
        ThreadPoolExecutor(workers, thread_name_prefix="seedbed-check") as checkers,
    ):
        try:
            for index in range(len(files)):
                readers.submit(read, index, checkers)
            for index, (seed, _) in enumerate(files):
                while True:
                    item = queues[index].get()
                    if item is _DONE:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    checked: Future[tuple[SeedChunk, RowResult | None]] = item  # type: ignore[assignment]
                    chunk, rows = checked.result()
                    yield seed, chunk, rows
                    del item, checked, chunk, rows  # not held while the next is awaited
                    slots[index].release()
                last = index + 1 == len(files) or files[index + 1][0] is not seed
                if last:
                    yield seed, None, None
        finally:
            stop.set()


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
    files and folders, or a mapping of table name to a DataFrame (pandas or
    Polars, or a Polars LazyFrame, collected once), an Arrow table or record
    batch, a file or folder (``{"user": "people.csv"}``).
    With an ``engine``, foreign keys may point at rows already in the database
    and, for ``mode="insert"``, unique values must not collide with them; for
    ``"upsert"`` and
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
    parsed = LoadMode.parse(mode)
    # Files alone: the model's facts as stored by an earlier run, if it had the same model.
    tables = None if engine is not None else stored_tables(models)
    if tables is not None:
        sources = resolve_sources(source, tables)
    else:
        from seedbed.db import require_tables, schema_of

        with using_models(models, engine=engine):
            schema = schema_of(engine) if engine is not None else str(declared_metadata().schema)
            sources = resolve_sources(source, schema)
        if engine is not None:
            require_tables(engine, [s.table for s in sources.values()])
    with progress_display(progress) as display:
        return check_sources(
            sources,
            engine=engine,
            merging=parsed.merge,
            meter=ValidationMeter(display, sources),
        )


__all__ = ["check_sources", "validate"]
