"""The model-facts layer: what the model says, read in one place, from the source in use.

Keys (:mod:`~seedbed.facts.keys`), what a table demands of its rows
(:mod:`~seedbed.facts.spec`), the one table order (:mod:`~seedbed.facts.order`),
how tables relate and their type names (:mod:`~seedbed.facts.relations`), and
the model itself from the source chosen in :mod:`~seedbed.facts.source`.
Validation, loading, synthetic data, docs, the ER diagram and explore import
from here, never from :mod:`seedbed.models`. Each name is imported with its module on first use.
"""

from __future__ import annotations

import typing

from seedbed.lazymodules import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from seedbed.facts.catalog import reflect_namespace, type_judge
    from seedbed.facts.declaration import (
        NAMING_CONVENTION,
        PARTITIONS,
        UPDATED_AT_BODY,
        UPDATED_AT_FUNCTION,
        CatalogType,
        JsonShape,
        Rule,
        SqlCheck,
        all_rules,
        tables_with_updated_at,
        updated_at_function_sql,
        updated_at_trigger,
        updated_at_trigger_sql,
    )
    from seedbed.facts.keys import (
        ForeignKeySpec,
        IndexSpec,
        TableKeys,
        UniqueKey,
        conflict_key,
        table_keys,
    )
    from seedbed.facts.order import (
        LaterKey,
        TableOrder,
        defer_later_keys,
        ordered_tables,
        table_order,
    )
    from seedbed.facts.relations import (
        Relationship,
        column_keys,
        column_type,
        relationships,
        unique_column_sets,
    )
    from seedbed.facts.snapshot import stored_tables
    from seedbed.facts.source import (
        DatabaseSource,
        FolderSource,
        Models,
        ModelSource,
        ModuleSource,
        PackageSource,
        declared_metadata,
        declaring_class,
        metadata_for,
        model_source,
        using_models,
    )
    from seedbed.facts.spec import ColumnSpec, RuleSpec, TableSpec, table_spec
    from seedbed.facts.sqlchecks import DatabaseEvaluator
    from seedbed.facts.stored import StoredTable

#: The public names, by the module that defines them.
_LAZY = {
    "seedbed.facts.catalog": ("reflect_namespace", "type_judge"),
    "seedbed.facts.sqlchecks": ("DatabaseEvaluator",),
    "seedbed.facts.declaration": (
        "NAMING_CONVENTION",
        "CatalogType",
        "PARTITIONS",
        "UPDATED_AT_BODY",
        "UPDATED_AT_FUNCTION",
        "JsonShape",
        "Rule",
        "SqlCheck",
        "all_rules",
        "tables_with_updated_at",
        "updated_at_function_sql",
        "updated_at_trigger",
        "updated_at_trigger_sql",
    ),
    "seedbed.facts.keys": (
        "ForeignKeySpec",
        "IndexSpec",
        "TableKeys",
        "UniqueKey",
        "conflict_key",
        "table_keys",
    ),
    "seedbed.facts.order": (
        "LaterKey",
        "TableOrder",
        "defer_later_keys",
        "ordered_tables",
        "table_order",
    ),
    "seedbed.facts.relations": (
        "Relationship",
        "column_keys",
        "column_type",
        "relationships",
        "unique_column_sets",
    ),
    "seedbed.facts.source": (
        "DatabaseSource",
        "FolderSource",
        "ModelSource",
        "Models",
        "ModuleSource",
        "PackageSource",
        "declared_metadata",
        "declaring_class",
        "metadata_for",
        "model_source",
        "using_models",
    ),
    "seedbed.facts.snapshot": ("stored_tables",),
    "seedbed.facts.spec": ("ColumnSpec", "RuleSpec", "TableSpec", "table_spec"),
    "seedbed.facts.stored": ("StoredTable",),
}

__all__ = [
    "NAMING_CONVENTION",
    "PARTITIONS",
    "UPDATED_AT_BODY",
    "UPDATED_AT_FUNCTION",
    "CatalogType",
    "ColumnSpec",
    "DatabaseEvaluator",
    "DatabaseSource",
    "FolderSource",
    "ForeignKeySpec",
    "IndexSpec",
    "JsonShape",
    "LaterKey",
    "ModelSource",
    "Models",
    "ModuleSource",
    "PackageSource",
    "Relationship",
    "Rule",
    "RuleSpec",
    "SqlCheck",
    "StoredTable",
    "TableKeys",
    "TableOrder",
    "TableSpec",
    "UniqueKey",
    "all_rules",
    "column_keys",
    "column_type",
    "conflict_key",
    "declared_metadata",
    "declaring_class",
    "defer_later_keys",
    "metadata_for",
    "model_source",
    "ordered_tables",
    "reflect_namespace",
    "relationships",
    "stored_tables",
    "table_keys",
    "table_order",
    "table_spec",
    "tables_with_updated_at",
    "type_judge",
    "unique_column_sets",
    "updated_at_function_sql",
    "updated_at_trigger",
    "updated_at_trigger_sql",
    "using_models",
]

__getattr__, __dir__ = _lazy_exports(globals(), _LAZY)
