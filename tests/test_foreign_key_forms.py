"""Foreign keys across files as PostgreSQL matches them, found by differential fuzzing of
multi-file loads: a key that names its parent's columns in another order than the parent's
unique key declares them, and a self-reference whose parent row comes later (or never),
reported with its value like any other missing parent."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import DataError
from tests.helpers import model_folder

SWAPPED = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Shelf(Base):
    __tablename__ = "shelf"
    __table_args__ = (sa.UniqueConstraint("aisle", "code", name="uq_shelf_place"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    aisle = mapped_column(sa.Integer)
    code = mapped_column(sa.Text)


class Box(Base):
    __tablename__ = "box"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["shelf_code", "shelf_aisle"], ["shelf.code", "shelf.aisle"], name="fk_box_shelf"
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    shelf_aisle = mapped_column(sa.Integer)
    shelf_code = mapped_column(sa.Text)
"""


def _create(models: Path, settings: Settings) -> sa.Engine:
    engine = get_engine(settings)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{settings.schema}"'))
        facts.model_source(models).metadata(settings.schema).create_all(conn)
    return engine


def _refused(report: seedbed.ValidationReport) -> list[tuple[str, int, str, object]]:
    return [
        (Path(str(r["file"])).name, int(str(r["line"])), str(r["rule"]), r["value"])
        for r in report.to_records()
    ]


def test_a_foreign_key_naming_its_parent_key_in_another_order_meets_the_parent_rows(
    tmp_path: Path, empty_settings: Settings
) -> None:
    models = model_folder(tmp_path / "shelf_models", shelves=SWAPPED)
    engine = _create(models, empty_settings)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "shelf.csv").write_text("id,aisle,code\n1,1,a\n2,2,b\n")
    (seeds / "box.csv").write_text("id,shelf_aisle,shelf_code\n10,1,a\n11,2,b\n12,1,b\n13,,b\n")
    # PostgreSQL matches (code, aisle) against the key on (aisle, code): only (b, 1) is
    # missing; line 5 has a NULL (MATCH SIMPLE) and is not checked.
    report = seedbed.validate(seeds, engine=engine, models=models)
    assert _refused(report) == [("box.csv", 4, "fk_box_shelf", "b, 1")]
    with pytest.raises(DataError):
        seedbed.load(seeds, engine=engine, models=models, progress=False)
    (seeds / "box.csv").write_text("id,shelf_aisle,shelf_code\n10,1,a\n11,2,b\n13,,b\n")
    seedbed.load(seeds, engine=engine, models=models, progress=False)
    with engine.connect() as conn:
        loaded = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".box'))
        assert loaded.scalar_one() == 3
        with pytest.raises(sa.exc.IntegrityError):  # and PostgreSQL refuses the one refused
            conn.execute(
                sa.text(f"INSERT INTO \"{empty_settings.schema}\".box VALUES (12, 1, 'b')")
            )


TREE = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Node(Base):
    __tablename__ = "node"

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    parent = mapped_column(sa.CHAR(4), sa.ForeignKey("node.id", name="fk_node_parent"))
"""


def test_a_missing_self_reference_is_reported_with_its_value(
    tmp_path: Path, empty_settings: Settings
) -> None:
    models = model_folder(tmp_path / "tree_models", trees=TREE)
    engine = _create(models, empty_settings)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    # children before their parent (line 2 -> line 4), and two parents no row has
    (seeds / "node.csv").write_text("id,parent\nb,r\nc,zz\nr,\nd,r  \ne,q\n")
    expected = [("node.csv", 3, "fk_node_parent", "zz"), ("node.csv", 6, "fk_node_parent", "q")]
    assert _refused(seedbed.validate(seeds, models=models)) == expected
    assert _refused(seedbed.validate(seeds, engine=engine, models=models)) == expected
    with pytest.raises(DataError) as refused:
        seedbed.load(seeds, engine=engine, models=models, progress=False)
    assert _refused(refused.value.report) == expected
