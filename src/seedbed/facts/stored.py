"""A declared table as the model's snapshot holds it: what validation reads, no SQLAlchemy.

:mod:`seedbed.facts.snapshot` keeps each table of a declared model as a
:class:`StoredTable`: its name, namespace and columns (each with its ``info``:
``doc``, ``sensitive``), and the :class:`~seedbed.facts.TableSpec` and
:class:`~seedbed.facts.TableKeys` read from its declaration, which
:func:`~seedbed.facts.table_spec` and :func:`~seedbed.facts.table_keys` give
back as they are. It stands where a ``sa.Table`` stands in validation; any
other attribute is read from the declaration itself (``declared``), which
imports the model then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

    from seedbed.facts.keys import TableKeys
    from seedbed.facts.order import TableOrder
    from seedbed.facts.spec import TableSpec


@dataclass(frozen=True)
class StoredColumn:
    name: str
    info: dict[str, Any] = field(default_factory=dict)


class StoredTable:
    """A table's name, namespace, columns, spec and keys, as stored; compared by identity.

    ``metadata`` is the whole model as stored (:class:`StoredMetadata`).
    """

    spec: TableSpec
    keys: TableKeys
    metadata: StoredMetadata

    def __init__(self, name: str, schema: str | None, columns: dict[str, StoredColumn]) -> None:
        self.name = name
        self.schema = schema
        self.c = columns
        #: the table as declared, for what is not stored (set when read back; not stored)
        self.declared: Callable[[], sa.Table] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "declared": None}

    def __getattr__(self, name: str) -> Any:
        # Only for names the instance does not hold: read them from the declaration.
        declared = self.__dict__.get("declared")
        if name.startswith("__") or declared is None:
            raise AttributeError(f"stored table {self.__dict__.get('name')!r} has no {name!r}")
        return getattr(declared(), name)

    def __repr__(self) -> str:
        return f"<stored table {self.schema}.{self.name}>"


class StoredMetadata:
    """The model's tables as stored, where a ``sa.MetaData`` stands for them: ``tables`` by
    key (``schema.name``, as ``MetaData.tables``), and their :class:`~seedbed.facts.TableOrder`
    as read from the declaration, which :func:`~seedbed.facts.table_order` gives back."""

    def __init__(self, schema: str | None, tables: dict[str, StoredTable], order: TableOrder):
        self.schema = schema
        self.tables = tables
        self.order = order

    def __repr__(self) -> str:
        return f"<stored model {self.schema}: {', '.join(t.name for t in self.tables.values())}>"


__all__ = ["StoredColumn", "StoredMetadata", "StoredTable"]
