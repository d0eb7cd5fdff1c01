"""The data model: one module per table, all in one namespaced ``metadata``.

Adding a table means adding a module here; it is imported automatically.
"""

from __future__ import annotations

import importlib
import pkgutil

from seedbed.models.base import NAMING_CONVENTION, Base, metadata_for, new_base

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in {"base", "predicates", "rules"}:
        importlib.import_module(f"{__name__}.{_module}")

metadata = Base.metadata

__all__ = ["NAMING_CONVENTION", "Base", "metadata", "metadata_for", "new_base"]
