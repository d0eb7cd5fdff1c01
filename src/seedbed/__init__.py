"""seedbed: declare a PostgreSQL data model once, in a project-named namespace.

From the declaration come its Pandera schemas, migrations, a validated fast
loader and documentation. The public API is what ``__all__`` lists.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.display import install_ipython_hook as _install_ipython_hook
from seedbed.errors import (
    BackupError,
    ConfigError,
    DatabaseError,
    DataError,
    LoadError,
    MigrationError,
    QueryError,
    SeedbedError,
    SeedError,
    UnsafeMigrationError,
)
from seedbed.explore import (
    Timing,
    explain,
    keyset_page,
    keyset_pages,
    offset_page,
    read_query,
    read_table,
    time_query,
    uses_index,
)
from seedbed.loading import LoadResult, load
from seedbed.validation import ValidationReport, pandera_schema, validate

try:
    __version__ = _metadata.version("seedbed")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BackupError",
    "ConfigError",
    "DataError",
    "DatabaseError",
    "LoadError",
    "LoadResult",
    "MigrationError",
    "QueryError",
    "SeedError",
    "SeedbedError",
    "Settings",
    "Timing",
    "UnsafeMigrationError",
    "ValidationReport",
    "explain",
    "get_engine",
    "keyset_page",
    "keyset_pages",
    "load",
    "load_settings",
    "offset_page",
    "pandera_schema",
    "read_query",
    "read_table",
    "time_query",
    "uses_index",
    "validate",
]

_install_ipython_hook()  # inside IPython: uncaught DataErrors render with their report
