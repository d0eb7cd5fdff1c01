"""Settings: the schema namespace and the database to talk to.

``SEEDBED_SCHEMA`` names the namespace (default ``seedbed``).
``DATABASE_URL`` names an external PostgreSQL 14+; without it an embedded
server is started with its data under ``.seedbed/`` in the working directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from seedbed.errors import ConfigError

DEFAULT_SCHEMA = "seedbed"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain PostgreSQL identifier, else raise :class:`ConfigError`.

    Plain means: a lowercase letter or underscore first, then lowercase letters,
    digits and underscores; at most 63 bytes; not starting with ``pg_``.

    >>> check_identifier("shop_2024")
    'shop_2024'
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigError(
            f"invalid namespace {name!r}: use a lowercase letter or underscore first, "
            "then lowercase letters, digits or underscores"
        )
    if len(name.encode()) > 63:
        raise ConfigError(f"invalid namespace {name!r}: longer than 63 bytes")
    if name.startswith("pg_"):
        raise ConfigError(f"invalid namespace {name!r}: names starting with pg_ are reserved")
    return name


def normalize_url(url: str) -> str:
    """Make a pasted ``postgres://`` or ``postgresql://`` URL use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    scheme = url.split("://", 1)[0] if "://" in url else "(none)"
    raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got scheme {scheme!r}")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`."""

    schema: str = DEFAULT_SCHEMA
    database_url: str | None = None
    home: Path = Path(".seedbed")

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def load_settings(
    schema: str | None = None,
    database_url: str | None = None,
    home: Path | str | None = None,
) -> Settings:
    """Settings from arguments, falling back to the environment.

    Raises :class:`ConfigError` for a namespace that is not a plain identifier,
    before anything talks to a database.
    """
    schema = schema if schema is not None else os.environ.get("SEEDBED_SCHEMA") or DEFAULT_SCHEMA
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL") or None
    home_path = Path(home) if home is not None else Path(os.environ.get("SEEDBED_HOME", ".seedbed"))
    return Settings(
        schema=check_identifier(schema),
        database_url=normalize_url(url) if url else None,
        home=home_path,
    )
