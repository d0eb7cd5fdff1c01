"""Entity-relationship diagrams drawn from the models: Mermaid text and a matplotlib figure.

Both read the same facts (:mod:`seedbed.facts.relations`: tables in order,
columns, keys, relationships), so the two pictures always agree with each
other and with the database. Neither names the schema namespace, so the
output does not change with ``SEEDBED_SCHEMA``. Each name is imported with
its module on first use: matplotlib only when a figure is drawn.

>>> from seedbed.facts import declared_metadata
>>> print(mermaid_er(declared_metadata()).splitlines()[0])
erDiagram

In a notebook, ``er_figure(metadata)`` displays itself; elsewhere, save it
with ``er_figure(metadata).savefig("erd.png")``.
"""

from __future__ import annotations

import typing

from seedbed.lazymodules import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from seedbed.erd.figure import edge_paths, er_figure
    from seedbed.erd.mermaid import mermaid_er

#: The public names, by the module that defines them.
_LAZY = {
    "seedbed.erd.figure": ("edge_paths", "er_figure"),
    "seedbed.erd.mermaid": ("mermaid_er",),
}

__all__ = ["edge_paths", "er_figure", "mermaid_er"]

__getattr__, __dir__ = _lazy_exports(globals(), _LAZY)
