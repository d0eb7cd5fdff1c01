"""Every constraint and index of a set of tables, as the catalog defines them.

Read with ``pg_get_constraintdef`` and ``pg_get_indexdef`` (and ``search_path``
set to ``pg_catalog`` alone, so every name comes out schema-qualified), so
that dropping a definition and re-running :meth:`Definition.add_sql` gives
back the same name and definition: primary key, unique, exclusion, CHECK and
foreign-key constraints, and every other index, partial and expression ones
too. With them, what those functions leave out and a drop loses: the
comments, the index's tablespace, a key's storage parameters
(``pg_get_constraintdef`` omits its ``WITH``), the table's ``CLUSTER ON``
and ``REPLICA IDENTITY USING INDEX`` marks, and the statistics targets of
expression columns. Deferrability, ``NOT VALID``, ``INCLUDE``, ``NULLS NOT
DISTINCT``, collations, operator classes and an index's own storage
parameters are in the definitions. The table itself is not dropped: its
owner, grants, policies, storage parameters, column statistics targets and
publications stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from seedbed.sqltext import quote_ident

_DEFERRAL = re.compile(r"(?P<deferral>(?: DEFERRABLE)?(?: INITIALLY DEFERRED)?)$")
_NOT_VALID = " NOT VALID"


@dataclass(frozen=True)
class Definition:
    """One constraint or index as the catalog defines it, with what locating an error needs.

    Besides the definition itself, what ``pg_get_constraintdef`` and
    ``pg_get_indexdef`` leave out and a drop loses: the index's tablespace,
    a key's storage parameters, the cluster and replica-identity marks, the
    statistics targets of expression columns, the comments.
    """

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
    tablespace: str = ""  # the index's tablespace; "" for the database's default
    options: str | None = None  # the index's storage parameters, as WITH (...) takes them
    clustered: bool = False  # the table is clustered on this index
    replica_identity: bool = False  # the table's replica identity is this index
    statistics: tuple[tuple[int, int], ...] = ()  # (index column, statistics target)

    @property
    def not_valid(self) -> bool:
        """Was the constraint added ``NOT VALID`` (rows that were there are not checked)?"""
        return self.kind in ("c", "f") and self.definition.endswith(_NOT_VALID)

    @property
    def checked_definition(self) -> str:
        """The definition, validated: a ``NOT VALID`` constraint still holds for new rows."""
        if self.not_valid:
            return self.definition[: -len(_NOT_VALID)]
        return self.definition

    def add_sql(self, validated: bool) -> str:
        """The statement that re-creates it (``validated``: a ``NOT VALID`` one checks rows)."""
        if self.kind == "i":
            return self.definition
        return f"ALTER TABLE {self.relation} ADD CONSTRAINT {self.constraint_sql(validated)}"

    def constraint_sql(self, validated: bool = False) -> str:
        """``name definition``, as ``ADD CONSTRAINT`` takes it, storage parameters included."""
        text = self.checked_definition if validated else self.definition
        if self.kind in ("p", "u") and self.options:
            # pg_get_constraintdef leaves a key's index parameters out; they go before DEFERRABLE.
            match = _DEFERRAL.search(text)
            assert match is not None  # the pattern matches the empty tail too
            text = f"{text[: match.start()]} WITH ({self.options}){match.group('deferral')}"
        return f"{quote_ident(self.name)} {text}"

    @property
    def drop_sql(self) -> str:
        if self.kind == "i":
            return f"DROP INDEX {self.schema}.{quote_ident(self.name)}"
        return f"ALTER TABLE {self.relation} DROP CONSTRAINT {quote_ident(self.name)}"

    @property
    def schema(self) -> str:
        return self.relation.rsplit(".", 1)[0]

    def marks_sql(self) -> list[sql.SQL | sql.Composed]:
        """After it is rebuilt: its comments, cluster and replica-identity marks, statistics."""
        index = f"INDEX {self.schema}.{quote_ident(self.name)}"
        statements: list[sql.SQL | sql.Composed] = []
        if self.comment is not None:
            on = (
                index
                if self.kind == "i"
                else f"CONSTRAINT {quote_ident(self.name)} ON {self.relation}"
            )
            statements.append(sql.SQL(f"COMMENT ON {on} IS {{}}").format(self.comment))
        if self.index_comment is not None:
            statements.append(sql.SQL(f"COMMENT ON {index} IS {{}}").format(self.index_comment))
        if self.clustered:
            statements.append(
                sql.SQL(f"ALTER TABLE {self.relation} CLUSTER ON {quote_ident(self.name)}")
            )
        if self.replica_identity:
            identity = f"REPLICA IDENTITY USING INDEX {quote_ident(self.name)}"
            statements.append(sql.SQL(f"ALTER TABLE {self.relation} {identity}"))
        for column, target in self.statistics:
            statements.append(
                sql.SQL(f"ALTER {index} ALTER COLUMN {int(column)} SET STATISTICS {int(target)}")
            )
        return statements


_KEY_NAMES = (
    "ARRAY(SELECT pg_get_indexdef({index}, g, false) FROM generate_series(1, "
    "(SELECT indnkeyatts FROM pg_index WHERE indexrelid = {index})) AS g ORDER BY g)"
)
_ATTNAMES = (
    "ARRAY(SELECT quote_ident(a.attname) FROM unnest({keys}) WITH ORDINALITY AS o(n, i) "
    "JOIN pg_attribute AS a ON a.attrelid = {rel} AND a.attnum = o.n ORDER BY o.i)"
)
_INDEX_MARKS = """,
       coalesce((SELECT s.spcname FROM pg_class AS ic JOIN pg_tablespace AS s
                 ON s.oid = ic.reltablespace WHERE ic.oid = {index}), ''),
       (SELECT string_agg(quote_ident(o.option_name) || ' = ' || quote_literal(o.option_value),
                          ', ')
        FROM pg_class AS ic, pg_options_to_table(ic.reloptions) AS o WHERE ic.oid = {index}),
       coalesce((SELECT x.indisclustered FROM pg_index AS x WHERE x.indexrelid = {index}), false),
       coalesce((SELECT x.indisreplident FROM pg_index AS x WHERE x.indexrelid = {index}), false),
       ARRAY(SELECT ARRAY[a.attnum::int, a.attstattarget::int] FROM pg_attribute AS a
             WHERE a.attrelid = {index} AND coalesce(a.attstattarget::int, -1) <> -1
             ORDER BY a.attnum)"""
# A foreign key's conindid is the parent's index: only a key's own index carries its marks.
_OWN_INDEX = "(CASE WHEN k.contype IN ('p', 'u', 'x') THEN k.conindid END)"
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
            ELSE ARRAY[]::text[] END{_INDEX_MARKS.format(index=_OWN_INDEX)}
FROM pg_constraint AS k JOIN pg_class AS t ON t.oid = k.conrelid
WHERE (k.contype IN ('p', 'u', 'x', 'c') AND k.conrelid = ANY(%(rebuilt)s::regclass[]))
   OR (k.contype = 'f' AND k.conrelid = ANY(%(locked)s::regclass[])
       AND k.confrelid = ANY(%(locked)s::regclass[]) AND k.conparentid = 0)
ORDER BY k.conrelid, k.conname
"""
_INDEXES = f"""
SELECT 'i', c.relname, i.indrelid::regclass::text, t.relname, pg_get_indexdef(i.indexrelid),
       obj_description(i.indexrelid, 'pg_class'), NULL,
       {_KEY_NAMES.format(index="i.indexrelid")}, pg_get_expr(i.indpred, i.indrelid),
       NULL, ARRAY[]::text[]{_INDEX_MARKS.format(index="i.indexrelid")}
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
        for row in cursor.fetchall():
            kind, name, rel, table, text, comment, index_comment = row[:7]
            keys, pred, parent, pkeys, space, options, clustered, identity, stats = row[7:]
            found.append(
                Definition(
                    kind=kind,
                    name=name,
                    relation=rel,
                    table=table,
                    definition=text,
                    comment=comment,
                    index_comment=index_comment,
                    keys=tuple(keys),
                    predicate=pred,
                    parent=parent,
                    parent_keys=tuple(pkeys),
                    tablespace=space,
                    options=options,
                    clustered=clustered,
                    replica_identity=identity,
                    statistics=tuple((int(n), int(t)) for n, t in stats),
                )
            )
    cursor.execute("SELECT set_config('search_path', %s, true)", (saved,))
    return found
