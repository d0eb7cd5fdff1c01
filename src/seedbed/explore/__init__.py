"""Explore the namespaced database from a notebook, with DataFrames and plots in mind.

Every helper takes an engine from :func:`seedbed.get_engine` (or a
connection from one) and works in that engine's namespace. SQL text runs
with ``search_path`` set to the namespace, so it names tables unqualified
(quote ``"user"``, a reserved word); values go in ``:name`` placeholders,
bound by the driver. Mistakes come back as :class:`seedbed.QueryError`, a lost
server as :class:`seedbed.DatabaseError`, never as driver exceptions.

- :mod:`~seedbed.explore.tables`: ``read_table`` (hides soft-deleted rows),
  ``read_query``, ``row_counts``, keyset and offset pagination,
  ``prepare_sample`` (a namespace filled with synthetic data).
- :mod:`~seedbed.explore.plans`: ``explain`` as a DataFrame, ``time_query``,
  and with/without-index experiments on scratch copies (``latency_by_size``).
- :mod:`~seedbed.explore.relations`: foreign keys, ``cardinality``,
  ``orphans``, ``cascade_effect``.
- :mod:`~seedbed.explore.indexes`: ``index_catalog`` (purpose, size, scans)
  and ``index_scans_during`` for an unused-index audit.
- :mod:`~seedbed.explore.display`: ``styled`` DataFrames (number formats, one
  sign for missing values, no overflow) and ``use_notebook_display``.

The package is split along those four seams to keep each module about one
concern; import everything from here.
"""

from __future__ import annotations

from seedbed.explore.display import styled, use_notebook_display
from seedbed.explore.indexes import index_catalog, index_scans_during
from seedbed.explore.plans import (
    ScratchTable,
    Timing,
    buffers_touched,
    explain,
    latency_by_size,
    plan_frame,
    scan_summary,
    scratch_table,
    time_call,
    time_calls,
    time_query,
    uses_index,
)
from seedbed.explore.relations import cardinality, cascade_effect, foreign_keys, orphans
from seedbed.explore.tables import (
    keyset_page,
    keyset_pages,
    offset_page,
    prepare_sample,
    read_query,
    read_table,
    row_counts,
    sample_settings,
    vacuum_analyze,
)

__all__ = [
    "ScratchTable",
    "Timing",
    "buffers_touched",
    "cardinality",
    "cascade_effect",
    "explain",
    "foreign_keys",
    "index_catalog",
    "index_scans_during",
    "keyset_page",
    "keyset_pages",
    "latency_by_size",
    "offset_page",
    "orphans",
    "plan_frame",
    "prepare_sample",
    "read_query",
    "read_table",
    "row_counts",
    "sample_settings",
    "scan_summary",
    "scratch_table",
    "styled",
    "time_call",
    "time_calls",
    "time_query",
    "use_notebook_display",
    "uses_index",
    "vacuum_analyze",
]
