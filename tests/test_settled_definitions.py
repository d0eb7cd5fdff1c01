"""A CHECK or index predicate made again from its printed text is the same definition.

PostgreSQL prints ``color IN ('red', 'green')`` on a ``varchar`` as ``... ANY
((ARRAY['red'::character varying, ...])::text[])`` and reads that text back as ``...
ANY (ARRAY[('red'::character varying)::text, ...])``. A load's rebuild re-creates a
table's CHECKs and indexes from their printed text, and so does ``pg_restore``: after
either, ``db check`` saw a changed CHECK and a changed index in a model nobody changed,
and ``db generate`` would have written a revision to drop and re-create them. A ``%`` in
a partial index's predicate (``LIKE 'x%'``) was compared as ``'x%%'``, a change right
after ``db push``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seedbed.config import Settings
from tests.helpers import model_folder, run_cli_here

PAINT = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Paint(Base):
    __tablename__ = "paint"
    __table_args__ = (
        sa.CheckConstraint("color IN ({colors})", name="known_color"),
        sa.CheckConstraint("code LIKE 'x%'", name="x_code"),
        sa.Index(
            "ix_paint_code_live",
            "code",
            unique=True,
            postgresql_where=sa.text("color IN ({colors})"),
        ),
        sa.Index("ix_paint_x", "color", unique=True, postgresql_where=sa.text("code LIKE 'x%'")),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    color = mapped_column(sa.String(12))
    code = mapped_column(sa.String(8))
"""


def _model(folder: Path, colors: str) -> Path:
    return model_folder(folder, paint=PAINT.replace("{colors}", colors))


@pytest.fixture
def env(tmp_path: Path, empty_settings: Settings, db_env: dict[str, str]) -> dict[str, str]:
    models = _model(tmp_path / "models", "'red', 'green'")
    return {**db_env, "SEEDBED_SCHEMA": empty_settings.schema, "SEEDBED_MODELS": str(models)}


def _run(env: dict[str, str], *args: str) -> int:
    done = run_cli_here("-q", *args, env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode


def _check(env: dict[str, str]) -> tuple[int, str]:
    done = run_cli_here("-q", "db", "check", env=env)
    return done.returncode, done.stdout + done.stderr


def test_a_rebuild_and_a_restore_leave_the_model_s_definitions_unchanged(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert _run(env, "db", "push") == 0
    assert _check(env) == (0, f"{env['SEEDBED_SCHEMA']}: database matches the models\n")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "paint.csv").write_text("id,color,code\n1,red,xa\n2,green,xb\n3,,xa\n")
    assert _run(env, "load", str(seeds), "--strategy", "rebuild") == 0
    assert _check(env)[0] == 0, _check(env)  # the rebuild re-made them from their text
    backup = tmp_path / "paint.dump"
    assert _run(env, "db", "backup", "--out", str(backup)) == 0
    assert _run(env, "db", "restore", str(backup), "--yes") == 0
    assert _check(env)[0] == 0, _check(env)  # pg_restore re-made them from their text


def test_a_changed_list_is_still_a_change(env: dict[str, str], tmp_path: Path) -> None:
    assert _run(env, "db", "push") == 0
    changed = {**env, "SEEDBED_MODELS": str(_model(tmp_path / "other", "'red', 'blue'"))}
    code, said = _check(changed)
    assert code == 1
    assert "changed constraint ck_paint_known_color" in said
    assert "changed index ix_paint_code_live" in said
