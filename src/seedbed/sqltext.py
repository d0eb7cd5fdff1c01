"""SQL text seedbed writes itself: quoted names and literals, and what ``text()`` must pass on.

:func:`quote_ident` and :func:`quote_literal` are the one place SQL names and
string constants are quoted (:func:`quoted_in_sql` is the same quoting done by
the server); every statement seedbed builds as text uses them.

SQLAlchemy's ``text()`` must also pass SQL on exactly as written, yet
``text()``, which ``CheckConstraint`` applies to a string (in the models and
again in every revision), reads ``:name`` as a bind parameter: a rule
``Matches(..., r"tag(:v[0-9]+)?")`` would reach the database as
``'^(tag(NULL[0-9]+)?)$'``, and ``<> ':draft'`` as ``<> NULL``. :func:`escaped`
writes each such colon (and an existing ``\\:``) so that ``text()`` compiles it
back to the original; :func:`unescaped` is that compile step, for SQL from a
revision that seedbed sends to the database itself. Both use SQLAlchemy's own
patterns, so they agree with it exactly.
"""

from __future__ import annotations

from sqlalchemy.sql.compiler import BIND_PARAMS, BIND_PARAMS_ESC


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier, case kept and any ``"`` doubled: ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string constant, any ``'`` doubled: ``it's`` gives ``'it''s'``."""
    return "'" + text.replace("'", "''") + "'"


def quoted_in_sql(expression: str) -> str:
    """SQL that quotes the text ``expression`` in the server exactly as :func:`quote_ident` does."""
    return f"'\"' || replace({expression}, '\"', '\"\"') || '\"'"


def qualified_name(schema: str, name: str) -> str:
    """``"schema"."name"``, both quoted with :func:`quote_ident`."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def escaped(sql: str) -> str:
    """``sql`` for ``text()``: what it compiles to is ``sql`` again, no parameters."""
    kept = BIND_PARAMS_ESC.sub(lambda m: "\\" + m.group(0), sql)
    return BIND_PARAMS.sub(lambda m: "\\" + m.group(0), kept)


def unescaped(text: str) -> str:
    """What ``text(text)`` compiles to when it has no parameters: ``\\:x`` becomes ``:x``."""
    return BIND_PARAMS_ESC.sub(lambda m: m.group(1), text)
