"""Deterministic synthetic seed sets for every table of the model, at any scale.

``generate_seed_set(users, out_dir, seed=0)`` writes one CSV per table of the
model, parents first; rows of the other tables are proportional to ``users``.
``rows=N`` gives each table without a parent N rows (a model without a
``user`` table is sized so), the others scaling with them as with ``users=N``.
A table added to the model later gets valid rows with no code: the generic
generator (:mod:`.generic`) reads its columns, keys, foreign keys and rules.
The shipped tables have recipes (:mod:`.recipes`) that make them look real,
with skew: some users have many sessions and posts, many have none.

Generated values never collide with hand-written seeds: emails use the
``synthetic.example`` domain, and tag names, slugs, account ids and tokens
have forms the repository's ``data/seeds/`` does not use, so a generated set
loads on top of them.

Columns are built as NumPy arrays and Arrow compute kernels (no per-row
Python) and written by pyarrow's CSV writer, so a million users take seconds.

``invalid_fraction`` breaks about that fraction of the rows of every table in
ways the validator (and the database) must catch (:mod:`.breakage`); the
shipped tables break in several telling ways, other tables by an empty NOT
NULL column. The valid rows stay the same as without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import MetaData

from seedbed.atomic import replacing, replacing_all
from seedbed.errors import GenerateError, SeedError, map_errors
from seedbed.facts import ordered_tables, table_order
from seedbed.synthetic.arrays import SYNTHETIC_DOMAIN, uuid4_strings
from seedbed.synthetic.breakage import break_rows, ways_to_break
from seedbed.synthetic.generic import Context, as_text_table, fill_later_key, generate_table
from seedbed.synthetic.recipes import (
    ACCOUNTS_PER_USER,
    POSTS_PER_USER,
    RECIPES,
    SESSIONS_PER_USER,
    TAGS_PER_POST,
    VERIFICATIONS_PER_USER,
    user_columns,
)


def _model(metadata: MetaData | None) -> MetaData:
    if metadata is not None:
        return metadata
    from seedbed.facts import declared_metadata

    return declared_metadata()


def generate_typed_tables(
    users: int, seed: int = 0, *, metadata: MetaData | None = None, rows: int | None = None
) -> dict[str, pa.Table]:
    """Every table of ``metadata`` (default: the package's model) as typed pyarrow tables.

    ``rows``: the rows of each table without a parent (default: ``users`` for a
    ``user`` table, a lookup table's few for the others).
    """
    ctx = Context(users=users, seed=seed, roots=rows)
    order = table_order(_model(metadata))
    if order.unbroken:
        cycle = order.unbroken[0]
        raise GenerateError(
            f"cannot generate rows for {', '.join(t.name for t in cycle)}: their foreign keys "
            f"form a cycle in which every key is NOT NULL ({order.describe(cycle)}), so no row "
            "can be inserted before the others; make one of them nullable"
        )
    for table in order.tables:
        recipe, later = RECIPES.get(table.name), order.later_keys(table)
        ctx.tables[table.name] = generate_table(ctx, table, recipe, later)
    for key in order.later:  # the keys of a cycle that point at a table made after theirs
        fill_later_key(ctx, key.table, key.key)
    return ctx.tables


def generate_tables(
    users: int,
    seed: int = 0,
    invalid_fraction: float = 0.0,
    *,
    metadata: MetaData | None = None,
    rows: int | None = None,
) -> dict[str, pa.Table]:
    """The whole seed set as pyarrow tables of CSV text, keyed by table name, parents first.

    ``metadata`` is the model to generate for (default: the package's); every
    table in it gets rows; ``rows`` sizes the tables without a parent
    (:func:`generate_typed_tables`). ``invalid_fraction`` breaks about that share of the
    rows of every table: the shipped tables in their telling ways, any other
    table by emptying a NOT NULL column (:mod:`seedbed.synthetic.breakage`).
    Raises :class:`~seedbed.errors.GenerateError` naming the table and rule
    when a rule's values cannot be made (say, a pattern with a look-ahead).
    """
    if users < 0 or (rows is not None and rows < 0):
        raise ValueError(f"users and rows must be 0 or more, got {users} and {rows}")
    if not 0.0 <= invalid_fraction <= 1.0:
        raise ValueError(f"invalid_fraction must be between 0 and 1, got {invalid_fraction}")
    model = _model(metadata)
    typed = generate_typed_tables(users, seed, metadata=model, rows=rows)
    tables = {name: as_text_table(table) for name, table in typed.items()}
    if invalid_fraction > 0:
        breaker = np.random.default_rng([seed, 1])
        for table in ordered_tables(model):
            text = tables[table.name]
            ways = ways_to_break(table, text.column_names)
            tables[table.name] = break_rows(text, breaker, invalid_fraction, ways)
    return tables


def generate_seed_set(
    users: int,
    out_dir: Path | str,
    seed: int = 0,
    invalid_fraction: float = 0.0,
    *,
    metadata: MetaData | None = None,
    rows: int | None = None,
) -> dict[str, int]:
    """Write one CSV per table of the model into ``out_dir``; return row counts per table.

    Every file is written beside its target first and the set replaces the
    files there only when all were written, so a failed run leaves an
    earlier set in ``out_dir`` as it was. ``rows`` gives each table without a
    parent that many rows (see :func:`generate_typed_tables`).

    >>> generate_seed_set(1000, "data/demo", seed=1)           # doctest: +SKIP
    {'user': 1000, 'account': 1000, 'post': 500, ...}
    """
    if users < 0:
        raise SeedError(f"cannot generate {users} users: give 0 or more")
    if rows is not None and rows < 0:
        raise SeedError(f"cannot generate {rows} rows: give 0 or more")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeedError(f"cannot write into {out}: it is a file, not a folder")
    counts: dict[str, int] = {}
    tables = generate_tables(users, seed, invalid_fraction, metadata=metadata, rows=rows)
    with map_errors({(OSError, pa.ArrowException): SeedError}, f"cannot write into {out}"):
        out.mkdir(parents=True, exist_ok=True)
        targets = [out / f"{name}.csv" for name in tables]
        with replacing_all(targets) as temps:
            for (name, table), temp in zip(tables.items(), temps, strict=True):
                pacsv.write_csv(table, temp)
                counts[name] = table.num_rows
    return counts


def generate_users_csv(
    users: int, path: Path | str, seed: int = 0, chunk_rows: int = 1_000_000
) -> int:
    """Write a ``user.csv`` of any size in bounded memory (for memory benchmarks); return rows."""
    rng = np.random.default_rng(seed)

    def chunk(n: int, first: int) -> pa.Table:
        return as_text_table(pa.table(user_columns(rng, n, first)))

    with replacing(path) as temp, pacsv.CSVWriter(temp, chunk(0, 0).schema) as writer:
        for first in range(0, users, chunk_rows):
            writer.write_table(chunk(min(chunk_rows, users - first), first))
    return users


__all__ = [
    "ACCOUNTS_PER_USER",
    "POSTS_PER_USER",
    "SESSIONS_PER_USER",
    "SYNTHETIC_DOMAIN",
    "TAGS_PER_POST",
    "VERIFICATIONS_PER_USER",
    "generate_seed_set",
    "generate_tables",
    "generate_typed_tables",
    "generate_users_csv",
    "uuid4_strings",
]
