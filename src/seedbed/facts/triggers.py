"""The namespace's triggers as the catalog holds them: those that fill columns, and updated_at's.

Such a column may be left out of a seed, or empty, even when it is NOT NULL
without a default: the trigger fills it in at load, as PostgreSQL fires it
on COPY. :func:`filled_by_triggers` finds them, :func:`mark_filled_columns`
marks them (``Column.info[FILLED_BY_TRIGGER]``, the trigger's name) on a
reflected model, and :func:`seedbed.facts.spec.table_spec` reads the mark.

:func:`updated_at_function_body` and :func:`updated_at_triggers` read the
``updated_at`` function and triggers seedbed declares, as ``db check`` and
``db pull`` compare them.
"""

from __future__ import annotations

import sqlalchemy as sa

from seedbed.facts.spec import FILLED_BY_TRIGGER
from seedbed.models.base import UPDATED_AT_FUNCTION, updated_at_trigger

#: The updated_at trigger's name, split around its table's name, as SQL binds it:
#: ``t.tgname = :trigger_head || c.relname || :trigger_tail``.
UPDATED_AT_TRIGGER_PARTS = dict(
    zip(("trigger_head", "trigger_tail"), updated_at_trigger("\n").split("\n"), strict=True)
)

#: Each enabled ``BEFORE INSERT ... FOR EACH ROW`` trigger (tgtype bits ROW 1, BEFORE 2,
#: INSERT 4) of the namespace's tables: its function's definition or, for the built-in
#: tsvector triggers, the column its first argument names.
_FILLING_TRIGGERS_SQL = """
SELECT c.relname, t.tgname, l.lanname, p.proname,
       CASE WHEN l.lanname = 'plpgsql' THEN pg_get_functiondef(p.oid) END,
       encode(t.tgargs, 'escape')
FROM pg_trigger AS t
JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_proc AS p ON p.oid = t.tgfoid JOIN pg_language AS l ON l.oid = p.prolang
WHERE n.nspname = :schema AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgparentid = 0
  AND t.tgtype & 7 = 7
ORDER BY c.relname, t.tgname
"""


def filled_by_triggers(conn: sa.Connection, schema: str) -> dict[str, dict[str, str]]:
    """Table -> column -> the ``BEFORE INSERT`` row trigger that assigns it.

    A PL/pgSQL function is read with PostgreSQL's own PL/pgSQL parser
    (``pglast``): every ``NEW.column := ...`` in it counts. The built-in
    ``tsvector_update_trigger`` functions fill the column their first argument
    names. Other functions (C, SQL, other languages) are not looked into.
    """
    found: dict[str, dict[str, str]] = {}
    rows = conn.execute(sa.text(_FILLING_TRIGGERS_SQL), {"schema": schema})
    for table, trigger, language, function, definition, arguments in rows:
        if function in ("tsvector_update_trigger", "tsvector_update_trigger_column"):
            columns = [str(arguments).split("\\000")[0]]
        elif language == "plpgsql" and definition:
            columns = _assigned_fields(str(definition))
        else:
            continue
        for column in columns:
            found.setdefault(str(table), {}).setdefault(column, str(trigger))
    return found


def _assigned_fields(definition: str) -> list[str]:
    """The fields of ``NEW`` a PL/pgSQL trigger function assigns, by its parse tree."""
    from pglast import parse_plpgsql
    from pglast.parser import ParseError

    try:
        (tree,) = parse_plpgsql(definition)
    except (ParseError, ValueError):
        return []
    function = tree["PLpgSQL_function"]
    new = function.get("new_varno", 0)
    fields = {
        number: datum["PLpgSQL_recfield"]["fieldname"]
        for number, datum in enumerate(function.get("datums", []))
        if "PLpgSQL_recfield" in datum and datum["PLpgSQL_recfield"].get("recparentno", 0) == new
    }
    assigned: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            assign = node.get("PLpgSQL_stmt_assign")
            if isinstance(assign, dict) and assign.get("varno", 0) in fields:
                assigned.append(fields[assign.get("varno", 0)])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(function.get("action"))
    return list(dict.fromkeys(assigned))


def mark_filled_columns(metadata: sa.MetaData, filled: dict[str, dict[str, str]]) -> None:
    """Mark each column a ``BEFORE INSERT`` trigger fills (:data:`FILLED_BY_TRIGGER`)."""
    for table in metadata.tables.values():
        for column, trigger in filled.get(table.name, {}).items():
            if column in table.columns:
                table.columns[column].info[FILLED_BY_TRIGGER] = trigger


def updated_at_function_body(conn: sa.Connection, schema: str) -> str | None:
    """The source of the namespace's updated_at function; None when there is none."""
    body = conn.execute(
        sa.text(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :schema AND p.proname = :name"
        ),
        {"schema": schema, "name": UPDATED_AT_FUNCTION},
    ).scalar()
    return None if body is None else str(body)


def updated_at_triggers(conn: sa.Connection, schema: str) -> set[str]:
    """Tables in ``schema`` that have their updated_at trigger."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND NOT t.tgisinternal "
            "AND t.tgname = :trigger_head || c.relname || :trigger_tail"
        ),
        {"schema": schema, **UPDATED_AT_TRIGGER_PARTS},
    )
    return set(rows.scalars())


__all__ = [
    "UPDATED_AT_TRIGGER_PARTS",
    "filled_by_triggers",
    "mark_filled_columns",
    "updated_at_function_body",
    "updated_at_triggers",
]
