"""The byte scan of a CSV block: where records start and stop, and what COPY would refuse.

Quote parity (NumPy, vectorised) tells which newlines end a record: a
newline inside quotes does not. From the record boundaries follow each
record's physical line (CRLF and quoted newlines counted right), its field
count, and the records COPY would refuse: ragged records, stray or
unbalanced quotes, bare carriage returns, mixed line endings, bytes that are
not UTF-8, NUL bytes, and a line holding only ``\\.``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from seedbed.lazymodules import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_module("numpy")


QUOTE, COMMA, LF, CR, NUL = 34, 44, 10, 13, 0


@dataclass
class Records:
    """Where the records of a buffer start and stop (stop excludes the line ending)."""

    starts: np.ndarray
    stops: np.ndarray
    lines: np.ndarray
    crlf: np.ndarray
    complete: int  # bytes that belong to whole records
    unterminated: bool  # the last record opens a quote that never closes
    quotes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    inside: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # 1: within quotes


def find_records(buf: np.ndarray, base_line: int, at_eof: bool) -> Records:
    """Split ``buf`` (starting at a record boundary) into records.

    Only whole records are returned unless ``at_eof``: then the tail without
    a final newline is a record too, and ``unterminated`` says whether it
    ends inside quotes.
    """
    is_quote = buf == QUOTE
    quotes = np.flatnonzero(is_quote)
    # Quote parity of every byte; uint8 wraps at 256, which keeps the parity.
    inside = np.cumsum(is_quote, dtype=np.uint8) & 1
    is_newline = buf == LF
    newlines = np.flatnonzero(is_newline)
    ends = np.flatnonzero(is_newline & (inside == 0))
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    stops = ends.astype(np.int64)
    complete = int(ends[-1] + 1) if len(ends) else 0
    unterminated = False
    if at_eof and complete < len(buf):
        stops = np.append(stops, len(buf))
        unterminated = bool(len(quotes) & 1)
    else:
        starts = starts[:-1]
    if at_eof:
        complete = len(buf)
    crlf = np.zeros(len(stops), dtype=bool)
    if len(stops):
        has_cr = (stops > starts) & (buf[np.maximum(stops - 1, 0)] == CR)
        terminated = stops < len(buf)
        crlf = has_cr & terminated
        stops = np.where(crlf, stops - 1, stops)
    lines = base_line + np.searchsorted(newlines, starts)
    return Records(
        starts, stops, lines.astype(np.int64), crlf, complete, unterminated, quotes, inside
    )


@dataclass(frozen=True)
class ByteCounts:
    """Counts of a stretch of CSV bytes: line feeds, separators, quotes, and quotes
    followed by a separator or a line feed (such a pair counted where its second byte is);
    ``unusual``: it may hold a carriage return, a NUL or a byte that is not ASCII (False:
    it holds none)."""

    newlines: int = 0
    seps: int = 0
    quotes: int = 0
    quote_ends: int = 0
    unusual: bool = False

    def __add__(self, other: ByteCounts) -> ByteCounts:
        return ByteCounts(
            self.newlines + other.newlines,
            self.seps + other.seps,
            self.quotes + other.quotes,
            self.quote_ends + other.quote_ends,
            self.unusual or other.unusual,
        )

    def __sub__(self, other: ByteCounts) -> ByteCounts:
        return ByteCounts(
            self.newlines - other.newlines,
            self.seps - other.seps,
            self.quotes - other.quotes,
            self.quote_ends - other.quote_ends,
            self.unusual,  # what was taken away may have been the only such byte
        )


def count_bytes(
    data: bytes | bytearray, buf: np.ndarray, start: int, stop: int, sep: int = COMMA
) -> ByteCounts:
    """The :class:`ByteCounts` of ``data[start:stop]`` (``buf`` is ``data`` as NumPy sees
    it), a quote before ``start`` included."""
    if stop <= start:
        return ByteCounts()
    unusual = (
        data.find(b"\r", start, stop) >= 0
        or data.find(b"\0", start, stop) >= 0
        or int(buf[start:stop].max()) >= 128
    )
    low = max(start - 1, 0)
    is_quote = buf[low:stop] == QUOTE
    is_newline = buf[start:stop] == LF
    ends = buf[start:stop] == sep
    seps = int(np.count_nonzero(ends))
    ends |= is_newline
    if low == start:
        ends[0] = False  # the buffer's first byte follows nothing
        ends[1:] &= is_quote[:-1]
    else:
        ends &= is_quote[:-1]
    return ByteCounts(
        int(np.count_nonzero(is_newline)),
        seps,
        int(np.count_nonzero(is_quote[start - low :])),
        int(np.count_nonzero(ends)),
        unusual,
    )


def count_text(data: bytes | bytearray, sep: int = COMMA) -> ByteCounts:
    """:func:`count_bytes` of all of a short ``data``, by ``bytes.count``."""
    ends = data.count(bytes((QUOTE, sep))) + data.count(bytes((QUOTE, LF)))
    unusual = not data.isascii() or data.find(b"\r") >= 0 or data.find(b"\0") >= 0
    return ByteCounts(data.count(b"\n"), data.count(bytes((sep,))), data.count(b'"'), ends, unusual)


def record_cut(data: bytes | bytearray, quotes_total: int) -> int:
    """Bytes up to and including the last newline outside quotes (0: none yet), given the
    quotes of ``data`` (``quotes_total``, counted as the bytes were read)."""
    end = len(data)
    quotes_after = 0
    while True:
        newline = data.rfind(b"\n", 0, end)
        if newline < 0:
            return 0
        quotes_after += data.count(b'"', newline + 1, end)
        if (quotes_total - quotes_after) % 2 == 0:
            return newline + 1
        end = newline


def record_of(records: Records, positions: np.ndarray) -> np.ndarray:
    return np.searchsorted(records.starts, positions, side="right") - 1


def field_counts(buf: np.ndarray, records: Records, sep: int = COMMA) -> np.ndarray:
    if not len(records.starts):
        return np.zeros(0, dtype=np.int64)
    outside_commas = (buf == sep) & (records.inside == 0)
    counts: np.ndarray = np.add.reduceat(outside_commas, records.starts, dtype=np.int64) + 1
    return counts


def stray_quotes(buf: np.ndarray, quotes: np.ndarray, sep: int = COMMA) -> np.ndarray:
    """Positions of quotes that neither open nor close a field (COPY reads those differently)."""
    if not len(quotes):
        return quotes
    n = len(buf)
    index = np.arange(len(quotes))
    prev = np.where(quotes > 0, buf[np.maximum(quotes - 1, 0)], LF)
    nxt = np.where(quotes + 1 < n, buf[np.minimum(quotes + 1, n - 1)], LF)
    prev_is_quote = np.concatenate(([False], np.diff(quotes) == 1))
    next_is_quote = np.concatenate((np.diff(quotes) == 1, [False]))
    opening = (index & 1) == 0
    boundary_before = (prev == sep) | (prev == LF) | (prev == CR) | (quotes == 0)
    boundary_after = (nxt == sep) | (nxt == LF) | (nxt == CR) | (quotes + 1 == n)
    ok = np.where(opening, boundary_before | prev_is_quote, boundary_after | next_is_quote)
    result: np.ndarray = quotes[~ok]
    return result


def plain_quotes(buf: np.ndarray, quotes: np.ndarray, sep: int = COMMA) -> bool:
    """Whether no quote is stray (:func:`stray_quotes` finds none), for a block of whole
    records without a carriage return that ends in a line feed.

    There each even-numbered quote must follow a separator, a line feed, the start or
    another quote, and each odd-numbered one precede a separator, a line feed or
    another quote: only those bytes are looked at.
    """
    if not len(quotes):
        return True
    before = buf[quotes[0::2] - 1]  # at the start, index -1 is the final line feed
    if not bool(((before == sep) | (before == LF) | (before == QUOTE)).all()):
        return False
    after = buf[quotes[1::2] + 1]  # the final byte is a line feed, never a quote
    return bool(((after == sep) | (after == LF) | (after == QUOTE)).all())


def quotes_before_ends(buf: np.ndarray, sep: int = COMMA) -> int:
    """How many quotes are followed by a separator or a line feed, counted over the byte
    pairs at even and at odd offsets (each read as a little-endian ``uint16``)."""
    with_sep, with_lf = QUOTE | sep << 8, QUOTE | LF << 8
    found = 0
    for first in (0, 1):
        pairs = (len(buf) - first) // 2
        words = buf[first : first + 2 * pairs].view("<u2")
        found += int(np.count_nonzero(words == with_sep)) + int(np.count_nonzero(words == with_lf))
    return found


def _bare_carriage_returns(buf: np.ndarray, records: Records) -> np.ndarray:
    crs = np.flatnonzero((buf == CR) & (records.inside == 0))
    n = len(buf)
    follower = np.where(crs + 1 < n, buf[np.minimum(crs + 1, n - 1)], 0)
    result: np.ndarray = crs[follower != LF]
    return result


def _bad_encoding(buf: np.ndarray, records: Records) -> dict[int, str]:
    bad: dict[int, str] = {}
    for record in np.unique(record_of(records, np.flatnonzero(buf == NUL))):
        bad[int(record)] = "contains a NUL byte, which PostgreSQL text cannot hold"
    if len(buf) and int(buf.max()) < 128:
        return bad
    try:
        buf.tobytes().decode("utf-8")
        return bad
    except UnicodeDecodeError:
        pass
    high = np.flatnonzero(buf >= 128)
    for record in np.unique(record_of(records, high)):
        start, stop = int(records.starts[record]), int(records.stops[record])
        try:
            buf[start:stop].tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.setdefault(
                int(record),
                f"is not UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
                "save the file as UTF-8 (Latin-1 and Windows-1252 are not read)",
            )
    return bad


def record_problems(
    buf: np.ndarray,
    records: Records,
    expected_fields: int,
    crlf_header: bool,
    sep: int = COMMA,
) -> dict[int, tuple[str, str]]:
    """Records COPY would refuse, by record index: ``(rule, message)``."""
    problems: dict[int, tuple[str, str]] = {}

    def mark(indices: np.ndarray, rule: str, message: str) -> None:
        for i in indices.tolist():
            problems.setdefault(int(i), (rule, message))

    for record, message in _bad_encoding(buf, records).items():
        problems.setdefault(record, ("encoding", message))
    if records.unterminated:
        mark(np.array([len(records.starts) - 1]), "csv_format", "a quoted field is never closed")
    mark(
        np.unique(record_of(records, stray_quotes(buf, records.quotes, sep))),
        "csv_format",
        'has a stray quote: a " may only open or close a whole field, '
        'and inside one it is written ""',
    )
    mark(
        np.unique(record_of(records, _bare_carriage_returns(buf, records))),
        "csv_format",
        "has a carriage return outside quotes",
    )
    terminated = records.stops < len(buf)
    mixed = terminated & (records.crlf != crlf_header)
    mark(np.flatnonzero(mixed), "csv_format", "line ending differs from the header's (CRLF vs LF)")
    counts = field_counts(buf, records, sep)
    lengths = records.stops - records.starts
    for i in np.flatnonzero(counts != expected_fields).tolist():
        if lengths[i] == 0 and expected_fields > 1:
            message = "is an empty line; COPY reads it as a row with missing fields"
        else:
            message = f"has {counts[i]} fields, the header has {expected_fields}"
        problems.setdefault(int(i), ("csv_format", message))
    for i in np.flatnonzero(lengths == 2).tolist():
        start = int(records.starts[i])
        if buf[start] == ord("\\") and buf[start + 1] == ord("."):
            problems.setdefault(int(i), ("csv_format", "a line holding only \\. ends COPY data"))
    return problems
