"""Loading seed files and DataFrames: validate, then COPY every table in one transaction.

Modules, one concern each: ``load`` (the all-or-nothing orchestration),
``copy`` (streaming a source into COPY), ``modes`` (staging and merging,
as :mod:`seedbed.loadmode` says), ``failures`` (database errors mapped to file and line),
and ``result`` (:class:`LoadResult`). Progress bars come from :mod:`seedbed.progress`.
"""

from __future__ import annotations

from seedbed.loading.load import load
from seedbed.loading.result import LoadResult, TableLoad
from seedbed.loadmode import LoadMode

__all__ = ["LoadMode", "LoadResult", "TableLoad", "load"]
