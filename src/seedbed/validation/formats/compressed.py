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


class Gzipped(CsvFile):
    """A delimited file read through gzip (the size of what it holds is not known)."""

    def open_binary(self) -> BinaryIO:
        return cast(BinaryIO, gzip.open(self.path, "rb"))

    def progress_total(self) -> tuple[int | None, str]:
        return None, "B"


@register
class GzipCsvFile(Gzipped):
    suffixes: ClassVar[tuple[str, ...]] = (".csv.gz",)


@register
class GzipTsvFile(Gzipped, TsvFile):
    suffixes: ClassVar[tuple[str, ...]] = (".tsv.gz",)


__all__ = ["GzipCsvFile", "GzipTsvFile"]
