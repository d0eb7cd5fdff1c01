"""CSV seed files read the way COPY reads them, with the physical line of every row.

The bytes are scanned with NumPy first: quote parity tells which newlines end
a record (a newline inside quotes does not), so each record's physical line
is known exactly, with CRLF and quoted newlines counted right. The same scan
finds what COPY would refuse (ragged records, stray or unbalanced quotes,
mixed line endings, bytes that are not UTF-8, NUL bytes); those records are
reported and left out, and pyarrow parses the rest, every field as text, an
unquoted empty field as NULL and a quoted one as the empty string.

Most blocks skip that scan: each block is counted as it is read, a piece at a
time while the bytes are in the cache (line feeds, quotes, quotes that end a
field, unusual bytes), and a block those counts and pyarrow's reading show to
be plain (:func:`fast_parse`) is taken as pyarrow reads it.
"""

from __future__ import annotations

import csv
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from seedbed.errors import SeedError, reason
from seedbed.lazymodules import lazy_module
from seedbed.validation.arrays import integers, string_array
from seedbed.validation.csvscan import (
    COMMA,
    CR,
    LF,
    QUOTE,
    ByteCounts,
    Records,
    count_bytes,
    count_text,
    find_records,
    plain_quotes,
    quotes_before_ends,
    record_cut,
    record_problems,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
else:
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")
    pacsv = lazy_module("pyarrow.csv")

BOM = b"\xef\xbb\xbf"
BLOCK_BYTES = 8 << 20  # what a chunk holds: see docs/decisions/2026-12-05-block-size.md
HEAD_BYTES = 64 << 10  # read for the header alone (CsvReader.read_header)
SCAN_BYTES = 256 << 10  # read and counted in pieces this size, while they are in the cache
SPARE_BUFFERS = 2  # parsed blocks' buffers kept to read the next blocks into (memory stays flat)
MAX_RECORD_BYTES = 256 << 20


@dataclass
class RecordProblem:
    line: int
    rule: str
    message: str
    column: str | None = None  # the column, when one cell is the problem


@dataclass
class CsvPiece:
    """Parsed records of one chunk: text columns ``f0…``, their lines, and bad records."""

    table: pa.Table
    lines: np.ndarray
    problems: list[RecordProblem] = field(default_factory=list)


def parse_header(raw: bytes | bytearray, sep: int = COMMA) -> list[str]:
    """Column names from the header record's bytes (BOM already removed)."""
    text = raw.decode("utf-8")  # callers catch UnicodeDecodeError
    text = text[:-1] if text.endswith("\r") else text
    rows = list(csv.reader([text], strict=True, delimiter=chr(sep)))
    return rows[0] if rows else [""]


def _read_csv(
    body: bytes | pa.Buffer,
    names: list[str],
    longest: int,
    invalid: list[int] | None = None,
    sep: int = COMMA,
    check_utf8: bool = True,
) -> pa.Table:
    """pyarrow's CSV parser: every field as text, unquoted empty as NULL, quoted empty as "".

    ``check_utf8=False`` when the caller knows the bytes are UTF-8. One thread: blocks are
    parsed side by side by the callers.
    """

    def on_invalid(row: object) -> str:
        assert invalid is not None
        invalid.append(1)
        return "skip"

    return pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(
            column_names=names, block_size=max(4 << 20, 2 * longest + 1024), use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=chr(sep),
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid if invalid is not None else None,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
            check_utf8=check_utf8,
        ),
    )


def _value_bytes(table: pa.Table) -> int:
    """The bytes of all values of a table of text columns, from their offsets."""
    total = 0
    for column in table.columns:
        for chunk in column.chunks:
            if len(chunk):
                offsets = np.frombuffer(
                    chunk.buffers()[1],
                    dtype=np.int32,
                    count=len(chunk) + 1,
                    offset=4 * chunk.offset,
                )
                total += int(offsets[-1] - offsets[0])
    return total


def _values_opening_with(table: pa.Table, sep: int) -> int:
    """How many values of a table of text columns start with a separator or a line feed."""
    found = 0
    for column in table.columns:
        for chunk in column.chunks:
            _, offsets_buffer, data_buffer = chunk.buffers()
            if not len(chunk) or data_buffer is None or not data_buffer.size:
                continue
            offsets = np.frombuffer(
                offsets_buffer, dtype=np.int32, count=len(chunk) + 1, offset=4 * chunk.offset
            )
            data = np.frombuffer(data_buffer, dtype=np.uint8)
            # Each value's first byte; an empty value's is the next one's, or clipped.
            first = np.take(data, offsets[:-1], mode="clip")
            opening = (first == sep) | (first == LF)
            if opening.any():
                found += int(np.count_nonzero(opening & (offsets[1:] > offsets[:-1])))
    return found


def quotes_plain(
    buf: np.ndarray,
    quotes: int,
    table: pa.Table,
    sep: int = COMMA,
    counts: ByteCounts | None = None,
) -> bool:
    """What :func:`plain_quotes` says of a block with ``quotes`` quotes, told cheaper
    from pyarrow's reading of it (and from its ``counts``, when the caller has them).

    The block is as :func:`fast_parse` takes it (no carriage return, a line feed
    at the end, an even number of quotes) and ``table`` is pyarrow's reading of
    it with no invalid row. Each of its bytes then is a value's, a separator, a
    line feed or a quote, and a quote is no value's byte only where pyarrow
    took it for one that opens a field at its start or closes it: a ``""``
    inside quotes and a quote inside an unquoted field are a value's bytes too.
    So the values' bytes, rows times fields (their separators and line feeds)
    and the quotes add up to the block's length plus one for each such quote
    (and more for an empty line, or a last row without its line feed). When
    they add up to the length exactly, every second quote opens a field where
    it starts, and a quote is stray only where a closing one is followed by
    neither a separator nor a line feed. The quotes followed by one are the
    closing ones that are not stray and the opening ones of values that start
    with one, so those are counted (no value holds a separator or a line feed
    when the block has no more of them than its rows end with and part).
    Otherwise :func:`plain_quotes` decides.
    """
    if not quotes:
        return True
    rows, fields = table.num_rows, table.num_columns
    if _value_bytes(table) + rows * fields + quotes == len(buf):
        if counts is None:
            quote_ends, opening = quotes_before_ends(buf, sep), _values_opening_with(table, sep)
        else:
            quote_ends = counts.quote_ends
            enclosed = counts.seps != rows * (fields - 1) or counts.newlines != rows
            opening = _values_opening_with(table, sep) if enclosed else 0
        return quote_ends - opening == quotes // 2
    return plain_quotes(buf, np.flatnonzero(buf == QUOTE), sep)


def _all_null_rows(table: pa.Table) -> bool:
    """Whether some row is NULL in every column (an empty line reads so, and so does ``,,``)."""
    if not table.num_rows or any(column.null_count == 0 for column in table.columns):
        return False
    mask = pc.is_null(table.column(0))
    for column in table.columns[1:]:
        mask = pc.and_(mask, pc.is_null(column))
    return bool(pc.any(mask).as_py())


def fast_parse(
    data: bytes | bytearray,
    base_line: int,
    n_fields: int,
    sep: int = COMMA,
    counts: ByteCounts | None = None,
) -> CsvPiece | None:
    """Parse a block of whole records when it is plainly well formed, else None.

    Plainly well formed: UTF-8 without NUL, no carriage return, balanced quotes
    that only open and close fields, no empty line, and every record with the
    header's field count (pyarrow reports no invalid row), ending with a line
    ending. Then pyarrow's records are exactly COPY's, and a row's line follows
    from the newlines inside earlier values. ``counts``: the block's, when the
    caller has counted them.
    Anything else goes through the exact scan of :func:`find_records`.
    """
    if n_fields < 2 or not data or data[-1] != LF:
        # One-column files: an empty line or \. is a row there; scan exactly. Without a
        # line ending at the end, pyarrow may read a last empty field as "".
        return None
    if counts is None or counts.unusual:  # else ASCII without a carriage return or a NUL
        if data.find(b"\r") >= 0 or data.find(b"\0") >= 0:
            return None
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = int(np.count_nonzero(buf == QUOTE)) if counts is None else counts.quotes
    if quotes % 2:
        return None
    invalid: list[int] = []
    names = [f"f{i}" for i in range(n_fields)]
    try:
        table = _read_csv(pa.py_buffer(data), names, len(data), invalid, sep, check_utf8=False)
    except pa.ArrowException:
        return None
    if invalid or not quotes_plain(buf, quotes, table, sep, counts):
        return None
    if _all_null_rows(table) and (data[0] == LF or data.find(b"\n\n") >= 0):
        return None  # an empty line: pyarrow would read a row of NULLs
    rows = table.num_rows
    newlines = data.count(b"\n") if counts is None else counts.newlines
    lines = base_line + np.arange(rows, dtype=np.int64)
    if newlines != rows:
        inner = np.zeros(rows, dtype=np.int64)
        for column in table.columns:
            inner += integers(pc.count_substring(column, "\n").combine_chunks(), 0)
        if rows + int(inner.sum()) != newlines:
            return None
        lines[1:] += np.cumsum(inner)[:-1]
    return CsvPiece(table, lines)


def _single_column(
    buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, sep: int = COMMA
) -> pa.Table:
    """One-column records, where an empty line is a NULL row (pyarrow would drop it)."""
    values: list[str | None] = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        raw = buf[start:stop].tobytes().decode("utf-8")
        values.append(
            None if raw == "" else next(csv.reader([raw], strict=True, delimiter=chr(sep)))[0]
        )
    return pa.table({"f0": string_array(values)})


def _no_rows(n_fields: int) -> pa.Table:
    return pa.table({f"f{i}": string_array([]) for i in range(n_fields)})


def first_record(buf: bytes | bytearray | np.ndarray) -> tuple[int, int, bool]:
    """Where the first record of ``buf`` starts and stops (without its line ending), and
    whether it ends in CRLF: what :func:`find_records` gives for record 0, without
    scanning the whole block."""
    data = buf if isinstance(buf, bytes | bytearray) else buf.tobytes()  # no NumPy import
    end, at, quotes = len(data), 0, 0
    while (newline := data.find(b"\n", at)) >= 0:
        quotes += data.count(b'"', at, newline)
        if quotes % 2 == 0:  # a newline outside quotes ends the record
            end = newline
            break
        at = newline + 1
    crlf = end < len(data) and end > 0 and data[end - 1] == CR
    return 0, end - 1 if crlf else end, crlf


def parse_records(
    buf: np.ndarray, records: Records, keep: np.ndarray, n_fields: int, sep: int = COMMA
) -> pa.Table:
    """Parse the kept records with pyarrow: every field as text, unquoted empty as NULL."""
    names = [f"f{i}" for i in range(n_fields)]
    if not keep.any():
        return _no_rows(n_fields)
    starts, stops = records.starts[keep], records.stops[keep]
    if n_fields == 1:
        return _single_column(buf, starts, stops, sep)
    body: bytes | pa.Buffer
    if keep.all():
        first, last = int(records.starts[0]), int(records.stops[-1])
        # The last record goes with its line ending: without one, pyarrow reads an empty
        # last field after a quoted field as "" where COPY reads NULL.
        after = buf[last : last + 2].tobytes()
        ending = next((len(e) for e in (b"\r\n", b"\n") if after.startswith(e)), 0)
        if ending:
            body = pa.py_buffer(buf[first : last + ending])
        else:
            body = buf[first:last].tobytes() + b"\n"
    else:
        pieces = [buf[int(a) : int(b)].tobytes() for a, b in zip(starts, stops, strict=True)]
        body = b"\n".join(pieces) + b"\n"
    table = _read_csv(body, names, int((stops - starts).max()), sep=sep)
    if table.num_rows != int(keep.sum()):
        raise SeedError(
            f"CSV parser found {table.num_rows} rows where {int(keep.sum())} were expected"
        )
    return table


@dataclass
class Block:
    """Bytes of whole records, the line of their first byte, their counts, and whether
    they are the file's last."""

    data: bytearray
    line: int
    counts: ByteCounts
    at_eof: bool


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


def _fill(handle: BinaryIO, view: memoryview) -> int:
    """Read into ``view`` until it is full or the input ends; the bytes read."""
    got = 0
    while got < len(view):
        count = handle.readinto(view[got:])  # type: ignore[attr-defined]
        if not count:
            break
        got += count
    return got


class CsvReader:
    """Stream a CSV seed file as :class:`CsvPiece` objects of at most ``chunk_rows`` rows.

    ``sep`` is the field separator's byte (a tab for TSV); ``opener`` opens the
    file for binary reading (``gzip.open`` for compressed files).
    """

    def __init__(
        self,
        path: Path,
        chunk_rows: int,
        *,
        sep: int = COMMA,
        opener: Callable[[Path], BinaryIO] | None = None,
    ) -> None:
        self.path = path
        self.chunk_rows = max(1, chunk_rows)
        self.sep = sep
        self.opener = opener or _open_binary
        self.header: list[str] | None = None
        self.header_problem: str | None = None
        self.crlf_header = False
        self._spare: deque[bytearray] = deque(maxlen=SPARE_BUFFERS)

    def _buffer(self, size: int) -> bytearray:
        """A buffer of ``size`` bytes to read into: a parsed block's, when one is free (its
        memory is already the process's), else a new one."""
        while self._spare:
            try:
                buffer = self._spare.pop()
            except IndexError:  # taken meanwhile
                break
            try:
                if len(buffer) < size:
                    buffer.extend(bytes(size - len(buffer)))
                else:
                    buffer.append(0)  # a buffer something still views cannot change size
                    del buffer[size:]
            except BufferError:
                continue
            return buffer
        return bytearray(size)

    def _blocks(self) -> Iterator[Block]:
        """Blocks that start at a record boundary, with the line of their first byte and
        their :class:`ByteCounts`.

        Each block is read straight into a buffer of its own (parsed later, maybe on
        another thread), and counted piece by piece as it comes in; the bytes after
        its last record move to the next one.
        """
        try:
            handle = self.opener(self.path)
        except OSError as exc:
            raise SeedError(f"{self.path}: cannot read: {reason(exc)}") from None
        with handle:
            carry = b""
            carried = ByteCounts()
            line = 1
            first = True
            want = BLOCK_BYTES
            while True:
                buffer = self._buffer(len(carry) + want)
                buffer[: len(carry)] = carry
                try:
                    size, counts = self._fill_counted(handle, buffer, len(carry), carried)
                except (OSError, EOFError, zlib.error) as exc:
                    raise SeedError(f"{self.path}: cannot read: {reason(exc)}") from None
                at_eof = size < len(buffer)
                del buffer[size:]
                if first:
                    if buffer.startswith(BOM):  # none of the bytes counted
                        del buffer[: len(BOM)]
                    first = False
                if at_eof:
                    yield Block(buffer, line, counts, True)
                    return
                cut = record_cut(buffer, counts.quotes)
                if cut == 0:
                    if len(buffer) > MAX_RECORD_BYTES:
                        raise SeedError(
                            f"{self.path}:{line}: a record longer than "
                            f"{MAX_RECORD_BYTES >> 20} MB (is a quote left open?)"
                        )
                    carry, carried, want = bytes(buffer), counts, want * 2
                    continue
                want = BLOCK_BYTES
                carry = bytes(buffer[cut:])
                carried = count_text(carry, self.sep)
                del buffer[cut:]
                counts -= carried
                yield Block(buffer, line, counts, False)
                line += counts.newlines

    def _fill_counted(
        self, handle: BinaryIO, buffer: bytearray, start: int, counts: ByteCounts
    ) -> tuple[int, ByteCounts]:
        """Read into ``buffer`` after ``start`` until it is full or the input ends, counting
        each piece read while it is in the cache; the bytes in it, and the counts of all
        of them (``counts``: those of the first ``start``)."""
        view = memoryview(buffer)
        buf = np.frombuffer(buffer, dtype=np.uint8)
        at = start
        try:
            while at < len(buffer):
                stop = min(at + SCAN_BYTES, len(buffer))
                got = _fill(handle, view[at:stop])
                counts += count_bytes(buffer, buf, at, at + got, self.sep)
                at += got
                if at < stop:
                    break
        finally:
            del buf
            view.release()
        return at, counts

    def read_header(self) -> list[str] | None:
        """The header's column names alone (None: the file has no readable header).

        Only the first :data:`HEAD_BYTES` are read, and nothing is counted, so that
        a load can send its first COPY before NumPy is imported; a longer header is
        read as :meth:`pieces` reads it.
        """
        try:
            handle = self.opener(self.path)
        except OSError as exc:
            raise SeedError(f"{self.path}: cannot read: {reason(exc)}") from None
        head = bytearray(HEAD_BYTES)
        with handle:
            try:
                size = _fill(handle, memoryview(head))
            except (OSError, EOFError, zlib.error) as exc:
                raise SeedError(f"{self.path}: cannot read: {reason(exc)}") from None
        del head[size:]
        if head.startswith(BOM):
            del head[: len(BOM)]
        if size == HEAD_BYTES and first_record(head)[1] == len(head):  # a header cut short
            for _ in self.pieces(header_only=True):
                break
        else:
            self._take_header(head)
        return self.header

    def _take_header(self, data: bytearray) -> int | None:
        """Read the header from the first record of ``data``: where the rows start, or None
        when the file has no readable header (``header_problem`` says why)."""
        if len(data) == 0:
            self.header_problem = "empty_file"
            return None
        start, stop, self.crlf_header = first_record(data)
        try:
            self.header = parse_header(data[start:stop], self.sep)
        except UnicodeDecodeError:
            self.header_problem = "encoding"
            return None
        except csv.Error:
            # A whole file of bare-CR line endings reads as one record.
            bare_cr = CR in data[start:stop] and LF not in data[start:stop]
            self.header_problem = "line_endings" if bare_cr else "csv_format"
            return None
        return stop + (2 if self.crlf_header else 1)

    def _bodies(self, header_only: bool) -> Iterator[Block]:
        """The blocks after the header, as :meth:`_blocks` gives them; the header is read
        from the first. A file of only a header gives one empty block."""
        for block in self._blocks():
            data = block.data
            if self.header is None:
                rest = self._take_header(data)
                if rest is None or header_only:
                    return
                if rest >= len(data):
                    yield Block(bytearray(), block.line, ByteCounts(), block.at_eof)
                    continue
                head = count_text(data[:rest], self.sep)
                block = Block(
                    data[rest:], block.line + head.newlines, block.counts - head, block.at_eof
                )
            if len(block.data):
                yield block

    def pieces(self, header_only: bool = False) -> Iterator[CsvPiece]:
        """The file's rows in pieces; the header is read from the first block.

        ``header_only`` stops once the header is read, before any row is parsed.
        """
        for block in self._bodies(header_only):
            yield from self._parse(block)
            self._spare.append(block.data)

    def deferred_pieces(self) -> Iterator[CsvPiece | Callable[[], CsvPiece]]:
        """:meth:`pieces`, with each block after the first that holds at most
        ``chunk_rows`` records given as a call that parses it into one piece.

        The blocks are cut here, in file order, with their first line; the calls
        are independent, so threads can parse blocks side by side.
        """
        first = True
        for block in self._bodies(False):
            records = block.counts.newlines + int(block.at_eof)  # the last may lack its ending
            if first or not block.data or records > self.chunk_rows:
                yield from self._parse(block)
                self._spare.append(block.data)
            else:
                yield partial(self._parse_one, block)
            first = False

    def _parse_one(self, block: Block) -> CsvPiece:
        """One block (of at most ``chunk_rows`` records) as one piece."""
        found = list(self._parse(block))
        self._spare.append(block.data)  # parsed: its bytes are no longer needed
        if len(found) == 1:
            return found[0]
        n_fields = len(self.header or ())
        return CsvPiece(
            pa.concat_tables([p.table for p in found]) if found else _no_rows(n_fields),
            np.concatenate([p.lines for p in found]) if found else np.zeros(0, np.int64),
            [problem for p in found for problem in p.problems],
        )

    def _parse(self, block: Block) -> Iterator[CsvPiece]:
        """The records of one block after the header, in pieces of at most ``chunk_rows``."""
        n_fields = len(self.header or ())
        data, base_line, at_eof = block.data, block.line, block.at_eof
        if not data:
            yield CsvPiece(_no_rows(n_fields), np.zeros(0, np.int64))
            return
        fast = fast_parse(data, base_line, n_fields, self.sep, block.counts)
        if fast is not None:
            for first in range(0, fast.table.num_rows, self.chunk_rows):
                yield CsvPiece(
                    fast.table.slice(first, self.chunk_rows),
                    fast.lines[first : first + self.chunk_rows],
                )
            return
        buf = np.frombuffer(data, dtype=np.uint8)
        records = find_records(buf, base_line, at_eof)
        problems = record_problems(buf, records, n_fields, self.crlf_header, self.sep)
        keep = np.ones(len(records.starts), dtype=bool)
        if problems:
            keep[list(problems)] = False
        for first in range(0, len(records.starts), self.chunk_rows):
            part = slice(first, first + self.chunk_rows)
            sub = Records(
                records.starts[part],
                records.stops[part],
                records.lines[part],
                records.crlf[part],
                0,
                False,
            )
            try:
                table = parse_records(buf, sub, keep[part], n_fields, self.sep)
            except (pa.ArrowException, csv.Error, UnicodeDecodeError) as exc:
                line = int(sub.lines[0]) if len(sub.lines) else base_line
                raise SeedError(f"{self.path}:{line}: cannot parse CSV: {exc}") from None
            found = [
                RecordProblem(int(records.lines[i]), *problems[i])
                for i in range(first, min(first + self.chunk_rows, len(records.starts)))
                if i in problems
            ]
            yield CsvPiece(table, sub.lines[keep[part]], found)
