"""The data model: one module per table, all in one namespaced ``metadata``.

Adding a table means adding a module here; it is imported automatically, with
the declarative base, when one of the names below is first asked for. The rule
modules (:mod:`~seedbed.models.rules`, :mod:`~seedbed.models.predicates`) import
without them, and without SQLAlchemy: a model's facts read back from
:mod:`seedbed.facts.snapshot` need only those.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from seedbed.models.base import NAMING_CONVENTION, Base, metadata_for, new_base

    metadata: MetaData

_FROM_BASE = ("NAMING_CONVENTION", "Base", "metadata_for", "new_base")


def __getattr__(name: str) -> Any:
    if name not in (*_FROM_BASE, "metadata"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    base = importlib.import_module(f"{__name__}.base")
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module not in {"base", "predicates", "rules"}:
            importlib.import_module(f"{__name__}.{module}")
    globals().update({n: getattr(base, n) for n in _FROM_BASE}, metadata=base.Base.metadata)
    return globals()[name]


__all__ = ["NAMING_CONVENTION", "Base", "metadata", "metadata_for", "new_base"]
