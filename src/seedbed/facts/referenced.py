"""What a pulled model declares beside its tables, and how a baseline creates the rest.

A namespace's domains: ``db pull`` reads them (:func:`namespace_domains`) and
the model declares them in ``MetaData.info`` (:data:`DOMAINS`), so ``db push``,
``db generate`` and a baseline create them (:func:`domain_sql`) before the
tables. Its serial columns' sequences and foreign keys to tables in other
namespaces: ``db pull`` reads them (:func:`namespace_objects`,
:func:`catalog_keys_elsewhere`), a pulled table declares its keys elsewhere in
``info`` (:data:`REFERENCES_ELSEWHERE`), and ``db pull --adopt`` creates them
in its baseline revision (:class:`NamespaceObject`, with SQL for any
namespace).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from seedbed.facts.order import ordered_tables
from seedbed.sqltext import quote_ident, quote_literal

#: Domains of the namespace, base types first, written as the catalog holds them:
#: each CHECK as (its name as SQL writes it, definition), by name.
_DOMAINS_SQL = """
SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
       coalesce((SELECT array_agg(ARRAY[quote_ident(c.conname), pg_get_constraintdef(c.oid)]
                                  ORDER BY c.conname)
                 FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'),
                '{}'::text[])
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = :schema AND t.typtype = 'd'
ORDER BY t.oid
"""

#: Sequences of serial columns (owned by a column, not an identity's), with their column.
_SERIALS_SQL = """
SELECT s.relname, format_type(q.seqtypid, NULL), c.relname, a.attname
FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
  AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
WHERE n.nspname = :schema AND s.relkind = 'S'
ORDER BY c.relname, a.attname
"""

#: Foreign keys to tables in other namespaces, each with its definition as the catalog prints it.
_ELSEWHERE_SQL = """
SELECT cl.relname, c.conname, pg_get_constraintdef(c.oid), rn.nspname || '.' || rc.relname
FROM pg_constraint c
JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_class rc ON rc.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE c.contype = 'f' AND n.nspname = :schema AND rn.nspname <> :schema
ORDER BY cl.relname, c.conname
"""

#: ``MetaData.info`` key of the domains a model declares in its own namespace, in the order
#: they are created (a domain over another after it): name -> definition, what follows
#: ``CREATE DOMAIN name`` (``AS`` the base type, DEFAULT, NOT NULL, the named CHECKs).
#: A domain of another namespace a column uses is referenced, never created.
DOMAINS = "domains"


def domain_sql(schema: str, name: str, definition: str) -> str:
    """``CREATE DOMAIN`` for one entry of ``MetaData.info[DOMAINS]``, in namespace ``schema``."""
    return f"CREATE DOMAIN {quote_ident(schema)}.{quote_ident(name)} {definition}"


@dataclass(frozen=True)
class DomainParts:
    """A domain as the catalog holds it: base type, DEFAULT, NOT NULL and CHECKs by name
    (each name as SQL writes it, quoted where it must be), in the order of their names."""

    base: str
    default: str | None
    not_null: bool
    checks: dict[str, str]

    @property
    def definition(self) -> str:
        """What follows ``CREATE DOMAIN name``, as :data:`DOMAINS` declares it."""
        definition = f"AS {self.base}"
        definition += f" DEFAULT {self.default}" if self.default is not None else ""
        definition += " NOT NULL" if self.not_null else ""
        return definition + "".join(f" CONSTRAINT {n} {d}" for n, d in self.checks.items())


def domain_parts(conn: sa.Connection, schema: str) -> dict[str, DomainParts]:
    """The namespace's domains, part by part (the namespace on the path), base types first."""
    return {
        str(name): DomainParts(
            str(base),
            None if default is None else str(default),
            bool(not_null),
            {str(n): str(d) for n, d in checks},
        )
        for name, base, not_null, default, checks in conn.execute(
            sa.text(_DOMAINS_SQL), {"schema": schema}
        )
    }


def namespace_domains(conn: sa.Connection, schema: str) -> dict[str, str]:
    """The namespace's domains, as :data:`DOMAINS` declares them (the namespace on the path)."""
    return {name: parts.definition for name, parts in domain_parts(conn, schema).items()}


#: ``Table.info`` key of a pulled table's foreign keys to other namespaces: name -> definition.
#: They are not ``sa.ForeignKeyConstraint`` objects: the model has no table to point them at,
#: so validation leaves them to the database, and ``db check`` does not count them as drift.
REFERENCES_ELSEWHERE = "references elsewhere"


def references_elsewhere(metadata: sa.MetaData, table: object) -> dict[str, str]:
    """The foreign keys to other namespaces a pulled ``table`` (by name) declares."""
    found = metadata.tables.get(f"{metadata.schema}.{table}")
    declared = found.info.get(REFERENCES_ELSEWHERE, {}) if found is not None else {}
    return dict(declared)


#: Stands for the quoted namespace in :attr:`NamespaceObject.create` and ``drop``.
NAMESPACE = "\x01namespace\x01"


@dataclass(frozen=True)
class NamespaceObject:
    """Something a pulled model references but does not declare: a serial's sequence, a key.

    ``create`` (statements, run after the tables when ``after_tables``) and
    ``drop`` are SQL with :data:`NAMESPACE` where the quoted namespace goes;
    a baseline revision (``db pull --adopt``) creates it in a fresh namespace.
    """

    kind: str
    name: str
    create: tuple[str, ...]
    drop: str | None
    after_tables: bool = False


def namespace_objects(conn: sa.Connection, schema: str) -> list[NamespaceObject]:
    """The namespace's serial sequences (the namespace first on the search_path)."""
    found = []
    for sequence, kind, table, column in conn.execute(sa.text(_SERIALS_SQL), {"schema": schema}):
        owner = f"{NAMESPACE}.{quote_ident(table)}"
        qualified = f"{NAMESPACE}.{quote_ident(sequence)}"
        create = (
            f"CREATE SEQUENCE {qualified} AS {kind} OWNED BY {owner}.{quote_ident(column)}",
            f"ALTER TABLE {owner} ALTER COLUMN {quote_ident(column)} "
            f"SET DEFAULT nextval({quote_literal(quote_ident(sequence))}::regclass)",
        )
        found.append(NamespaceObject("sequence", str(sequence), create, None, after_tables=True))
    return found


def keys_elsewhere(metadata: sa.MetaData) -> list[NamespaceObject]:
    """The foreign keys to other namespaces that ``metadata``'s pulled tables declare."""
    return [
        NamespaceObject(
            "foreign key",
            name,
            (
                f"ALTER TABLE {NAMESPACE}.{quote_ident(table.name)} "
                f"ADD CONSTRAINT {quote_ident(name)} {definition}",
            ),
            None,
            after_tables=True,
        )
        for table in ordered_tables(metadata)
        for name, definition in table.info.get(REFERENCES_ELSEWHERE, {}).items()
    ]


def catalog_keys_elsewhere(conn: sa.Connection, schema: str) -> list[tuple[str, str, str, str]]:
    """Foreign keys of ``schema`` to other namespaces: table, name, definition, target table.

    Read with only the namespace on the search_path, so the other table is
    named with its namespace in the definition.
    """
    conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(schema)}")
    rows = conn.execute(sa.text(_ELSEWHERE_SQL), {"schema": schema})
    return [(str(t), str(name), str(sql), str(target)) for t, name, sql, target in rows]


__all__ = [
    "DOMAINS",
    "NAMESPACE",
    "REFERENCES_ELSEWHERE",
    "DomainParts",
    "NamespaceObject",
    "catalog_keys_elsewhere",
    "domain_parts",
    "domain_sql",
    "keys_elsewhere",
    "namespace_domains",
    "namespace_objects",
    "references_elsewhere",
]
