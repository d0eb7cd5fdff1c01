"""Rows broken on purpose, for demos of validation (``invalid_fraction``).

The shipped tables break in ways that show off the validator: a bad email or
URL, a malformed UUID, ``expires_at`` before ``created_at``, a bad slug, a
published post without ``published_at``, a dangling foreign key. A table
without a list here (one added to the model later) is broken generically: a
NOT NULL column left empty.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from seedbed.synthetic.arrays import join, uuid4_strings

Breakage = Callable[[pa.Table], pa.Table]
_NEVER = pa.scalar(None, pa.string())


def _text(table: pa.Table, column: str, fn: Callable[[pa.Array], pa.Array]) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, fn(table.column(column).combine_chunks()))


def _empty(column: str) -> Breakage:
    return lambda t: _text(t, column, lambda c: pc.if_else(True, _NEVER, c.cast(pa.string())))


def _bad_uuid(t: pa.Table) -> pa.Table:
    return _text(t, "id", lambda c: pc.utf8_replace_slice(c, 14, 15, "1"))


def _published_without_date(t: pa.Table) -> pa.Table:
    t = _text(t, "status", lambda c: pc.if_else(True, pa.scalar("published"), c))
    return _text(t, "published_at", lambda c: pa.nulls(len(c), pa.string()))


_WAYS: dict[str, list[tuple[tuple[str, ...], Breakage]]] = {
    "user": [
        (("email",), lambda t: _text(t, "email", lambda c: pc.replace_substring(c, "@", " at "))),
        (("image",), lambda t: _text(t, "image", lambda c: join("ftp://", pc.fill_null(c, "x")))),
        (("id",), _bad_uuid),
    ],
    "session": [
        (
            ("expires_at", "created_at"),
            lambda t: t.set_column(
                t.schema.get_field_index("expires_at"), "expires_at", t.column("created_at")
            ),
        ),
        (("ip_address",), lambda t: _text(t, "ip_address", lambda c: join("999.", c))),
    ],
    "account": [(("provider_id",), _empty("provider_id")), (("id",), _bad_uuid)],
    "verification": [(("identifier",), _empty("identifier"))],
    "post": [
        (("slug",), lambda t: _text(t, "slug", lambda c: join("Bad Slug ", c))),
        (("title",), lambda t: _text(t, "title", lambda c: pc.utf8_rpad(c, 201, "x"))),
        (("status", "published_at"), _published_without_date),
        (
            ("metadata",),
            lambda t: _text(t, "metadata", lambda c: pa.array(['{"color": "red"}'] * len(c))),
        ),
    ],
    "tag": [(("name",), lambda t: _text(t, "name", lambda c: pc.utf8_rpad(c, 65, "x")))],
    "post_tag": [
        (
            ("post_id",),
            lambda t: _text(
                t, "post_id", lambda c: uuid4_strings(np.random.default_rng(7), len(c))
            ),
        )
    ],
}


def ways_to_break(table: sa.Table, present: list[str]) -> list[Breakage]:
    """How rows of ``table`` get broken, using only columns the file has."""
    listed = [way for needs, way in _WAYS.get(table.name, []) if set(needs) <= set(present)]
    if listed:
        return listed
    required = [c.name for c in table.columns if not c.nullable and c.name in present]
    return [_empty(name) for name in required]


def _set(table: pa.Table, column: str, values: pa.Array, rows: np.ndarray) -> pa.Table:
    """``table`` with ``column`` replaced by ``values`` where ``rows`` is True."""
    index = table.schema.get_field_index(column)
    old = table.column(column).combine_chunks()
    new = pc.if_else(pa.array(rows), values.cast(old.type), old)
    return table.set_column(index, column, new)


def break_rows(
    table: pa.Table, rng: np.random.Generator, fraction: float, ways: list[Breakage]
) -> pa.Table:
    """Apply one of ``ways`` (chosen per row) to about ``fraction`` of the rows."""
    if not ways:
        return table
    broken = rng.random(table.num_rows) < fraction
    way = rng.integers(0, len(ways), size=table.num_rows)
    for i, apply in enumerate(ways):
        rows = broken & (way == i)
        if rows.any():
            changed = apply(table)
            for name in changed.column_names:
                if not changed.column(name).equals(table.column(name)):
                    table = _set(table, name, changed.column(name).combine_chunks(), rows)
    return table
