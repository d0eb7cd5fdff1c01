"""``seedbed generate`` for a model of one's own: the values it writes to satisfy a rule stay
values of their column's type (an enum's labels, text within its length), so the set
validates and loads."""

from __future__ import annotations

from pathlib import Path

from seedbed.config import Settings
from tests.helpers import generated_rows, model_folder, run_cli


def _model_env(
    folder: Path, db_env: dict[str, str], settings: Settings, **modules: str
) -> dict[str, str]:
    """The CLI's environment for a model folder of ``modules`` in ``settings``' namespace."""
    models = model_folder(folder, **modules)
    return {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": settings.schema}


def _validates_and_loads(seeds: Path, env: dict[str, str]) -> None:
    """The generated set ``seeds`` passes ``seedbed validate`` and ``seedbed load``."""
    checked = run_cli("-q", "validate", str(seeds), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr


ORDERS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

STATUS = sa.Enum("new", "paid", "shipped", name="order_status")
KIND = sa.Enum("x", "y", "z", name="order_kind")


class Order(Base):
    __tablename__ = "order"
    __table_args__ = (
        sa.CheckConstraint("status <> 'shipped' OR note IS NOT NULL", name="shipped_noted"),
        sa.CheckConstraint("kind NOT IN ('x', 'y')", name="kind_z"),
        sa.CheckConstraint("code <> 'abc'", name="code_not_abc"),
        sa.CheckConstraint("grade NOT IN ('a', 'b')", name="grade_low"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status = mapped_column(STATUS, nullable=False)
    kind = mapped_column(KIND, nullable=False)
    code = mapped_column(sa.String(3), nullable=False)
    grade = mapped_column(sa.String(1), nullable=False)
    note = mapped_column(sa.Text)
"""


def test_values_moved_away_from_a_rule_stay_in_their_column_type(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    env = _model_env(tmp_path / "order_models", db_env, empty_settings, orders=ORDERS)
    seeds = tmp_path / "seeds"
    written = generated_rows(env, seeds, "order", 60, seed=3)
    assert len(written) == 60
    assert {row["status"] for row in written} <= {"new", "paid", "shipped"}
    assert {row["kind"] for row in written} == {"z"}
    assert all(len(row["code"]) <= 3 and row["code"] != "abc" for row in written)
    assert all(len(row["grade"]) == 1 and row["grade"] not in "ab" for row in written)
    _validates_and_loads(seeds, env)


READINGS = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Reading(Base):
    __tablename__ = "reading"
    __table_args__ = (sa.UniqueConstraint("sensor", "at", name="one_per_instant"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    sensor = mapped_column(sa.Integer, nullable=False)
    at = mapped_column(postgresql.TIMESTAMP(timezone=True, precision=0), nullable=False)
    seen = mapped_column(postgresql.TIMESTAMP(precision=3))
"""


def test_times_with_a_precision_are_written_as_they_are_stored(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    env = _model_env(tmp_path / "reading_models", db_env, empty_settings, readings=READINGS)
    seeds = tmp_path / "seeds"
    written = generated_rows(env, seeds, "reading", 300, seed=5)
    assert written and {row["at"].split(".")[1] for row in written} == {"000000Z"}
    fractions = {row["seen"].split(".")[1] for row in written if row["seen"]}
    assert len(fractions) > 1 and all(digits.endswith("000") for digits in fractions)
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr


STOCK = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (
        sa.CheckConstraint("reserved <= available", name="reserved_available"),
        sa.CheckConstraint("minimum > floor_price", name="above_floor"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    reserved = mapped_column(sa.Integer, nullable=False)
    available = mapped_column(sa.Numeric(10, 2), nullable=False)
    minimum = mapped_column(sa.BigInteger, nullable=False)
    floor_price = mapped_column(sa.Double, nullable=False)
"""


def test_a_whole_number_compared_with_a_fraction_is_rounded_toward_the_rule(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    # an integer column filled from a numeric or double one: a fraction was refused
    # ("Float value 518468.11 was truncated converting to int64", exit 2)
    env = _model_env(tmp_path / "stock_models", db_env, empty_settings, stock=STOCK)
    seeds = tmp_path / "seeds"
    written = generated_rows(env, seeds, "stock", 50, seed=5)
    assert len(written) == 50
    assert all(int(row["reserved"]) <= float(row["available"]) for row in written)
    assert all(int(row["minimum"]) > float(row["floor_price"]) for row in written)
    _validates_and_loads(seeds, env)


SHELVES = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


class Slot(Base):
    __tablename__ = "slot"
    __table_args__ = (sa.CheckConstraint("shelf_id <= position", name="after_shelf"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    position = mapped_column(sa.Numeric, nullable=False, unique=True)
    shelf_id = mapped_column(sa.Integer, sa.ForeignKey("shelf.id"), nullable=False)
"""


def test_a_rule_beside_a_foreign_key_moves_the_other_column(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    # the fill moved shelf_id to satisfy the rule: a key no shelf has (validate: exit 1)
    env = _model_env(tmp_path / "shelf_models", db_env, empty_settings, shelves=SHELVES)
    seeds = tmp_path / "seeds"
    written = generated_rows(env, seeds, "slot", 40, seed=2)
    shelves = generated_rows(env, seeds, "shelf", 40, seed=2)
    assert {row["shelf_id"] for row in written} <= {row["id"] for row in shelves}
    assert all(int(row["shelf_id"]) <= float(row["position"]) for row in written)
    _validates_and_loads(seeds, env)
