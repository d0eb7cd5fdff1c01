"""Seed formats: one module per format, each answering everything format-specific.

:class:`~seedbed.validation.formats.base.SeedFormat` says what a format
answers. File formats register themselves (``@register``); :func:`file_formats`
imports every module of this package once, so a new format is one new module
and nothing else changes. :func:`claim` finds the format of a file by its name.

| format | files | positions | COPY gets |
|---|---|---|---|
| CSV | ``.csv`` | lines | the file's bytes |
| TSV | ``.tsv`` | lines | the file's bytes (``DELIMITER E'\\t'``) |
| gzip CSV/TSV | ``.csv.gz``, ``.tsv.gz`` | lines | the decompressed bytes |
| JSON Lines | ``.jsonl``, ``.ndjson`` | lines | CSV written by pyarrow |
| Parquet | ``.parquet`` | rows | CSV written by pyarrow |
| part folder | ``user/part-*.csv`` … | per part file | each part as above |
| DataFrame | (Python) | rows | CSV written by pyarrow |
| Arrow table, Polars DataFrame | (Python) | rows | CSV written by pyarrow |
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from typing import NoReturn

from seedbed.errors import SeedError
from seedbed.validation.formats.base import (
    REGISTERED,
    FileFormat,
    RawPiece,
    SeedFormat,
    register,
)
from seedbed.validation.formats.frame import ArrowInput, FrameInput
from seedbed.validation.formats.parts import PartFolder, is_hidden


@cache
def file_formats() -> tuple[type[FileFormat], ...]:
    """Every registered file format, those with the longest suffixes first."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return tuple(sorted(REGISTERED, key=lambda f: -max(map(len, f.suffixes), default=0)))


def claim(path: Path) -> type[FileFormat] | None:
    """The format that reads ``path``, judged by its name; None when none does."""
    for kind in file_formats():
        if kind.table_name(path) is not None:
            return kind
    return None


def table_name(path: Path) -> str | None:
    """The table a claimed file is named after (``user.csv.gz`` -> ``user``)."""
    kind = claim(path)
    return None if kind is None else kind.table_name(path)


def known_suffixes() -> list[str]:
    return sorted({s for kind in file_formats() for s in kind.suffixes})


def open_path(path: Path) -> SeedFormat:
    """The format object for a file (claimed by name) or a folder of part files."""
    if path.is_dir():
        return PartFolder.open(path, claim)
    kind = claim(path)
    if kind is None:
        raise_unclaimed(path)
    return kind(path)


def raise_unclaimed(path: Path) -> NoReturn:
    raise SeedError(f"{path}: not a seed file (seedbed reads {', '.join(known_suffixes())})")


__all__ = [
    "ArrowInput",
    "FileFormat",
    "FrameInput",
    "PartFolder",
    "RawPiece",
    "SeedFormat",
    "claim",
    "file_formats",
    "is_hidden",
    "known_suffixes",
    "open_path",
    "register",
    "table_name",
]
