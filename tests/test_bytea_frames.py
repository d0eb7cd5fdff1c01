"""Bytes for a ``bytea`` column, in every input that holds bytes (Python ``bytes`` in pandas,
Arrow ``binary`` kinds, Polars ``Binary``, Parquet, a folder of Parquet parts): they are the
column's values, byte for byte, whatever they hold (``\\x41``, a backslash, bytes that are not
UTF-8); in a text column, bytes are still UTF-8 text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.validation.arrays import hex_text
from tests.helpers import pushed_here

MODEL = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

Blobby = pg.DOMAIN("blobby", sa.LargeBinary, check="octet_length(VALUE) < 100")


class Blob(Base):
    __tablename__ = "blob"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    data = mapped_column(sa.LargeBinary)
    small = mapped_column(Blobby)
    note = mapped_column(sa.Text)
"""

#: bytes bytea's text input would misread if sent as text, and bytes that are not UTF-8
DATA = [b"abc", b"\\x41", b"\xff\x00\\", b'a\tb\nc,"', None]
SMALL = [b"\\\\", b"", None, b"\x80" * 3, b"z"]
IDS = [1, 2, 3, 4, 5]


def _arrow(kind: pa.DataType) -> pa.Table:
    return pa.table(
        {"id": IDS, "data": pa.array(DATA, kind), "small": pa.array(SMALL, kind)},
    )


def _parquet(folder: Path) -> Path:
    path = folder / "blob.parquet"
    pq.write_table(_arrow(pa.binary()), path)
    return path


def _parts(folder: Path) -> Path:
    parts = folder / "blob"
    parts.mkdir()
    table = _arrow(pa.large_binary())
    pq.write_table(table.slice(0, 2), parts / "part-1.parquet")
    pq.write_table(table.slice(2), parts / "part-2.parquet")
    return parts


INPUTS: dict[str, Callable[[Path], Any]] = {
    "pandas bytes": lambda _: pd.DataFrame({"id": IDS, "data": DATA, "small": SMALL}),
    "pandas Arrow binary": lambda _: _arrow(pa.binary()).to_pandas(types_mapper=pd.ArrowDtype),
    "Arrow binary": lambda _: _arrow(pa.binary()),
    "Arrow large_binary": lambda _: _arrow(pa.large_binary()),
    "Arrow binary_view": lambda _: _arrow(pa.binary_view()),
    "Polars Binary": lambda _: pl.from_arrow(_arrow(pa.binary())),
    "Parquet": _parquet,
    "Parquet parts": _parts,
}


@pytest.fixture
def blob_env(
    tmp_path: Path,
    db_env: dict[str, str],
    empty_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    folder = tmp_path / "blob_models"
    return pushed_here(folder, db_env, empty_settings, monkeypatch, blob=MODEL)


def _stored(settings: Settings) -> list[tuple[Any, ...]]:
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            sa.text(f'SELECT id, data, small FROM "{settings.schema}".blob ORDER BY id')
        )
        return [
            (i, None if d is None else bytes(d), None if s is None else bytes(s))
            for i, d, s in rows
        ]


@pytest.mark.parametrize("kind", list(INPUTS))
def test_bytes_for_a_bytea_column_are_stored_byte_for_byte(
    kind: str, blob_env: Settings, tmp_path: Path
) -> None:
    given = INPUTS[kind](tmp_path)
    report = seedbed.validate({"blob": given})
    assert report.ok, report.failures.to_dict("records")
    seedbed.load({"blob": given}, progress=False)  # an empty table: rebuilt
    assert _stored(blob_env) == list(zip(IDS, DATA, SMALL, strict=True))
    changed = pa.table(
        {"id": [2, 6], "data": pa.array([b"\\\\x00", b"\x00"], pa.binary()), "small": [None, None]}
    )
    seedbed.load({"blob": changed}, mode="upsert", progress=False)  # incremental, on the key
    expected = list(zip(IDS, DATA, SMALL, strict=True))
    expected[1] = (2, b"\\\\x00", None)
    assert _stored(blob_env) == [*expected, (6, b"\x00", None)]


def test_the_domains_check_judges_the_bytes(blob_env: Settings) -> None:
    too_long = pa.table(
        {"id": [1, 2], "small": pa.array([b"\xfe" * 100, b"\xfe" * 99], pa.binary())}
    )
    report = seedbed.validate({"blob": too_long})
    assert report.failures[["line", "column", "rule"]].to_dict("records") == [
        {"line": 0, "column": "small", "rule": "blobby_check"}
    ]


def test_bytes_in_a_text_column_are_still_utf8_text(blob_env: Settings) -> None:
    given = pa.table({"id": [1, 2], "note": pa.array([b"caf\xc3\xa9", b"\xff"], pa.binary())})
    report = seedbed.validate({"blob": given})
    assert report.failures[["line", "column", "rule"]].to_dict("records") == [
        {"line": 1, "column": "note", "rule": "encoding"}
    ]
    seedbed.load({"blob": given.slice(0, 1)}, progress=False)
    with get_engine(blob_env).connect() as conn:
        note = conn.execute(sa.text(f'SELECT note FROM "{blob_env.schema}".blob')).scalar_one()
    assert note == "café"


def test_the_polars_pandera_schema_reads_bytes_as_the_load_does(blob_env: Settings) -> None:
    schema = seedbed.pandera_schema("blob", backend="polars")
    frame = pl.from_arrow(_arrow(pa.binary()))
    assert isinstance(frame, pl.DataFrame)
    schema.validate(frame, lazy=True)  # raises on any failing cell
    pandas_schema = seedbed.pandera_schema("blob")
    pandas_schema.validate(pd.DataFrame({"id": IDS, "data": DATA, "small": SMALL}), lazy=True)


@pytest.mark.parametrize("kind", [pa.binary(), pa.large_binary(), pa.binary_view(), pa.binary(2)])
def test_the_hex_text_is_pythons_for_every_binary_kind_slice_and_null(kind: pa.DataType) -> None:
    rng = np.random.default_rng(7)
    width = kind.byte_width if pa.types.is_fixed_size_binary(kind) else None
    values = [
        None if i % 5 == 0 else rng.bytes(width if width else int(rng.integers(0, 9)))
        for i in range(200)
    ]
    given = pa.array(values, kind)
    for part, start in ((given, 0), (given.slice(7, 150), 7), (given.slice(200), 200)):
        expected = [
            None if v is None else "\\x" + v.hex() for v in values[start : start + len(part)]
        ]
        assert hex_text(part).to_pylist() == expected


def test_arrows_uuid_in_a_bytea_column_is_its_16_bytes(blob_env: Settings) -> None:
    """As a Polars ``Binary`` of the same UUIDs is (what Polars makes of Arrow's uuid)."""
    import uuid

    ids = [uuid.UUID(int=7), uuid.UUID("8b4ae5f1-a941-46a0-956a-26afbccdafe5")]
    storage = pa.array([u.bytes for u in ids], pa.binary(16))
    given = pa.table({"id": [1, 2], "data": pa.ExtensionArray.from_storage(pa.uuid(), storage)})
    assert seedbed.validate({"blob": given}).ok
    seedbed.load({"blob": given}, progress=False)
    assert [data for _, data, _ in _stored(blob_env)] == [u.bytes for u in ids]
