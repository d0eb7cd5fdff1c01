"""Gzip-compressed CSV and TSV (``.csv.gz``, ``.tsv.gz``), decompressed as they stream.

Validation and COPY both decompress as they read, block by block, so memory
stays bounded and COPY receives the same bytes an uncompressed file would
send. Positions are the lines of the decompressed text. Decompression uses
ISA-L (``isal.igzip``, the same format, faster than :mod:`gzip`: the file is
read twice, once by validation and once by COPY; see ``docs/performance.md``);
the standard library's :mod:`gzip` stands in where ``isal`` is not installed.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from seedbed.validation.csvread import BOM
from seedbed.validation.formats.base import Progress, register
from seedbed.validation.formats.delimited import BLOCK_BYTES, CsvFile, TsvFile

if TYPE_CHECKING:
    import sqlalchemy as sa


def _decompressing(path: Path) -> Any:
    try:
        from isal import igzip
    except ImportError:  # pragma: no cover - isal is a dependency; this is the fallback
        return gzip.open(path, "rb")
    return igzip.open(path, "rb")  # type: ignore[no-untyped-call]


class _Decompressed(io.RawIOBase):
    """The decompressed bytes; corrupt data is an ``OSError``, as for any unreadable file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._inner = _decompressing(path)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except OSError:
            raise
        except EOFError as exc:
            raise OSError(f"the gzip stream is cut short: {exc}") from None
        except (zlib.error, ValueError, RuntimeError) as exc:
            raise OSError(f"corrupt gzip data: {exc}") from None
        except Exception as exc:  # isal's own error type, which is not an OSError
            raise OSError(f"corrupt gzip data: {exc}") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


class Gzipped(CsvFile):
    """A delimited file read through gzip (the size of what it holds is not known)."""

    def open_binary(self) -> BinaryIO:
        return io.BufferedReader(_Decompressed(self.path), buffer_size=1 << 20)

    def copy_blocks(self, table: sa.Table, on_progress: Progress | None) -> Iterator[bytes]:
        """The decompressed bytes, from a ``gzip -dc`` process where there is one.

        Validation decompresses the same file at the same time in this
        process; a separate process keeps COPY's feed off the interpreter's
        lock, so the server never waits for it.
        """
        program = shutil.which("gzip")
        if program is None:
            yield from super().copy_blocks(table, on_progress)
            return
        with subprocess.Popen(
            [program, "-dc", "--", str(self.path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            first = True
            while block := process.stdout.read(BLOCK_BYTES):
                if on_progress:
                    on_progress(len(block))
                yield block.removeprefix(BOM) if first else block
                first = False
            failure = process.stderr.read().decode(errors="replace").strip()
        if process.returncode != 0:
            raise OSError(failure.splitlines()[-1] if failure else "gzip -dc failed")

    def file_as_sent(self) -> Path | None:
        return None  # COPY is sent the decompressed bytes

    def progress_total(self) -> tuple[int | None, str]:
        return None, "B"

    def bytes_per_position(self) -> float | None:
        return None  # the file's bytes are compressed: a line's share is not known cheaply


@register
class GzipCsvFile(Gzipped):
    suffixes: ClassVar[tuple[str, ...]] = (".csv.gz",)


@register
class GzipTsvFile(Gzipped, TsvFile):
    suffixes: ClassVar[tuple[str, ...]] = (".tsv.gz",)


__all__ = ["GzipCsvFile", "GzipTsvFile"]
