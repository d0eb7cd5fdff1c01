"""Compact memory of key values: 64-bit hashes in one sorted NumPy array.

Uniqueness across chunks and foreign keys across files need the keys seen so
far. Kept as Python strings they would cost ~100 bytes a key; a
:class:`KeySet` keeps 8 (five million emails: 40 MB). Two different keys share
a hash with probability ~n²/2⁶⁵ (about 10⁻⁶ for five million keys): the
effect would be a reported duplicate that is not one, or, for a foreign key,
a missing parent that goes unnoticed with that same tiny chance.
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
        if not isinstance(values.dtype, pd.StringDtype):
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
    """The hashes of the keys seen so far."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.hashes)

    def contains_sorted(self, ordered: np.ndarray) -> np.ndarray:
        """True where a hash of the sorted array ``ordered`` was seen before."""
        if not len(self.hashes) or not len(ordered):
            return np.zeros(len(ordered), dtype=bool)
        at = np.minimum(np.searchsorted(self.hashes, ordered), len(self.hashes) - 1)
        found: np.ndarray = self.hashes[at] == ordered
        return found

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """True where a hash was seen before (any order of ``hashes``)."""
        order = np.argsort(hashes)
        found = np.empty(len(hashes), dtype=bool)
        # Sorted needles make searchsorted walk memory in order: several times faster.
        found[order] = self.contains_sorted(hashes[order])
        return found

    def add_sorted(self, new: np.ndarray) -> None:
        """Remember ``new``: sorted, distinct and not seen before."""
        if len(new):
            self.hashes = np.insert(self.hashes, np.searchsorted(self.hashes, new), new)

    def add(self, hashes: np.ndarray) -> None:
        """Remember ``hashes``."""
        self.add_sorted(np.unique(hashes[~self.contains(hashes)]))


__all__ = ["KeySet", "first_duplicates", "key_hashes"]
