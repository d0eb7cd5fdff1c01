"""Gzip-compressed CSV and TSV (``.csv.gz``, ``.tsv.gz``), decompressed as they stream.

Validation and COPY both read through :func:`gzip.open`, block by block, so
memory stays bounded and COPY receives the same bytes an uncompressed file
would send. Positions are the lines of the decompressed text.
"""

from __future__ import annotations

import gzip
from typing import BinaryIO, ClassVar, cast

from seedbed.validation.formats.base import register
from seedbed.validation.formats.delimited import CsvFile, TsvFile


@register
class GzipCsvFile(CsvFile):
    """A gzip-compressed CSV file."""

    suffixes: ClassVar[tuple[str, ...]] = (".csv.gz",)

    def open_binary(self) -> BinaryIO:
        return cast(BinaryIO, gzip.open(self.path, "rb"))

    def progress_total(self) -> tuple[int | None, str]:
        return None, "B"


@register
class GzipTsvFile(TsvFile):
    """A gzip-compressed TSV file."""

    suffixes: ClassVar[tuple[str, ...]] = (".tsv.gz",)

    def open_binary(self) -> BinaryIO:
        return cast(BinaryIO, gzip.open(self.path, "rb"))

    def progress_total(self) -> tuple[int | None, str]:
        return None, "B"


__all__ = ["GzipCsvFile", "GzipTsvFile"]
