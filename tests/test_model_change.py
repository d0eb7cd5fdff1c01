"""Changing the model, as a user does it: edit model modules, then only run commands.

A copy of the project (``src/``, ``migrations/``, ``docs/``, ``data/seeds/``) gets a new
table module and a new nullable column with a rule on an existing table. From
there everything must flow with no hand edit: the revision, the database, the
drift check, the synthetic data, validation, the load and the document. Then an
unsafe change on a populated table is linted, refused and dry-run, and a backup
round trip gives the same rows.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import ROOT, fresh_settings, imported_modules, run_cli

BOOKMARK = '''"""The ``bookmark`` table: posts a user saved, with an optional note."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, updated_at, uuid_pk
from seedbed.models.rules import checks, length, url, uuid_v4


class Bookmark(Base):
    """A post a user saved for later."""

    __tablename__ = "bookmark"
    __table_args__ = (
        *checks(uuid_v4("id"), length("note", 1, 280), url("source_url")),
        sa.UniqueConstraint("user_id", "post_id"),
        sa.Index(None, "post_id", info={"purpose": "find who saved a post"}),
    )

    id: Mapped[str] = uuid_pk()
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False, info={"doc": "who saved it"}
    )
    post_id: Mapped[str] = mapped_column(
        sa.ForeignKey("post.id", ondelete="CASCADE"), nullable=False, info={"doc": "the post"}
    )
    note: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "1 to 280 chars"})
    source_url: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "where it was found"})
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
'''


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1))


class Project:
    """A copy of the project that commands run in, as a user's checkout."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, env=self.env, cwd=self.root)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    @property
    def models(self) -> Path:
        return self.root / "src" / "seedbed" / "models"

    def revisions(self) -> list[Path]:
        return sorted((self.root / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def project(
    tmp_path: Path, base_settings: Settings, db_env: dict[str, str]
) -> Iterator[tuple[Project, Settings]]:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".seedbed")
    for part in ("src", "migrations", "docs", "data/seeds"):
        shutil.copytree(ROOT / part, root / part, ignore=ignore, symlinks=True)
    settings = fresh_settings(base_settings, "chg")
    env = {
        **db_env,
        "SEEDBED_SCHEMA": settings.schema,
        "PYTHONPATH": str(root / "src"),
    }
    yield Project(root, env), settings
    migrate.reset(settings)


def _checksums(settings: Settings) -> dict[str, str]:
    engine = get_engine(settings)
    with engine.connect() as connection:
        tables = connection.execute(
            sa.text("select tablename from pg_tables where schemaname = :s order by 1"),
            {"s": settings.schema},
        ).scalars()
        return {
            name: connection.exec_driver_sql(
                f"select count(*) || ':' || coalesce(md5(string_agg(t::text, ',' "
                f'order by t::text)), \'\') from "{settings.schema}"."{name}" t'
            ).scalar_one()
            for name in list(tables)
        }


def _columns(settings: Settings, table: str) -> set[str]:
    with get_engine(settings).connect() as connection:
        return {c["name"] for c in sa.inspect(connection).get_columns(table, settings.schema)}


def test_a_new_table_and_column_flow_from_the_declaration(
    project: tuple[Project, Settings], tmp_path: Path
) -> None:
    proj, settings = project
    proj.ok("db", "migrate")
    proj.ok("load", "data/seeds", "--quiet")

    (proj.models / "bookmark.py").write_text(BOOKMARK)
    _edit(
        proj.models / "tag.py",
        'checks(uuid_v4("id"), length("name", 1, 64))',
        'checks(uuid_v4("id"), length("name", 1, 64), length("description", 1, 200))',
    )
    _edit(
        proj.models / "tag.py",
        '        sa.Text, nullable=False, unique=True, info={"doc": "the label, unique"}\n    )\n',
        '        sa.Text, nullable=False, unique=True, info={"doc": "the label, unique"}\n    )\n'
        "    description: Mapped[str | None] = mapped_column(\n"
        '        sa.Text, info={"doc": "what the tag is for"}\n    )\n',
    )

    before = set(proj.revisions())
    proj.ok("db", "generate", "-m", "add bookmark and tag description")
    (written,) = set(proj.revisions()) - before
    proj.ok("db", "migrate")
    check = proj.ok("db", "check")
    assert "matches" in check.stdout
    assert {"id", "user_id", "post_id", "note", "source_url"} <= _columns(settings, "bookmark")
    assert "description" in _columns(settings, "tag")
    with get_engine(settings).connect() as connection:
        trigger = connection.execute(
            sa.text(
                "select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = :s and t.tgname = 'trg_bookmark_updated_at'"
            ),
            {"s": settings.schema},
        ).scalar_one()
    assert trigger == 1

    out = tmp_path / "generated"
    proj.ok("generate", "--users", "50", str(out))
    assert (out / "bookmark.csv").is_file()
    assert len((out / "bookmark.csv").read_text().splitlines()) > 1
    proj.ok("validate", str(out))
    loaded = proj.ok("load", str(out))
    assert "bookmark" in loaded.stdout
    with get_engine(settings).connect() as connection:
        bookmarks = connection.exec_driver_sql(
            f'select count(*) from "{settings.schema}".bookmark'
        ).scalar_one()
    assert bookmarks > 0

    stale = proj.run("docs", "--check")
    assert stale.returncode == 1
    assert "bookmark" in stale.stdout
    proj.ok("docs")
    proj.ok("docs", "--check")
    assert "description" in (proj.root / "docs" / "reference" / "data-models.md").read_text()

    for revision in [*proj.revisions(), written]:
        imported = {name.split(".")[0] for name in imported_modules(revision)}
        assert "seedbed" not in imported, revision.name


def test_an_unsafe_change_is_linted_refused_and_dry_run(
    project: tuple[Project, Settings],
) -> None:
    proj, settings = project
    proj.ok("db", "migrate")
    proj.ok("load", "data/seeds", "--quiet")
    users = _checksums(settings)["user"]

    _edit(
        proj.models / "user.py",
        "    created_at: Mapped[datetime] = created_at()\n",
        "    nickname: Mapped[str] = mapped_column(sa.Text, nullable=False)\n"
        "    created_at: Mapped[datetime] = created_at()\n",
    )
    generated = proj.ok("db", "generate", "-m", "user nickname")
    assert "user.nickname" in generated.stdout + generated.stderr

    lint = proj.run("db", "lint")
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "user.nickname" in lint.stdout
    assert "adding-required-field" in lint.stdout
    assert "30" in lint.stdout  # the rows that would break: data/seeds has 30 users

    refused = proj.run("db", "migrate")
    assert refused.returncode == 1
    assert "nickname" not in _columns(settings, "user")
    assert _checksums(settings)["user"] == users

    dry = proj.run("db", "migrate", "--dry-run")
    assert dry.returncode == 1
    assert "nickname" in dry.stdout + dry.stderr
    assert "nickname" not in _columns(settings, "user")


def test_backup_reset_restore_gives_the_same_rows(
    project: tuple[Project, Settings], tmp_path: Path
) -> None:
    proj, settings = project
    proj.ok("db", "migrate")
    proj.ok("load", "data/seeds", "--quiet")
    before = _checksums(settings)
    assert before["user"].startswith("30:")

    dump = tmp_path / "backup.dump"
    proj.ok("db", "backup", "--out", str(dump))
    assert dump.stat().st_size > 0
    proj.ok("db", "reset", "--yes")
    assert _checksums(settings) == {}
    proj.ok("db", "restore", str(dump), "--yes")
    assert _checksums(settings) == before
    proj.ok("db", "check")
