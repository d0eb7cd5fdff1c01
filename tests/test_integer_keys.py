"""Integer keys (a model of one's own: INTEGER and BIGINT primary and foreign keys) are
hashed and read from the Polars frame, giving the verdicts the pandas frame gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.validation.keys import key_hashes
from seedbed.validation.keytext import key_text
from tests.helpers import model_folder, report_in_chunks, report_rows, validated_with

SHOP = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Store(Base):
    __tablename__ = "store"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("store_id", "code"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("store.id"), nullable=False)
    code: Mapped[str] = mapped_column(sa.Text, nullable=False)
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "shop_models", shop=SHOP)


def _seeds(folder: Path, stores: str, items: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "store.csv").write_text("id,name\n" + stores)
    (folder / "item.csv").write_text("id,store_id,code\n" + items)
    return folder


def test_integer_and_mixed_keys_hash_as_their_pandas_text() -> None:
    ints = [5, -12, 2**62, 0, 7]
    pandas = pd.DataFrame(
        {"a": pd.array(ints, dtype="Int64"), "b": pd.array(list("vwxyz"), dtype="str")}
    )
    for width in (pl.Int16, pl.Int32, pl.Int64):
        small = [v if abs(v) < 2**15 else 1 for v in ints]
        polars = pl.DataFrame({"a": pl.Series(small, dtype=width), "b": list("vwxyz")})
        text = key_text(polars, ["a", "b"])
        assert text is not None and text.get_column("a").to_list()[:2] == ["5", "-12"]
        expected = key_hashes(pandas.assign(a=pd.array(small, dtype="Int64")), ["a", "b"])
        assert np.array_equal(text.hash_rows(seed=0).to_numpy(), expected)
    assert key_text(pl.DataFrame({"a": [1.5]}), ["a"]) is None  # other kinds: pandas


def test_duplicate_integer_keys_are_reported_within_and_across_chunks_and_parts(
    shop: Path, tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path / "seeds", "1,a\n2,b\n1,c\n", "10,1,x\n11,2,x\n12,1,x\n")
    parts = seeds / "item"
    parts.mkdir()
    (seeds / "item.csv").rename(parts / "part-0.csv")
    (parts / "part-1.csv").write_text("id,store_id,code\n10,2,y\n13,2,y\n")
    report = seedbed.validate(seeds, models=shop)
    assert report_rows(report) == [
        ("part-0.csv", 4, "uq_item_store_id_code", "1, x"),
        ("part-1.csv", 2, "pk_item", "10"),
        ("part-1.csv", 3, "uq_item_store_id_code", "2, y"),
        ("store.csv", 4, "pk_store", "1"),
    ]


@pytest.mark.parametrize("order", [["store", "item"], ["item", "store"]])
def test_integer_keys_across_chunks_give_the_pandas_engines_report(
    shop: Path, tmp_path: Path, order: list[str]
) -> None:
    stores = "1,a\n2,b\n3,c\n2,d\n-7,e\n"
    items = "10,1,x\n11,2,x\n12,3,x\n11,9,y\n13,1,x\n14,-7,x\n15,8,z\n"
    seeds = _seeds(tmp_path / "seeds", stores, items)
    found = report_in_chunks(shop, seeds, "polars", order)
    assert found == report_in_chunks(shop, seeds, "pandas", order)
    # the parent's file first or still to come (checked at finish): the value is shown
    assert sorted((r["line"], r["rule"], r["value"]) for r in found) == [
        (5, "fk_item_store_id_store", "9"),
        (5, "pk_item", "11"),
        (5, "pk_store", "2"),
        (6, "uq_item_store_id_code", "1, x"),
        (8, "fk_item_store_id_store", "8"),
    ]


def test_integer_keys_of_dataframes_give_the_verdicts_of_their_files(
    shop: Path, tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path / "seeds", "1,a\n1,b\n", "10,1,x\n10,2,x\n11,1,x\n")
    frames = {
        "store": pd.DataFrame({"id": [1, 1], "name": ["a", "b"]}),
        "item": pd.DataFrame({"id": [10, 10, 11], "store_id": [1, 2, 1], "code": ["x"] * 3}),
    }
    from_files = [(r[2], r[3]) for r in report_rows(seedbed.validate(seeds, models=shop))]
    from_frames = [(r[2], r[3]) for r in report_rows(seedbed.validate(frames, models=shop))]
    assert from_frames == from_files
    assert sorted(from_files) == [
        ("fk_item_store_id_store", "2"),
        ("pk_item", "10"),
        ("pk_store", "1"),
        ("uq_item_store_id_code", "1, x"),
    ]


@pytest.mark.parametrize(("item", "problems"), [("10,2,x\n", 0), ("10,3,x\n", 1)])
def test_an_integer_child_finds_its_bigint_parent_in_the_files(
    shop: Path, tmp_path: Path, item: str, problems: int
) -> None:
    seeds = _seeds(tmp_path / "seeds", "1,a\n2,b\n", item)
    report = seedbed.validate(seeds, models=shop)
    assert len(report) == problems
    if problems:
        assert report_rows(report) == [("item.csv", 2, "fk_item_store_id_store", "3")]


def test_integer_keys_are_looked_up_in_the_database(
    shop: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    metadata = facts.model_source(shop).metadata(empty_settings.schema)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.exec_driver_sql(f"INSERT INTO \"{empty_settings.schema}\".store VALUES (5, 'e')")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "item.csv").write_text("id,store_id,code\n1,5,x\n2,6,x\n")
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert report_rows(report) == [("item.csv", 3, "fk_item_store_id_store", "6")]
    (seeds / "item.csv").write_text("id,store_id,code\n1,5,x\n")
    (seeds / "store.csv").write_text("id,name\n5,again\n")
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert report_rows(report) == [("store.csv", 2, "pk_store", "5")]
    seedbed.load(seeds / "item.csv", engine=engine, models=shop)
    with engine.connect() as conn:
        count = conn.exec_driver_sql(f'SELECT count(*) FROM "{empty_settings.schema}".item')
        assert count.scalar() == 1


def test_a_valid_set_with_integer_keys_is_checked_without_pandas(
    shop: Path, tmp_path: Path
) -> None:
    seeds = _seeds(tmp_path / "seeds", "1,a\n2,b\n", "10,1,x\n11,2,x\n12,1,y\n")
    loaded = validated_with(seeds, shop)
    assert {"seedbed.validation.rowchecks", "polars"} <= loaded
    assert "pandas" not in loaded
