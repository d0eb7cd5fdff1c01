"""Names that belong to the model's declaration itself, offered here so upper layers ask facts.

The rule kinds are the vocabulary every source describes its CHECKs in; the
naming convention and the ``updated_at`` trigger are how seedbed declares
tables. They live in :mod:`seedbed.models`; docs, validation, synthetic
data and autogenerate import them from here.
"""

from __future__ import annotations

from seedbed.models.base import (
    NAMING_CONVENTION,
    PARTITIONS,
    UPDATED_AT_BODY,
    UPDATED_AT_FUNCTION,
    CatalogType,
    tables_with_updated_at,
    updated_at_function_sql,
    updated_at_trigger,
    updated_at_trigger_sql,
)
from seedbed.models.predicates import (
    AllOf,
    AnyOf,
    Column,
    Compare,
    Constant,
    IsNull,
    Not,
    OneOf,
    Pattern,
    Predicate,
    SameTruth,
    python_regex,
)
from seedbed.models.rules import (
    EMAIL,
    SLUG,
    URL,
    UUID_V4,
    JsonShape,
    Later,
    Length,
    Matches,
    RequiredWhen,
    Rule,
    SqlCheck,
    UuidV4,
    all_rules,
)

__all__ = [
    "EMAIL",
    "NAMING_CONVENTION",
    "PARTITIONS",
    "SLUG",
    "UPDATED_AT_BODY",
    "UPDATED_AT_FUNCTION",
    "URL",
    "UUID_V4",
    "AllOf",
    "AnyOf",
    "CatalogType",
    "Column",
    "Compare",
    "Constant",
    "IsNull",
    "JsonShape",
    "Later",
    "Length",
    "Matches",
    "Not",
    "OneOf",
    "Pattern",
    "Predicate",
    "RequiredWhen",
    "Rule",
    "SameTruth",
    "SqlCheck",
    "UuidV4",
    "all_rules",
    "python_regex",
    "tables_with_updated_at",
    "updated_at_function_sql",
    "updated_at_trigger",
    "updated_at_trigger_sql",
]
