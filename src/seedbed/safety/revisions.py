"""Revision scripts as Alembic loads them, and running one's ``upgrade()`` under our control.

Linting and dry runs never read a revision's text: they load it through
Alembic's :class:`~alembic.script.ScriptDirectory` and call its ``upgrade()``
with ``alembic.op`` bound to an :class:`~alembic.operations.Operations`
subclass of ours (one that records, or one that traces and executes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RangeNotAncestorError
from alembic.util.exc import CommandError

from seedbed._alembic import (
    alembic_config,
    alembic_errors,
    load_scripts,
    migrations_dir,
    target_revision,
)
from seedbed.config import Settings
from seedbed.errors import MigrationError

ACKNOWLEDGED_ATTRIBUTE = "seedbed_safety_assured"
"""Module-level set of rule ids a revision acknowledges, e.g. ``{"ban-drop-column"}``."""


def script_directory(settings: Settings) -> ScriptDirectory:
    """The revisions, loaded and linked (:func:`~seedbed._alembic.load_scripts`)."""
    return load_scripts(alembic_config(settings))


def migration_context(connection: sa.Connection, settings: Settings) -> MigrationContext:
    """A context on ``connection`` that tells revisions their namespace, as ``env.py`` does."""
    return MigrationContext.configure(connection, opts={"version_table_schema": settings.schema})


def current_heads(connection: sa.Connection, settings: Settings) -> tuple[str, ...]:
    """The revisions the namespace is at: none before the first, more than one on branches."""
    return migration_context(connection, settings).get_current_heads()


def pending_scripts(
    connection: sa.Connection, settings: Settings, target: str = "head"
) -> list[Script]:
    """Revisions between the namespace's current revision and ``target``, in upgrade order."""
    target = target_revision(target)
    current = current_heads(connection, settings)
    scripts = script_directory(settings)
    with alembic_errors():
        for revision in current:
            try:
                scripts.get_revision(revision)
            except CommandError:
                raise MigrationError(
                    f"{settings.schema} is at revision {revision!r}, which no file in "
                    f"{scripts.dir} defines (are these the namespace's revisions?)"
                ) from None
        try:
            found = list(scripts.iterate_revisions(target, current or "base"))
        except RangeNotAncestorError:
            raise MigrationError(
                f"{target!r} is not ahead of the revision {settings.schema} is at "
                f"({', '.join(current)}): db migrate goes forward only, db downgrade goes back"
            ) from None
    pending = [s for s in reversed(found) if s.revision not in current]
    for script in pending:
        if not callable(getattr(script.module, "upgrade", None)):
            raise MigrationError(f"{script.path} has no upgrade() function")
    return pending


def named_scripts(settings: Settings, revisions: Sequence[str]) -> list[Script]:
    """The scripts for ``revisions`` (ids, unique prefixes, ``head``), oldest first."""
    scripts = script_directory(settings)
    chosen: set[str] = set()
    with alembic_errors():
        for name in revisions:
            found = scripts.get_revisions(target_revision(name))
            if not found:  # "base" is the empty history, not a file
                raise MigrationError(f"{name!r} names no revision file: give revision ids")
            chosen.update(script.revision for script in found)
        ordered = reversed(list(scripts.walk_revisions()))
    return [s for s in ordered if s.revision in chosen]


def revision_at(settings: Settings, path: Path) -> str:
    """The id of the revision whose file is ``path`` (as ``db generate`` returns it)."""
    with alembic_errors():
        for script in script_directory(settings).walk_revisions():
            if Path(script.path).resolve() == path.resolve():
                return script.revision
    raise MigrationError(f"{path} is not a revision in {migrations_dir()}")


def acknowledged_rules(script: Script) -> frozenset[str]:
    """The rule ids the revision lists in ``seedbed_safety_assured``."""
    value: Any = getattr(script.module, ACKNOWLEDGED_ATTRIBUTE, ())
    if isinstance(value, str):
        value = (value,)
    return frozenset(str(rule) for rule in value)


class RevisionOperations(Operations):
    """``alembic.op`` while one revision's ``upgrade()`` runs under seedbed's control.

    Subclasses decide what :meth:`invoke` does (record, or trace and execute).
    ``in_autocommit_block`` is true inside ``op.get_context().autocommit_block()``.
    """

    def __init__(self, context: MigrationContext, script: Script) -> None:
        super().__init__(context)
        self.script = script
        self.in_autocommit_block = False

    def _install_proxy(self) -> None:
        # alembic.op is registered for Operations itself, not for subclasses.
        names, modules = self._setups[Operations]
        for globals_, _ in modules:
            globals_["_proxy"] = self
            for name in names:
                globals_[name] = getattr(self, name)

    def _remove_proxy(self) -> None:
        names, modules = self._setups[Operations]
        for globals_, _ in modules:
            globals_["_proxy"] = None
            for name in names:
                globals_.pop(name, None)

    def run_upgrade(self) -> None:
        """Call the revision's ``upgrade()`` with ``alembic.op`` bound to this object.

        ``autocommit_block()`` would commit the caller's transaction; while the
        revision runs it is replaced by a block that only sets
        ``in_autocommit_block``, so nothing is committed.
        """
        context = self.migration_context
        original = context.autocommit_block

        @contextmanager
        def autocommit_block() -> Iterator[None]:
            self.in_autocommit_block = True
            try:
                yield
            finally:
                self.in_autocommit_block = False

        context.autocommit_block = autocommit_block  # type: ignore[method-assign]
        self._install_proxy()
        try:
            self.script.module.upgrade()
        finally:
            self._remove_proxy()
            context.autocommit_block = original  # type: ignore[method-assign]
