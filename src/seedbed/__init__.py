"""seedbed: declare a PostgreSQL data model once, in a project-named namespace.

From the declaration come its Pandera schemas, migrations, a validated fast
loader and documentation. The public API is what ``__all__`` lists.

Public modules, each with its API in its own ``__all__``: seedbed,
seedbed.config, seedbed.db, seedbed.docs, seedbed.erd, seedbed.errors,
seedbed.explore, seedbed.facts, seedbed.loading, seedbed.migrate,
seedbed.models, seedbed.notebook, seedbed.safety, seedbed.synthetic,
seedbed.validation. Their submodules and every other module (the command line
``seedbed.cli`` included) are internal: import from the public module, not
from where a name happens to be defined.

The engine, the analysis helpers, the loader and the validator are imported
when first used (``seedbed.load`` imports :mod:`seedbed.loading`,
``seedbed.get_engine`` SQLAlchemy), so the command line and scripts that need
one of them do not pay for importing the others.

In Jupyter, ``seedbed.use_notebook_display()`` shows an uncaught
:class:`DataError` as its report; importing seedbed installs nothing.
"""

from __future__ import annotations

import typing

from seedbed.config import Settings, load_settings
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
from seedbed.lazymodules import lazy_exports as _lazy_exports
from seedbed.notebook import use_notebook_display

if typing.TYPE_CHECKING:
    __version__: str

    from seedbed.db import get_engine
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

#: The public names imported on first use, by the module that defines them.
_LAZY = {
    "seedbed.db": ("get_engine",),
    "seedbed.explore": (
        "Timing",
        "explain",
        "keyset_page",
        "keyset_pages",
        "offset_page",
        "read_query",
        "read_table",
        "time_query",
        "uses_index",
    ),
    "seedbed.loading": ("LoadResult", "load"),
    "seedbed.validation": ("ValidationReport", "pandera_schema", "validate"),
}

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
    "use_notebook_display",
    "uses_index",
    "validate",
]


_exported, __dir__ = _lazy_exports(globals(), _LAZY)


def __getattr__(name: str) -> typing.Any:
    if name != "__version__":
        return _exported(name)
    # read from the installed package's metadata when first asked for: importing
    # importlib.metadata is a good part of what the command line takes to start
    from importlib import metadata

    try:
        version = metadata.version("seedbed")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        version = "0+unknown"
    globals()[name] = version
    return version
