"""The data-model document, generated from the models so that it cannot drift.

The document itself is :mod:`seedbed.docs.document`; its per-table part is
:mod:`seedbed.docs.tables` and its closing sections :mod:`seedbed.docs.sections`.
Each name here is imported with its module on first use.

>>> check_docs()  # doctest: +SKIP
[]
"""

from __future__ import annotations

import typing

from seedbed.lazymodules import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from seedbed.docs.document import DEFAULT_PATH, check_docs, render_data_models, write_docs

#: The public names, by the module that defines them.
_LAZY = {
    "seedbed.docs.document": ("DEFAULT_PATH", "check_docs", "render_data_models", "write_docs"),
}

__all__ = ["DEFAULT_PATH", "check_docs", "render_data_models", "write_docs"]

__getattr__, __dir__ = _lazy_exports(globals(), _LAZY)
