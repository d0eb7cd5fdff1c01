"""Tables whose columns have a plain binary form are written with ``COPY ... (FORMAT binary)``
from the values validation read: the rows stored are those a CSV COPY of the same file
stores, a row the database refuses is still named by its file's physical line, and other
inputs keep the text path."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.errors import LoadError
from seedbed.facts import using_models
from seedbed.loading.binary import binary_columns
from tests.helpers import model_folder

MODEL = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Edge(Base):
    __tablename__ = "edge"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    small = mapped_column(sa.SmallInteger)
    medium = mapped_column(sa.Integer)
    flag = mapped_column(sa.Boolean)
    label = mapped_column(sa.Text)
    short = mapped_column(sa.String(5))
    mood = mapped_column(sa.Enum("calm", "o dd", name="mood"))
    day = mapped_column(sa.Date)
    at = mapped_column(sa.DateTime(timezone=True))
    wall = mapped_column(sa.DateTime)
    kept = mapped_column(sa.Text, server_default="kept")
"""

HEADER = "id,small,medium,flag,label,short,mood,day,at,wall"
ROWS = [
    '1,-32768,2147483647,t,"",abc,calm,2024-02-29,2024-01-01 10:00:00+05:30,2024-01-01 10:00',
    "2,32767,-2147483648,false,,ab   ,o dd,infinity,infinity,-infinity",
    '3,,,,"a ""quoted""\nline",,,0044-03-15 BC,0044-03-15 23:59:59.5+00 BC,10000-01-01 00:00',
    "9223372036854775807,0,0,true,ünïcödé ✓,x,calm,-infinity,-infinity,0001-01-01 00:00:00.000001",
    "-9223372036854775808,1,1,f,\\N,y,,1999-12-31,1999-12-31 23:59:59.999999Z,2000-01-01",
]


@pytest.fixture
def edges(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "edge_models", edge=MODEL)


def _twin(settings: Settings, table: str) -> None:
    """A copy of ``table`` (its columns and defaults) filled by a CSV COPY of the same file."""
    with get_engine(settings).begin() as conn:
        conn.execute(
            sa.text(
                f'CREATE TABLE "{settings.schema}".twin '
                f'(LIKE "{settings.schema}".{table} INCLUDING DEFAULTS)'
            )
        )


def _differences(settings: Settings, table: str) -> tuple[int, int, int]:
    schema = settings.schema
    with get_engine(settings).connect() as conn:
        rows = conn.execute(sa.text(f'SELECT count(*) FROM "{schema}".{table}')).scalar_one()
        one, two = (
            conn.execute(
                sa.text(
                    f'SELECT count(*) FROM (TABLE "{schema}".{a} EXCEPT ALL TABLE "{schema}".{b}) d'
                )
            ).scalar_one()
            for a, b in ((table, "twin"), ("twin", table))
        )
    return rows, one, two


def test_the_binary_rows_are_those_a_csv_copy_stores(
    edges: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    engine = get_engine(empty_settings)
    metadata = facts.model_source(edges).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
    table = metadata.tables[f"{empty_settings.schema}.edge"]
    assert binary_columns(table, HEADER.split(",")) is not None
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    path = seeds / "edge.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    _twin(empty_settings, "edge")
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            f'COPY "{empty_settings.schema}".twin ({HEADER}) FROM STDIN (FORMAT csv, HEADER true)'
        ) as copy:
            copy.write(path.read_bytes())
    written = binary_writes(lambda: seedbed.load(seeds, engine=engine, models=edges))
    assert written == ["edge"]
    assert _differences(empty_settings, "edge") == (len(ROWS), 0, 0)


def binary_writes(call) -> list[str]:  # type: ignore[no-untyped-def]
    """The tables ``call`` (a load) wrote in binary."""
    loader = importlib.import_module("seedbed.loading.load")
    written: list[str] = []
    original = loader._Writer._copy_binary

    def recording(self, cursor, job):  # type: ignore[no-untyped-def]
        copied = original(self, cursor, job)
        if copied is not None:
            written.append(job.table.name)
        return copied

    loader._Writer._copy_binary = recording
    try:
        call()
    finally:
        loader._Writer._copy_binary = original
    return written


def test_a_row_only_the_database_refuses_is_named_by_its_physical_line(
    edges: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    """A CHECK the model does not declare refuses row 4, which starts on line 6 (row 3 holds
    a quoted line break): the load names line 6 and writes nothing."""
    engine = get_engine(empty_settings)
    metadata = facts.model_source(edges).metadata(empty_settings.schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{empty_settings.schema}"'))
        metadata.create_all(conn)
        conn.execute(
            sa.text(
                f'ALTER TABLE "{empty_settings.schema}".edge '
                "ADD CONSTRAINT only_here CHECK (label IS DISTINCT FROM 'ünïcödé ✓')"
            )
        )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "edge.csv").write_text(HEADER + "\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    for strategy in ("rebuild", "incremental"):
        with pytest.raises(LoadError) as refused:
            seedbed.load(seeds, engine=engine, models=edges, strategy=strategy)
        assert f"{seeds / 'edge.csv'}, line 6:" in str(refused.value), str(refused.value)
        assert "only_here" in str(refused.value)
    with engine.connect() as conn:
        found = conn.execute(sa.text(f'SELECT count(*) FROM "{empty_settings.schema}".edge'))
        assert found.scalar_one() == 0


def test_the_shipped_users_go_in_binary_and_a_dataframe_keeps_the_text_path(
    engine: sa.Engine,
) -> None:
    seeds = Path(__file__).resolve().parents[1] / "data" / "seeds"
    written = binary_writes(lambda: seedbed.load(seeds, engine=engine))
    assert "user" in written and "session" not in written  # inet has no plain binary form
    frame = pd.DataFrame(
        {
            "id": ["7f9c24e5-2f0a-4b8e-9a5e-1f2d3c4b5a69"],
            "email": ["frame@example.com"],
            "created_at": [pd.Timestamp("2024-01-01", tz="UTC")],
        }
    )
    with using_models(None):
        written = binary_writes(lambda: seedbed.load({"user": frame}, engine=engine))
    assert written == []  # a DataFrame's columns are not the reader's Arrow arrays
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = "
                "to_regclass(:t)"
            ),
            {"t": f'"{schema_of(engine)}"."user"'},
        )
        assert found.scalar_one() == 3  # the CHECKs kept during the COPY are all there
