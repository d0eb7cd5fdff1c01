"""Where the model comes from: the one place that chooses it.

Everything above the model-facts layer asks :func:`model_source` (or
:func:`metadata_for` and :func:`declared_metadata`) for the model and never
imports a model package itself. ``SEEDBED_MODELS`` (or ``models=`` in
Python) chooses among three sources:

- unset: the model package shipped with seedbed (:class:`PackageSource`);
- a folder of model modules or a dotted module name: a model of your own,
  declared on :func:`seedbed.models.new_base` (:class:`FolderSource`,
  :class:`ModuleSource`);
- ``database``: the namespace's tables as the catalog holds them, read when
  first asked (:class:`DatabaseSource`).

The public functions that take ``models=`` pin their source for the call with
:func:`using_models`, so a catalog is read once per call, and everything
below them sees the same tables.

>>> model_source().name
'package seedbed.models'
>>> metadata_for("shop").schema
'shop'
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from seedbed.config import MODELS_FROM_DATABASE, check_models
from seedbed.errors import ConfigError, reason
from seedbed.facts.declaration import checks_on_tables
from seedbed.facts.order import defer_later_keys
from seedbed.lazymodules import lazy_module

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine
else:
    sa = lazy_module("sqlalchemy")


@runtime_checkable
class ModelSource(Protocol):
    """A model: its tables in any namespace, and the code that declares each table, if any."""

    @property
    def name(self) -> str:
        """What the source is, for messages: ``package seedbed.models``."""
        ...

    def metadata(self, schema: str) -> sa.MetaData:
        """The whole model in namespace ``schema``, one object per name."""
        ...

    def declared_metadata(self) -> sa.MetaData:
        """The model in the namespace the source itself names (``SEEDBED_SCHEMA`` for code)."""
        ...

    def declaring_class(self, table: sa.Table) -> type | None:
        """The class that declares ``table``; None where a table has no code (a catalog)."""
        ...


#: What ``models=`` takes: None (the setting), a ``SEEDBED_MODELS`` value, or a source.
Models: TypeAlias = "str | os.PathLike[str] | ModelSource | None"


class PackageSource:
    """The model package shipped in this repository, :mod:`seedbed.models`.

    The package is imported on first use, so choosing another source never
    imports it.
    """

    package = "seedbed.models"

    @property
    def name(self) -> str:
        return f"package {self.package}"

    def metadata(self, schema: str) -> sa.MetaData:
        models = importlib.import_module(self.package)
        metadata: sa.MetaData = models.metadata_for(schema)
        return defer_later_keys(checks_on_tables(metadata))

    def declared_metadata(self) -> sa.MetaData:
        metadata: sa.MetaData = importlib.import_module(self.package).metadata
        return defer_later_keys(checks_on_tables(metadata))

    def declaring_class(self, table: sa.Table) -> type | None:
        return _declaring_class(importlib.import_module(self.package).Base.registry, table)

    def __repr__(self) -> str:
        return f"<model source: {self.name}>"


def _declaring_class(registry: object, table: sa.Table) -> type | None:
    for mapper in getattr(registry, "mappers", ()):
        if getattr(mapper.local_table, "name", None) == table.name:
            cls: type = mapper.class_
            return cls
    return None


class _CodeSource:
    """A model of the user's own: modules whose tables are declared on one ``new_base()``."""

    def __init__(self, modules: list[ModuleType], name: str) -> None:
        self._name = name
        shipped = getattr(
            getattr(sys.modules.get("seedbed.models.base"), "Base", None), "metadata", None
        )
        found: dict[int, tuple[sa.MetaData, object]] = {}
        for module in modules:
            for value in vars(module).values():
                metadata = (
                    value if isinstance(value, sa.MetaData) else getattr(value, "metadata", None)
                )
                if (
                    isinstance(metadata, sa.MetaData)
                    and metadata.tables
                    and metadata is not shipped
                ):
                    found.setdefault(id(metadata), (metadata, getattr(value, "registry", None)))
        if len(found) != 1:
            what = "no tables" if not found else "tables on more than one MetaData"
            raise ConfigError(
                f"SEEDBED_MODELS: {name} declares {what}; declare every table on one "
                "base from seedbed.models.new_base()"
            )
        self._declared, self._registry = next(iter(found.values()))
        defer_later_keys(checks_on_tables(self._declared))
        self._moved: dict[str, sa.MetaData] = {}

    @property
    def name(self) -> str:
        return self._name

    def declared_metadata(self) -> sa.MetaData:
        return self._declared

    def metadata(self, schema: str) -> sa.MetaData:
        declared = self.declared_metadata()
        if schema == declared.schema:
            return declared
        if schema not in self._moved:
            from seedbed.models.base import moved_metadata

            self._moved[schema] = moved_metadata(declared, schema)
        return self._moved[schema]

    def declaring_class(self, table: sa.Table) -> type | None:
        return _declaring_class(self._registry, table)

    def __repr__(self) -> str:
        return f"<model source: {self.name}>"


class ModuleSource(_CodeSource):
    """A dotted module (or package, with every module in it) that declares the model."""

    def __init__(self, module: str) -> None:
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"SEEDBED_MODELS: cannot import {module!r}: {reason(exc)}") from None
        modules = [imported, *_submodules(imported)]
        super().__init__(modules, f"module {module}")


class FolderSource(_CodeSource):
    """A folder of model modules, imported as one package so they may import each other."""

    def __init__(self, folder: Path) -> None:
        folder = folder.resolve()
        if not folder.is_dir():
            raise ConfigError(f"SEEDBED_MODELS: {str(folder)!r} is not a folder")
        package = _folder_package(folder)
        module = sys.modules.get(package)
        if module is None:
            module = _import_folder(folder, package)
        super().__init__([module, *_submodules(module)], f"folder {folder}")


def _folder_package(folder: Path) -> str:
    """The name a model folder (resolved) is imported under."""
    return "seedbed_models_" + hashlib.sha1(str(folder).encode()).hexdigest()[:12]


def _py_files(folder: Path) -> list[Path]:
    return sorted(folder.resolve().rglob("*.py"))


def files_digest(paths: list[Path]) -> str:
    """A digest of the paths and contents of ``paths``."""
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        digest.update(f"\0{path}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _import_folder(folder: Path, package: str) -> ModuleType:
    """``folder`` as package ``package`` (its ``__init__.py`` run, if it has one)."""
    init = folder / "__init__.py"
    if init.exists():
        spec = importlib.util.spec_from_file_location(
            package, init, submodule_search_locations=[str(folder)]
        )
    else:
        spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    assert spec is not None  # a file location always has a spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[package]
        raise ConfigError(f"SEEDBED_MODELS: {folder}: {reason(exc)}") from None
    return module


def _submodules(package: ModuleType) -> list[ModuleType]:
    """Every module of ``package`` (none for a plain module), imported."""
    import pkgutil

    found = []
    for info in sorted(
        pkgutil.iter_modules(getattr(package, "__path__", [])), key=lambda m: m.name
    ):
        name = f"{package.__name__}.{info.name}"
        try:
            found.append(importlib.import_module(name))
        except Exception as exc:
            raise ConfigError(f"SEEDBED_MODELS: cannot import {info.name}: {reason(exc)}") from None
    return found


class DatabaseSource:
    """The namespace's tables as the database's catalog holds them, read when first asked.

    ``engine`` is the database to read (default: the one the settings name);
    each namespace is read once per source object.
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._by_schema: dict[str, sa.MetaData] = {}

    @property
    def name(self) -> str:
        return "the database's catalog"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from seedbed.db import get_engine

            self._engine = get_engine()
        return self._engine

    def metadata(self, schema: str) -> sa.MetaData:
        if schema not in self._by_schema:
            from seedbed.facts.catalog import reflect_namespace

            self._by_schema[schema] = defer_later_keys(reflect_namespace(self.engine, schema))
        return self._by_schema[schema]

    def declared_metadata(self) -> sa.MetaData:
        from seedbed.db import schema_of

        return self.metadata(schema_of(self.engine))

    def declaring_class(self, table: sa.Table) -> type | None:
        return None

    def __repr__(self) -> str:
        return f"<model source: {self.name}>"


#: The source when ``SEEDBED_MODELS`` is unset.
_chosen: ModelSource = PackageSource()

#: The source pinned by :func:`using_models` for the call in progress.
_pinned: ContextVar[ModelSource | None] = ContextVar("seedbed_models", default=None)


@cache
def _code_source(value: str) -> ModelSource:
    """A folder or module source, once per process: importing twice would declare twice."""
    if Path(value).is_dir():
        return FolderSource(Path(value))
    if value == PackageSource.package:
        return _chosen
    return ModuleSource(value)


def model_source(models: Models = None, *, engine: Engine | None = None) -> ModelSource:
    """The source of the model: ``models`` if given, else the one pinned, else the setting.

    ``models`` is a ``SEEDBED_MODELS`` value (``"database"``, a folder, a
    dotted module) or a :class:`ModelSource`; ``engine`` is the database a
    ``"database"`` source reads (default: the settings'). A folder or module
    that cannot be imported raises :class:`~seedbed.errors.ConfigError`.
    """
    if models is not None and not isinstance(models, str | os.PathLike):
        return models
    if models is None:
        pinned = _pinned.get()
        if pinned is not None:
            return pinned
        models = os.environ.get("SEEDBED_MODELS")
    value = check_models(os.fspath(models) if models is not None else None)
    if value is None:
        return _chosen
    if value == MODELS_FROM_DATABASE:
        return DatabaseSource(engine)
    return _code_source(value)


@contextlib.contextmanager
def using_models(models: Models = None, *, engine: Engine | None = None) -> Iterator[ModelSource]:
    """Pin the source of ``models`` (see :func:`model_source`) for the calls inside.

    >>> with using_models() as source:
    ...     source is model_source()
    True
    """
    source = model_source(models, engine=engine)
    token = _pinned.set(source)
    try:
        yield source
    finally:
        _pinned.reset(token)


def model_files(models: Models = None) -> list[Path] | None:
    """The files that declare the model ``models`` chooses (see :func:`model_source`), found
    without importing them: the shipped package's, or a folder's ``.py`` files. None for a
    catalog, a dotted module, a source object, while a source is pinned, and when this
    process has imported the declaration already (it is at hand, and may be older than the
    files: a notebook's kernel keeps the model it imported)."""
    if models is None:
        if _pinned.get() is not None:
            return None
        models = os.environ.get("SEEDBED_MODELS")
    elif not isinstance(models, str | os.PathLike):
        return None
    value = check_models(os.fspath(models) if models is not None else None)
    if value is None or value == PackageSource.package:
        if not isinstance(_chosen, PackageSource) or f"{PackageSource.package}.base" in sys.modules:
            return None
        spec = importlib.util.find_spec(PackageSource.package)
        locations = spec.submodule_search_locations if spec is not None else None
        return sorted(Path(next(iter(locations))).glob("*.py")) if locations else None
    if value == MODELS_FROM_DATABASE or not Path(value).is_dir():
        return None
    folder = Path(value).resolve()
    return None if _folder_package(folder) in sys.modules else _py_files(folder)


def metadata_for(schema: str) -> sa.MetaData:
    """The model in namespace ``schema``, from the source in use."""
    return model_source().metadata(schema)


def declared_metadata() -> sa.MetaData:
    """The model in its own namespace (``SEEDBED_SCHEMA`` when the source is code)."""
    return model_source().declared_metadata()


def declaring_class(table: sa.Table) -> type | None:
    """The class that declares ``table`` in the source in use, or None."""
    return model_source().declaring_class(table)


__all__ = [
    "DatabaseSource",
    "FolderSource",
    "ModelSource",
    "Models",
    "ModuleSource",
    "PackageSource",
    "declared_metadata",
    "declaring_class",
    "files_digest",
    "metadata_for",
    "model_files",
    "model_source",
    "using_models",
]
