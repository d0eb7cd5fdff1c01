"""Every constraint and index of a set of tables, as the catalog defines them.

Read with ``pg_get_constraintdef`` and ``pg_get_indexdef`` (and ``search_path``
set to ``pg_catalog`` alone, so every name comes out schema-qualified), so
that dropping a definition and re-running :attr:`Definition.create_sql`
gives back the same name and definition: primary key, unique, exclusion,
CHECK and foreign-key constraints, and every other index, partial and
expression ones too, with their comments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from seedbed.sqltext import quote_ident


@dataclass(frozen=True)
class Definition:
    """One constraint or index as the catalog defines it, with what locating an error needs."""

    kind: str  # pg_constraint.contype (p, u, x, c, f), or "i" for an index
    name: str
    relation: str  # quoted, qualified table it belongs to
    table: str
    definition: str  # pg_get_constraintdef / pg_get_indexdef
    comment: str | None
    index_comment: str | None  # the comment on a constraint's index
    keys: tuple[str, ...]  # index key columns or expressions; foreign-key columns
    predicate: str | None  # a partial index's WHERE; a CHECK's expression
    parent: str | None  # a foreign key's referenced relation
    parent_keys: tuple[str, ...]

    @property
    def create_sql(self) -> str:
        if self.kind == "i":
            return self.definition
        name = quote_ident(self.name)
        return f"ALTER TABLE {self.relation} ADD CONSTRAINT {name} {self.definition}"

    @property
    def drop_sql(self) -> str:
        if self.kind == "i":
            return f"DROP INDEX {self.relation.rsplit('.', 1)[0]}.{quote_ident(self.name)}"
        return f"ALTER TABLE {self.relation} DROP CONSTRAINT {quote_ident(self.name)}"

    def comment_sql(self) -> list[sql.Composed]:
        schema = self.relation.rsplit(".", 1)[0]
        statements = []
        if self.comment is not None:
            on = (
                f"INDEX {schema}.{quote_ident(self.name)}"
                if self.kind == "i"
                else f"CONSTRAINT {quote_ident(self.name)} ON {self.relation}"
            )
            statements.append(sql.SQL(f"COMMENT ON {on} IS {{}}").format(self.comment))
        if self.index_comment is not None:
            on = f"INDEX {schema}.{quote_ident(self.name)}"
            statements.append(sql.SQL(f"COMMENT ON {on} IS {{}}").format(self.index_comment))
        return statements


_KEY_NAMES = (
    "ARRAY(SELECT pg_get_indexdef({index}, g, false) FROM generate_series(1, "
    "(SELECT indnkeyatts FROM pg_index WHERE indexrelid = {index})) AS g ORDER BY g)"
)
_ATTNAMES = (
    "ARRAY(SELECT quote_ident(a.attname) FROM unnest({keys}) WITH ORDINALITY AS o(n, i) "
    "JOIN pg_attribute AS a ON a.attrelid = {rel} AND a.attnum = o.n ORDER BY o.i)"
)
_CONSTRAINTS = f"""
SELECT k.contype, k.conname, k.conrelid::regclass::text, t.relname, pg_get_constraintdef(k.oid),
       obj_description(k.oid, 'pg_constraint'),
       CASE WHEN k.contype IN ('p', 'u', 'x') THEN obj_description(k.conindid, 'pg_class') END,
       CASE WHEN k.contype = 'f' THEN {_ATTNAMES.format(keys="k.conkey", rel="k.conrelid")}
            WHEN k.contype IN ('p', 'u', 'x') THEN {_KEY_NAMES.format(index="k.conindid")}
            ELSE ARRAY[]::text[] END,
       CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid)
            WHEN k.contype IN ('p', 'u', 'x')
            THEN (SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = k.conindid)
            END,
       CASE WHEN k.contype = 'f' THEN k.confrelid::regclass::text END,
       CASE WHEN k.contype = 'f' THEN {_ATTNAMES.format(keys="k.confkey", rel="k.confrelid")}
            ELSE ARRAY[]::text[] END
FROM pg_constraint AS k JOIN pg_class AS t ON t.oid = k.conrelid
WHERE (k.contype IN ('p', 'u', 'x', 'c') AND k.conrelid = ANY(%(rebuilt)s::regclass[]))
   OR (k.contype = 'f' AND k.conrelid = ANY(%(locked)s::regclass[])
       AND k.confrelid = ANY(%(locked)s::regclass[]))
ORDER BY k.conrelid, k.conname
"""
_INDEXES = f"""
SELECT 'i', c.relname, i.indrelid::regclass::text, t.relname, pg_get_indexdef(i.indexrelid),
       obj_description(i.indexrelid, 'pg_class'), NULL,
       {_KEY_NAMES.format(index="i.indexrelid")}, pg_get_expr(i.indpred, i.indrelid),
       NULL, ARRAY[]::text[]
FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
WHERE i.indrelid = ANY(%(rebuilt)s::regclass[]) AND NOT EXISTS (
    SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
    AND k.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, c.relname
"""


def read_definitions(
    cursor: psycopg.Cursor[Any], rebuilt: Sequence[str], locked: Sequence[str]
) -> list[Definition]:
    """Every constraint and index of ``rebuilt``, and the foreign keys among ``locked``.

    Read with ``search_path`` set to ``pg_catalog`` alone, so every name in a
    definition comes out schema-qualified and means the same when re-run.
    """
    cursor.execute("SELECT current_setting('search_path')")
    row = cursor.fetchone()
    saved = str(row[0]) if row else ""
    cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
    params = {"rebuilt": list(rebuilt), "locked": list(locked)}
    found = []
    for query in (_CONSTRAINTS, _INDEXES):
        cursor.execute(query, params)
        for (
            kind,
            name,
            rel,
            table,
            text,
            comment,
            index_comment,
            keys,
            pred,
            parent,
            pkeys,
        ) in cursor:
            found.append(
                Definition(
                    kind,
                    name,
                    rel,
                    table,
                    text,
                    comment,
                    index_comment,
                    tuple(keys),
                    pred,
                    parent,
                    tuple(pkeys),
                )
            )
    cursor.execute("SELECT set_config('search_path', %s, true)", (saved,))
    return found
