"""Where the model comes from: the one place that chooses it.

Everything above the model-facts layer asks :func:`model_source` (or
:func:`metadata_for` and :func:`declared_metadata`) for the model and never
imports a model package itself, so a second source plugs in here without
touching validation, loading or docs. Today the only source is the model
package shipped with seedbed; ``SEEDBED_MODELS`` will choose here among that
package, a user's own folder of model modules and the live database's catalog.

>>> model_source().name
'package seedbed.models'
>>> metadata_for("shop").schema
'shop'
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

import sqlalchemy as sa


@runtime_checkable
class ModelSource(Protocol):
    """A model: its tables in any namespace, and the code that declares each table, if any."""

    @property
    def name(self) -> str:
        """What the source is, for messages: ``package seedbed.models``."""
        ...

    def metadata(self, schema: str) -> sa.MetaData:
        """The whole model in namespace ``schema`` (a plain identifier), one object per name."""
        ...

    def declared_metadata(self) -> sa.MetaData:
        """The model in the namespace the source itself names (``SEEDBED_SCHEMA`` for code)."""
        ...

    def declaring_class(self, table: sa.Table) -> type | None:
        """The class that declares ``table``; None where a table has no code (a catalog)."""
        ...


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
        return metadata

    def declared_metadata(self) -> sa.MetaData:
        metadata: sa.MetaData = importlib.import_module(self.package).metadata
        return metadata

    def declaring_class(self, table: sa.Table) -> type | None:
        base = importlib.import_module(self.package).Base
        for mapper in base.registry.mappers:
            if getattr(mapper.local_table, "name", None) == table.name:
                cls: type = mapper.class_
                return cls
        return None

    def __repr__(self) -> str:
        return f"<model source: {self.name}>"


#: The source in use; the one value ``SEEDBED_MODELS`` will set.
_chosen: ModelSource = PackageSource()


def model_source() -> ModelSource:
    """The source of the model in use.

    Always the shipped package today; ``SEEDBED_MODELS`` will choose here
    among the package, a user's model folder and the live database.
    """
    return _chosen


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
    "ModelSource",
    "PackageSource",
    "declared_metadata",
    "declaring_class",
    "metadata_for",
    "model_source",
]
