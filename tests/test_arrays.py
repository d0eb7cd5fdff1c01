"""Arrow arrays built and read over their buffers give what pyarrow's conversions give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from seedbed.validation.arrays import (
    bool_array,
    integers,
    null_mask,
    numeric_array,
    repeated_string,
    string_array,
    true_mask,
    valid_mask,
    with_nulls,
)

TEXTS = ["a", None, "ccc", "", "dd", None, "é", "fff", "g", "hh", "i"]


def _slices(arr: pa.Array) -> list[pa.Array]:
    """The array, and slices of it that start inside a bitmap byte and on its edge."""
    return [arr, arr.slice(1), arr.slice(3, 6), arr.slice(8), arr.slice(2, 0)]


@pytest.mark.parametrize("arr", _slices(pa.array(TEXTS)))
def test_masks_read_from_the_bitmap_are_pyarrows(arr: pa.Array) -> None:
    assert null_mask(arr).tolist() == arr.is_null().to_pylist()
    assert valid_mask(arr).tolist() == arr.is_valid().to_pylist()


@pytest.mark.parametrize("arr", _slices(pa.array([True, None, False, True, None, True] * 3)))
def test_a_boolean_array_reads_null_as_false(arr: pa.Array) -> None:
    assert true_mask(arr).tolist() == arr.fill_null(False).to_pylist()
    chunked = pa.chunked_array([arr, arr])
    assert true_mask(chunked).tolist() == arr.fill_null(False).to_pylist() * 2


@pytest.mark.parametrize("kind", [pa.int32(), pa.int64(), pa.timestamp("us")])
def test_integers_fill_the_nulls(kind: pa.DataType) -> None:
    arr = pa.array([5, None, -7, 2**31 - 1, None, 0, 9, 10, 11], pa.int64()).cast(kind)
    for part in _slices(arr):
        found = integers(part, fill=-1)
        assert found.dtype == np.int64
        assert found.tolist() == part.cast(pa.int64()).fill_null(-1).to_pylist()
        found[:] = 3  # the caller's own copy


def test_arrays_built_from_numpy_hold_the_values_and_nulls() -> None:
    truth = np.array([True, False, True, True, False, False, True, False, True])
    valid = np.array([True, True, False, True, True, True, True, True, False])
    expected = [t if v else None for t, v in zip(truth.tolist(), valid.tolist(), strict=True)]
    assert bool_array(truth, valid).to_pylist() == expected
    assert bool_array(truth).to_pylist() == truth.tolist()
    stamps = numeric_array(np.arange(9, dtype=np.int64), pa.timestamp("us"), valid)
    assert stamps.cast(pa.int64()).to_pylist() == [i if valid[i] else None for i in range(9)]
    assert stamps.null_count == 2


def test_strings_built_from_python_and_repeated() -> None:
    built = string_array(TEXTS)
    built.validate(full=True)
    assert built.to_pylist() == TEXTS
    assert string_array([]).to_pylist() == []
    assert repeated_string("dräft", 4).to_pylist() == ["dräft"] * 4
    assert repeated_string("x", 0).to_pylist() == []


@pytest.mark.parametrize("arr", _slices(pa.array(TEXTS)))
def test_cells_made_null_keep_the_others_and_their_buffers(arr: pa.Array) -> None:
    rows = np.arange(len(arr)) % 3 == 1
    found = with_nulls(arr, rows)
    found.validate(full=True)
    expected = [None if drop else v for v, drop in zip(arr.to_pylist(), rows, strict=True)]
    assert found.to_pylist() == expected
    assert found.null_count == sum(v is None for v in expected)
    lengths = pc.utf8_length(pa.array(expected, pa.string()))
    assert pc.utf8_length(found).to_pylist() == lengths.to_pylist()
    if rows.any():
        assert found.buffers()[2].address == arr.buffers()[2].address  # no data copied
    else:
        assert found is arr
