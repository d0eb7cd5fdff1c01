"""Arrow arrays to and from NumPy over their buffers, without pyarrow's conversions.

pyarrow imports pandas whenever it converts Python or NumPy values to Arrow
(``pa.array``, ``pa.scalar``, a Python value given to a kernel such as
``fill_null(False)`` or ``pc.less(arr, 3)``) and whenever it converts Arrow to
NumPy (``Array.to_numpy``): both go through its pandas bridge, which imports
pandas first. A valid file's run needs neither, so the reader and the typing of
columns build their arrays here, from buffers (``pa.py_buffer`` and
``pa.Array.from_buffers`` import nothing), and read them back as NumPy views.
Marking cells null rebuilds the array over its own buffers with a narrower
validity bitmap: nothing is copied but the bitmap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from seedbed.lazymodules import lazy_module
from seedbed.sqltext import DAY_US

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    np = lazy_module("numpy")
    pa = lazy_module("pyarrow")
    pc = lazy_module("pyarrow.compute")


def _bits(buffer: pa.Buffer | None, offset: int, length: int) -> np.ndarray:
    """Bits ``offset`` to ``offset + length`` of a little-endian bitmap, as booleans."""
    if not length or buffer is None:
        return np.zeros(length, dtype=bool)
    raw = np.frombuffer(buffer, dtype=np.uint8, count=(offset + length + 7) // 8)
    bits = np.unpackbits(raw, count=offset + length, bitorder="little")[offset:]
    return bits.view(bool)


def _bitmap(flags: np.ndarray, offset: int = 0) -> pa.Buffer:
    """``flags`` as a little-endian bitmap whose bit ``offset`` is ``flags[0]``."""
    if offset:
        flags = np.concatenate([np.zeros(offset, dtype=bool), flags])
    return pa.py_buffer(np.packbits(flags, bitorder="little"))


def valid_mask(arr: pa.Array) -> np.ndarray:
    """True where ``arr`` holds a value (is not null)."""
    if not arr.null_count:
        return np.ones(len(arr), dtype=bool)
    return _bits(arr.buffers()[0], arr.offset, len(arr))


def null_mask(arr: pa.Array) -> np.ndarray:
    """True where ``arr`` is null."""
    if not arr.null_count:
        return np.zeros(len(arr), dtype=bool)
    return ~valid_mask(arr)


def true_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean array's values as NumPy: True where true, False where false or null
    (``arr.fill_null(False).to_numpy()``)."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            parts = [true_mask(chunk) for chunk in arr.chunks]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        arr = arr.chunk(0)
    found = _bits(arr.buffers()[1], arr.offset, len(arr))
    return found & valid_mask(arr) if arr.null_count else found


def integers(arr: pa.Array, fill: int = 0) -> np.ndarray:
    """An integer (or timestamp) array's values as NumPy ``int64``, ``fill`` where null."""
    if not len(arr):
        return np.zeros(0, dtype=np.int64)
    width = arr.type.bit_width // 8
    kind = np.dtype(f"<i{width}")
    values = np.frombuffer(arr.buffers()[1], dtype=kind, count=arr.offset + len(arr))
    found = values[arr.offset :].astype(np.int64)  # a copy the caller may write to
    if arr.null_count:
        found[null_mask(arr)] = fill
    return found


def bool_array(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """NumPy booleans as an Arrow boolean array, null where not ``valid``."""
    bitmap = None if valid is None or valid.all() else _bitmap(valid)
    return pa.Array.from_buffers(pa.bool_(), len(values), [bitmap, _bitmap(values)])


def numeric_array(
    values: np.ndarray, target: pa.DataType, valid: np.ndarray | None = None
) -> pa.Array:
    """NumPy numbers as an Arrow array of ``target`` (of the same width) over their memory,
    null where not ``valid``."""
    values = np.ascontiguousarray(values)
    bitmap = None if valid is None or valid.all() else _bitmap(valid)
    return pa.Array.from_buffers(target, len(values), [bitmap, pa.py_buffer(values)])


def string_array(values: Sequence[str | None]) -> pa.Array:
    """Python strings (None for null) as an Arrow string array."""
    encoded = [b"" if value is None else value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    valid = np.fromiter((value is not None for value in values), bool, len(values))
    bitmap = None if valid.all() else _bitmap(valid)
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(values), [bitmap, pa.py_buffer(offsets), data])


def hex_text(arr: pa.Array) -> pa.Array:
    """Binary values (any of Arrow's binary kinds) as the hex text ``bytea`` reads back as
    the same bytes (``\\x0102``), written over buffers: each byte's two digits are one
    16-bit word of a table, and each value's ``\\x`` another, put before its first."""
    if not pa.types.is_large_binary(arr.type):
        arr = arr.cast(pa.large_binary())
    count = len(arr)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=arr.offset + count + 1)[arr.offset :]
    start, stop = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)[start:stop]
        if stop > start
        else np.zeros(0, np.uint8)
    )
    pairs = np.frombuffer(bytes(range(256)).hex().encode(), dtype=np.uint16)
    prefix = np.frombuffer(b"\\x", dtype=np.uint16)
    words = np.insert(pairs[data], offsets[:-1] - start, prefix)
    written = ((offsets - start) + np.arange(count + 1, dtype=np.int64)) * 2
    small = written[-1] < 2**31
    kind, written = (
        (pa.string(), written.astype(np.int32)) if small else (pa.large_string(), written)
    )
    bitmap = _bitmap(valid_mask(arr)) if arr.null_count else None
    return pa.Array.from_buffers(
        kind, count, [bitmap, pa.py_buffer(written), pa.py_buffer(words)], null_count=arr.null_count
    )


def repeated_string(text: str, length: int) -> pa.Array:
    """``text`` ``length`` times, as an Arrow string array."""
    encoded = text.encode("utf-8")
    offsets = np.arange(length + 1, dtype=np.int32) * np.int32(len(encoded))
    data = pa.py_buffer(encoded * length)
    return pa.Array.from_buffers(pa.string(), length, [None, pa.py_buffer(offsets), data])


def with_nulls(arr: pa.Array, rows: np.ndarray) -> pa.Array:
    """``arr`` with the cells at the True ``rows`` null, over the same value buffers."""
    if not rows.any():
        return arr
    valid = valid_mask(arr) & ~rows
    buffers = arr.buffers()
    return pa.Array.from_buffers(
        arr.type,
        len(arr),
        [_bitmap(valid, arr.offset), *buffers[1:]],
        null_count=len(arr) - int(np.count_nonzero(valid)),
        offset=arr.offset,
    )


def holds_dates(cells: np.ndarray) -> bool:
    """Are ``cells`` (objects) dates as a typed frame holds them (see :func:`date_array`):
    ``datetime.date`` (a ``datetime`` too) or NumPy ``datetime64``, and missing values
    (None, NaN, pandas' NA), at least one a date? Stops at the first other value."""
    from datetime import date

    found = False
    for value in cells:
        if isinstance(value, date | np.datetime64):
            found = True
        elif not (
            value is None
            or type(value).__name__ == "NAType"
            or (isinstance(value, float) and value != value)
        ):
            return False
    return found


def date_array(cells: np.ndarray, missing: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Dates as a typed frame holds them (``datetime.date`` objects; NumPy ``datetime64``
    for those Python cannot hold, ``infinity`` and ``-infinity`` as the microseconds that
    stand for them in a time stamp series, see ``coerce.arrow_series``) as an Arrow
    ``date32`` array, null where ``missing``, with ``infinity`` and ``-infinity`` as
    int32's largest and smallest (as PostgreSQL holds a date's); and, per cell, whether
    it held a time of day (a ``datetime`` or ``datetime64`` past midnight), which a date
    drops."""
    if cells.dtype == object and missing.any():  # NaN, pd.NA: NumPy reads None as NaT
        cells = cells.copy()
        cells[missing] = None
    micros = np.asarray(cells, dtype="datetime64[us]").view(np.int64)
    stamps, held = np.iinfo(np.int64), np.iinfo(np.int32)
    infinite, minus = micros == stamps.max, micros <= stamps.min + 1
    days = np.floor_divide(micros, DAY_US)
    timed = (micros - days * DAY_US != 0) & ~infinite & ~minus & ~missing
    days[infinite] = held.max
    days[minus | missing] = held.min
    return numeric_array(days.astype(np.int32), pa.date32(), ~missing), timed


#: Arrow float types pandas holds as they are, with magnitudes inside which pandas' text
#: of a value (``astype(str)``: Python's ``repr`` of a ``double``, NumPy's ``str`` of a
#: ``float``) is plain digits: from 1e-4 to 1e16 for a ``double``, to 1e6 for a ``float``
#: (bounds kept inside those, so that none is relied on to the last digit).
PLAIN_FLOATS = {"double": (1e-3, 1e14), "float": (1e-3, 1e5)}


def float_values(arr: pa.Array) -> np.ndarray:
    """A float array's values as NumPy, of its own width, NaN where null (``to_numpy``
    would import pandas for the nulls)."""
    kind = np.dtype(f"<f{arr.type.bit_width // 8}")
    if not len(arr):
        return np.zeros(0, dtype=kind)
    values = np.frombuffer(arr.buffers()[1], dtype=kind, count=arr.offset + len(arr))
    found = values[arr.offset :].copy()
    found[null_mask(arr)] = np.nan
    return found


def float_text(arr: pa.Array) -> pa.Array:
    """A ``double`` or ``float`` Arrow array as pandas writes its values as text
    (``astype(str)``), NaN null as pandas holds it. Arrow writes the same shortest digits
    that read back as the value; where both write them plainly they are Arrow's, with
    ``.0`` after a whole number as Python writes it; the rest (tiny, huge, ``inf``, and
    any Arrow writes with an exponent, such as ``1e+15``) are written one by one, as
    pandas writes them."""
    low, high = PLAIN_FLOATS[str(arr.type)]
    numbers = float_values(arr)
    present = ~np.isnan(numbers)
    size = np.abs(np.where(present, numbers, 0.0))
    text = arr.cast(pa.string())
    plain = present & (((low <= size) & (size < high)) | (size == 0))
    plain &= ~true_mask(pc.match_substring(text, "e"))
    whole = plain & ~true_mask(pc.match_substring(text, "."))
    if whole.any():
        end = 2**40  # past every value's end: the slice replaced is empty there
        point = pc.utf8_replace_slice(text, start=end, stop=end, replacement=".0")
        text = pc.if_else(bool_array(whole), point, text)
    odd = np.flatnonzero(present & ~plain)
    if len(odd):
        written = string_array([str(value) for value in numbers[odd]])
        mask = np.zeros(len(arr), dtype=bool)
        mask[odd] = True
        text = pc.replace_with_mask(text, bool_array(mask), written)
    return with_nulls(text, ~present)


__all__ = [
    "PLAIN_FLOATS",
    "bool_array",
    "date_array",
    "float_text",
    "float_values",
    "holds_dates",
    "integers",
    "null_mask",
    "numeric_array",
    "repeated_string",
    "string_array",
    "true_mask",
    "valid_mask",
    "with_nulls",
]
