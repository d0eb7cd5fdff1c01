"""Keys of booleans, dates and time stamps (a model of one's own: UNIQUE (store_id, day)) are
hashed and read from the Polars frame as one text a value, which the pandas frame gives too
and PostgreSQL reads as that value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts import ColumnSpec
from seedbed.facts import spec as kinds
from seedbed.sqltext import time_text
from seedbed.validation.coerce import arrow_series, coerce_text
from seedbed.validation.keys import key_hashes
from seedbed.validation.keytext import key_text
from tests.helpers import model_folder, report_in_chunks, report_rows, validated_with


@dataclass(frozen=True)
class Kind:
    """A column kind: its SQLAlchemy type, two spellings of one value (``same``), another
    value (``other``), and two plain values as CSV text and as a DataFrame holds them."""

    sql: str
    same: tuple[str, str]
    other: str
    plain: tuple[tuple[str, object], tuple[str, object]]


KINDS = {
    "boolean": Kind("sa.Boolean", ("true", "t"), "false", (("t", True), ("f", False))),
    "date": Kind(
        "sa.Date",
        ("infinity", "+Infinity"),
        "0044-03-15 BC",
        (("2024-02-29", "2024-02-29"), ("1999-12-31", "1999-12-31")),  # a frame's dates: text
    ),
    "timestamp": Kind(
        "sa.DateTime",
        ("2024-01-01 10:00", "2024-01-01T10:00:00.000000"),
        "10000-01-01 00:00:00.5",
        (
            ("2024-01-01 10:00:00.25", pd.Timestamp("2024-01-01 10:00:00.25")),
            ("1999-12-31 23:59:59", pd.Timestamp("1999-12-31 23:59:59")),
        ),
    ),
    "timestamptz": Kind(
        "sa.DateTime(timezone=True)",
        ("2024-01-01 10:00:00+00", "2024-01-01 12:00:00.000+02:00"),
        "-infinity",
        (
            ("2024-01-01 10:00:00.25Z", pd.Timestamp("2024-01-01 10:00:00.25", tz="UTC")),
            ("1999-12-31 23:59:59-05:00", pd.Timestamp("2000-01-01 04:59:59", tz="UTC")),
        ),
    ),
}

TABLES = """
class Parent{name}(Base):
    __tablename__ = "parent_{name}"

    store_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    key: Mapped[Any] = mapped_column({sql}, primary_key=True)


class Child{name}(Base):
    __tablename__ = "child_{name}"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["store_id", "key"], ["parent_{name}.store_id", "parent_{name}.key"]
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    key: Mapped[Any] = mapped_column({sql}, nullable=False)
"""

MODEL = (
    "from typing import Any\n\nimport sqlalchemy as sa\n"
    "from sqlalchemy.orm import Mapped, mapped_column\n\nfrom .base import Base\n"
    + "".join(TABLES.format(name=name, sql=kind.sql) for name, kind in KINDS.items())
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "typed_models", shop=MODEL)


def _seeds(folder: Path, name: str, parents: str | None, children: str | None) -> Path:
    folder.mkdir(exist_ok=True)
    if parents is not None:
        (folder / f"parent_{name}.csv").write_text("store_id,key\n" + parents)
    if children is not None:
        (folder / f"child_{name}.csv").write_text("id,store_id,key\n" + children)
    return folder


def _typed(kind: str, texts: list[str | None]) -> pa.Array:
    column = ColumnSpec(kind, kind, nullable=True, has_default=False, sensitive=False, sql_type="")
    coerced = coerce_text(column, pa.array(texts, pa.string()))
    assert not coerced.bad.any()
    return coerced.values


DAYS = ["infinity", "-infinity", "0044-03-15 BC", "0001-01-01", "9999-12-31", "10000-01-01"]
STAMPS = ["infinity", "-infinity", "0044-03-15 23:59:59.5 BC", "0001-01-01 00:00"]
STAMPS += ["9999-12-31 23:59:59.999999", "10000-01-01 00:00:00", "2024-02-29 12:00:00.000001"]
LITERALS = {
    kinds.BOOLEAN: ["t", "false"],
    kinds.DATE: [*DAYS, "2024-02-29"],
    kinds.TIMESTAMP: STAMPS,
    kinds.TIMESTAMPTZ: [
        "infinity",
        "-infinity",
        "0044-03-15 23:59:59.5+00 BC",
        "0001-01-01 05:30:00+05:30",
        "9999-12-31 23:59:59.999999Z",
        "10000-01-01 00:00:00+00",
        "2024-02-29 12:00:00.000001+05:30",
    ],
}


@pytest.mark.parametrize("kind", LITERALS)
def test_key_text_of_each_kind_is_postgresqls_from_polars_and_pandas(kind: str) -> None:
    texts: list[str | None] = [*LITERALS[kind], None]
    values = _typed(kind, texts)
    polars = key_text(pl.DataFrame([pl.Series("k", values)]), ["k"])
    assert polars is not None
    found = polars.get_column("k").to_list()
    if kind == kinds.BOOLEAN:
        assert found == ["true", "false", None]
    else:
        physical = values.cast(pa.int32() if kind == kinds.DATE else pa.int64()).to_pylist()
        expected = [
            time_text(v, days=kind == kinds.DATE, zone=kind == kinds.TIMESTAMPTZ)
            for v in physical[:-1]
        ]
        assert found == [*expected, None]
        assert found[:3] == ["infinity", "-infinity", expected[2]]
        assert expected[2].endswith(" BC") and expected[2].startswith("0044-03-15")
        assert (
            found[-2]
            == {
                kinds.DATE: "2024-02-29",
                kinds.TIMESTAMP: "2024-02-29 12:00:00.000001",
                kinds.TIMESTAMPTZ: "2024-02-29 06:30:00.000001+00",
            }[kind]
        )
    pandas = pd.DataFrame({"k": arrow_series(values)}).iloc[:-1]
    assert np.array_equal(
        polars.head(len(pandas)).hash_rows(seed=0).to_numpy(), key_hashes(pandas, ["k"])
    )


@pytest.mark.parametrize("name", KINDS)
def test_duplicate_typed_keys_are_reported_within_files_and_across_parts(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    seeds = _seeds(tmp_path / "seeds", name, f"1,{a}\n2,{a}\n1,{a2}\n", None)
    parts = seeds / f"parent_{name}"
    parts.mkdir()
    (seeds / f"parent_{name}.csv").rename(parts / "part-0.csv")
    (parts / "part-1.csv").write_text(f"store_id,key\n2,{a2}\n1,{kind.other}\n")
    report = seedbed.validate(seeds, models=shop)
    assert [(f, line, rule) for f, line, rule, _ in report_rows(report)] == [
        ("part-0.csv", 4, f"pk_parent_{name}"),
        ("part-1.csv", 2, f"pk_parent_{name}"),
    ]
    # Each part of the key shown as a one-column key shows it (infinity as PostgreSQL writes it).
    shown = {
        "boolean": "True",
        "date": "infinity",
        "timestamp": "2024-01-01T10:00:00.000000",
        "timestamptz": "2024-01-01 10:00:00+00:00",
    }[name]
    assert [value for *_, value in report_rows(report)] == [f"1, {shown}", f"2, {shown}"]


@pytest.mark.parametrize("name", KINDS)
def test_a_typed_foreign_key_finds_its_parent_in_another_spelling(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    seeds = _seeds(
        tmp_path / "seeds", name, f"1,{a}\n2,{kind.other}\n", f"1,1,{a2}\n2,1,{kind.other}\n"
    )
    report = seedbed.validate(seeds, models=shop)
    assert [(f, line, rule) for f, line, rule, _ in report_rows(report)] == [
        (f"child_{name}.csv", 3, f"fk_child_{name}_store_id_parent_{name}")
    ]


@pytest.mark.parametrize("name", KINDS)
def test_typed_keys_in_two_row_chunks_give_the_pandas_engines_report(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    parents = f"1,{a}\n2,{a}\n3,{kind.other}\n2,{a2}\n"
    children = f"1,1,{a2}\n2,2,{kind.other}\n3,3,{kind.other}\n"
    seeds = _seeds(tmp_path / "seeds", name, parents, children)
    order = [f"parent_{name}", f"child_{name}"]
    found = report_in_chunks(shop, seeds, "polars", order)
    assert found == report_in_chunks(shop, seeds, "pandas", order)
    assert sorted((str(r["file"]).rsplit("/", 1)[-1], r["line"], r["rule"]) for r in found) == [
        (f"child_{name}.csv", 3, f"fk_child_{name}_store_id_parent_{name}"),
        (f"parent_{name}.csv", 5, f"pk_parent_{name}"),
    ]


@pytest.mark.parametrize("name", KINDS)
def test_typed_keys_of_dataframes_give_the_verdicts_of_their_files(
    shop: Path, tmp_path: Path, name: str
) -> None:
    (x_text, x), (y_text, y) = KINDS[name].plain
    parents = f"1,{x_text}\n1,{x_text}\n2,{y_text}\n"
    seeds = _seeds(tmp_path / "seeds", name, parents, f"1,2,{y_text}\n2,1,{y_text}\n")
    frames = {
        f"parent_{name}": pd.DataFrame({"store_id": [1, 1, 2], "key": [x, x, y]}),
        f"child_{name}": pd.DataFrame({"id": [1, 2], "store_id": [2, 1], "key": [y, y]}),
    }
    from_files = [(r[2], r[3]) for r in report_rows(seedbed.validate(seeds, models=shop))]
    from_frames = [(r[2], r[3]) for r in report_rows(seedbed.validate(frames, models=shop))]
    assert from_frames == from_files
    assert [rule for rule, _ in from_files] == [
        f"fk_child_{name}_store_id_parent_{name}",
        f"pk_parent_{name}",
    ]


@pytest.mark.parametrize("name", KINDS)
def test_typed_keys_are_looked_up_in_the_database(
    shop: Path, empty_settings: Settings, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    engine = get_engine(empty_settings)
    metadata = facts.model_source(shop).metadata(empty_settings.schema)
    table = f'"{empty_settings.schema}".parent_{name}'
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, '{a}'), (2, '{kind.other}')")
    seeds = _seeds(
        tmp_path / "seeds", name, None, f"1,1,{a2}\n2,2,{kind.other}\n3,1,{kind.other}\n"
    )
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert [(f, line, rule) for f, line, rule, _ in report_rows(report)] == [
        (f"child_{name}.csv", 4, f"fk_child_{name}_store_id_parent_{name}")
    ]
    _seeds(seeds, name, f"2,{kind.other}\n3,{a}\n", f"1,1,{a2}\n")
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert [(f, line, rule) for f, line, rule, _ in report_rows(report)] == [
        (f"parent_{name}.csv", 2, f"pk_parent_{name}")
    ]
    seedbed.load(seeds / f"child_{name}.csv", engine=engine, models=shop)
    with engine.connect() as conn:
        count = conn.exec_driver_sql(f'SELECT count(*) FROM "{empty_settings.schema}".child_{name}')
        assert count.scalar() == 1


def test_a_valid_set_with_typed_keys_is_checked_without_pandas(shop: Path, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    for name, kind in KINDS.items():
        a, a2 = kind.same
        _seeds(seeds, name, f"1,{a}\n2,{a}\n1,{kind.other}\n", f"1,1,{a2}\n2,1,{kind.other}\n")
    loaded = validated_with(seeds, shop)
    assert {"seedbed.validation.rowchecks", "polars"} <= loaded
    assert "pandas" not in loaded
