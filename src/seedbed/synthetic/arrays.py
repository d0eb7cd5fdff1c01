"""Vectorised building blocks for synthetic columns: NumPy in, pyarrow out.

No per-row Python and no ``np.char``: a million values take milliseconds.
Every unique text value a generator makes carries the ``synthetic.example``
domain or a ``syn`` marker, so a generated set never collides with
hand-written seeds.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seedbed.sqltext import DAY_US

SYNTHETIC_DOMAIN = "synthetic.example"
EPOCH = np.datetime64("2024-01-01T00:00:00", "us")
WORDS = pa.array(
    ["data", "model", "seed", "postgres", "index", "query", "schema", "copy", "notes", "guide"]
)

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Every byte value's two hex digits as one uint16: one gather per byte, not two.
_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 0x0F]], axis=1)
_HEX_PAIRS = np.ascontiguousarray(_HEX_PAIRS).view(np.uint16).ravel()


def stream(seed: int, *names: str) -> np.random.Generator:
    """An independent random stream for ``names`` (a table, a purpose), fixed by ``seed``."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode()) for name in names)])


def fixed_width_strings(data: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 array of ASCII, without copying per row."""
    n, width = data.shape
    string_type = pa.string() if n * width < 2**31 else pa.large_string()
    offset_type = np.int32 if string_type == pa.string() else np.int64
    offsets = np.arange(0, (n + 1) * width, width, dtype=offset_type)
    return pa.Array.from_buffers(
        string_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    )


def _hex(raw: np.ndarray) -> np.ndarray:
    """An (n, 2k) array of hex digits for an (n, k) array of bytes."""
    pairs: np.ndarray = _HEX_PAIRS[raw]
    return pairs.view(np.uint8).reshape(raw.shape[0], raw.shape[1] * 2)


def uuid4_strings(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random lowercase UUID v4 strings, vectorised."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = _hex(raw)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        out[:, at : at + stop - start] = nibbles[:, start:stop]
    return fixed_width_strings(out)


def numbers(values: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(values), pa.string())


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    return pc.binary_join_element_wise(*parts, "")


def hex_tokens(rng: np.random.Generator, n: int, prefix: str) -> pa.Array:
    """Unique opaque tokens: a counter (for uniqueness) plus 24 random hex chars."""
    random_part = fixed_width_strings(_hex(rng.integers(0, 256, size=(n, 12), dtype=np.uint8)))
    return join(f"{prefix}_", numbers(np.arange(n)), "_", random_part)


def timestamps(rng: np.random.Generator, n: int, days: int = 365) -> np.ndarray:
    """Random instants in the ``days`` after 2024-01-01, microsecond resolution."""
    offsets = rng.integers(0, days * DAY_US, size=n)
    return EPOCH + offsets.astype("timedelta64[us]")


def after(rng: np.random.Generator, start: np.ndarray, days: float) -> np.ndarray:
    """Instants between ``start`` and ``days`` later (strictly later by at least 1 ms)."""
    step = rng.integers(1_000, max(int(days * DAY_US), 1_001), size=len(start))
    later: np.ndarray = start + step.astype("timedelta64[us]")
    return later


def timestamp_array(
    values: np.ndarray, mask: np.ndarray | None = None, *, utc: bool = True
) -> pa.Array:
    """Microsecond timestamps (UTC for ``timestamptz``) with NULL where ``mask`` is True."""
    type_ = pa.timestamp("us", tz="UTC" if utc else None)
    return pa.array(values.astype("datetime64[us]"), type=pa.timestamp("us"), mask=mask).view(type_)


_OCTETS = pa.array([str(i) for i in range(256)])


def ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    """Random IPv4 addresses (octets 1 to 254), spelled without leading zeros."""
    octets = rng.integers(1, 255, size=(n, 4))
    parts = (_OCTETS.take(pa.array(octets[:, i])) for i in range(4))
    return pc.binary_join_element_wise(*parts, ".")


def pick(rng: np.random.Generator, values: pa.Array, n: int) -> pa.Array:
    """``n`` values drawn uniformly from ``values``."""
    return values.take(pa.array(rng.integers(0, len(values), size=n)))


def null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    """``values`` with NULL where ``mask`` is True."""
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def activity(rng: np.random.Generator, n: int, sigma: float = 1.2) -> np.ndarray:
    """Lognormal weights, one per parent row: a few very active parents, many quiet ones."""
    return rng.lognormal(0.0, sigma, size=n)


def assign(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` parent row numbers, each drawn with probability proportional to ``weights``.

    Children per parent then follow a skewed (mixed Poisson-lognormal)
    distribution: many parents get none, a few get dozens. The rows come in
    random order (a multinomial count per parent, repeated, then shuffled:
    far faster than a binary search per child).
    """
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64) if n == 0 else np.full(n, -1, dtype=np.int64)
    share = weights / weights.sum()
    counts = rng.multinomial(n, share / share.sum())
    rows = np.repeat(np.arange(len(weights)), counts)
    rng.shuffle(rows)
    return rows


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted (faster than ``np.unique``'s hashing)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (copying only when there are several chunks)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as CSV text the way seed files spell it (ISO 8601 with ``Z`` for UTC)."""
    values = single(values)
    type_ = values.type
    if pa.types.is_timestamp(type_):
        naive = values.view(pa.timestamp(type_.unit))  # formatting with a zone is 10x slower
        text = pc.cast(naive, pa.string())
        return join(text, "Z") if type_.tz else text
    if pa.types.is_date(type_):
        return pc.cast(values, pa.string())
    return values
