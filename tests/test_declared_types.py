"""Columns of a model of one's own whose types seedbed does not read in-process (arrays,
intervals, times, bytea, ranges, bit strings, network and geometric types): their values are
read by the database during validation, as a catalog model's are, and ``seedbed generate``
writes values of each that PostgreSQL reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.synthetic.pgtypes import typed_text
from tests.helpers import model_folder, pushed_models, run_cli

SHOP = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Item(Base):
    __tablename__ = "item"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    tags = mapped_column(pg.ARRAY(sa.Text), nullable=False)
    sizes = mapped_column(pg.ARRAY(sa.Integer))
    shelf_life = mapped_column(sa.Interval, nullable=False)
    opens = mapped_column(sa.Time)
    opens_tz = mapped_column(sa.Time(timezone=True))
    picture = mapped_column(sa.LargeBinary)
    device = mapped_column(pg.MACADDR)
    network = mapped_column(pg.CIDR)
    valid = mapped_column(pg.TSTZRANGE)
    days = mapped_column(pg.DATERANGE)
    flags = mapped_column(pg.BIT(4))
    words = mapped_column(pg.TSVECTOR)


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (sa.UniqueConstraint("item_id", "window"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    item_id = mapped_column(sa.ForeignKey("item.id"), nullable=False)
    window = mapped_column(pg.INT4RANGE, nullable=False)
"""


#: A composite type of the user's (seedbed cannot write its values).
PAIR = """
class Pair(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "pair"


"""


@pytest.fixture
def env(tmp_path: Path, db_env: dict[str, str], empty_settings: Settings) -> dict[str, str]:
    return pushed_models(tmp_path / "typed_models", db_env, empty_settings, shop=SHOP)


def _count(settings: Settings, table: str) -> int:
    with get_engine(settings).connect() as conn:
        found = conn.execute(sa.text(f'SELECT count(*) FROM "{settings.schema}".{table}'))
        return int(found.scalar_one())


def test_a_generated_set_of_such_columns_validates_and_loads(
    env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    made = run_cli("-q", "generate", "--rows", "40", str(seeds), "--seed", "2", env=env)
    assert made.returncode == 0, made.stderr
    header = (seeds / "item.csv").read_text().splitlines()[0]
    assert all(name in header for name in ("tags", "shelf_life", "valid", "flags"))
    checked = run_cli("-q", "validate", str(seeds), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert _count(empty_settings, "item") == 40
    assert _count(empty_settings, "stock") > 0


def test_values_the_database_cannot_read_are_reported_and_nothing_is_loaded(
    env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "item.csv").write_text(
        "id,tags,shelf_life,opens,picture,device,flags\n"
        '1,"{a,b}",2 days,10:00,\\x0102,08:00:2b:01:02:03,1010\n'
        '2,"{a,",2 dayz,25:61,\\xZZ,08:00:2b,10\n'
    )
    checked = run_cli("-q", "validate", str(seeds), env=env)
    assert checked.returncode == 1, checked.stderr
    where = f"{seeds / 'item.csv'}:3"
    found = sorted(line for line in checked.stdout.splitlines() if line.startswith(where))
    assert [line.split(" ", 2)[1] for line in found] == [
        "device:",
        "flags:",
        "opens:",
        "picture:",
        "shelf_life:",
        "tags:",
    ]
    assert all("(read by PostgreSQL)" in line and line.endswith("[type]") for line in found)
    assert f"{where} shelf_life: must be a valid INTERVAL value" in checked.stdout
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 1
    assert _count(empty_settings, "item") == 0


def test_a_required_column_of_a_type_seedbed_cannot_write_is_a_one_line_error(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    models = model_folder(
        tmp_path / "odd_models",
        odd=SHOP.split("class Item")[0] + PAIR + "class Odd(Base):\n"
        '    __tablename__ = "odd"\n\n'
        "    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)\n"
        "    spot = mapped_column(pg.OID, nullable=False)\n"
        "    other = mapped_column(Pair())\n",
    )
    env = {**db_env, "SEEDBED_MODELS": str(models), "SEEDBED_SCHEMA": empty_settings.schema}
    made = run_cli("-q", "generate", "--rows", "5", str(tmp_path / "out"), env=env)
    assert made.returncode == 0, made.stderr  # oid is written; an unknown nullable is left out
    assert (tmp_path / "out" / "odd.csv").read_text().splitlines()[0] == '"id","spot"'
    models_required = model_folder(
        tmp_path / "required_models",
        odd=SHOP.split("class Item")[0] + PAIR + "class Odd(Base):\n"
        '    __tablename__ = "odd"\n\n'
        "    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)\n"
        "    other = mapped_column(Pair(), nullable=False)\n",
    )
    env["SEEDBED_MODELS"] = str(models_required)
    refused = run_cli("-q", "generate", "--rows", "5", str(tmp_path / "out2"), env=env)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "cannot write values for the required column odd.other" in refused.stderr


TYPES = [
    "interval",
    "time",
    "time with time zone",
    "bytea",
    "money",
    "macaddr",
    "macaddr8",
    "cidr",
    "tsvector",
    "tsquery",
    "int4range",
    "int8range",
    "numrange",
    "daterange",
    "tsrange",
    "tstzrange",
    "int4multirange",
    "tstzmultirange",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "xml",
    "pg_lsn",
    "oid",
    "hstore",
    "bit(5)",
    "bit",
    "varbit(12)",
    "bit varying",
    "text[]",
    "integer[]",
    "uuid[]",
    "date[]",
    "timestamp with time zone[]",
    "boolean[]",
    "interval[]",
    "tstzrange[]",
    "numeric(10, 2)[]",
    "jsonb[]",
    "inet[]",
]


def test_the_synthetic_text_of_each_type_is_read_by_postgresql(engine: sa.Engine) -> None:
    """Every value is read by the server, and distinct values stay distinct once read."""
    rng = np.random.default_rng(7)
    with engine.connect() as conn:
        known = [
            t
            for t in TYPES
            if conn.execute(sa.text("SELECT to_regtype(:t) IS NOT NULL"), {"t": t}).scalar()
        ]
        assert "interval" in known and "text[]" in known
        for sql_type in known:
            if sql_type == "xml":
                try:
                    with conn.begin_nested():
                        conn.execute(sa.text("SELECT '<v/>'::xml"))
                except sa.exc.DBAPIError:  # a server built without libxml reads no XML
                    continue
            for distinct in (True, False):
                values = typed_text(sql_type.upper(), 200, rng, distinct=distinct)
                assert values is not None, sql_type
                texts = values.to_pylist()
                read = conn.execute(
                    sa.text(
                        f"SELECT count(DISTINCT CAST(v AS {sql_type})::text) "
                        "FROM unnest(CAST(:v AS text[])) AS v"
                    ),
                    {"v": texts},
                ).scalar_one()
                if distinct and not sql_type.startswith(("bit", "boolean")):
                    assert read == len(set(texts)) == 200, sql_type
                else:
                    assert read == len(set(texts)), sql_type
    assert typed_text("NO_SUCH_TYPE", 3, rng) is None
    assert typed_text("NO_SUCH_TYPE[]", 3, rng).to_pylist() == ["{}"] * 3  # type: ignore[union-attr]


TASKS = """
import enum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Status(enum.Enum):
    new = "new"
    done = "done"


STATUS = sa.Enum(Status, name="status")


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status = mapped_column(STATUS, nullable=False)
    history = mapped_column(pg.ARRAY(STATUS))
"""


def test_an_array_of_an_enum_is_pushed_and_added_without_creating_its_type_twice(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    """The enum type is created by its own op; an array of it created it with the table too
    (``type "status" already exists`` from db push), as a column added later did."""
    env = pushed_models(tmp_path / "task_models", db_env, empty_settings, tasks=TASKS)
    module = tmp_path / "task_models" / "tasks.py"
    module.write_text(module.read_text() + "    wanted = mapped_column(pg.ARRAY(STATUS))\n")
    pushed = run_cli("-q", "db", "push", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert run_cli("-q", "db", "check", env=env).returncode == 0
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "task.csv").write_text('id,status,history,wanted\n1,new,"{new,done}",{done}\n')
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stderr
    with get_engine(empty_settings).connect() as conn:
        found = conn.execute(
            sa.text(f'SELECT history::text, wanted::text FROM "{empty_settings.schema}".task')
        )
        assert [tuple(row) for row in found] == [("{new,done}", "{done}")]
