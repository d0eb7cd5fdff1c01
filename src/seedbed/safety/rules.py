"""The lint rules, each declared once: its id, what it catches and the fix it suggests.

Rule ids follow squawk's where squawk has the rule. The checks that find
them live in :mod:`seedbed.safety.checks` (raw SQL: :mod:`seedbed.safety.rawsql`).
"""

from __future__ import annotations

from dataclasses import dataclass

INDEX_SIZE_THRESHOLD = 10 * 1024 * 1024
"""Tables at least this big (bytes, heap and TOAST) get ``require-concurrent-index-creation``."""


@dataclass(frozen=True)
class Rule:
    id: str
    catches: str
    fix: str


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "adding-required-field",
            "a NOT NULL column without a server default added to a table that has rows",
            "add the column nullable (or with a server_default), backfill it, then "
            "alter it to NOT NULL in a later step",
        ),
        Rule(
            "adding-not-nullable-field",
            "an existing column made NOT NULL while rows hold NULL in it",
            "fill the NULLs first in a revision of its own, applied before this one (db migrate "
            "--to it), then set NOT NULL; lint does not run an op.execute UPDATE of the same "
            "migrate: if one fills them, acknowledge this once db migrate --dry-run succeeds",
        ),
        Rule(
            "changing-column-type",
            "a column type change: counts the current values that would not convert",
            "give postgresql_using= an expression that converts every value, or fix the "
            "values first; on a big table add a new column, backfill it and switch over",
        ),
        Rule(
            "ban-drop-column",
            "a dropped column: counts the non-null values that would be lost",
            "keep the column, or copy its values elsewhere first; if the loss is intended, "
            "acknowledge it (db migrate then takes a backup first)",
        ),
        Rule(
            "ban-drop-table",
            "a dropped table: counts the rows that would be lost",
            "keep the table, or copy its rows elsewhere first; if the loss is intended, "
            "acknowledge it (db migrate then takes a backup first)",
        ),
        Rule(
            "renaming-column",
            "a renamed column: every reader and writer using the old name breaks",
            "add the new column, write both, move the readers, then drop the old one",
        ),
        Rule(
            "renaming-table",
            "a renamed table: every reader and writer using the old name breaks",
            "create the new table (or a view under the old name) and move readers first",
        ),
        Rule(
            "require-concurrent-index-creation",
            f"an index built without CONCURRENTLY on a table of {INDEX_SIZE_THRESHOLD >> 20} MB "
            "or more: writes to the table wait until it is built",
            "op.create_index(..., postgresql_concurrently=True) inside "
            "`with op.get_context().autocommit_block():`",
        ),
        Rule(
            "constraint-missing-not-valid",
            "a foreign key or CHECK added to a populated table without NOT VALID: every row "
            "is checked while the table is locked",
            "add it with postgresql_not_valid=True, then VALIDATE CONSTRAINT in a later revision",
        ),
        Rule(
            "constraint-violated-by-data",
            "a foreign key, CHECK or unique key (constraint or index) that rows in the table "
            "break now",
            "fix or delete those rows first in a revision of its own, applied before this one "
            "(db migrate --to it); lint does not run an op.execute UPDATE or DELETE of the same "
            "migrate: if one fixes them, acknowledge this once db migrate --dry-run succeeds",
        ),
        Rule(
            "enum-value-used-in-same-transaction",
            "an enum label added with ALTER TYPE ... ADD VALUE and used (a default, a CHECK, an "
            "index predicate) by a later step of the same db migrate: PostgreSQL refuses it",
            "add the label in a revision of its own and apply it (db migrate --to that "
            "revision) before generating the revision that uses it",
        ),
        Rule(
            "unchecked-sql",
            "raw SQL (op.execute) that may change tables or rows: lint cannot read it",
            "check it with `seedbed db migrate --dry-run`",
        ),
        Rule(
            "unchecked-code",
            "revision code that failed while being read (for example SQL run through "
            "op.get_bind()): the operations after it were not checked",
            "check it with `seedbed db migrate --dry-run`",
        ),
    )
}
