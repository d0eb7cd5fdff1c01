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


NODES = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Node(Base):
    __tablename__ = "node"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    parent = mapped_column(sa.Integer, sa.ForeignKey("node.id", name="fk_node_parent"))
    label = mapped_column(sa.Text)
"""


@pytest.mark.parametrize("strategy", ["incremental", "auto"])
def test_a_row_referencing_a_row_of_a_later_part_file_loads_as_validation_said(
    tmp_path: Path, empty_settings: Settings, strategy: str
) -> None:
    models = model_folder(tmp_path / "node_models", nodes=NODES)
    engine = _create(models, empty_settings)
    table = f'"{empty_settings.schema}".node'
    with engine.begin() as conn:  # a row already there: auto writes the table as it is, too
        conn.execute(sa.text(f"INSERT INTO {table} VALUES (100, NULL, 'root')"))
    parts = tmp_path / "seeds" / "node"
    parts.mkdir(parents=True)
    (parts / "part-0000.csv").write_text("id,parent,label\n1,2,a\n3,7,b\n4,100,c\n")
    (parts / "part-0001.csv").write_text("parent,id\n,2\n")
    (parts / "part-0002.csv").write_text("id,label\n7,d\n")
    assert seedbed.validate(parts.parent, engine=engine, models=models).ok
    loaded = seedbed.load(parts.parent, engine=engine, models=models, strategy=strategy)
    assert loaded.to_frame()["inserted"].sum() == 5
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT id, parent, label FROM {table} ORDER BY id"))
        assert [tuple(row) for row in rows] == [
            (1, 2, "a"),
            (2, None, None),
            (3, 7, "b"),
            (4, 100, "c"),
            (7, None, "d"),
            (100, None, "root"),
        ]
        # and a row only the database refuses is still named by its part and line
        conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT ck_label CHECK (label <> 'x')"))
        conn.commit()
    (parts / "part-0000.csv").write_text("id,parent,label\n11,12,a\n13,12,x\n")
    (parts / "part-0001.csv").write_text("parent,id\n,12\n")
    (parts / "part-0002.csv").unlink()
    with pytest.raises(seedbed.LoadError) as refused:
        seedbed.load(parts.parent, engine=engine, models=models, strategy=strategy)
    assert str(refused.value.file).endswith("part-0000.csv")
    assert (refused.value.line, refused.value.constraint) == (3, "ck_label")
