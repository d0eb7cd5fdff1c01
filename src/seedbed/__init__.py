"""seedbed: declare a PostgreSQL data model once, in a project-named namespace.

From the declaration come its Pandera schemas, migrations, a validated fast
loader and documentation. The public API is what ``__all__`` lists.
"""

from __future__ import annotations

from seedbed.config import Settings, load_settings
from seedbed.db import get_engine
from seedbed.errors import (
    ConfigError,
    DatabaseError,
    DataError,
    LoadError,
    MigrationError,
    SeedbedError,
    SeedError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "DatabaseError",
    "LoadError",
    "MigrationError",
    "SeedError",
    "SeedbedError",
    "Settings",
    "get_engine",
    "load_settings",
]
