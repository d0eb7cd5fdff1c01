"""A declared model's CHECKs that only PostgreSQL can judge are sent to the database the
caller gives (``engine=``), not to the one the settings name; with no database at all,
validation stops with a one-line connection error (exit 2), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import DatabaseError
from seedbed.facts import SqlCheck, sqlchecks, table_spec
from tests.helpers import model_folder, run_cli

SLOT = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Slot(Base):
    __tablename__ = "slot"
    __table_args__ = (sa.CheckConstraint("size % 2 = 0", name="size_even"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    size: Mapped[int | None] = mapped_column(sa.Integer)
"""

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


@pytest.fixture
def slots(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "slot_models", slot=SLOT)


@pytest.fixture
def slot_engine(empty_settings: Settings, slots: Path) -> Engine:
    engine = get_engine(empty_settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        facts.model_source(slots).metadata(empty_settings.schema).create_all(conn)
    return engine


@pytest.fixture
def settings_nowhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings name a database nobody listens at (and none was used yet)."""
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    monkeypatch.setattr(sqlchecks.SETTINGS_EVALUATOR, "_engine", None)
    yield


FRAME = pd.DataFrame({"id": [1, 2, 3], "size": pd.array([4, 3, None], dtype="Int64")})


def test_the_model_leaves_the_check_to_the_database(slots: Path) -> None:
    with facts.using_models(slots) as source:
        (item,) = table_spec(source.declared_metadata().tables["seedbed.slot"]).rules
    assert isinstance(item.rule, SqlCheck)


def test_validate_judges_in_the_engine_given_not_the_settings_database(
    slots: Path, slot_engine: Engine, settings_nowhere: None
) -> None:
    report = seedbed.validate({"slot": FRAME}, engine=slot_engine, models=slots)
    rows = report.failures[["line", "column", "rule"]].values.tolist()
    assert rows == [[1, "size", "ck_slot_size_even"]]


def test_load_judges_in_the_engine_given_not_the_settings_database(
    slots: Path, slot_engine: Engine, settings_nowhere: None, empty_settings: Settings
) -> None:
    with pytest.raises(seedbed.DataError) as refused:
        seedbed.load({"slot": FRAME}, engine=slot_engine, models=slots, progress=False)
    assert refused.value.report.failures["rule"].tolist() == ["ck_slot_size_even"]
    seedbed.load({"slot": FRAME.iloc[[0, 2]]}, engine=slot_engine, models=slots, progress=False)
    with slot_engine.connect() as conn:
        found = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".slot'))
        assert found.scalar_one() == 2


def test_without_an_engine_the_settings_database_is_the_judge_and_its_absence_is_an_error(
    slots: Path, settings_nowhere: None
) -> None:
    with pytest.raises(DatabaseError) as caught:
        seedbed.validate({"slot": FRAME}, models=slots)
    assert "\n" not in str(caught.value)


def test_the_cli_with_no_database_says_so_in_one_line_and_exits_2(
    slots: Path, db_env: dict[str, str], tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "slot.csv").write_text("id,size\n1,4\n2,3\n")
    with_secret = NOWHERE.replace("nobody@", "nobody:hunter2@")
    env = {**db_env, "SEEDBED_MODELS": str(slots), "DATABASE_URL": with_secret}
    result = run_cli("-q", "validate", str(seeds), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot connect" in result.stderr, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
