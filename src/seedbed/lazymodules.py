"""Modules imported at their first use: numpy, pandas and pyarrow for the loader's path.

``seedbed load`` starts its COPY before it needs pandas: the writer thread
streams a CSV file's bytes, and PostgreSQL, in its own process, works on them
while the calling thread imports pandas, pyarrow and pandera and validates
(``docs/decisions/2026-11-copy-before-pandas-import.md``). So the modules
the writer goes through (the models and their rules, the seed sources and
file formats) name these libraries like this::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = lazy_module("pandas")

Type checkers see the real module; at run time ``pd.DataFrame`` imports
pandas on its first use and is a plain attribute read after that. A test
(``tests/test_public_api.py``) checks that the first COPY is sent before
pandas is imported.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class _LazyModule:
    """Stands for module ``name``; the first attribute read imports it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        # Only called for what the instance does not hold yet: the first read of
        # each name, or a submodule imported later (``pyarrow.types``).
        value = getattr(importlib.import_module(self._name), attribute)
        self.__dict__.setdefault(attribute, value)
        return value

    def __repr__(self) -> str:
        state = "imported" if self._name in sys.modules else "not imported yet"
        return f"<lazy module {self._name!r}, {state}>"


def lazy_module(name: str) -> Any:
    """Module ``name`` if it is imported already, else a stand-in that imports it when used."""
    module = sys.modules.get(name)
    return module if module is not None else _LazyModule(name)


def imported(name: str) -> bool:
    """True when module ``name`` is imported: no object of its types can exist before."""
    return name in sys.modules


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public names are imported when asked for.

    ``namespace`` is the package's ``globals()``; ``homes`` maps each module to
    the names it defines. The first read of a name imports its module and
    keeps the value in the package, so later reads are plain lookups.
    """
    home = {name: module for module, names in homes.items() for name in names}
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return __getattr__, __dir__


__all__ = ["imported", "lazy_exports", "lazy_module"]
