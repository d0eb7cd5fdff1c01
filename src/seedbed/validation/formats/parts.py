"""A folder of part files read as one source: ``user/part-0000.csv``, ``user/part-0001.csv``, …

This is what Spark, DuckDB and most exports write. The folder is named after
its table; its part files are in one file format (any registered one), read
in name order. Names starting with ``.`` or ``_`` (``_SUCCESS``, ``.crc``
files) are not parts. Every position is given per part file, so a report row
says ``user/part-0001.csv:17``, and COPY reads each part as it would read
that file alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seedbed.errors import SeedError, reason
from seedbed.validation.formats.base import (
    FileFormat,
    Progress,
    RawPiece,
    SeedFormat,
    Unit,
    printable,
)

if TYPE_CHECKING:
    import sqlalchemy as sa


def is_hidden(path: Path) -> bool:
    return path.name.startswith((".", "_"))


class PartFolder(SeedFormat):
    """Part files of one table, in one format, read one after the other."""

    def __init__(self, path: Path, parts: Sequence[SeedFormat]) -> None:
        super().__init__(printable(path))
        self.path = path
        self.parts = list(parts)

    @classmethod
    def open(cls, path: Path, claim: Callable[[Path], type[FileFormat] | None]) -> PartFolder:
        """The part files of folder ``path``, each claimed by a file format."""
        try:
            entries = sorted(p for p in path.iterdir() if not is_hidden(p))
        except OSError as exc:
            raise SeedError(f"{path}: cannot read: {reason(exc)}") from None
        parts: list[SeedFormat] = []
        kinds: set[type[FileFormat]] = set()
        for entry in entries:
            if entry.is_dir():
                raise SeedError(f"{entry}: a folder of part files may not hold folders")
            kind = claim(entry)
            if kind is None:
                continue
            kinds.add(kind)
            parts.append(kind(entry))
        if not parts:
            raise SeedError(f"{path}: no part files in a format seedbed reads")
        if len(kinds) > 1:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            raise SeedError(f"{path}: part files in more than one format ({names})")
        return cls(path, parts)

    @property
    def unit(self) -> Unit:  # type: ignore[override]
        return self.parts[0].unit

    def files(self) -> list[SeedFormat]:
        return list(self.parts)

    def columns(self) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for part in self.parts:
            names.update(dict.fromkeys(part.columns()))
        return tuple(names)

    def for_table(self, table: sa.Table) -> PartFolder:
        return PartFolder(self.path, [part.for_table(table) for part in self.parts])

    def pieces(self, chunk_rows: int) -> Iterator[RawPiece]:
        for part in self.parts:
            yield from part.pieces(chunk_rows)

    def size_in_bytes(self) -> int:
        return sum(part.size_in_bytes() for part in self.parts)

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        raise NotImplementedError("COPY reads each part file on its own (see files())")


__all__ = ["PartFolder", "is_hidden"]
