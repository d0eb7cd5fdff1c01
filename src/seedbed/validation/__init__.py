"""Validation: Pandera schemas derived from the models, cross-file checks, reports.

Public pieces (the loader in :mod:`seedbed.loading` is built on the same ones)::

    resolve_sources(source, schema) -> dict[str, SeedSource]
    read_seed_chunks(source, *, chunk_rows=250_000) -> Iterator[SeedChunk]
    SeedValidator(tables, *, engine=None)
        .check_chunk(source, chunk) -> ValidationReport
        .finish() -> ValidationReport
    ValidationReport.concat(reports) -> ValidationReport
    validate(source, *, engine=None) -> ValidationReport
    schema_for(table) -> pandera.DataFrameSchema

What the signatures above do not show:

- ``SeedChunk.columns``: the typed columns (Arrow arrays when read from
  text, else pandas series); ``SeedChunk.frame``: them as a pandas DataFrame,
  built on first use.
- ``SeedChunk.invalid``: per column, a boolean mask of the rows whose value
  could not be read as the column's type (those cells are NA in ``frame`` and
  already in ``chunk.report``).
- ``SeedSource.format``: the format object that reads the source;
  ``SeedSource.unit``: ``"line"`` or ``"row"``.
- ``resolve_sources`` returns the tables parents first (foreign-key order).
- With an engine, :meth:`SeedValidator.check_chunk` already checks unique keys
  against the database and looks up foreign-key values missing from the set
  (the values are at hand there); :meth:`SeedValidator.finish` checks foreign
  keys whose parent file came after the child's and closes the connection.
- ``SeedValidator(..., unique_against_db=names)``: look up unique keys in the
  database only for these tables (default: all, when there is an engine).
- ``coerce_frame(table, frame)`` reads a DataFrame of text (or typed values)
  into the dtypes ``schema_for`` expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seedbed.lazymodules import lazy_exports

if TYPE_CHECKING:
    from seedbed.validation.api import validate
    from seedbed.validation.report import ValidationReport
    from seedbed.validation.schemas import coerce_frame, pandera_schema, schema_for
    from seedbed.validation.sources import (
        SeedChunk,
        SeedSource,
        read_seed_chunks,
        resolve_sources,
    )
    from seedbed.validation.validator import SeedValidator

#: The public names, imported on first use from the module that defines them:
#: the loader's writer needs only ``sources``, and starts before pandas is imported.
_LAZY = {
    "seedbed.validation.api": ("validate",),
    "seedbed.validation.report": ("ValidationReport",),
    "seedbed.validation.schemas": ("coerce_frame", "pandera_schema", "schema_for"),
    "seedbed.validation.sources": (
        "SeedChunk",
        "SeedSource",
        "read_seed_chunks",
        "resolve_sources",
    ),
    "seedbed.validation.validator": ("SeedValidator",),
}

__all__ = [
    "SeedChunk",
    "SeedSource",
    "SeedValidator",
    "ValidationReport",
    "coerce_frame",
    "pandera_schema",
    "read_seed_chunks",
    "resolve_sources",
    "schema_for",
    "validate",
]

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
