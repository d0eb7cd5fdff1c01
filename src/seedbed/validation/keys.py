"""Compact memory of key values: 64-bit hashes in a few sorted NumPy arrays.

Uniqueness across chunks and foreign keys across files need the keys seen so
far. Kept as Python strings they would cost ~100 bytes a key; a
:class:`KeySet` keeps 8, plus about 1 for a bitmap that answers most misses at
once (five million emails: about 44 MB). Two different keys share
a hash with probability ~n²/2⁶⁵ (about 10⁻⁶ for five million keys): the
effect would be a reported duplicate that is not one, or, for a foreign key,
a missing parent that goes unnoticed with that same tiny chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seedbed.facts import TableSpec, UniqueKey
from seedbed.validation.keyforms import Forms
from seedbed.validation.keytext import key_forms, key_text, pandas_key_text

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl


def key_hashes(frame: pd.DataFrame, columns: Sequence[str], forms: Forms = None) -> np.ndarray:
    """One uint64 per row for the values of ``columns`` (same values, same hash).

    Values are hashed as their :func:`~seedbed.validation.keytext.key_text` (in ``forms``),
    by Polars on every core (its hashes are stable within one Polars version, and a run
    never keeps them longer): a key hashed here from pandas and one hashed from a Polars
    frame agree.
    """
    text = pandas_key_text(frame, columns, forms)
    return np.asarray(text.hash_rows(seed=0).to_numpy(), dtype=np.uint64)


def held_expr(key: UniqueKey, condition: pl.Expr | None = None) -> pl.Expr:
    """True for the rows ``key`` holds (:meth:`~seedbed.facts.UniqueKey.holds`), as a Polars
    expression; ``condition``: the truth of its ``condition``, NULL false."""
    import polars as pl

    parts = [
        *(pl.col(str(c)).is_not_null() for c in key.filled),
        *(pl.col(str(c)).is_null() for c in key.where_null),
        *(() if condition is None else (condition,)),
    ]
    return pl.all_horizontal(*parts) if parts else pl.lit(True)


@dataclass
class ChunkKeys:
    """One unique key over one chunk: the rows it holds and their hashes, sorted once.

    ``ordered``: ``hashes`` sorted; ``starts`` marks, in that order, the first
    of each distinct hash. ``earlier``: for each held row, the position (among
    held rows) of the first earlier row with the same key, else -1.
    """

    rows: np.ndarray
    hashes: np.ndarray
    ordered: np.ndarray
    starts: np.ndarray
    earlier: np.ndarray
    _order: np.ndarray | None = None

    @property
    def order(self) -> np.ndarray:
        """The permutation that sorts ``hashes`` (equal ones in row order)."""
        if self._order is None:  # distinct hashes: any sort gives this one order
            self._order = np.argsort(self.hashes)
        return self._order

    def passes(self) -> np.ndarray:
        """True for every row of the chunk but the second and later sharing a key."""
        ok = np.ones(len(self.rows), dtype=bool)
        ok[np.flatnonzero(self.rows)] = self.earlier < 0
        return ok


def chunk_keys(frame: pd.DataFrame, key: UniqueKey, forms: Forms = None) -> ChunkKeys:
    """Hash and sort ``key`` over ``frame`` once, for the check within and across chunks
    (``forms``: its columns' key forms, see :func:`key_forms`)."""
    rows = key.holds(frame)
    if not rows.any():
        return _sorted(rows, np.zeros(0, np.uint64))
    hashes = key_hashes(frame.loc[rows], key.columns, forms)
    return _sorted(rows, hashes)


def polars_chunk_keys(
    frame: pl.DataFrame,
    keys: Sequence[UniqueKey],
    spec: TableSpec | None = None,
    conditions: Mapping[str, pl.Expr] | None = None,
) -> dict[str, ChunkKeys]:
    """:func:`chunk_keys` of the ``keys`` (of ``spec``'s table: their columns' key forms;
    None: as written) whose columns ``frame`` holds (as their key text), hashed from the
    Polars frame (the same hashes as :func:`key_hashes` gives). ``conditions``: per key
    name, the truth of the key's condition (NULL false) as a Polars expression.

    Keys with a column missing, of a type without a key text, or with a condition not in
    ``conditions`` are left out: the caller hashes them from the pandas frame.
    """
    schema = frame.schema  # built anew on each access
    conditions = conditions or {}
    texts = {
        key.name: text
        for key in keys
        if all(str(c) in schema for c in key.reads)
        and (key.condition is None or key.name in conditions)
        and (text := key_text(frame, key.columns, _forms(spec, key))) is not None
    }
    here = [key for key in keys if key.name in texts]
    if not here:
        return {}
    # A key whose columns hold no NULL (a count Polars keeps) holds every row: no query.
    every = [
        not key.where_null
        and key.condition is None
        and not any(frame.get_column(str(c)).null_count() for c in key.filled)
        for key in here
    ]
    asked = [key for key, whole in zip(here, every, strict=True) if not whole]
    masks = (
        frame.select(
            held_expr(k, conditions.get(k.name)).alias(f"h{i}") for i, k in enumerate(asked)
        )
        if asked
        else None
    )
    out = {}
    for key, whole in zip(here, every, strict=True):
        values = texts[key.name]
        if masks is None or whole:
            rows = np.ones(frame.height, dtype=bool)
        else:
            mask = masks[f"h{asked.index(key)}"]
            rows = mask.to_numpy()
            values = values.filter(mask) if rows.any() else values.clear()
        hashes = values.hash_rows(seed=0).to_numpy() if len(values) else np.zeros(0, np.uint64)
        out[key.name] = _sorted(rows, np.asarray(hashes, dtype=np.uint64))
    return out


def _forms(spec: TableSpec | None, key: UniqueKey) -> Forms:
    return None if spec is None else key_forms(spec, key.columns)


def _sorted(rows: np.ndarray, hashes: np.ndarray) -> ChunkKeys:
    ordered = np.sort(hashes)  # a sort without the permutation: a good deal faster
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if len(ordered) else ordered > 0
    earlier = np.full(len(hashes), -1, dtype=np.int64)
    if starts.all():  # the usual case: no key twice, no permutation needed yet
        return ChunkKeys(rows, hashes, ordered, starts, earlier)
    order = np.argsort(hashes, kind="stable")  # equal keys: the first row first
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    earlier[order[~starts]] = first[~starts]
    return ChunkKeys(rows, hashes, ordered, starts, earlier, order)


#: Runs are not merged past this many keys (4 MB): a merge's copy stays small, and a key
#: is copied fewer times; the bitmap keeps the searches of the more runs rare.
MAX_MERGED = 1 << 19
#: The key set's bitmap holds at least this many bits a key, rounded up to a power
#: of two (0.75 to 1.5 bytes a key); at most about one new key in eleven finds both its
#: bits set (one in twenty-five at 9 bits a key).
BITMAP_BITS_PER_KEY = 6
_MARKED = 1 << 16  # keys marked in the bitmap at a time
_PAIR_MASK = (1 << 12) - 1
#: A key's two bits in its 64-bit bitmap word, by its hash's low 12 bits (6 a position).
_PAIRS = (np.uint64(1) << (np.arange(1 << 12, dtype=np.uint64) & np.uint64(63))) | (
    np.uint64(1) << (np.arange(1 << 12, dtype=np.uint64) >> np.uint64(6))
)


class KeySet:
    """The hashes of the keys seen so far, in a few sorted runs (a log-structured set).

    Each chunk's new keys are one sorted run; two runs are merged when the
    newer is at least half as long as the older and the older holds fewer
    than :data:`MAX_MERGED`, so there are about log2 of the chunks' count runs
    (plus one per ``MAX_MERGED`` keys), and a key is copied about that many
    times in all. A bitmap of :data:`BITMAP_BITS_PER_KEY` bits or more a key,
    two bits set per key in one 64-bit word (a blocked Bloom filter: the
    hash's top bits pick the word, its low bits the two bits) answers most
    lookups of a key not seen at once (all but about one in eleven, at most);
    the rest take one vectorised binary search per run, largest first, until
    found. Memory stays at about 9 bytes a key, plus
    one merge's copy of at most ``MAX_MERGED``.

    :meth:`expect` sizes the bitmap for the keys to come at once (a file's
    rows, told by its size), so it is not marked anew each time it doubles.
    Once complete, a parent's keys are :meth:`compact`: one run, no bitmap;
    foreign keys, which are nearly all found, then take one binary search each.
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self._count = 0
        self._bits = 0  # the bitmap holds 2**_bits bits (none while empty)
        self._bitmap = np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return self._count

    @property
    def hashes(self) -> np.ndarray:
        """Every hash, sorted (a copy)."""
        return np.sort(np.concatenate([np.empty(0, np.uint64), *self.runs]))

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each hash's bitmap word (its top bits) and its two bits there (its low 12 bits)."""
        word = (hashes >> np.uint64(70 - self._bits)).astype(np.intp)
        return word, _PAIRS[(hashes & np.uint64(_PAIR_MASK)).astype(np.intp)]

    def _mark(self, hashes: np.ndarray) -> None:
        for start in range(0, len(hashes), _MARKED):  # a slice at a time: small temporaries
            np.bitwise_or.at(self._bitmap, *self._slots(hashes[start : start + _MARKED]))

    def _maybe(self, hashes: np.ndarray) -> np.ndarray:
        """False for hashes surely not seen; True for the rest (seen, or sharing both bits)."""
        if not self.runs:
            return np.zeros(len(hashes), dtype=bool)
        if not self._bits:  # compacted: no bitmap
            return np.ones(len(hashes), dtype=bool)
        return self._marked(*self._slots(hashes))

    def _marked(self, word: np.ndarray, pair: np.ndarray) -> np.ndarray:
        found: np.ndarray = (self._bitmap[word] & pair) == pair
        return found

    def contains_sorted(self, ordered: np.ndarray, *, likely: bool = False) -> np.ndarray:
        """True where a hash of the sorted array ``ordered`` was seen before.

        ``likely``: most of them are expected to be held (foreign keys): the
        bitmap, which answers only misses, is not asked.
        """
        if not self.runs:
            return np.zeros(len(ordered), dtype=bool)
        if likely or not self._bits:
            return self._search(ordered, None)
        return self._search(ordered, np.flatnonzero(self._maybe(ordered)))

    def _search(self, ordered: np.ndarray, where: np.ndarray | None) -> np.ndarray:
        """True where a hash of ``ordered`` at the positions ``where`` (None: all) is in a run."""
        needles = ordered if where is None else ordered[where]
        found = np.zeros(len(ordered), dtype=bool)
        for run in sorted(self.runs, key=len, reverse=True):
            if not len(needles):
                break
            at = np.searchsorted(run, needles)
            np.minimum(at, len(run) - 1, out=at)
            hit = run[at] == needles
            if where is None:  # the first run, every needle: no gather, no scatter
                found = hit
                where = np.flatnonzero(~hit)
                needles = ordered[where]
            else:
                found[where[hit]] = True
                where, needles = where[~hit], needles[~hit]
        return found

    def add_unseen(self, ordered: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """:meth:`contains_sorted` of the sorted ``ordered`` (``starts``: True for the first
        of each distinct hash), then :meth:`add_sorted` of the distinct ones not seen
        (kept, not copied, when that is all of them). The bitmap's slots are worked out
        once for both."""
        slots = self._slots(ordered) if self.runs and self._bits else None
        if not self.runs:
            seen = np.zeros(len(ordered), dtype=bool)
        else:
            seen = self._search(
                ordered, None if slots is None else np.flatnonzero(self._marked(*slots))
            )
        fresh = starts & ~seen
        everything = bool(fresh.all())
        new = ordered if everything else ordered[fresh]
        if len(new):
            bits = self._bits
            self._count += len(new)
            self._grow(self._count)
            if slots is not None and self._bits == bits:
                word, pair = slots if everything else (slots[0][fresh], slots[1][fresh])
                np.bitwise_or.at(self._bitmap, word, pair)
            else:
                self._mark(new)
            self._append(np.asarray(new, dtype=np.uint64))
        return seen

    def contains(self, hashes: np.ndarray, *, likely: bool = False) -> np.ndarray:
        """True where a hash was seen before (any order of ``hashes``; ``likely`` as above)."""
        order = np.argsort(hashes)
        found = np.empty(len(hashes), dtype=bool)
        # Sorted needles make searchsorted walk memory in order: several times faster.
        found[order] = self.contains_sorted(hashes[order], likely=likely)
        return found

    def compact(self) -> None:
        """Merge the runs into one and drop the bitmap, for a set that from now on mostly
        answers look-ups of keys it holds (a parent's keys, complete, for foreign keys):
        each then takes one binary search. Adding again later builds the bitmap anew."""
        if len(self.runs) > 1:
            merged = np.concatenate(self.runs)
            self.runs = []  # the runs go before the sort: one copy at a time
            merged.sort(kind="stable")  # sorted runs: a merge
            self.runs = [merged]
        self._bits = 0
        self._bitmap = np.zeros(0, dtype=np.uint64)

    def _grow(self, count: int) -> None:
        """A bitmap for ``count`` keys: if too small, one twice (or more) the size, marked anew."""
        bits = max(16, int(BITMAP_BITS_PER_KEY * count - 1).bit_length())
        if bits > self._bits:
            self._bitmap = np.zeros(0, dtype=np.uint64)  # the old one goes first
            self._bitmap = np.zeros(1 << (bits - 6), dtype=np.uint64)
            self._bits = bits
            for run in self.runs:
                self._mark(run)

    def expect(self, more: int) -> None:
        """Size the bitmap now for about ``more`` keys to come, so that it is not marked anew
        as they arrive. A hint: a bitmap too small still grows, and the answers are the
        same either way."""
        if more > 0:
            self._grow(self._count + more)

    def add_sorted(self, new: np.ndarray) -> None:
        """Remember ``new``: sorted, distinct and not seen before (kept, not copied)."""
        if not len(new):
            return
        self._count += len(new)
        self._grow(self._count)
        self._mark(new)
        self._append(np.asarray(new, dtype=np.uint64))

    def _append(self, new: np.ndarray) -> None:
        """A new run (kept as given: not to be changed), merged as the policy above says."""
        self.runs.append(new)
        while (
            len(self.runs) > 1
            and 2 * len(self.runs[-1]) >= len(self.runs[-2])
            and len(self.runs[-2]) < MAX_MERGED
        ):
            newer, older = self.runs.pop(), self.runs.pop()
            merged = np.concatenate((older, newer))
            merged.sort(kind="stable")  # two sorted runs: a merge
            self.runs.append(merged)

    def add(self, hashes: np.ndarray) -> None:
        """Remember ``hashes``."""
        self.add_sorted(np.unique(hashes[~self.contains(hashes)]))


__all__ = [
    "ChunkKeys",
    "KeySet",
    "chunk_keys",
    "held_expr",
    "key_hashes",
    "polars_chunk_keys",
]
