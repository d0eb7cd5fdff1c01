"""Settings: the schema namespace and the database to talk to.

``SEEDBED_SCHEMA`` names the namespace (default ``seedbed``).
``SEEDBED_MODELS`` says where the model comes from (see :func:`check_models`).
``DATABASE_URL`` names an external PostgreSQL 14+; without it an embedded
server is started with its data under ``.seedbed/`` in the working directory.
``SEEDBED_MIGRATIONS`` names another Alembic folder. A setting that names a
folder or file that is not there is refused, never passed over for a default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

from seedbed.errors import ConfigError

__all__ = [
    "DEFAULT_SCHEMA",
    "Settings",
    "cache_setting",
    "check_identifier",
    "check_models",
    "load_settings",
    "migrations_setting",
    "normalize_url",
    "redact_url",
]

DEFAULT_SCHEMA = "seedbed"


def check_identifier(name: str) -> str:
    """Return ``name`` if PostgreSQL can name a namespace so, else raise :class:`ConfigError`.

    Any name is accepted (``my-app``, ``Auth``, ``public``); seedbed quotes it
    wherever it is written into SQL. Refused: an empty name, one longer than
    63 bytes (PostgreSQL would cut it), a NUL or double quote (frozen
    revisions write the name between double quotes), and names starting with
    ``pg_`` (reserved for the system).

    >>> check_identifier("my-app")
    'my-app'
    """
    if not name or "\x00" in name or '"' in name:
        raise ConfigError(
            f"invalid namespace {name!r}: give a non-empty name without NUL or double quote"
        )
    if len(name.encode()) > 63:
        raise ConfigError(f"invalid namespace {name!r}: longer than 63 bytes")
    if name.startswith("pg_"):
        raise ConfigError(f"invalid namespace {name!r}: names starting with pg_ are reserved")
    return name


#: ``SEEDBED_MODELS=database``: the namespace's tables, read from the catalog.
MODELS_FROM_DATABASE = "database"
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_models(value: str | None) -> str | None:
    """Return the ``SEEDBED_MODELS`` value, or None when unset; :class:`ConfigError` if unusable.

    Unset (or empty): the model package shipped with seedbed. ``database``: the
    namespace's tables as the catalog holds them. A folder of model modules
    (a path; it must exist), or a dotted module name (imported when first used).

    >>> check_models("database")
    'database'
    """
    if not value:
        return None
    if value == MODELS_FROM_DATABASE or Path(value).is_dir():
        return value
    if _DOTTED.fullmatch(value) and not Path(value).exists():
        return value
    raise ConfigError(
        f"SEEDBED_MODELS {value!r}: not a folder of model modules, a module name or 'database'"
    )


_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")
# Every query parameter libpq treats as a secret: password, sslpassword, oauth_client_secret.
_PASSWORD_PARAM = re.compile(r"([?&;][^=&;#]*(?:password|secret)[^=&;#]*=)[^&;#]*", re.IGNORECASE)
_USERINFO_SAFE = "%!$&'()*+,;="  # everything else ('@', ':', '/', '?', '#', ...) is escaped


def _split_authority(rest: str) -> tuple[str, str]:
    """``user:pass@host:port`` and what follows (path, query), from a URL without its scheme.

    The user part ends at the last ``@`` before the query string, so an
    unescaped ``@`` or ``/`` in a password stays in the password; the
    authority ends at the first ``/``, ``?`` or ``#`` after that.
    """
    query = re.search(r"[?#]", rest)
    at = rest.rfind("@", 0, query.start() if query else len(rest))
    match = re.compile(r"[/?#]").search(rest, at + 1)
    end = match.start() if match else len(rest)
    return rest[:end], rest[end:]


def _check_ports(hosts: str) -> None:
    # The URL is not quoted back: a password holding '?' or '#' is misread as the host part.
    for host in hosts.split(","):
        port = host.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in host else ""
        if port and not port.isdigit():
            raise ConfigError(
                "DATABASE_URL: the port is not a number "
                "(write special characters in the password as %XX, e.g. '?' as %3F)"
            )


def _hosts_in_query(hosts: str, tail: str) -> str:
    """``tail`` (path and query) with libpq's several ``hosts`` of the authority
    (``h1:5432,[::1]:5433,h3``) as query parameters, ``host=h1,::1,h3&port=5432,5433,``,
    the form SQLAlchemy's psycopg dialect hands libpq unchanged."""
    names, ports = [], []
    for host in hosts.split(","):
        if host.startswith("["):  # an IPv6 address, maybe with a port
            name, _, port = host[1:].partition("]")
            port = port.removeprefix(":")
        else:
            name, _, port = host.partition(":")
        names.append(name)
        ports.append(port)
    given = f"host={','.join(names)}" + (f"&port={','.join(ports)}" if any(ports) else "")
    path, _, query = tail.partition("?")
    return f"{path}?{query}&{given}" if query else f"{path}?{given}"


def normalize_url(url: str) -> str:
    """Make a pasted ``postgres://`` or ``postgresql://`` URL use the psycopg 3 driver.

    User name and password are percent-escaped where needed (an ``@`` or ``:``
    in a password pasted as is), and a port that is not a number is refused
    with :class:`ConfigError`, before anything tries to connect. Several hosts in the
    authority, as libpq takes them (``h1:5432,h2:5433``), move to the query, where
    SQLAlchemy reads them.

    >>> normalize_url("postgres://me@h1:5432,h2:5433/app?sslmode=require")
    'postgresql+psycopg://me@/app?sslmode=require&host=h1,h2&port=5432,5433'
    """
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            authority, tail = _split_authority(url[len(prefix) :])
            userinfo, at, hosts = authority.rpartition("@")
            _check_ports(hosts)
            if at:
                user, colon, password = userinfo.partition(":")
                userinfo = quote(user, safe=_USERINFO_SAFE) + colon
                userinfo += quote(password, safe=_USERINFO_SAFE) + "@"
            if "," in hosts:  # libpq's h1:5432,h2:5433, which SQLAlchemy reads in the query
                hosts, tail = "", _hosts_in_query(hosts, tail)
            return f"postgresql+psycopg://{userinfo}{hosts}{tail}"
    scheme = url.split("://", 1)[0] if "://" in url else "(none)"
    raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got scheme {scheme!r}")


def redact_url(url: str) -> str:
    """The URL with every password replaced by ``***``, safe to print.

    Covers the password in the user part (even with unescaped ``@`` in it) and
    ``password=``, ``sslpassword=`` and ``oauth_client_secret=`` in the query string.

    >>> redact_url("postgresql://me:p@ss@db.example/app?sslpassword=x&sslmode=require")
    'postgresql://me:***@db.example/app?sslpassword=***&sslmode=require'
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, tail = _split_authority(rest)
        userinfo, at, hosts = authority.rpartition("@")
        if at and ":" in userinfo:
            authority = userinfo.partition(":")[0] + ":***@" + hosts
        url = f"{scheme}://{authority}{tail}"
    return _PASSWORD_PARAM.sub(r"\1***", url)


# libpq reads these files (or folder) if named; a missing sslcert, sslkey or passfile
# is passed over without a word, and the connection made without it.
_URL_FILES = ("sslcert", "sslkey", "sslrootcert", "sslcrl", "passfile")
_URL_FOLDERS = ("sslcrldir",)


def _check_local_paths(url: str) -> None:
    """Refuse a socket folder, or a file for libpq to read, that the URL names and is not there."""
    authority, tail = _split_authority(url.split("://", 1)[1])
    hosts = [unquote(host) for host in authority.rpartition("@")[2].split(",")]
    query = tail.partition("?")[2].partition("#")[0]
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "host":
            hosts += value.split(",")
        elif key in _URL_FILES and value and value != "system" and not Path(value).is_file():
            raise ConfigError(f"DATABASE_URL: {key} {value!r} is not a file")
        elif key in _URL_FOLDERS and value and not Path(value).is_dir():
            raise ConfigError(f"DATABASE_URL: {key} {value!r} is not a folder")
    for host in hosts:
        folder = re.sub(r":\d*$", "", host)  # a port after a socket folder
        if folder.startswith("/") and not Path(folder).is_dir():
            raise ConfigError(f"DATABASE_URL: the socket folder {folder!r} does not exist")


def _check_home(home: Path) -> None:
    """Refuse a home that is a file or lies under one: the server's data could never go there."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"SEEDBED_HOME {str(home)!r} is not a folder")
    above = next((parent for parent in home.parents if parent.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(f"SEEDBED_HOME {str(home)!r} lies under {str(above)!r}, a file")


def migrations_setting(*, new_ok: bool = False) -> Path | None:
    """The Alembic folder ``SEEDBED_MIGRATIONS`` names; None when it is unset or empty.

    Raises :class:`ConfigError` when it names no folder, or a folder without
    ``env.py``, rather than falling back to the default revisions. ``new_ok``:
    an empty folder is taken too (``db generate`` starts a model's history there).
    """
    text = os.environ.get("SEEDBED_MIGRATIONS", "")
    if not text:
        return None
    folder = Path(text)
    if new_ok and folder.is_dir() and not any(folder.iterdir()):
        return folder
    if not folder.is_dir():
        raise ConfigError(f"SEEDBED_MIGRATIONS {text!r} is not a folder")
    if not (folder / "env.py").is_file():
        raise ConfigError(
            f"SEEDBED_MIGRATIONS {text!r} has no env.py: name an Alembic folder (env.py, "
            "versions/), or an empty one for db generate to start"
        )
    return folder


def cache_setting() -> Path | None:
    """The folder ``SEEDBED_CACHE`` names for what seedbed keeps between runs (the model's
    facts: :mod:`seedbed.facts.snapshot`); ``off`` keeps nothing. Default: ``seedbed`` in
    ``XDG_CACHE_HOME`` (``~/.cache``); nothing without a home folder."""
    text = os.environ.get("SEEDBED_CACHE", "")
    if text.lower() == "off":
        return None
    if text:
        return Path(text)
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "seedbed"
    try:
        return Path.home() / ".cache" / "seedbed"
    except (RuntimeError, KeyError):  # no home folder (a bare container): keep nothing
        return None


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`."""

    schema: str = DEFAULT_SCHEMA
    database_url: str | None = None
    home: Path = Path(".seedbed")
    models: str | None = None  # SEEDBED_MODELS: see check_models

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def load_settings(
    schema: str | None = None,
    database_url: str | None = None,
    home: Path | str | None = None,
    models: str | None = None,
) -> Settings:
    """Settings from arguments, falling back to the environment.

    Raises :class:`ConfigError`, before anything talks to a database, for a
    namespace that is not a plain identifier; a ``DATABASE_URL`` that is not
    a PostgreSQL URL, has a port that is not a number, or names a socket
    folder or certificate file that is not there; a ``SEEDBED_HOME`` that is,
    or lies under, a file (with the embedded server); and a
    ``SEEDBED_MIGRATIONS`` that is neither an Alembic folder nor an empty one.
    """
    schema = schema if schema is not None else os.environ.get("SEEDBED_SCHEMA") or DEFAULT_SCHEMA
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL") or None
    home_path = Path(home if home is not None else os.environ.get("SEEDBED_HOME") or ".seedbed")
    if url:
        url = normalize_url(url)
        _check_local_paths(url)
    else:
        _check_home(home_path)
    migrations_setting(new_ok=True)
    return Settings(
        schema=check_identifier(schema),
        database_url=url or None,
        home=home_path,
        models=check_models(models if models is not None else os.environ.get("SEEDBED_MODELS")),
    )
