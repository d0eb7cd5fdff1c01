"""The whole catalog state of a namespace's tables, to prove a load leaves it as it was.

One query set over ``pg_class``, ``pg_index``, ``pg_attribute``,
``pg_constraint``, ``pg_trigger``, ``pg_description``, ``pg_publication_rel``
and ``pg_policy``. Every catalog row is taken whole (``to_jsonb``), less what a
rebuild must change: object ids, file nodes, page and tuple counts, freeze
horizons, and expression trees (their text records where in a statement an
expression was written; their decompiled form is kept instead). Objects are
keyed by name; an internal foreign-key trigger, named after its oid, by its
constraint and event.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seedbed.db import schema_of

_RELATION_VOLATILE = (
    "oid",
    "relfilenode",
    "relpages",
    "reltuples",
    "relallvisible",
    "relallfrozen",
    "relfrozenxid",
    "relminmxid",
)
_DROP = "ARRAY[{}]::text[]"


def _keys(*names: str) -> str:
    return _DROP.format(", ".join(f"'{n}'" for n in names))


_QUERIES = {
    "table": f"""
        SELECT c.relname, to_jsonb(c) - {_keys(*_RELATION_VOLATILE)}
        FROM pg_class AS c WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind = 'r'
    """,
    "column": """
        SELECT c.relname || '.' || a.attname, to_jsonb(a) - 'attrelid'
        FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind = 'r' AND a.attnum > 0
    """,
    "index": f"""
        SELECT c.relname, jsonb_build_object(
            'class', to_jsonb(c) - {_keys(*_RELATION_VOLATILE)},
            'index', to_jsonb(i) - {_keys("indexrelid", "indexprs", "indpred")},
            'table', i.indrelid::regclass::text,
            'definition', pg_get_indexdef(i.indexrelid),
            'expressions', pg_get_expr(i.indexprs, i.indrelid),
            'predicate', pg_get_expr(i.indpred, i.indrelid),
            'tablespace', (SELECT spcname FROM pg_tablespace WHERE oid = c.reltablespace),
            'comment', obj_description(c.oid, 'pg_class'),
            'columns', (SELECT jsonb_agg(to_jsonb(a) - 'attrelid' ORDER BY a.attnum)
                        FROM pg_attribute AS a WHERE a.attrelid = c.oid))
        FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)
    """,
    "constraint": f"""
        SELECT c.relname || '.' || k.conname, jsonb_build_object(
            'constraint', to_jsonb(k) - {_keys("oid", "conindid", "conbin")},
            'index', (SELECT relname FROM pg_class WHERE oid = k.conindid),
            'definition', pg_get_constraintdef(k.oid),
            'comment', obj_description(k.oid, 'pg_constraint'))
        FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid
        WHERE k.connamespace = CAST(:s AS regnamespace)
    """,
    "trigger": f"""
        SELECT c.relname || '.' || CASE WHEN t.tgisinternal
               THEN (SELECT conname FROM pg_constraint WHERE oid = t.tgconstraint)
                    || '/' || t.tgfoid::regproc::text || '/' || t.tgtype::text
               ELSE t.tgname END,
               to_jsonb(t) - {_keys("oid", "tgname", "tgconstraint", "tgconstrindid", "tgqual")}
               || jsonb_build_object('definition', CASE WHEN t.tgisinternal
                      THEN replace(pg_get_triggerdef(t.oid), quote_ident(t.tgname), '(internal)')
                      ELSE pg_get_triggerdef(t.oid) END,
                                     'comment', obj_description(t.oid, 'pg_trigger'))
        FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)
    """,
    "description": """
        SELECT c.relname || '.' || d.objsubid, to_jsonb(d.description)
        FROM pg_description AS d JOIN pg_class AS c ON c.oid = d.objoid
        WHERE d.classoid = 'pg_class'::regclass AND c.relnamespace = CAST(:s AS regnamespace)
    """,
    "publication": """
        SELECT p.pubname || '.' || c.relname, jsonb_build_object(
            'publication', to_jsonb(p) - 'oid',
            'columns', r.prattrs::text,
            'filter', pg_get_expr(r.prqual, r.prrelid))
        FROM pg_publication_rel AS r JOIN pg_publication AS p ON p.oid = r.prpubid
        JOIN pg_class AS c ON c.oid = r.prrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)
    """,
    "policy": f"""
        SELECT c.relname || '.' || p.polname,
               to_jsonb(p) - {_keys("oid", "polqual", "polwithcheck")} || jsonb_build_object(
                   'using', pg_get_expr(p.polqual, p.polrelid),
                   'check', pg_get_expr(p.polwithcheck, p.polrelid))
        FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
        WHERE c.relnamespace = CAST(:s AS regnamespace)
    """,
}


def catalog_state(engine: Engine) -> dict[str, dict[str, Any]]:
    """For each kind of catalog object in the engine's namespace: name -> its whole catalog row."""
    state: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        conn.exec_driver_sql("SET search_path = pg_catalog")
        for kind, query in _QUERIES.items():
            rows = conn.execute(sa.text(query), {"s": schema_of(engine)}).all()
            found = {str(name): value for name, value in rows}
            assert len(found) == len(rows), f"two {kind} rows share a name"
            state[kind] = found
    return state


def changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Every leaf that differs between two states, as ``path: before -> after``."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            change
            for key in sorted(before.keys() | after.keys())
            for change in changes(before.get(key), after.get(key), f"{path}/{key}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            c
            for i, pair in enumerate(zip(before, after, strict=True))
            for c in changes(*pair, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
