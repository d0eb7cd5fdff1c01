"""A plain ``sa.CheckConstraint`` of a model of one's own is judged before load, as the
database judges it: read from its SQL into rules (validation, the Pandera schema, the docs
and the synthetic data see them), or left to the database where only it can judge."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import create_namespace, get_engine
from seedbed.docs.document import render_data_models
from seedbed.facts import SqlCheck, table_spec, using_models
from seedbed.synthetic import generate_seed_set
from tests.helpers import fresh_settings, model_folder, run_cli

SHOP = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        sa.CheckConstraint("qty > 0", name="qty_positive"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint("status IN ('draft', 'live')", name="status_known"),
        sa.CheckConstraint("char_length(code) <= 6", name="code_short"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    qty: Mapped[int | None] = mapped_column(sa.Integer)
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    status: Mapped[str | None] = mapped_column(sa.String(10))
    code: Mapped[str | None] = mapped_column(sa.Text)
    starts_at = mapped_column(sa.DateTime(timezone=True))
    ends_at = mapped_column(sa.DateTime(timezone=True))
"""

#: Only the database can judge the first two: an operator seedbed does not read, a case
#: mapping that follows the database's ctype; a numeric(10,2) is judged as it is stored.
ODD = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Slot(Base):
    __tablename__ = "slot"
    __table_args__ = (
        sa.CheckConstraint("size % 2 = 0", name="size_even"),
        sa.CheckConstraint("lower(label) = label", name="label_lower"),
        sa.CheckConstraint("price > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    size: Mapped[int | None] = mapped_column(sa.Integer)
    label: Mapped[str | None] = mapped_column(sa.Text)
    price = mapped_column(sa.Numeric(10, 2))
"""

#: A base without seedbed's naming convention: an unnamed CHECK takes PostgreSQL's name.
PLAIN_BASE = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = sa.MetaData()
"""

UNNAMED = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Box(Base):
    __tablename__ = "box"
    __table_args__ = (sa.CheckConstraint("width < height"), sa.CheckConstraint("width <> 3"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    width: Mapped[int | None] = mapped_column(sa.Integer, sa.CheckConstraint("width > 0"))
    height: Mapped[int | None] = mapped_column(sa.Integer)
"""

HEADER = "id,qty,rating,status,code,starts_at,ends_at\n"
VALID = (
    "1,2,3,draft,abc,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z\n"
    "2,,,,,,\n"
    "3,1,5,live,abcdef,2024-01-01T00:00:00Z,\n"
)
#: One bad value per row, each refused by one CHECK: (line, column, rule, value, message).
INVALID = {
    "4,-13,3,live,abc,,\n": ("qty", "ck_item_qty_positive", "-13", "qty must be greater than 0"),
    "5,2,9,live,abc,,\n": (
        "rating",
        "ck_item_rating_range",
        "9",
        "rating must be at least 1; and rating must be at most 5",
    ),
    "6,2,3,gone,abc,,\n": (
        "status",
        "ck_item_status_known",
        "gone",
        "status must be one of 'draft', 'live'",
    ),
    "7,2,3,live,abcdefg,,\n": (
        "code",
        "ck_item_code_short",
        "abcdefg",
        "char_length(code) must be at most 6",
    ),
    "8,2,3,live,abc,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\n": (
        "ends_at",
        "ck_item_ends_after_start",
        "2024-01-01 00:00:00+00:00",
        "ends_at must be greater than starts_at",
    ),
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "shop_models", shop=SHOP)


def _seeds(folder: Path, rows: str) -> Path:
    folder.mkdir()
    (folder / "item.csv").write_text(HEADER + rows)
    return folder


def _problems(report: seedbed.ValidationReport) -> list[tuple[object, ...]]:
    return [
        (
            Path(str(r["file"])).name,
            r["line"],
            r["column"],
            r["rule"],
            r["value"],
            r["message"],
        )
        for r in sorted(report.to_records(), key=lambda r: (r["line"], r["rule"]))
    ]


def _expected(first_line: int) -> list[tuple[object, ...]]:
    return [("item.csv", first_line + k, *problem) for k, problem in enumerate(INVALID.values())]


def test_plain_checks_of_a_declared_model_are_reported_with_the_database_names(
    shop: Path, tmp_path: Path
) -> None:
    assert len(seedbed.validate(_seeds(tmp_path / "valid", VALID), models=shop)) == 0
    # No NULLs beside the bad values: an integer column with NULLs shows -13 as '-13.0'.
    mixed = VALID.replace("2,,,,,,\n", "")
    report = seedbed.validate(_seeds(tmp_path / "mixed", mixed + "".join(INVALID)), models=shop)
    assert _problems(report) == _expected(first_line=4)


def test_the_verdicts_are_the_databases_own(
    shop: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    metadata = facts.model_source(shop).metadata(empty_settings.schema)
    with engine.begin() as conn:
        metadata.create_all(conn)
        names = conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE contype = 'c' "
                "AND conrelid = to_regclass(:t) ORDER BY conname"
            ),
            {"t": f'"{empty_settings.schema}".item'},
        ).scalars()
        in_database = list(names)
    spec = table_spec(metadata.tables[f"{empty_settings.schema}.item"])
    assert sorted(item.name for item in spec.rules) == in_database
    assert not any(isinstance(item.rule, SqlCheck) for item in spec.rules)

    seedbed.load(_seeds(tmp_path / "valid", VALID), engine=engine, models=shop)
    columns = HEADER.strip().split(",")
    for row, (_, rule, _, _) in INVALID.items():
        record = {c: v or None for c, v in zip(columns, row.strip().split(","), strict=True)}
        with pytest.raises(sa.exc.IntegrityError) as refused, engine.begin() as conn:
            conn.execute(
                sa.text(
                    f'INSERT INTO "{empty_settings.schema}".item SELECT * FROM '
                    f'json_populate_record(NULL::"{empty_settings.schema}".item, :row)'
                ),
                {"row": json.dumps(record)},
            )
        assert refused.value.orig.diag.constraint_name == rule  # type: ignore[union-attr]
    with engine.connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".item'))
        assert count.scalar_one() == 3


def test_the_pandera_schema_of_a_declared_table_carries_its_plain_checks(shop: Path) -> None:
    schema = seedbed.pandera_schema("item", models=shop)
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "qty": [2, -13],
            "rating": [3, 3],
            "status": ["draft", "live"],
            "code": ["abc", "abc"],
            "starts_at": pd.to_datetime([None, None], utc=True),
            "ends_at": pd.to_datetime([None, None], utc=True),
        }
    )
    with pytest.raises(Exception) as failed:
        schema.validate(frame, lazy=True)
    cases = failed.value.failure_cases  # type: ignore[attr-defined]
    assert set(cases["check"]) == {"ck_item_qty_positive"}
    assert list(cases["index"]) == [1]
    schema.validate(frame.iloc[:1], lazy=True)


def test_generated_rows_of_a_declared_model_pass_its_checks_and_load(
    shop: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    with using_models(shop):
        counts = generate_seed_set(0, tmp_path / "gen", rows=300)
    assert counts["item"] > 0
    generated = pd.read_csv(tmp_path / "gen" / "item.csv")
    assert (generated["qty"].dropna() > 0).all()
    assert set(generated["status"].dropna()) <= {"draft", "live"}
    with engine.begin() as conn:
        facts.model_source(shop).metadata(empty_settings.schema).create_all(conn)
    seedbed.load(tmp_path / "gen", engine=engine, models=shop)
    with engine.connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".item'))
        assert count.scalar_one() == counts["item"]


def test_checks_only_the_database_can_judge_are_sent_to_it(
    db_env: dict[str, str], base_settings: Settings, tmp_path: Path
) -> None:
    odd = model_folder(tmp_path / "odd_models", odd=ODD)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "slot.csv").write_text(
        "id,size,label,price\n1,4,abc,1.50\n2,3,abc,\n3,2,ABC,\n4,2,Àbc,0.001\n"
    )
    env = {**db_env, "SEEDBED_MODELS": str(odd)}
    result = run_cli("-q", "validate", str(seeds), env=env)
    assert result.returncode == 1, result.stderr
    with get_engine(base_settings).connect() as conn:  # lower() follows the database's ctype
        unicode_case = conn.execute(sa.text("SELECT lower('Àbc') <> 'Àbc'")).scalar_one()
    where = f"{seeds / 'slot.csv'}"
    lower = "must satisfy CHECK lower(label) = label (checked in the database)"
    assert [line for line in result.stdout.splitlines() if line.startswith(where)] == [
        f"{where}:3 size: must satisfy CHECK size % 2 = 0 (checked in the database)"
        " (value: '3') [ck_slot_size_even]",
        f"{where}:4 label: {lower} (value: 'ABC') [ck_slot_label_lower]",
        *([f"{where}:5 label: {lower} (value: 'Àbc') [ck_slot_label_lower]"] * unicode_case),
        f"{where}:5 price: price must be greater than 0 (value: '0.00') [ck_slot_price_positive]",
    ]


def test_a_declared_model_whose_checks_seedbed_reads_needs_no_database(
    shop: Path, tmp_path: Path, db_env: dict[str, str]
) -> None:
    seeds = _seeds(tmp_path / "seeds", VALID + "".join(INVALID))
    nowhere = {
        **db_env,
        "SEEDBED_MODELS": str(shop),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run_cli("-q", "validate", str(seeds), env=nowhere)
    assert result.returncode == 1, result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith(str(seeds))]
    assert len(problems) == len(INVALID)


def test_unnamed_checks_take_the_names_postgresql_gives_them(
    empty_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "box_models"
    folder.mkdir()
    (folder / "base.py").write_text(PLAIN_BASE)
    (folder / "box.py").write_text(UNNAMED)
    engine = get_engine(empty_settings)
    metadata = facts.model_source(folder).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
        in_database = conn.execute(
            sa.text(
                "SELECT conname FROM pg_constraint WHERE contype = 'c' "
                "AND conrelid = to_regclass(:t) ORDER BY conname"
            ),
            {"t": f'"{empty_settings.schema}".box'},
        ).scalars()
        assert list(in_database) == ["box_check", "box_width_check", "box_width_check1"]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "box.csv").write_text("id,width,height\n1,1,2\n2,0,2\n3,3,4\n4,5,4\n")
    report = seedbed.validate(seeds, models=folder)
    assert [(r["line"], r["rule"]) for r in report.to_records()] == [
        (3, "box_width_check"),
        (4, "box_width_check1"),
        (5, "box_check"),
    ]
    docs = render_data_models(metadata, namespace=empty_settings.schema)
    assert (
        "- `width`: width must be less than height (`box_check`); "
        "width must be greater than 0 (`box_width_check`); "
        "width must be different from 3 (`box_width_check1`)"
    ) in docs


DOMAINS = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

POSITIVE = postgresql.DOMAIN("positive_qty", sa.Integer, check="VALUE > 0", not_null=True)
CODE = postgresql.DOMAIN(
    "item_code", sa.Text, check=sa.text("VALUE ~ '^[A-Z]{3}$'"), constraint_name="code_shape"
)


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    qty = mapped_column(POSITIVE)
    code = mapped_column(CODE)
"""
#: Rows each refused by one constraint of a domain: row -> (column, the database's name).
DOMAIN_ROWS = {"2,-1,ABC\n": ("qty", "positive_qty_check"), "3,2,abcd\n": ("code", "code_shape")}


def test_the_checks_and_not_null_of_a_declared_domain_are_judged_as_the_database_judges(
    empty_settings: Settings, tmp_path: Path
) -> None:
    """A ``postgresql.DOMAIN(check=..., not_null=True)`` in code: its rules were missed (the
    file was valid, the load failed on the first such row); now they are a catalog's."""
    models = model_folder(tmp_path / "models", items=DOMAINS)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "item.csv").write_text("id,qty,code\n1,5,ABC\n" + "".join(DOMAIN_ROWS) + "4,,ABC\n")
    declared = seedbed.validate(seeds, models=models)
    found = [(r["line"], r["column"], r["rule"]) for r in declared.to_records()]
    expected = [(line, column, name) for line, (column, name) in enumerate(DOMAIN_ROWS.values(), 3)]
    assert sorted(found) == [*expected, (5, "qty", "not_null")]

    engine = get_engine(empty_settings)
    with engine.begin() as conn:
        create_namespace(conn, empty_settings.schema)
        facts.model_source(models).metadata(empty_settings.schema).create_all(conn)
    for row, (_, name) in DOMAIN_ROWS.items():
        with pytest.raises(sa.exc.IntegrityError) as refused, engine.begin() as conn:
            number, qty, code = row.strip().split(",")
            insert = (
                f"INSERT INTO \"{empty_settings.schema}\".item VALUES ({number}, {qty}, '{code}')"
            )
            conn.exec_driver_sql(insert)
        assert refused.value.orig.diag.constraint_name == name  # type: ignore[union-attr]
    with pytest.raises(sa.exc.IntegrityError, match="does not allow null"), engine.begin() as c:
        c.exec_driver_sql(f"INSERT INTO \"{empty_settings.schema}\".item VALUES (4, NULL, 'ABC')")
    catalog = seedbed.validate(seeds, models="database", engine=engine)
    assert catalog.to_records() == declared.to_records()
    docs = render_data_models(facts.model_source(models).metadata(empty_settings.schema))
    assert "| `qty` | `positive_qty` | NOT NULL |" in docs  # the type without its namespace
    assert "        positive_qty qty\n" in docs  # the diagram's

    with using_models(models):
        counts = generate_seed_set(0, tmp_path / "gen", rows=50)
    seedbed.load(tmp_path / "gen", engine=engine, models=models)
    with engine.connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".item'))
        assert count.scalar_one() == counts["item"]


def test_generated_rows_pass_checks_only_the_database_judges_and_load(
    db_env: dict[str, str], base_settings: Settings, tmp_path: Path
) -> None:
    """``size % 2 = 0`` beside ``lower(label) = label``: rows the database refuses are drawn
    again; a nullable integer column's values reach it as integers, not floats (``4.0``)."""
    odd = model_folder(tmp_path / "odd_models", odd=ODD)
    settings = fresh_settings(base_settings, "oddgen")
    env = {**db_env, "SEEDBED_MODELS": str(odd), "SEEDBED_SCHEMA": settings.schema}
    try:
        for command in (("db", "push"), ("generate", "--rows", "400", str(tmp_path / "gen"))):
            done = run_cli("-q", *command, env=env)
            assert done.returncode == 0, done.stderr
        rows = pd.read_csv(tmp_path / "gen" / "slot.csv")
        sizes = rows["size"].dropna()
        assert len(rows) >= 390 and len(sizes) > 200 and (sizes % 2 == 0).all()
        loaded = run_cli("-q", "load", str(tmp_path / "gen"), env=env)
        assert loaded.returncode == 0, loaded.stderr
    finally:
        run_cli("-q", "db", "reset", "--yes", env=env)
