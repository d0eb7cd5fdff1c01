"""The model's facts kept between runs, so that a check of files or a load needs no SQLAlchemy.

Reading a declared model means importing SQLAlchemy, its ORM and the model's
modules: about 0.3 s of every ``seedbed validate``, more than checking a
small seed set takes. What validation and a load read of a table (its
:class:`~seedbed.facts.TableSpec` and :class:`~seedbed.facts.TableKeys`, its
columns' ``info``, the model's :class:`~seedbed.facts.TableOrder`) is plain
data, so :func:`stored_tables` keeps it, pickled,
in the cache folder (``SEEDBED_CACHE``), under a key made of everything it was
read from:

- the files that declare the model (:func:`~seedbed.facts.model_files`), by
  path and content;
- seedbed's own modules, by path, size and modification time, as Python's
  bytecode cache keys a module;
- the version files of the libraries it is read with (SQLAlchemy, and pglast, which
  reads CHECKs), the interpreter's version and ``SEEDBED_SCHEMA``.

A change to any of them is a new key, so a snapshot is never read for a
model it was not made from. A process that has imported the model's
declaration already uses it (a notebook's kernel keeps the model it
imported, which may be older than its files). Only models that are files
are kept (the shipped package, a folder); a model read from a catalog, or a table whose
check needs the database (a type seedbed does not read itself, a CHECK only
PostgreSQL can judge, a foreign key into another namespace), is read from
its declaration every time. A snapshot is stored only when it reads back with
seedbed's own classes alone, and read back the same way; anything it cannot
read is as if it were not there. A model folder whose modules import code
from outside the folder is keyed by the folder's files only: set
``SEEDBED_CACHE=off`` while that code changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from seedbed.atomic import replacing
from seedbed.config import cache_setting
from seedbed.facts.keys import ForeignKeySpec, table_keys
from seedbed.facts.order import LaterKey, TableOrder, ordered_tables, table_order
from seedbed.facts.source import (
    Models,
    declared_metadata,
    files_digest,
    model_files,
    using_models,
)
from seedbed.facts.spec import TableSpec, table_spec
from seedbed.facts.stored import StoredColumn, StoredMetadata, StoredTable

if TYPE_CHECKING:
    import sqlalchemy as sa

#: What a snapshot file holds; a new value when that changes.
_FORMAT = 2
#: The libraries a declaration is read with: SQLAlchemy, and pglast, which reads a CHECK's SQL
#: into a rule (a new version may read one it left to the database, or the other way).
_READERS = ("sqlalchemy", "pglast")
#: Modules a snapshot may name (besides seedbed's own): what its values are made of.
_PLAIN_MODULES = frozenset({"builtins", "collections", "datetime", "decimal", "enum", "re"})
#: Classes of those that do more than hold a value when called.
_NOT_PLAIN = frozenset({"type", "super", "memoryview", "classmethod", "staticmethod", "property"})


def stored_tables(models: Models = None) -> Mapping[str, sa.Table] | None:
    """The declared model's tables by name, parents first, for validating files.

    Read back from the snapshot when one was made from the same files (no
    SQLAlchemy imported), else read from the declaration and the snapshot
    stored. None when the model is not only files (see the module doc), when
    this process has imported its declaration, or when ``SEEDBED_CACHE`` is
    ``off``: the caller reads the model itself. The stored tables stand where
    ``sa.Table`` objects stand (see :class:`~seedbed.facts.stored.StoredTable`).
    """
    folder = cache_setting()
    files = model_files(models)
    if folder is None or files is None:
        return None
    try:
        path = folder / f"model-{_key(files)}.pickle"
    except OSError:  # a file gone while it was read: the model is read as it is now
        return None
    found = _read(path)
    if found is not None:
        tables, kept = found
        if not kept:
            return None
        for table in tables.values():
            table.declared = _declared(models, table.name)
        return cast("Mapping[str, sa.Table]", tables)
    with using_models(models):
        declared = {t.name: t for t in ordered_tables(declared_metadata())}
    _write(path, _snapshot(declared))
    return declared


def _key(files: list[Path]) -> str:
    """A digest of what the model's facts are read from (see the module doc)."""
    own = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{_FORMAT}\0{sys.version}\0{os.environ.get('SEEDBED_SCHEMA', '')}".encode())
    stamped = sorted(own.rglob("*.py"))
    for name in _READERS:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            stamped.append(Path(spec.origin))
    for path in stamped:
        found = path.stat()
        digest.update(f"\0{path}\0{found.st_size}\0{found.st_mtime_ns}".encode())
    # the model's files by content: one rewritten within a clock tick is new
    digest.update(files_digest(files).encode())
    return digest.hexdigest()


def _declared(models: Models, name: str) -> Any:
    """A function that reads table ``name`` from the model's declaration, when asked."""

    def read() -> sa.Table:
        with using_models(models):
            return {t.name: t for t in ordered_tables(declared_metadata())}[name]

    return read


def _snapshot(tables: Mapping[str, sa.Table]) -> dict[str, StoredTable] | None:
    """The stored form of ``tables`` (the whole model, with its table order); None when one
    of them needs more than it holds."""
    stored = {
        name: StoredTable(
            name,
            table.schema,
            {c.name: StoredColumn(c.name, _info(c)) for c in table.columns},
        )
        for name, table in tables.items()
    }
    parented: dict[int, ForeignKeySpec] = {}
    for name, table in tables.items():
        spec, keys = table_spec(table), table_keys(table)
        if not _held(spec, tables):
            return None
        parented.update(
            {
                id(fk): replace(fk, parent=cast("sa.Table", stored[fk.parent.name]))
                for fk in (*spec.foreign_keys, *keys.foreign_keys)
            }
        )

        def moved(found: tuple[ForeignKeySpec, ...]) -> tuple[ForeignKeySpec, ...]:
            return tuple(parented[id(fk)] for fk in found)

        stored[name].spec = replace(
            spec, table=cast("sa.Table", stored[name]), foreign_keys=moved(spec.foreign_keys)
        )
        stored[name].keys = replace(keys, foreign_keys=moved(keys.foreign_keys))
    if tables:
        model = _stored_model(next(iter(tables.values())).metadata, stored, parented)
        for kept in stored.values():
            kept.metadata = model
    return stored


def _stored_model(
    metadata: sa.MetaData, stored: dict[str, StoredTable], parented: dict[int, ForeignKeySpec]
) -> StoredMetadata:
    """The model as stored: its tables, and their order read from the declaration."""
    order = table_order(metadata)

    def mine(tables: tuple[sa.Table, ...]) -> tuple[sa.Table, ...]:
        return tuple(cast("sa.Table", stored[t.name]) for t in tables)

    kept = TableOrder(
        tables=mine(order.tables),
        cycles=tuple(mine(cycle) for cycle in order.cycles),
        later=tuple(
            LaterKey(cast("sa.Table", stored[k.table.name]), parented[id(k.key)], k.required)
            for k in order.later
        ),
        unbroken=tuple(mine(cycle) for cycle in order.unbroken),
    )
    by_key = {f"{t.schema}.{t.name}" if t.schema else t.name: t for t in stored.values()}
    return StoredMetadata(metadata.schema, by_key, kept)


def _info(column: sa.Column[Any]) -> dict[str, Any]:
    """What validation reads of a column's ``info``, as :func:`table_spec` reads it: the rest
    may hold objects of any kind (a generator's hints), which a snapshot does not."""
    found = table_spec(column.table).columns[column.name]
    return {"doc": found.doc, "sensitive": found.sensitive}


def _held(spec: TableSpec, tables: Mapping[str, sa.Table]) -> bool:
    """Does validation of ``spec``'s rows need nothing the snapshot leaves out?"""
    from seedbed.facts.declaration import SqlCheck

    return (
        not any(column.read_by_database for column in spec.columns.values())
        and not any(isinstance(item.rule, SqlCheck) for item in spec.rules)
        and all(tables.get(fk.parent.name) is fk.parent for fk in spec.foreign_keys)
    )


class _Pickler(pickle.Pickler):
    """Stores SQLAlchemy's names (``quoted_name``, a ``str``) as the plain text they are."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, str) and type(obj) is not str:
            return str, (str(obj),)
        return NotImplemented


def _dumps(value: object) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


class _Unpickler(pickle.Unpickler):
    """Reads only classes of seedbed's and of the plain modules, and compiled patterns."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in {"seedbed", *_PLAIN_MODULES} and name not in _NOT_PLAIN:
            found = super().find_class(module, name)
            if isinstance(found, type) or (module, name) == ("re", "_compile"):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a value of seedbed's")


def _loads(data: bytes) -> tuple[dict[str, StoredTable], bool]:
    found = _Unpickler(io.BytesIO(data)).load()
    if not (isinstance(found, tuple) and found[0] == _FORMAT):
        raise pickle.UnpicklingError("not a snapshot of this form")
    tables = found[1]
    return ({}, False) if tables is None else (tables, True)


def _read(path: Path) -> tuple[dict[str, StoredTable], bool] | None:
    """The stored tables and whether the model was kept at all; None: no usable snapshot."""
    try:
        return _loads(path.read_bytes())
    except Exception:  # missing, torn, or made by other code: read the declaration instead
        return None


def _write(path: Path, tables: dict[str, StoredTable] | None) -> None:
    """Store ``tables``, or that the model is not kept (None, or tables that do not read
    back with seedbed's classes alone: a rule class of the model's own)."""
    try:
        data = _dumps((_FORMAT, tables))
        _loads(data)
    except Exception:
        data = _dumps((_FORMAT, None))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as staged:
            staged.write_bytes(data)
    except OSError:  # a cache that cannot be written is a slower next run, not an error
        return


__all__ = ["stored_tables"]
