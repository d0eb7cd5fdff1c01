"""Typed Parquet files, Arrow tables and Polars DataFrames are validated in Arrow, without pandas.

The shipped seeds are written with typed columns (booleans, timestamps with a
zone; text, JSON and inet as text): a valid set validates and loads without
importing pandas and loads the values its CSV files load. A failing file
reports the rows it reported when its chunks went through pandas.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.facts import (
    ColumnSpec,
    declared_metadata,
    metadata_for,
    model_source,
    table_spec,
    using_models,
)
from seedbed.facts import spec as kinds
from seedbed.validation import csvread
from seedbed.validation.coerce import arrow_series, coerce_arrow, coerce_column, float_text
from seedbed.validation.formats.base import pandas_column
from seedbed.validation.formats.parquet import ParquetFile, piece_rows
from tests.helpers import ROOT, fresh_settings, model_folder, modules_after

SEEDS = ROOT / "data" / "seeds"
FIRST_DAY_US = -210866803200000000  # 4714-11-24 BC, the first day PostgreSQL holds
STAMP_TYPES = {
    kinds.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    kinds.TIMESTAMP: pa.timestamp("us"),
    kinds.INTEGER: pa.int64(),
}


def typed_table(name: str) -> pa.Table:
    """The shipped seed of table ``name`` with its columns typed by their kind: booleans,
    timestamps with a zone; everything else (text, enum, JSON, inet) as text."""
    spec = table_spec({t.name: t for t in metadata_for("seedbed").sorted_tables}[name])
    path = SEEDS / f"{name}.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")
    options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    text = pacsv.read_csv(path, convert_options=options)
    columns = {}
    for column in text.column_names:
        values = text.column(column)
        kind = spec.columns[column].kind
        if kind == kinds.BOOLEAN:
            values = pc.equal(values, "true")
        elif kind in STAMP_TYPES:
            values = values.cast(STAMP_TYPES[kind])
        columns[column] = values
    return pa.table(columns)


def typed_seeds(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SEEDS.glob("*.csv"):
        pq.write_table(typed_table(path.stem), folder / f"{path.stem}.parquet")
    return folder


@pytest.fixture(scope="module")
def parquet_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return typed_seeds(tmp_path_factory.mktemp("typed") / "seeds")


def test_the_typed_seeds_hold_every_typed_column_kind(parquet_seeds: Path) -> None:
    types = {str(f.type) for p in parquet_seeds.iterdir() for f in pq.read_schema(p)}
    assert {"bool", "timestamp[us, tz=UTC]", "string"} <= types


def test_a_valid_parquet_seed_set_is_validated_without_pandas(parquet_seeds: Path) -> None:
    command = ["-q", "validate", str(parquet_seeds)]
    code = f"from seedbed.cli import main\nassert main({command!r}) == 0"
    loaded = modules_after(code)
    assert {"seedbed.validation.rowchecks", "polars", "pyarrow.parquet"} <= loaded
    assert "pandas" not in loaded


def test_a_valid_parquet_seed_set_is_loaded_without_pandas(
    parquet_seeds: Path, settings: Settings, db_env: dict[str, str]
) -> None:
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    env.pop("SEEDBED_MODELS", None)
    command = ["-q", "load", str(parquet_seeds)]
    code = f"from seedbed.cli import main\nassert main({command!r}) == 0"
    loaded = modules_after(code, env=env)
    assert "seedbed.validation.rowchecks" in loaded
    assert "pandas" not in loaded


def test_arrow_tables_and_polars_frames_are_validated_without_pandas(parquet_seeds: Path) -> None:
    code = (
        "import polars as pl, pyarrow as pa, pyarrow.parquet as pq, seedbed\n"
        f"from pathlib import Path\nfolder = Path({str(parquet_seeds)!r})\n"
        # read as seedbed reads Parquet: pq.read_table imports pandas for its metadata
        "read = lambda p: pa.Table.from_batches(list(pq.ParquetFile(p).iter_batches()))\n"
        "tables = {p.name.split('.')[0]: read(p) for p in folder.iterdir()}\n"
        "assert seedbed.validate(tables).ok\n"
        "assert seedbed.validate({k: pl.from_arrow(t) for k, t in tables.items()}).ok"
    )
    loaded = modules_after(code)
    assert "seedbed.validation.rowchecks" in loaded
    assert "pandas" not in loaded


# -- what a load gives ----------------------------------------------------------------


def every_value(engine: Engine) -> dict[str, list[tuple[str | None, ...]]]:
    """Every row of every shipped table as PostgreSQL's text of each column (``updated_at``,
    always now(), left out)."""
    schema = schema_of(engine)
    found = {}
    with engine.connect() as conn:
        for table in metadata_for(schema).sorted_tables:
            names = [c.name for c in table.columns if c.name != "updated_at"]
            texts = ", ".join(f'"{n}"::text' for n in names)
            query = f'SELECT {texts} FROM "{schema}"."{table.name}"'
            found[table.name] = sorted(tuple(row) for row in conn.execute(sa.text(query)))
    return found


def _as_parquet(folder: Path) -> Any:
    return typed_seeds(folder)


def _as_arrow(folder: Path) -> Any:
    return {path.stem: typed_table(path.stem) for path in SEEDS.glob("*.csv")}


def _as_polars(folder: Path) -> Any:
    return {name: pl.from_arrow(table) for name, table in _as_arrow(folder).items()}


def _as_lazy(folder: Path) -> Any:
    """Polars LazyFrames, as ``pl.scan_parquet`` gives them: seedbed runs each query once."""
    return {name: frame.lazy() for name, frame in _as_polars(folder).items()}


def _as_batches(folder: Path) -> Any:
    return {name: t.combine_chunks().to_batches()[0] for name, t in _as_arrow(folder).items()}


CONTAINERS = {
    "parquet": _as_parquet,
    "arrow table": _as_arrow,
    "arrow record batch": _as_batches,
    "polars": _as_polars,
    "polars lazy": _as_lazy,
}


@pytest.fixture(scope="module")
def from_csv(base_settings: Settings) -> Any:
    settings = fresh_settings(base_settings)
    migrate.upgrade_unchecked(settings)
    engine = get_engine(settings)
    try:
        seedbed.load(SEEDS, engine=engine, progress=False)
        yield every_value(engine)
    finally:
        migrate.reset(settings)


@pytest.mark.parametrize("container", CONTAINERS)
def test_typed_seeds_load_every_value_their_csv_loads(
    container: str, engine: Engine, tmp_path: Path, from_csv: dict[str, list[Any]]
) -> None:
    source = CONTAINERS[container](tmp_path / "seeds")
    assert seedbed.validate(source).ok
    seedbed.load(source, engine=engine, progress=False)
    loaded = every_value(engine)
    assert loaded == from_csv
    assert all(loaded.values())  # every table holds rows


# -- failing files ----------------------------------------------------------------------


def _set(table: pa.Table, name: str, values: list[Any], kind: pa.DataType) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, kind))


def _rows(report: seedbed.ValidationReport) -> list[tuple[Any, ...]]:
    return [
        (Path(str(r["file"])).name, r["line"], r["column"], r["rule"], r["value"], r["message"])
        for r in report.to_records()
    ]


def test_a_failing_typed_parquet_file_reports_as_its_csv_does(tmp_path: Path) -> None:
    users = typed_table("user")
    ids = users.column("id").to_pylist()
    emails = users.column("email").to_pylist()
    ids[1], emails[2], emails[3] = ids[0], "not-an-email", None
    stamps = users.column("created_at").cast(pa.int64()).to_pylist()
    stamps[4] = FIRST_DAY_US - 86_400_000_000  # a day before PostgreSQL's first
    stamps[5], stamps[6] = -(2**63), 2**63 - 1  # -infinity and infinity: held
    users = _set(users, "id", ids, pa.string())
    users = _set(users, "email", emails, pa.string())
    users = _set(users, "created_at", stamps, pa.int64())
    users = users.set_column(5, "created_at", users.column(5).cast(pa.timestamp("us", "UTC")))
    pq.write_table(users, tmp_path / "user.parquet")
    rows = _rows(seedbed.validate(tmp_path / "user.parquet"))
    assert [r[:5] for r in rows] == [
        ("user.parquet", 1, "id", "pk_user", ids[0]),
        ("user.parquet", 2, "email", "ck_user_email_format", "not-an-email"),
        ("user.parquet", 3, "email", "not_null", None),
        ("user.parquet", 4, "created_at", "type", "4714-11-23 00:00:00.000000+00 BC"),
    ]
    assert rows[0][5] == "duplicate: the same id is already on row 0"
    # The same cells as CSV text: the same rows, at the line (header = 1) of each row.
    csv_text = (SEEDS / "user.csv").read_text(encoding="utf-8").splitlines()
    cells = [line.split(",") for line in csv_text]
    cells[2][0], cells[3][1], cells[4][1] = cells[1][0], '"not-an-email"', ""
    cells[5][5], cells[6][5], cells[7][5] = "4714-11-23 00:00:00Z BC", "-infinity", "infinity"
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "user.csv").write_text("\n".join(",".join(c) for c in cells) + "\n")
    from_csv = _rows(seedbed.validate(tmp_path / "csv" / "user.csv"))
    assert [(r[1] - 2, *r[2:4]) for r in from_csv] == [r[1:4] for r in rows]
    assert from_csv[0][5] == "duplicate: the same id is already on line 2"
    assert [r[5] for r in from_csv[1:]] == [r[5] for r in rows[1:]]
    assert [r[4] for r in from_csv][:3] == [r[4] for r in rows][:3]  # text shown as it is


GIZMO = """
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Gizmo(Base):
    __tablename__ = "gizmo"
    __table_args__ = (sa.UniqueConstraint("flag", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    small: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    flag: Mapped[bool | None] = mapped_column(sa.Boolean)
    at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    naive: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    label: Mapped[str | None] = mapped_column(sa.String(3))
"""


def _gizmos(**columns: pa.Array) -> pa.Table:
    base = {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "small": pa.array([0, -5, 32767, 7], pa.int16()),
        "flag": pa.array([True, False, True, None], pa.bool_()),
        "at": pa.array([0, 10**15, None, 5], pa.int64()).cast(pa.timestamp("us", "UTC")),
        "naive": pa.array([0, None, 10**12, -(10**15)], pa.int64()).cast(pa.timestamp("us")),
        "label": pa.array(["a", "bb", None, "ddd"]),
    }
    return pa.table({**base, **columns})


GIZMO_CASES: dict[str, tuple[dict[str, pa.Array], list[tuple[Any, ...]]]] = {
    "valid": ({}, []),
    "integers of other widths": (
        {"id": pa.array([1, 2, 3, 4], pa.uint32()), "small": pa.array([0, 5, 255, 7], pa.uint8())},
        [],
    ),
    "an integer out of its column's range": (
        {"small": pa.array([0, -5, 32768, 7], pa.int32())},
        [(2, "small", "type", "32768")],
    ),
    "a duplicate integer key": (
        {"id": pa.array([1, 2, 2, 4], pa.int64())},
        [(2, "id", "pk_gizmo", "2")],
    ),
    "a duplicate boolean and timestamp key": (
        {
            "flag": pa.array([True, True, None, None], pa.bool_()),
            "at": pa.array([7, 7, None, 5], pa.int64()).cast(pa.timestamp("us", "UTC")),
        },
        [(1, "flag, at", "uq_gizmo_flag_at", "True, 1970-01-01 00:00:00.000007+00:00")],
    ),
    "integers in a text column": (
        {"label": pa.array([1, 22, None, 4444], pa.int64())},
        [(3, "label", "length", "4444.0")],  # shown as pandas shows a nullable integer
    ),
    "integers as floats": (  # whole numbers: read as the integers they are
        {"id": pa.array([1.0, 2.0, None, 4.0], pa.float64())},
        [(2, "id", "not_null", None)],
    ),
    "floats that are no integers": (
        {"id": pa.array([1.5, float("nan"), float("inf"), 4.0], pa.float64())},
        [(0, "id", "type", "1.5"), (1, "id", "type", None), (2, "id", "type", "inf")],
    ),
    "a timestamp without zone in a column with one": (
        {"at": pa.array([0, None, None, None], pa.int64()).cast(pa.timestamp("us"))},
        [(0, "at", "type", "1970-01-01T00:00:00.000000")],
    ),
}


@pytest.fixture(scope="module")
def gizmo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(tmp_path_factory.mktemp("gizmo") / "gizmo_models", gizmo=GIZMO)


@pytest.mark.parametrize("case", GIZMO_CASES)
def test_typed_integer_boolean_and_timestamp_columns_report_as_before(
    case: str, gizmo: Path, tmp_path: Path
) -> None:
    columns, expected = GIZMO_CASES[case]
    table = _gizmos(**columns)
    pq.write_table(table, tmp_path / "gizmo.parquet")
    report = seedbed.validate(tmp_path / "gizmo.parquet", models=gizmo)
    assert [r[1:5] for r in _rows(report)] == expected
    for given in (table, pl.from_arrow(table)):  # the same rows from an Arrow table or Polars
        again = seedbed.validate({"gizmo": given}, models=gizmo)
        assert [r[1:] for r in _rows(again)] == [r[1:] for r in _rows(report)]


def test_a_polars_object_column_is_refused_with_its_name() -> None:
    frame = pl.DataFrame({"id": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(seedbed.SeedError, match="column 'id' holds Python objects"):
        seedbed.validate({"tag": frame})


BYTES = {
    "id": [f"{n}b3cbf6c-7f4c-4b8a-9d36-1e1f0b57d24e" for n in range(3)],
    "email": ["a@b.io", "c@b.io", "d@b.io"],
    "name": [b"\xff", b"a\x00b", b"Ada"],
}


@pytest.mark.parametrize("kind", [pd.DataFrame, pa.table, pl.DataFrame])
def test_bytes_in_a_text_column_are_read_as_their_utf8_text_by_every_frame_kind(
    kind: Any, engine: Engine
) -> None:
    """pandas' ``bytes`` were refused as "text without NUL characters" while Arrow's and
    Polars' binary columns were read as UTF-8: now all three read them alike."""
    report = seedbed.validate({"user": kind(BYTES)})
    found = [(r["line"], r["rule"], r["message"]) for r in report.to_records()]
    assert found == [
        (0, "encoding", "is not UTF-8 (byte 0xff)"),
        (1, "type", "must be text without NUL characters"),
    ]
    good = {column: values[2:] for column, values in BYTES.items()}
    seedbed.load({"user": kind(good)}, engine=engine)
    with engine.connect() as conn:
        name = conn.execute(
            sa.text(f'SELECT name FROM "{schema_of(engine)}"."user" WHERE id = :id'),
            {"id": good["id"][0]},
        )
        assert name.scalar_one() == "Ada"


@pytest.mark.parametrize(
    "empty",
    [pa.table({}), pl.DataFrame(), pa.RecordBatch.from_pydict({}), pd.DataFrame()],
    ids=["arrow", "polars", "batch", "pandas"],
)
def test_a_frame_of_no_columns_holds_no_rows(empty: object) -> None:
    # Arrow's slice of a table of no columns has as many rows as it is asked for
    report = seedbed.validate({"tag": empty})
    assert report.ok
    assert report.checked is not None and report.checked.rows == 0


@pytest.mark.parametrize("group_rows", [7, 1000])
def test_parquet_pieces_hold_a_csv_chunks_bytes_whatever_the_row_groups(
    group_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces are cut by the file's bytes per row, across row groups (many small ones, or
    one for the whole file), and hold every row once, in order."""
    table = typed_table("user")
    pq.write_table(table, tmp_path / "user.parquet", row_group_size=group_rows)
    parquet = pq.ParquetFile(tmp_path / "user.parquet")
    per_row = sum(
        parquet.metadata.row_group(g).total_byte_size for g in range(parquet.num_row_groups)
    )
    per_row /= table.num_rows
    monkeypatch.setattr(csvread, "BLOCK_BYTES", int(per_row * 5))  # about 5 rows a piece
    assert piece_rows(parquet, 250_000) == 5
    assert piece_rows(parquet, 3) == 3  # never more than asked for
    pieces = list(ParquetFile(tmp_path / "user.parquet").pieces(250_000))
    assert [p.rows for p in pieces[:-1]] == [5] * (len(pieces) - 1)
    assert 0 < pieces[-1].rows <= 5
    assert pa.concat_tables([p.data for p in pieces]).equals(table)
    positions = np.concatenate([p.positions for p in pieces])
    assert positions.tolist() == list(range(table.num_rows))
    assert pieces[0].header == table.column_names
    assert all(p.header is None for p in pieces[1:])


def test_a_parquet_file_of_one_row_group_is_read_a_piece_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first piece of a file whose one row group holds 8 MB of text does not read the
    row group whole (as pyarrow's pre-buffering does): Arrow holds far less than it."""
    random = np.random.default_rng(0)
    text = random.integers(ord("a"), ord("z") + 1, size=(80_000, 100), dtype=np.uint8)
    values = pa.array(text.view("S100").ravel().astype(str))
    pq.write_table(pa.table({"name": values}), tmp_path / "tag.parquet", row_group_size=80_000)
    parquet = pq.ParquetFile(tmp_path / "tag.parquet")
    assert parquet.num_row_groups == 1
    monkeypatch.setattr(csvread, "BLOCK_BYTES", 256 << 10)
    before = pa.total_allocated_bytes()
    pieces = ParquetFile(tmp_path / "tag.parquet").pieces(250_000)
    first = next(pieces)
    held = pa.total_allocated_bytes() - before
    assert 0 < first.rows < 5_000
    assert held < 4 << 20, held  # the row group's text alone is 8 MB
    pieces.close()


# -- typed numbers ----------------------------------------------------------------------

METER = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Meter(Base):
    __tablename__ = "meter"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    amount: Mapped[float | None] = mapped_column(sa.Numeric)
    price: Mapped[float | None] = mapped_column(sa.Numeric(6, 2))
    ratio: Mapped[float | None] = mapped_column(sa.Double)
    weight: Mapped[float | None] = mapped_column(sa.REAL)
    big: Mapped[float | None] = mapped_column(sa.Numeric(38, 8))
"""

#: Floats whose text is odd somewhere: signed zero, whole numbers, the ends of the plain
#: notations, values that round half away from zero at two places, huge and tiny ones.
ODD_FLOATS = [
    *(0.0, -0.0, 1.0, -2.0, 0.1, 0.125, 2.675, -0.001, 0.005, -0.005, 0.015, 1 / 3),
    *(1e-3, 1e-4, 1e-5, 1e-7, 5e-324, 1e5, 1e6, 999999.9, 16777216.0, 65504.0, 3.4e38),
    *(1e14, 1e15, 1e16, 9.99e15, 1234567890123456.7, 2.0**53, 123456789.0, 1e20, 1e300),
    *(9999.994, 9999.995, -9999.995, 99999.995, float("nan"), float("inf"), -float("inf")),
    None,
]


@pytest.fixture(scope="module")
def meter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(tmp_path_factory.mktemp("meter") / "meter_models", meter=METER)


def _number_corpus(count: int) -> list[float | None]:
    """:data:`ODD_FLOATS` and ``count`` random floats: any bits, few decimals, any scale."""
    random = np.random.default_rng(7)
    bits = random.integers(0, 2**63, size=count // 3, dtype=np.int64).view(np.float64)
    decimals = np.round(random.uniform(-1e6, 1e6, count // 3), random.integers(0, 7))
    scaled = random.uniform(-10, 10, count // 3) * 10.0 ** random.integers(-12, 21, count // 3)
    return [*ODD_FLOATS, *bits.tolist(), *decimals.tolist(), *scaled.tolist()]


def _meter_columns(meter: Path) -> dict[str, ColumnSpec]:
    with using_models(meter):
        return table_spec(declared_metadata().tables["seedbed.meter"]).columns


NUMBER_ARRAYS = {
    "double": lambda values: pa.array(values, pa.float64()),
    "float": lambda values: pa.array(values, pa.float64()).cast(pa.float32(), safe=False),
    "int64": lambda _: pa.array([0, -1, 5, 999, 1000, None, 2**63 - 1, -(2**63)], pa.int64()),
    "uint64": lambda _: pa.array([0, 1, None, 2**64 - 1], pa.uint64()),
    "int16": lambda _: pa.array([0, -32768, 32767, None, 99], pa.int16()),
}


@pytest.mark.parametrize("given", NUMBER_ARRAYS)
def test_typed_numbers_are_read_in_arrow_as_their_pandas_series_is(given: str, meter: Path) -> None:
    """Each numeric kind (numeric, numeric(p, s), double precision, real) reads floats and
    integers in Arrow to the values, bad cells and messages pandas' series gives; but a
    NaN, which pandas holds as a missing value, is NaN in Arrow (as PostgreSQL stores it)."""
    arr = NUMBER_ARRAYS[given](_number_corpus(3000))
    nan = np.zeros(len(arr), dtype=bool)
    if pa.types.is_floating(arr.type):
        nan = pc.fill_null(pc.is_nan(arr), False).to_numpy(zero_copy_only=False)
        assert nan.any()
    for name, column in _meter_columns(meter).items():
        if name == "id":
            continue
        found = coerce_arrow(column, arr)
        before = coerce_column(column, pandas_column(arr))
        if found is None:  # integers that do not fit: their pandas series reports them
            assert given != "double" and given != "float" and before.bad.any()
            continue
        assert (found.bad == before.bad).all(), name
        assert (found.rule, found.message) == (before.rule, before.message) or not found.bad.any()
        values = arrow_series(found.values)
        assert set(values[nan]) == ({"NaN"} if nan.any() else set()), name
        values, kept = values[~nan], before.values[~nan]
        assert values.isna().tolist() == kept.isna().tolist(), name
        assert values.dropna().tolist() == kept.dropna().tolist(), name


def test_float_text_is_pandas_text() -> None:
    values = [0.0, -0.0, 1.0, 1e-5, 1e15, 1e16, 0.1, float("nan"), None, float("inf")]
    assert float_text(pa.array(values)).to_pylist() == [
        *("0.0", "-0.0", "1.0", "1e-05", "1000000000000000.0", "1e+16", "0.1", None, None),
        "inf",
    ]
    single = pa.array([0.1, 16777216.0, 65504.0, 1e-4], pa.float32())
    assert float_text(single).to_pylist() == ["0.1", "1.6777216e+07", "65504.0", "1e-04"]


def _meters(**columns: pa.Array) -> pa.Table:
    base = {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "amount": pa.array([1.5, None, -0.0, 1e300], pa.float64()),
        "price": pa.array([0.125, 2.675, None, -0.001], pa.float64()),
        "ratio": pa.array([0.1, float("nan"), 1e-7, 2.0], pa.float64()),
        "weight": pa.array([0.1, 3.4e38, None, 1.0], pa.float32()),
        "big": pa.array([10**19, 12, None, 7], pa.uint64()),
    }
    return pa.table({**base, **columns})


METER_CASES: dict[str, tuple[dict[str, pa.Array], list[tuple[Any, ...]]]] = {
    "valid": ({}, []),
    "decimals and integers": (
        {
            "price": pa.array([Decimal("1.005"), None, Decimal("-3"), Decimal("0")]),
            "amount": pa.array([1, 2, None, 2**64 - 1], pa.uint64()),
        },
        [],
    ),
    "infinities": (
        {
            "amount": pa.array([float("inf"), 1.0, None, 2.0]),
            "ratio": pa.array([1.0, -float("inf"), None, 2.0]),
            "price": pa.array([1.0, 2.0, float("inf"), 2.0]),
        },
        [(2, "price", "type", "inf")],  # PostgreSQL reads Infinity, but not in numeric(p, s)
    ),
    "too many digits before the point": (
        {
            "price": pa.array([9999.994, 9999.995, 1e300, -0.0]),
            "big": pa.array([1e30, 1e29, None, 0.5]),  # numeric(38, 8): 30 digits before
        },
        [
            (0, "big", "type", "1e+30"),
            (1, "price", "type", "9999.995"),  # 9999.99499999… as a float, 9999.995 as text
            (2, "price", "type", "1e+300"),
        ],
    ),
}


@pytest.mark.parametrize("case", METER_CASES)
def test_typed_numbers_report_as_their_pandas_frame_does(
    case: str, meter: Path, tmp_path: Path
) -> None:
    columns, expected = METER_CASES[case]
    table = _meters(**columns)
    pq.write_table(table, tmp_path / "meter.parquet")
    report = seedbed.validate(tmp_path / "meter.parquet", models=meter)
    assert [r[1:5] for r in _rows(report)] == expected
    for given in (table, pl.from_arrow(table)):  # the same rows from an Arrow table or Polars
        again = seedbed.validate({"meter": given}, models=meter)
        assert [r[1:] for r in _rows(again)] == [r[1:] for r in _rows(report)]
    if "decimals" not in case:  # a pandas frame's Decimal objects are not read as numbers
        frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        from_pandas = seedbed.validate({"meter": frame}, models=meter)
        assert [r[1:] for r in _rows(from_pandas)] == [r[1:] for r in _rows(report)]


def test_a_valid_typed_number_file_is_validated_without_pandas(meter: Path, tmp_path: Path) -> None:
    table = _meters(price=pa.array([Decimal("1.005"), None, Decimal("-3"), Decimal("0")]))
    pq.write_table(table, tmp_path / "meter.parquet")
    code = (
        "import seedbed\n"
        f"assert seedbed.validate({str(tmp_path / 'meter.parquet')!r}, models={str(meter)!r}).ok"
    )
    loaded = modules_after(code)
    assert "seedbed.validation.rowchecks" in loaded
    assert "pandas" not in loaded


def test_floats_in_a_numeric_column_are_stored_as_validation_rounds_them(
    meter: Path, empty_settings: Settings, tmp_path: Path
) -> None:
    """PostgreSQL rounds the text COPY gets of each float (Arrow's shortest digits) half
    away from zero, as validation rounds pandas' text of it: the same stored values."""
    engine = get_engine(empty_settings)
    with engine.begin() as conn:
        model_source(meter).metadata(empty_settings.schema).create_all(conn)
    prices = [0.125, 2.675, -0.001, 0.005, -0.005, 9999.994, 1e-7, -0.0, 0.015, 1 / 3]
    bigs = [1e20, 1.5e-9, 123456789.123456789, -0.0, 0.000000005, 2.0**53, 1 / 7, 5e-324]
    count = max(len(prices), len(bigs))
    table = pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "price": pa.array(prices + [None] * (count - len(prices)), pa.float64()),
            "big": pa.array(bigs + [None] * (count - len(bigs)), pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "meter.parquet")
    assert seedbed.validate(tmp_path / "meter.parquet", models=meter).ok
    seedbed.load(tmp_path / "meter.parquet", engine=engine, models=meter, progress=False)
    query = f'SELECT price::text, big::text FROM "{empty_settings.schema}".meter ORDER BY id'
    with engine.connect() as conn:
        stored = list(conn.exec_driver_sql(query))
    columns = _meter_columns(meter)
    for position, name in enumerate(("price", "big")):
        judged = coerce_arrow(columns[name], table.column(name).chunk(0))
        assert judged is not None and not judged.bad.any()
        held = [None if v is None else Decimal(v) for v in judged.values.to_pylist()]
        assert held == [None if row[position] is None else Decimal(row[position]) for row in stored]
