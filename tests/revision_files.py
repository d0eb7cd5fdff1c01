"""Test revisions: a copy of the migrations folder that tests add revision files to."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from seedbed import migrate


class RevisionFolder:
    """A temporary copy of ``migrations/``, named by ``SEEDBED_MIGRATIONS`` while a test runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._count = 0

    @classmethod
    def copy_of_project(cls, target: Path, monkeypatch: pytest.MonkeyPatch) -> RevisionFolder:
        shutil.copytree(
            migrate.migrations_dir(), target, ignore=shutil.ignore_patterns("__pycache__")
        )
        monkeypatch.setenv("SEEDBED_MIGRATIONS", str(target))
        return cls(target)

    def head(self) -> str | None:
        config = Config()
        config.set_main_option("script_location", str(self.root))
        return ScriptDirectory.from_config(config).get_current_head()

    def add(self, body: str, *, assured: set[str] | None = None) -> str:
        """Write a revision after the current head whose ``upgrade()`` runs ``body``.

        ``body`` may use ``op``, ``sa`` and ``schema`` (the namespace). Returns its id.
        """
        self._count += 1
        revision = f"t{self._count:03d}"
        acknowledged = f"seedbed_safety_assured = {sorted(assured)!r}\n" if assured else ""
        source = (
            "from alembic import op\nimport sqlalchemy as sa\n\n"
            f"revision = {revision!r}\ndown_revision = {self.head()!r}\n"
            "branch_labels = None\ndepends_on = None\n"
            f"{acknowledged}\n\n"
            "def upgrade() -> None:\n"
            "    schema = op.get_context().version_table_schema\n"
            f"{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n\n\n"
            "def downgrade() -> None:\n    pass\n"
        )
        (self.root / "versions" / f"{revision}_test.py").write_text(source)
        return revision
