"""Read-only questions about the rows in the namespace, asked while linting.

Every probe runs inside a savepoint of the lint's read-only transaction, so a
question the database cannot answer (a table a pending revision creates, a
condition that names a column not there yet) returns ``None`` instead of
aborting the lint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from seedbed.sqltext import qualified_name, quote_ident

_COUNT_SETTING = "seedbed.lint_count"


@dataclass(frozen=True)
class Relation:
    """A table in a schema, and the connection to ask about it.

    ``added`` lists columns that earlier pending steps add, each with the SQL
    of the value every current row will get (its server default, or NULL), and
    columns whose type they change, with the SQL of the converted value
    (``cast(t."price" as numeric(10,0))``), so a CHECK or key added after a
    type change is judged on the values it will meet.
    """

    connection: sa.Connection
    schema: str
    table: str
    added: tuple[tuple[str, str], ...] = ()

    @property
    def sql(self) -> str:
        """The table's quoted, schema-qualified name."""
        return qualified_name(self.schema, self.table)

    def column(self, name: str) -> str:
        return quote_ident(name)

    def rows(self, alias: str | None = None) -> str:
        """A FROM item for the rows as they will be, added (and converted) columns included."""
        name = quote_ident(alias or self.table)
        if not self.added:
            return f"{self.sql} as {name}"
        values = dict(self.added)
        present = [c for c in self._columns() if c not in values]
        items = [f"t.{self.column(c)}" for c in present]
        items += [f"{value} as {self.column(column)}" for column, value in values.items()]
        return f"(select {', '.join(items)} from {self.sql} t) as {name}"

    def _columns(self) -> list[str]:
        sql = (
            "select attname from pg_attribute where attrelid = to_regclass(:name) "
            "and attnum > 0 and not attisdropped order by attnum"
        )
        found = self.connection.execute(sa.text(sql), {"name": self.sql})
        return [str(c) for c in found.scalars()]


def ask(connection: sa.Connection, sql: str, params: dict[str, Any] | None = None) -> Any:
    """The first column of the first row, or ``None`` if the database refused the query.

    SQL that embeds text from a revision (a CHECK condition, a USING
    expression) is sent without parameters, as written, so a ``:`` or ``%`` in
    it is not mistaken for a placeholder.
    """
    savepoint = connection.begin_nested()
    try:
        if params:
            result = connection.execute(sa.text(sql), params)
        else:
            result = connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
        value = result.scalar() if result.returns_rows else True
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return value


def count(connection: sa.Connection, sql: str, params: dict[str, Any] | None = None) -> int | None:
    """A count (or size) from the database, or ``None`` if it refused the query."""
    value = ask(connection, sql, params)
    return None if value is None else int(value)


def exists(relation: Relation, column: str | None = None) -> bool:
    """Whether the table (and ``column``, if given) exists in the database now."""
    if column is None:
        sql = "select to_regclass(:name) is not null"
        return bool(ask(relation.connection, sql, {"name": relation.sql}))
    sql = (
        "select count(*) from pg_attribute where attrelid = to_regclass(:name) "
        "and attname = :column and attnum > 0 and not attisdropped"
    )
    return bool(ask(relation.connection, sql, {"name": relation.sql, "column": column}))


def row_count(relation: Relation) -> int | None:
    return count(relation.connection, f"select count(*) from {relation.sql}")


def value_count(relation: Relation, column: str, *, null: bool = False) -> int | None:
    """Rows where ``column`` is not null (or, with ``null=True``, where it is), a column an
    earlier step adds holding the value it gives every row."""
    test = "is null" if null else "is not null"
    sql = f"select count(*) from {relation.rows()} where {relation.column(column)} {test}"
    return count(relation.connection, sql)


def table_bytes(relation: Relation) -> int | None:
    """The table's size on disk (heap and TOAST, without indexes)."""
    return count(
        relation.connection, "select pg_table_size(to_regclass(:name))", {"name": relation.sql}
    )


def column_type(relation: Relation, column: str) -> str | None:
    """The column's type as PostgreSQL names it, e.g. ``character varying(20)``."""
    sql = (
        "select format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = to_regclass(:name) and attname = :column and not attisdropped"
    )
    value = ask(relation.connection, sql, {"name": relation.sql, "column": column})
    return None if value is None else str(value)


def column_collation(relation: Relation, column: str) -> str | None:
    """The column's collation when it is not its type's default (``C``), else None."""
    sql = (
        "select c.collname from pg_attribute a join pg_type t on t.oid = a.atttypid "
        "join pg_collation c on c.oid = a.attcollation "
        "where a.attrelid = to_regclass(:name) and a.attname = :column "
        "and not a.attisdropped and a.attcollation <> t.typcollation"
    )
    value = ask(relation.connection, sql, {"name": relation.sql, "column": column})
    return None if value is None else str(value)


def unconvertible_count(
    relation: Relation,
    column: str,
    target: str,
    using: str | None = None,
    *,
    input_check: bool | None = None,
) -> int | None:
    """Non-null values of ``column`` that ``ALTER COLUMN ... TYPE target`` could not convert.

    Each value is ``using`` (or the column) assigned to a PL/pgSQL variable
    of type ``target``, which applies the assignment cast, as ALTER does
    (lengths of ``varchar(n)`` included). One pass over the table says
    whether every value converts. If not, the failures are counted with
    ``pg_input_is_valid`` (PostgreSQL 16+, a text column without USING: there
    the conversion is exactly text input), or else in PL/pgSQL: batches of
    1,000 rows in one subtransaction each, a failed batch retried row by row,
    the count handed back through a transaction-local setting. ``input_check`` forces one way or
    the other (tests compare them).
    """
    connection = relation.connection
    value = using or relation.column(column)
    where = f"from {relation.sql} where {relation.column(column)} is not null"
    every = _plpgsql(
        target,
        f"for seedbed_row in select {value} as v {where} loop "
        "seedbed_value := seedbed_row.v; end loop;",
    )
    if ask(connection, every) is not None:
        return 0
    if input_check is None:
        source = column_type(relation, column) or ""
        input_check = using is None and _server_version(connection) >= 160000 and _is_text(source)
    if input_check:
        test = f"not pg_input_is_valid({relation.column(column)}::text, :t)"
        return count(connection, f"select count(*) {where} and {test}", {"t": target})
    # Batches of 1,000 rows in one subtransaction each; only a failed batch is
    # retried row by row, so a few bad values among many rows stay cheap.
    each = _plpgsql(
        target,
        "for seedbed_batch in select array_agg(id) from (select ctid as id, "
        f"(row_number() over () - 1) / 1000 as g {where}) b group by g loop "
        f"begin for seedbed_row in select {value} as v from {relation.sql} "
        "where ctid = any(seedbed_batch) loop seedbed_value := seedbed_row.v; end loop; "
        "exception when others then "
        "for seedbed_id in select unnest(seedbed_batch) loop begin "
        f"select {value} into seedbed_value from {relation.sql} where ctid = seedbed_id; "
        "exception when others then seedbed_bad := seedbed_bad + 1; end; end loop; "
        "end; end loop; "
        f"perform set_config('{_COUNT_SETTING}', seedbed_bad::text, true);",
    )
    if ask(connection, each) is None:
        return None
    setting = ask(connection, f"select current_setting('{_COUNT_SETTING}', true)")
    return int(setting) if setting else None


def _plpgsql(target: str, body: str) -> str:
    """An anonymous PL/pgSQL block with a variable of type ``target`` (names unlikely to clash)."""
    return (
        "do $seedbed$ declare seedbed_row record; seedbed_bad bigint := 0; "
        "seedbed_batch tid[]; seedbed_id tid; "
        f"seedbed_value {target}; begin {body} end $seedbed$"
    )


def check_violations(relation: Relation, condition: str) -> int | None:
    """Rows for which the CHECK ``condition`` is false (NULL passes, as in PostgreSQL)."""
    sql = f"select count(*) from {relation.rows()} where not ({condition})"
    return count(relation.connection, sql)


def foreign_key_violations(
    relation: Relation, columns: Sequence[str], referred: Relation, referred_columns: Sequence[str]
) -> int | None:
    """Rows whose key (all columns non-null, MATCH SIMPLE) has no row in ``referred``."""
    here = [f"c.{relation.column(c)}" for c in columns]
    pairs = [f"p.{referred.column(r)} = {h}" for r, h in zip(referred_columns, here, strict=True)]
    sql = (
        f"select count(*) from {relation.rows('c')} where "
        + " and ".join(f"{h} is not null" for h in here)
        + f" and not exists (select 1 from {referred.sql} p where {' and '.join(pairs)})"
    )
    return count(relation.connection, sql)


def checks_on(relation: Relation, column: str) -> list[tuple[str, str]]:
    """The validated CHECK constraints of the table that read ``column``: (name, condition)."""
    sql = (
        "select conname, pg_get_expr(conbin, conrelid) from pg_constraint c "
        "join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey) "
        "where c.conrelid = to_regclass(:name) and c.contype = 'c' and c.convalidated "
        "and a.attname = :column order by conname"
    )
    params = {"name": relation.sql, "column": column}
    return [(str(n), str(d)) for n, d in relation.connection.execute(sa.text(sql), params)]


def unique_keys_on(relation: Relation, column: str) -> list[tuple[str, list[str], str | None]]:
    """The unique indexes (constraints' too) that read ``column`` (in a key column, an
    expression or the predicate): (name, each key term's SQL, partial index predicate)."""
    sql = (
        "select c.relname, array(select pg_get_indexdef(i.indexrelid, k.o::int, true) "
        "from generate_series(1, i.indnkeyatts) k(o) order by k.o), "
        "pg_get_expr(i.indpred, i.indrelid) from pg_index i join pg_class c on c.oid = "
        "i.indexrelid where i.indrelid = to_regclass(:name) and i.indisunique and exists "
        "(select 1 from pg_attribute a where a.attrelid = i.indrelid and a.attname = :column "
        "and (a.attnum = any(i.indkey) or exists (select 1 from pg_depend d where d.classid = "
        "'pg_class'::regclass and d.objid = i.indexrelid and d.refobjid = i.indrelid and "
        "d.refobjsubid = a.attnum))) order by c.relname"
    )
    params = {"name": relation.sql, "column": column}
    found = relation.connection.execute(sa.text(sql), params)
    return [(str(n), [str(t) for t in terms], w) for n, terms, w in found]


def duplicate_rows(
    relation: Relation,
    terms: Sequence[str],
    where: str | None = None,
    nulls_distinct: bool = True,
) -> int | None:
    """Rows that share their key with another row, among those ``where`` (a partial index's
    predicate) holds; ``terms`` are the key's columns and expressions, as SQL. Keys with a
    NULL are distinct, as in PostgreSQL, unless not ``nulls_distinct`` (``NULLS NOT
    DISTINCT``, where GROUP BY's NULLs meet as the index's). Columns that earlier pending
    steps add hold the value they give every row."""
    key = ", ".join(f"({term})" for term in terms)
    held = [f"({term}) is not null" for term in terms] if nulls_distinct else []
    held += [] if where is None else [f"({where})"]
    filter_ = f" where {' and '.join(held)}" if held else ""
    sql = (
        f"select coalesce(sum(n), 0) from (select count(*) as n from {relation.rows()}"
        f"{filter_} group by {key} having count(*) > 1) d"
    )
    return count(relation.connection, sql)


def _server_version(connection: sa.Connection) -> int:
    return int(ask(connection, "show server_version_num") or 0)


def _is_text(type_name: str) -> bool:
    return type_name == "text" or type_name.startswith(("character", "citext"))
