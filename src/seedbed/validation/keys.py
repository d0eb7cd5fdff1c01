"""Compact memory of key values: 64-bit hashes in sorted NumPy arrays.

Uniqueness across chunks and foreign keys across files need the keys seen so
far. Keeping them as Python strings would cost ~100 bytes a key; a
:class:`KeySet` keeps 8 bytes of hash plus 8 of line number. Two different
keys share a hash with probability ~n²/2⁶⁵ (about 10⁻⁶ for five million
keys); the effect would be a reported duplicate that is not one, never a
missed problem for uniqueness, and for a foreign key a missing parent that
goes unnoticed with that same tiny chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def key_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One uint64 per row for the values of ``columns`` (same values, same hash)."""
    parts = {}
    for i, name in enumerate(columns):
        values = frame[name]
        if not (isinstance(values.dtype, pd.StringDtype)):
            values = values.astype("str")
        parts[f"k{i}"] = values.reset_index(drop=True)
    keys = pd.DataFrame(parts) if len(parts) > 1 else parts["k0"]
    hashed = pd.util.hash_pandas_object(keys, index=False, categorize=False)
    return np.asarray(hashed.to_numpy(), dtype=np.uint64)


def first_duplicates(hashes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first earlier row with the same hash, else -1."""
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    starts = np.concatenate(([True], sorted_hashes[1:] != sorted_hashes[:-1]))
    group_first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    earlier = np.full(len(hashes), -1, dtype=np.int64)
    earlier[order[~starts]] = group_first[~starts]
    return earlier


class KeySet:
    """Hashes of the keys seen so far, with the line each was first seen on."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.lines = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.hashes)

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """The stored line of each hash, or -1 where it was not seen."""
        if not len(self.hashes) or not len(hashes):
            return np.full(len(hashes), -1, dtype=np.int64)
        at = np.searchsorted(self.hashes, hashes)
        clipped = np.minimum(at, len(self.hashes) - 1)
        found = self.hashes[clipped] == hashes
        return np.where(found, self.lines[clipped], -1)

    def add(self, hashes: np.ndarray, lines: np.ndarray) -> None:
        """Remember ``hashes`` (already known hashes keep their first line)."""
        if not len(hashes):
            return
        new = self.find(hashes) < 0
        hashes, lines = hashes[new], lines[new]
        if len(hashes):
            keep = first_duplicates(hashes) < 0
            hashes, lines = hashes[keep], lines[keep]
        merged = np.concatenate((self.hashes, hashes))
        # argsort of two sorted runs is a merge in timsort: linear, not n log n.
        order = np.argsort(merged, kind="stable")
        self.hashes = merged[order]
        self.lines = np.concatenate((self.lines, lines.astype(np.int64)))[order]


__all__ = ["KeySet", "first_duplicates", "key_hashes"]
