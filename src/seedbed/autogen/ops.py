"""Operations Alembic has no verb for: the updated_at function and triggers, enum types, domains.

Each operation knows its SQL for any namespace (:meth:`NamespaceOp.sql`), its
reverse, and one readable line for ``seedbed db check``. The SQL is run by one
implementation registered with ``Operations.implementation_for`` (so
``Operations.invoke`` and ``seedbed db push`` run it), and rendered into a
revision as a plain ``op.execute(f"...")`` (see :mod:`seedbed.autogen.render`),
so revision files need nothing from seedbed.
"""

from __future__ import annotations

from typing import Any

from alembic.operations import Operations
from alembic.operations.ops import MigrateOperation

from seedbed.facts import (
    UPDATED_AT_FUNCTION,
    updated_at_function_sql,
    updated_at_trigger,
    updated_at_trigger_sql,
)
from seedbed.facts.referenced import domain_sql
from seedbed.sqltext import quote_ident, quote_literal


class NamespaceOp(MigrateOperation):
    """A change inside one namespace that is a single SQL statement (or none)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def sql(self, schema: str) -> str | None:
        """The statement with ``schema`` as the namespace; None when there is nothing to run."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line in the words of ``seedbed db check``."""
        raise NotImplementedError

    def reverse(self) -> NamespaceOp:
        raise NotImplementedError

    @classmethod
    def invoke_op(cls, operations: Operations, *args: Any, **kw: Any) -> None:
        operations.invoke(cls(*args, **kw))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.describe()}>"


@Operations.implementation_for(NamespaceOp)
def _run(operations: Operations, operation: NamespaceOp) -> None:
    statement = operation.sql(operation.schema)
    if statement is not None:
        operations.execute(statement)


class CreateUpdatedAtFunctionOp(NamespaceOp):
    def sql(self, schema: str) -> str:
        return updated_at_function_sql(schema)

    def describe(self) -> str:
        return f"missing function {self.schema}.{UPDATED_AT_FUNCTION}()"

    def reverse(self) -> NamespaceOp:
        return DropUpdatedAtFunctionOp(self.schema)


class DropUpdatedAtFunctionOp(NamespaceOp):
    def sql(self, schema: str) -> str:
        return f"DROP FUNCTION {quote_ident(schema)}.{UPDATED_AT_FUNCTION}()"

    def describe(self) -> str:
        return f"extra function {self.schema}.{UPDATED_AT_FUNCTION}()"

    def reverse(self) -> NamespaceOp:
        return CreateUpdatedAtFunctionOp(self.schema)


class ReplaceUpdatedAtFunctionOp(NamespaceOp):
    """``CREATE OR REPLACE`` the function with ``body``; the reverse puts ``previous`` back."""

    def __init__(self, schema: str, body: str, previous: str) -> None:
        super().__init__(schema)
        self.body = body
        self.previous = previous

    def sql(self, schema: str) -> str:
        return updated_at_function_sql(schema, self.body)

    def describe(self) -> str:
        return f"changed function {self.schema}.{UPDATED_AT_FUNCTION}()"

    def reverse(self) -> NamespaceOp:
        return ReplaceUpdatedAtFunctionOp(self.schema, self.previous, self.body)


class _TriggerOp(NamespaceOp):
    def __init__(self, schema: str, table: str) -> None:
        super().__init__(schema)
        self.table = table


class CreateUpdatedAtTriggerOp(_TriggerOp):
    def sql(self, schema: str) -> str:
        return updated_at_trigger_sql(schema, self.table)

    def describe(self) -> str:
        return f"missing trigger {updated_at_trigger(self.table)} on {self.schema}.{self.table}"

    def reverse(self) -> NamespaceOp:
        return DropUpdatedAtTriggerOp(self.schema, self.table)


class DropUpdatedAtTriggerOp(_TriggerOp):
    def sql(self, schema: str) -> str:
        trigger = quote_ident(updated_at_trigger(self.table))
        return f"DROP TRIGGER {trigger} ON {quote_ident(schema)}.{quote_ident(self.table)}"

    def describe(self) -> str:
        return f"extra trigger {updated_at_trigger(self.table)} on {self.schema}.{self.table}"

    def reverse(self) -> NamespaceOp:
        return CreateUpdatedAtTriggerOp(self.schema, self.table)


class _EnumOp(NamespaceOp):
    def __init__(self, schema: str, name: str, labels: tuple[str, ...]) -> None:
        super().__init__(schema)
        self.name = name
        self.labels = tuple(labels)


class CreateEnumOp(_EnumOp):
    def sql(self, schema: str) -> str:
        labels = ", ".join(quote_literal(label) for label in self.labels)
        return f"CREATE TYPE {quote_ident(schema)}.{quote_ident(self.name)} AS ENUM ({labels})"

    def describe(self) -> str:
        return f"missing enum {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return DropEnumOp(self.schema, self.name, self.labels)


class DropEnumOp(_EnumOp):
    def sql(self, schema: str) -> str:
        return f"DROP TYPE {quote_ident(schema)}.{quote_ident(self.name)}"

    def describe(self) -> str:
        return f"extra enum {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return CreateEnumOp(self.schema, self.name, self.labels)


class _DomainOp(NamespaceOp):
    def __init__(self, schema: str, name: str, definition: str) -> None:
        super().__init__(schema)
        self.name = name
        self.definition = definition


class CreateDomainOp(_DomainOp):
    """A domain the model declares in its namespace (``MetaData.info[DOMAINS]``)."""

    def sql(self, schema: str) -> str:
        return domain_sql(schema, self.name, self.definition)

    def describe(self) -> str:
        return f"missing domain {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return DropDomainOp(self.schema, self.name, self.definition)


class DropDomainOp(_DomainOp):
    def sql(self, schema: str) -> str:
        return f"DROP DOMAIN {quote_ident(schema)}.{quote_ident(self.name)}"

    def describe(self) -> str:
        return f"extra domain {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return CreateDomainOp(self.schema, self.name, self.definition)


class AlterDomainOp(NamespaceOp):
    """One change to a domain the model declares: ``ALTER DOMAIN name <action>``.

    ``change`` says what changes, for ``db check``; the reverse runs ``undo``.
    """

    def __init__(self, schema: str, name: str, action: str, undo: str, change: str) -> None:
        super().__init__(schema)
        self.name = name
        self.action = action
        self.undo = undo
        self.change = change

    def sql(self, schema: str) -> str:
        return f"ALTER DOMAIN {quote_ident(schema)}.{quote_ident(self.name)} {self.action}"

    def describe(self) -> str:
        return f"changed domain {self.schema}.{self.name}: {self.change}"

    def reverse(self) -> NamespaceOp:
        return AlterDomainOp(self.schema, self.name, self.undo, self.action, f"undo {self.change}")


class KeepDomainTypeOp(NamespaceOp):
    """A domain whose base type the model changes: PostgreSQL cannot alter it in place.

    Nothing runs; ``db check`` keeps naming the difference, so a revision
    written by hand (a new domain, the columns moved to it) settles it.
    """

    def __init__(self, schema: str, name: str, present: str, declared: str) -> None:
        super().__init__(schema)
        self.name = name
        self.present = present
        self.declared = declared

    def sql(self, schema: str) -> None:
        return None

    def describe(self) -> str:
        return (
            f"changed domain {self.schema}.{self.name}: base type {self.present} -> "
            f"{self.declared} (PostgreSQL cannot alter a domain's type: write this change by hand)"
        )

    def reverse(self) -> NamespaceOp:
        return KeepDomainTypeOp(self.schema, self.name, self.declared, self.present)


class _EnumValueOp(NamespaceOp):
    def __init__(
        self, schema: str, name: str, label: str, after: str | None, before: str | None = None
    ) -> None:
        super().__init__(schema)
        self.name = name
        self.label = label
        self.after = after
        self.before = before


class AddEnumValueOp(_EnumValueOp):
    """``ALTER TYPE ... ADD VALUE``, placed where the model lists the value.

    PostgreSQL cannot remove a value from an enum, so the reverse does nothing
    and says so in the downgrade.
    """

    def sql(self, schema: str) -> str:
        place = ""
        if self.after is not None:
            place = f" AFTER {quote_literal(self.after)}"
        elif self.before is not None:
            place = f" BEFORE {quote_literal(self.before)}"
        return (
            f"ALTER TYPE {quote_ident(schema)}.{quote_ident(self.name)} "
            f"ADD VALUE IF NOT EXISTS {quote_literal(self.label)}{place}"
        )

    def describe(self) -> str:
        return f"missing value {self.label!r} in enum {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return KeepEnumValueOp(self.schema, self.name, self.label, self.after, self.before)


class KeepEnumValueOp(_EnumValueOp):
    def sql(self, schema: str) -> None:
        return None

    def describe(self) -> str:
        return f"PostgreSQL cannot drop value {self.label!r} from enum {self.schema}.{self.name}"

    def reverse(self) -> NamespaceOp:
        return AddEnumValueOp(self.schema, self.name, self.label, self.after, self.before)


for _name, _class in {
    "create_updated_at_function": CreateUpdatedAtFunctionOp,
    "drop_updated_at_function": DropUpdatedAtFunctionOp,
    "replace_updated_at_function": ReplaceUpdatedAtFunctionOp,
    "create_updated_at_trigger": CreateUpdatedAtTriggerOp,
    "drop_updated_at_trigger": DropUpdatedAtTriggerOp,
    "create_enum": CreateEnumOp,
    "drop_enum": DropEnumOp,
    "add_enum_value": AddEnumValueOp,
    "alter_domain": AlterDomainOp,
}.items():
    if not hasattr(Operations, _name):
        Operations.register_operation(_name, "invoke_op")(_class)
