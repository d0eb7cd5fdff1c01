"""Unique and foreign keys compare values as PostgreSQL's equality of their type does: two
spellings of one uuid, numeric, float, char(n), inet or macaddr value are one key (a
duplicate, or a parent found), and the text a key is hashed as is one PostgreSQL reads as
that value (the database look-ups send it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.facts import spec as kinds
from seedbed.facts import table_spec
from seedbed.facts.spec import FROM_CATALOG
from seedbed.models.base import CatalogType
from seedbed.validation.coerce import coerce_text
from seedbed.validation.keytext import key_forms, key_text, reference_forms
from tests.helpers import model_folder, report_in_chunks, report_rows, validated_with

#: Spellings per type, as a column of that type (SQL) reads them: PostgreSQL says which
#: pairs are equal, and seedbed's key texts must say the same.
SPELLINGS: dict[str, tuple[sa.types.TypeEngine[object], list[str]]] = {
    "uuid": (
        sa.Uuid(),
        [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12",
        ],
    ),
    "numeric": (
        sa.Numeric(),
        [
            "1.5",
            "1.50",
            "+1.5",
            "1.5e0",
            "15E-1",
            "0.15e+1",
            "01.5",
            "1.51",
            "15",
            "-0",
            "0",
            "0.000",
            "-0.0e3",
            ".0",
            "0.",
            "NaN",
            "Infinity",
            "+Infinity",
            "-Infinity",
            "100",
            "1e2",
            "1E+2",
            "00100.00",
            ".5",
            "0.5",
            "-.5",
            "-0.50",
            "5.",
            "5",
            "123456789012345678901234567890.5",
            "1.234567890123456789e29",
        ],
    ),
    "numeric(6,2)": (
        sa.Numeric(6, 2),
        ["1.005", "1.01", "1.014", "1.0", "1", "+1.00", "-0.001", "0", "1.5e1", "15"],
    ),
    "double": (
        sa.Double(),
        [
            "0.1",
            "0.10000000000000001",
            "0.1000000000000001",
            "1e2",
            "100",
            "100.000",
            "-0",
            "0",
            "0e5",
            "NaN",
            "Infinity",
            "-Infinity",
            "+1.50",
            "1.5",
            "0.30000000000000004",
            "0.3",
            "9007199254740993",
            "9007199254740992",
        ],
    ),
    "real": (
        sa.REAL(),
        [
            "0.1",
            "0.100000001",
            "0.10000000149011612",
            "0.1000001",
            "1e2",
            "100",
            "-0",
            "0",
            "NaN",
            "16777217",
            "16777216",
            "Infinity",
        ],
    ),
    "char(4)": (sa.CHAR(4), ["ab", "ab ", "ab  ", "Ab", " ab", "", " ", "a b"]),
    "inet": (
        postgresql.INET(),
        [
            "10.0.0.1",
            "10.0.0.1/32",
            "10.0.0.1/24",
            "10.0.0.2",
            "::1",
            "0:0:0:0:0:0:0:1",
            "::1/128",
            "::1/64",
            "::ffff:10.0.0.1",
            "::FFFF:A00:1",
            "2001:DB8::1",
            "2001:db8:0:0:0:0:0:1",
            "2001:db8::1/128",
            "2001:db8::/32",
            "0.0.0.0",
        ],
    ),
    "macaddr": (
        CatalogType("macaddr"),
        [
            "08:00:2b:01:02:03",
            "08-00-2B-01-02-03",
            "08002b:010203",
            "08002b-010203",
            "0800.2b01.0203",
            "0800-2b01-0203",
            "08002B010203",
            "08:00:2b:01:02:04",
        ],
    ),
    "macaddr8": (
        CatalogType("macaddr8"),
        [
            "08:00:2b:01:02:03:04:05",
            "08-00-2B-01-02-03-04-05",
            "0800.2b01.0203.0405",
            "08002b0102030405",
            "08:00:2b:01:02:03",
            "08:00:2b:ff:fe:01:02:03",
        ],
    ),
    "timestamp(0)": (
        postgresql.TIMESTAMP(precision=0),
        [
            "2024-01-01 10:00:00.4",
            "2024-01-01 10:00:00",
            "2024-01-01 10:00:00.5",
            "2024-01-01 10:00:01",
            "1999-12-31 23:59:59.5",
            "1999-12-31 23:59:59",
            "2000-01-01 00:00:00",
            "1969-12-31 23:59:59.5",
            "1970-01-01 00:00:00",
            "0044-03-15 10:00:00.5 BC",
            "0044-03-15 10:00:00 BC",
            "0044-03-15 10:00:01 BC",
            "infinity",
            "-infinity",
        ],
    ),
    "timestamptz(2)": (
        postgresql.TIMESTAMP(timezone=True, precision=2),
        [
            "2024-01-01 10:00:00.004+00",
            "2024-01-01 12:00:00+02",
            "2024-01-01 10:00:00.005Z",
            "2024-01-01 10:00:00.01+00",
            "1999-12-31 23:59:59.995+00",
            "1999-12-31 23:59:59.99+00",
        ],
    ),
    "jsonb": (
        postgresql.JSONB(),
        [
            '{"a": 1, "b": 2}',
            '{"b":2,"a":1}',
            '{"a":1.0,"b":2e0}',
            '{"a":1,"a":3,"b":2}',
            '{"b":2,"a":3}',
            '{"a":1,"b":"2"}',
            "[1, 2]",
            "[2,1]",
            "[1.00,2]",
            "1",
            "1.00",
            "-0",
            "0",
            '"x"',
            '"\\u0078"',
            "null",
            "true",
            '{"a":[1,{"c":"\u00e9"}]}',
            '{"a":[1.0,{"c":"\\u00e9"}]}',
            "1e2",
            "100",
        ],
    ),
}


def _spec_column(type_: sa.types.TypeEngine[object], catalog: bool) -> kinds.ColumnSpec:
    metadata = sa.MetaData(info={FROM_CATALOG: True} if catalog else {})
    table = sa.Table("t", metadata, sa.Column("v", type_))
    return table_spec(table).columns["v"]


def _key_texts(column: kinds.ColumnSpec, values: list[str]) -> list[str]:
    """Each value read as ``column`` reads it, then as the key text seedbed hashes."""
    read = coerce_text(column, pa.array(values, pa.string()))
    assert not read.bad.any(), [v for v, bad in zip(values, read.bad, strict=True) if bad]
    frame = pl.DataFrame([pl.Series("v", read.values)])
    text = key_text(frame, ["v"], [(column.key_form,)])
    assert text is not None
    return [str(v) for v in text.get_column("v").to_list()]


def _equal_pairs(engine: Engine, sql: str, values: list[str]) -> list[list[bool]]:
    """PostgreSQL's verdict on ``a::sql = b::sql`` for every pair of ``values``."""
    query = (
        f"SELECT a.i, b.i, a.v::{sql} = b.v::{sql} FROM unnest(CAST(:v AS text[])) "
        "WITH ORDINALITY AS a(v, i), unnest(CAST(:v AS text[])) WITH ORDINALITY AS b(v, i)"
    )
    equal = [[False] * len(values) for _ in values]
    with engine.connect() as conn:
        for i, j, same in conn.execute(sa.text(query), {"v": values}):
            equal[i - 1][j - 1] = bool(same)
    return equal


@pytest.fixture
def db(empty_settings: Settings) -> Engine:
    return get_engine(empty_settings)


@pytest.mark.parametrize("name", SPELLINGS)
def test_key_texts_are_equal_exactly_when_postgresql_holds_the_values_equal(
    db: Engine, name: str
) -> None:
    type_, values = SPELLINGS[name]
    column = _spec_column(type_, isinstance(type_, CatalogType))
    assert column.key_form != kinds.KEY_AS_IS
    texts = _key_texts(column, values)
    sql = column.sql_type
    equal = _equal_pairs(db, sql, values)
    wrong = [
        (values[i], values[j], texts[i], texts[j])
        for i in range(len(values))
        for j in range(len(values))
        if (texts[i] == texts[j]) != equal[i][j]
    ]
    assert not wrong
    assert len(set(texts)) < len(values)  # some spellings are one value
    # A value's text does not depend on the values beside it (in its chunk).
    assert [_key_texts(column, [v])[0] for v in values] == texts
    # PostgreSQL reads each key text as the value it stands for (look-ups send it).
    read_back = _equal_pairs(db, sql, [*values, *texts])
    assert all(read_back[i][len(values) + i] for i in range(len(values)))


#: A foreign key's column type and its parent's: the child's values are read as the
#: parent's type, as the constraint does.
CROSS = [
    (sa.Integer(), "integer", sa.Numeric(), ["5", "-0", "7"], ["5.00", "0", "7.5"]),
    (
        sa.BigInteger(),
        "bigint",
        sa.Double(),
        ["5", "9007199254740993"],
        ["5.0", "9007199254740992"],
    ),
    (sa.Integer(), "integer", sa.REAL(), ["16777217", "3"], ["16777216", "3.5"]),
    (sa.REAL(), "real", sa.Double(), ["0.1", "0.5"], ["0.1", "0.5"]),
    (sa.Numeric(), "numeric", sa.Double(), ["0.10", "1e2"], ["0.1", "100"]),
    (
        sa.Date(),
        "date",
        sa.DateTime(),
        ["2024-01-02", "infinity"],
        ["2024-01-02 00:00", "infinity"],
    ),
    (sa.CHAR(4), "character(4)", sa.Text(), ["ab ", "cd"], ["ab", "cd "]),
    (sa.Text(), "text", sa.CHAR(4), ["ab ", "cd"], ["ab", "cd  "]),
]


@pytest.mark.parametrize(("child", "child_sql", "parent", "mine", "theirs"), CROSS)
def test_a_foreign_keys_texts_meet_its_parents_where_postgresql_finds_the_parent(
    db: Engine,
    child: sa.types.TypeEngine[object],
    child_sql: str,
    parent: sa.types.TypeEngine[object],
    mine: list[str],
    theirs: list[str],
) -> None:
    metadata = sa.MetaData()
    parents = sa.Table("p", metadata, sa.Column("v", parent, primary_key=True))
    children = sa.Table("c", metadata, sa.Column("v", child, sa.ForeignKey(parents.c.v)))
    child_spec, parent_spec = table_spec(children), table_spec(parents)
    (fk,) = child_spec.foreign_keys
    forms = reference_forms(child_spec, fk)
    assert forms is not None

    def texts(spec: kinds.TableSpec, values: list[str], steps: object) -> list[str]:
        column = spec.columns["v"]
        read = coerce_text(column, pa.array(values, pa.string()))
        found = key_text(pl.DataFrame([pl.Series("v", read.values)]), ["v"], steps)  # type: ignore[arg-type]
        assert found is not None
        return [str(v) for v in found.get_column("v").to_list()]

    ours = texts(child_spec, mine, forms)
    parent_texts = texts(parent_spec, theirs, key_forms(parent_spec, ["v"]))
    sql = parent_spec.columns["v"].sql_type
    query = (
        f"SELECT a.i, b.i, a.v::{child_sql}::{sql} = b.v::{sql} "
        "FROM unnest(CAST(:a AS text[])) WITH ORDINALITY AS a(v, i), "
        "unnest(CAST(:b AS text[])) WITH ORDINALITY AS b(v, i)"
    )
    with db.connect() as conn:
        verdicts = conn.execute(sa.text(query), {"a": mine, "b": theirs}).all()
    assert any(same for _, _, same in verdicts)
    for i, j, same in verdicts:
        assert (ours[i - 1] == parent_texts[j - 1]) == same, (mine[i - 1], theirs[j - 1])


def test_citext_keys_fold_ascii_letters_and_leave_the_rest_as_written() -> None:
    column = _spec_column(CatalogType("citext"), True)
    assert column.key_form == kinds.KEY_CITEXT
    assert _key_texts(column, ["Ab", "aB", "ab "]) == ["ab", "ab", "ab "]
    assert _key_texts(column, ["ÉtÉ", "AbÉ", "ab"]) == ["ÉtÉ", "abÉ", "ab"]


def test_keys_whose_equality_seedbed_does_not_reproduce_are_left_to_the_database() -> None:
    metadata = sa.MetaData(info={FROM_CATALOG: True})
    parents = sa.Table("p", metadata, sa.Column("v", postgresql.INTERVAL(), primary_key=True))
    children = sa.Table("c", metadata, sa.Column("v", postgresql.INTERVAL()))
    children.append_constraint(sa.ForeignKeyConstraint(["v"], [parents.c.v]))
    spec = table_spec(children)
    assert spec.columns["v"].key_form == kinds.KEY_BY_DATABASE
    assert reference_forms(spec, spec.foreign_keys[0]) is None
    stamps = sa.Table("s", metadata, sa.Column("v", sa.DateTime(timezone=True), primary_key=True))
    days = sa.Table("d", metadata, sa.Column("v", sa.Date(), sa.ForeignKey(stamps.c.v)))
    spec = table_spec(days)  # the session's time zone decides: not guessed
    assert reference_forms(spec, spec.foreign_keys[0]) is None
    # A collation of one's own may be nondeterministic (case-insensitive): not guessed.
    collated = sa.Table(
        "t",
        metadata,
        *(
            sa.Column(name, sa.Text(collation=name))
            for name in ("C", "en_US", "en-US-x-icu", "case_insensitive", "und-u-ks-level2")
        ),
    )
    forms = {name: column.key_form for name, column in table_spec(collated).columns.items()}
    assert forms == {
        "C": kinds.KEY_AS_IS,
        "en_US": kinds.KEY_AS_IS,
        "en-US-x-icu": kinds.KEY_AS_IS,
        "case_insensitive": kinds.KEY_BY_DATABASE,
        "und-u-ks-level2": kinds.KEY_BY_DATABASE,
    }


@dataclass(frozen=True)
class Kind:
    """A key type: its SQLAlchemy type, two spellings of one value, and another value."""

    sql: str
    same: tuple[str, str]
    other: str


KINDS = {
    "uuid": Kind(
        "sa.Uuid",
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}"),
        "b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    ),
    "numeric": Kind("sa.Numeric", ("1.5", "+1.50e0"), "1.55"),
    "double": Kind("sa.Double", ("-0", "0.0"), "0.1"),
    "char": Kind("sa.CHAR(4)", ("ab", "ab  "), "abc"),
    "inet": Kind("postgresql.INET", ("::1", "0:0:0:0:0:0:0:1/128"), "10.0.0.1"),
}

TABLES = """
class Parent{name}(Base):
    __tablename__ = "parent_{name}"

    key: Mapped[Any] = mapped_column({sql}, primary_key=True)


class Child{name}(Base):
    __tablename__ = "child_{name}"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    key: Mapped[Any] = mapped_column({sql}, sa.ForeignKey("parent_{name}.key"), nullable=False)
"""

MODEL = (
    "from typing import Any\n\nimport sqlalchemy as sa\nfrom sqlalchemy.dialects import "
    "postgresql\nfrom sqlalchemy.orm import Mapped, mapped_column\n\nfrom .base import Base\n"
    + "".join(TABLES.format(name=name, sql=kind.sql) for name, kind in KINDS.items())
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "key_models", shop=MODEL)


def _seeds(folder: Path, name: str, parents: str | None, children: str | None) -> Path:
    folder.mkdir(exist_ok=True)
    if parents is not None:
        (folder / f"parent_{name}.csv").write_text("key\n" + parents)
    if children is not None:
        (folder / f"child_{name}.csv").write_text("id,key\n" + children)
    return folder


@pytest.mark.parametrize("name", KINDS)
def test_two_spellings_of_one_key_are_a_duplicate_across_parts_shown_as_written(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    seeds = _seeds(tmp_path / "seeds", name, None, None)
    parts = seeds / f"parent_{name}"
    parts.mkdir()
    (parts / "part-0.csv").write_text(f'key\n"{a}"\n"{kind.other}"\n"{a2}"\n')
    (parts / "part-1.csv").write_text(f'key\n"{a2}"\n')
    report = seedbed.validate(seeds, models=shop)
    assert report_rows(report) == [
        ("part-0.csv", 4, f"pk_parent_{name}", a2),
        ("part-1.csv", 2, f"pk_parent_{name}", a2),
    ]


@pytest.mark.parametrize("name", KINDS)
def test_a_child_finds_its_parent_spelled_another_way(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    seeds = _seeds(tmp_path / "seeds", name, f'"{a}"\n', f'1,"{a2}"\n2,"{kind.other}"\n')
    report = seedbed.validate(seeds, models=shop)
    assert [(f, line, value) for f, line, _, value in report_rows(report)] == [
        (f"child_{name}.csv", 3, kind.other)
    ]


@pytest.mark.parametrize("name", KINDS)
def test_keys_in_another_spelling_are_found_in_the_database(
    shop: Path, empty_settings: Settings, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    engine = get_engine(empty_settings)
    metadata = facts.model_source(shop).metadata(empty_settings.schema)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.exec_driver_sql(
            f'INSERT INTO "{empty_settings.schema}".parent_{name} VALUES (%s)', (a,)
        )
    seeds = _seeds(tmp_path / "seeds", name, None, f'1,"{a2}"\n2,"{kind.other}"\n')
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert [(f, line, value) for f, line, _, value in report_rows(report)] == [
        (f"child_{name}.csv", 3, kind.other)
    ]
    _seeds(seeds, name, f'"{a2}"\n"{kind.other}"\n', f'1,"{a2}"\n')
    report = seedbed.validate(seeds, engine=engine, models=shop)
    assert [(f, line, value) for f, line, _, value in report_rows(report)] == [
        (f"parent_{name}.csv", 2, a2)
    ]
    (seeds / f"parent_{name}.csv").unlink()
    seedbed.load(seeds, engine=engine, models=shop)  # the parent only in the database
    with engine.connect() as conn:
        count = conn.exec_driver_sql(f'SELECT count(*) FROM "{empty_settings.schema}".child_{name}')
        assert count.scalar() == 1


def test_a_valid_set_with_respelled_keys_is_checked_without_pandas(
    shop: Path, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    for name, kind in KINDS.items():
        a, a2 = kind.same
        _seeds(seeds, name, f'"{a}"\n"{kind.other}"\n', f'1,"{a2}"\n2,"{kind.other}"\n')
    loaded = validated_with(seeds, shop)
    assert "pandas" not in loaded


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_the_pandera_schemas_find_two_spellings_of_one_key(shop: Path, backend: str) -> None:
    import pandas as pd
    from pandera.errors import SchemaErrors

    a, a2 = KINDS["uuid"].same
    schema = seedbed.pandera_schema("parent_uuid", backend=backend, models=shop)
    frame = (
        pd.DataFrame({"key": [a, a2]}) if backend == "pandas" else pl.DataFrame({"key": [a, a2]})
    )
    with pytest.raises(SchemaErrors) as failed:
        schema.validate(frame, lazy=True)  # type: ignore[arg-type]
    cases = failed.value.failure_cases
    checks = set(cases["check"].to_list() if backend == "polars" else cases["check"])
    assert checks == {"pk_parent_uuid"}


CITEXT_MODEL = """
from sqlalchemy.dialects import postgresql
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Person(Base):
    __tablename__ = "person"

    email: Mapped[str] = mapped_column(postgresql.CITEXT, primary_key=True)


class Note(Base):
    __tablename__ = "note"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    email: Mapped[str] = mapped_column(postgresql.CITEXT, sa.ForeignKey("person.email"))
"""


def test_citext_keys_meet_in_any_ascii_case_and_leave_other_letters_to_the_database(
    tmp_path: Path,
) -> None:
    models = model_folder(tmp_path / "citext_models", people=CITEXT_MODEL)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "person.csv").write_text("email\nAl@Example.com\nÉva@example.com\nal@example.COM\n")
    (seeds / "note.csv").write_text("id,email\n1,AL@example.com\n2,éva@example.com\n3,bo@x.org\n")
    report = seedbed.validate(seeds, models=models)
    assert report_rows(report) == [
        ("note.csv", 4, "fk_note_email_person", "bo@x.org"),
        ("person.csv", 4, "pk_person", "al@example.COM"),
    ]


def test_interval_foreign_keys_are_looked_up_in_the_database_or_left_to_it(
    empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    schema = f'"{empty_settings.schema}"'
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.exec_driver_sql(f"CREATE TABLE {schema}.period (span interval PRIMARY KEY)")
        conn.exec_driver_sql(
            f"CREATE TABLE {schema}.booking (id int PRIMARY KEY, "
            f"span interval NOT NULL REFERENCES {schema}.period)"
        )
        conn.exec_driver_sql(f"INSERT INTO {schema}.period VALUES ('1 day')")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "booking.csv").write_text("id,span\n1,24 hours\n2,3 days\n")
    report = seedbed.validate(seeds, engine=engine, models="database")
    assert [(f, line, value) for f, line, _, value in report_rows(report)] == [
        ("booking.csv", 3, "3 days")
    ]
    # A parent in the seeds: '1 day' = '24 hours' is PostgreSQL's to say, at load.
    (seeds / "period.csv").write_text("span\n1 day\n1 day\n")
    report = seedbed.validate(seeds, engine=engine, models="database")
    assert [(f, line) for f, line, _, _ in report_rows(report)] == [
        ("period.csv", 2),  # in the database already
        ("period.csv", 3),  # in the database, and a duplicate of line 2
        ("period.csv", 3),
    ]


@pytest.mark.parametrize("name", KINDS)
def test_respelled_keys_in_two_row_chunks_give_the_pandas_engines_report(
    shop: Path, tmp_path: Path, name: str
) -> None:
    kind = KINDS[name]
    a, a2 = kind.same
    parents = f'"{a}"\n"{kind.other}"\n"{a2}"\n'
    children = f'1,"{a2}"\n2,"{a}"\n3,"{a2}"\n'
    seeds = _seeds(tmp_path / "seeds", name, parents, children)
    order = [f"child_{name}", f"parent_{name}"]  # the parent last: the check is deferred
    found = report_in_chunks(shop, seeds, "polars", order)
    assert found == report_in_chunks(shop, seeds, "pandas", order)
    assert [(r["line"], r["rule"]) for r in found] == [(4, f"pk_parent_{name}")]
