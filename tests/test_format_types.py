"""Every Arrow and pandas type a text, boolean or timestamp column arrives in validates and loads.

The rows of ``data/seeds`` are given as Parquet files, Arrow tables and
DataFrames with their columns in each Arrow string, dictionary, view and
binary type and each pandas extension dtype. Each must validate and load to
exactly what the same rows give from CSV; text that is not UTF-8 (or not
Unicode) is a report row with its column, never a crash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed import migrate
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.errors import DataError
from tests.helpers import ROOT, fresh_settings, run_cli, snapshot

SEEDS = ROOT / "data" / "seeds"
TABLES = ("user", "post")
TIMESTAMPS = {"created_at", "published_at", "deleted_at"}


def csv_frame(name: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])


def contents(engine: Engine) -> dict[str, list[str]]:
    """Every row of the seeded tables as JSON text, ``updated_at`` (always now()) left out."""
    schema = schema_of(engine)
    found = {}
    with engine.connect() as conn:
        for name in TABLES:
            query = f'SELECT (to_jsonb(x) - \'updated_at\')::text FROM "{schema}"."{name}" x'
            found[name] = sorted(conn.execute(sa.text(query)).scalars())
    return found


@pytest.fixture(scope="module")
def from_csv(base_settings: Settings) -> Iterator[dict[str, list[str]]]:
    """What the seed rows of user and post are in the database when loaded from CSV."""
    settings = fresh_settings(base_settings)
    migrate.upgrade_unchecked(settings)
    engine = get_engine(settings)
    try:
        seedbed.load(
            {name: SEEDS / f"{name}.csv" for name in TABLES}, engine=engine, progress=False
        )
        yield contents(engine)
    finally:
        migrate.reset(settings)


def text_table(name: str, kind: pa.DataType) -> pa.Table:
    """The seed rows of ``name`` with every column as text of Arrow type ``kind``."""
    frame = csv_frame(name)
    arrays = {}
    for column in frame.columns:
        text = pa.array(frame[column], pa.string(), from_pandas=True)
        if pa.types.is_dictionary(kind):
            text = text.cast(kind.value_type).dictionary_encode()
            arrays[column] = text.cast(kind)
        else:
            arrays[column] = text.cast(kind)
    return pa.table(arrays)


ARROW_TEXT = {
    "string": pa.string(),
    "large_string": pa.large_string(),
    "string_view": pa.string_view(),
    "dictionary<int8, string>": pa.dictionary(pa.int8(), pa.string()),
    "dictionary<int32, large_string>": pa.dictionary(pa.int32(), pa.large_string()),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "binary_view": pa.binary_view(),
}


def as_parquet(tables: dict[str, pa.Table], folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    return {name: folder / f"{name}.parquet" for name in tables}


def as_arrow(tables: dict[str, pa.Table], folder: Path) -> dict[str, Any]:
    return dict(tables)


CONTAINERS: dict[str, Callable[[dict[str, pa.Table], Path], dict[str, Any]]] = {
    "parquet": as_parquet,
    "arrow table": as_arrow,
}


def validates_and_loads(
    source: dict[str, Any], engine: Engine, expected: dict[str, list[str]]
) -> None:
    report = seedbed.validate(source)
    assert report.ok, report.failures[["file", "column", "rule", "message"]].to_dict("records")
    seedbed.load(source, engine=engine, progress=False)
    assert contents(engine) == expected


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("kind", ARROW_TEXT)
def test_every_arrow_text_type_validates_and_loads(
    kind: str, container: str, engine: Engine, tmp_path: Path, from_csv: dict[str, list[str]]
) -> None:
    tables = {name: text_table(name, ARROW_TEXT[kind]) for name in TABLES}
    if container == "parquet":  # the type survives the file: what a reader gets back
        source = as_parquet(tables, tmp_path)
        read_back = pq.read_schema(source["user"]).field("email").type
        assert str(read_back).startswith(str(ARROW_TEXT[kind]).split("<")[0]), read_back
    else:
        source = CONTAINERS[container](tables, tmp_path)
    validates_and_loads(source, engine, from_csv)


def _as_bool(text: pd.Series) -> list[bool | None]:
    return [None if pd.isna(v) else v == "true" for v in text]


def _text(dtype: Any) -> Callable[[pd.Series, str], pd.Series]:
    return lambda series, column: series.astype(dtype)


def _typed(
    frame: pd.DataFrame, boolean: Any, stamp: Callable[[pd.Series], pd.Series]
) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if column == "email_verified":
            frame[column] = pd.Series(_as_bool(frame[column]), dtype=boolean)
        elif column in TIMESTAMPS:
            frame[column] = stamp(pd.to_datetime(frame[column], utc=True, format="ISO8601"))
    return frame


def _arrow_stamps(series: pd.Series) -> pd.Series:
    return series.astype(pd.ArrowDtype(pa.timestamp("us", tz="UTC")))


PANDAS_DTYPES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "object": lambda f: f.astype(object).where(f.notna(), None),
    "str": lambda f: f.astype("str"),
    "string[python]": lambda f: f.astype("string[python]"),
    "string[pyarrow]": lambda f: f.astype("string[pyarrow]"),
    "ArrowDtype(string)": lambda f: f.astype(pd.ArrowDtype(pa.string())),
    "ArrowDtype(large_string)": lambda f: f.astype(pd.ArrowDtype(pa.large_string())),
    "ArrowDtype(string_view)": lambda f: f.astype(pd.ArrowDtype(pa.string_view())),
    "category": lambda f: f.astype("category"),
    "boolean, datetime64[ns, UTC]": lambda f: _typed(f, "boolean", lambda s: s),
    "boolean, datetime64[us, Europe/Paris]": lambda f: _typed(
        f,
        "boolean",
        lambda s: s.dt.tz_convert("Europe/Paris").astype("datetime64[us, Europe/Paris]"),
    ),
    "ArrowDtype(bool), ArrowDtype(timestamp[us, UTC])": lambda f: _typed(
        f, pd.ArrowDtype(pa.bool_()), _arrow_stamps
    ),
}


@pytest.mark.parametrize("dtype", PANDAS_DTYPES)
def test_every_pandas_dtype_validates_and_loads(
    dtype: str, engine: Engine, from_csv: dict[str, list[str]]
) -> None:
    frames = {name: PANDAS_DTYPES[dtype](csv_frame(name)) for name in TABLES}
    validates_and_loads(frames, engine, from_csv)


def test_an_enum_value_in_a_category_column_is_judged_by_its_value(tmp_path: Path) -> None:
    posts = csv_frame("post")
    posts.loc[1, "status"] = "gone"
    frame = posts.astype({"status": "category"})
    table = pa.Table.from_pandas(posts, preserve_index=False)
    status = table.schema.get_field_index("status")
    table = table.set_column(status, "status", table.column("status").dictionary_encode())
    sources = {"frame": frame, **as_parquet({"post": table}, tmp_path)}
    for label, source in sources.items():
        report = seedbed.validate({"post": source})
        rows = [(r["line"], r["column"], r["rule"], r["value"]) for r in report.to_records()]
        assert (1, "status", "enum", "gone") in rows, label
        assert [r for r in rows if r[1] == "status"] == [(1, "status", "enum", "gone")], label


UUID_COLUMNS = {"id", "author_id"}


def _uuid_arrow(table: pa.Table) -> pa.Table:
    """``table`` with its UUID columns as Arrow's ``uuid`` type, as DuckDB writes them."""
    for name in UUID_COLUMNS & set(table.column_names):
        cells = [None if v is None else uuid.UUID(v).bytes for v in table.column(name).to_pylist()]
        storage = pa.array(cells, pa.binary(16))
        column = pa.ExtensionArray.from_storage(pa.uuid(), storage)
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def _uuid_objects(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(frame.notna(), None)
    for name in UUID_COLUMNS & set(frame.columns):
        frame[name] = [uuid.UUID(v) for v in frame[name]]
    return frame


@pytest.mark.parametrize("container", ["parquet", "arrow table", "frame of uuid.UUID"])
def test_uuid_typed_columns_validate_and_load_as_their_text(
    container: str, engine: Engine, tmp_path: Path, from_csv: dict[str, list[str]]
) -> None:
    source: dict[str, Any]
    if container == "frame of uuid.UUID":
        source = {name: _uuid_objects(csv_frame(name)) for name in TABLES}
    else:
        tables = {name: _uuid_arrow(text_table(name, pa.string())) for name in TABLES}
        source = CONTAINERS[container](tables, tmp_path)
    validates_and_loads(source, engine, from_csv)


def _not_utf8(texts: list[str | None], row: int, kind: pa.DataType) -> pa.Array:
    """``texts`` as an Arrow array of ``kind`` whose cell ``row`` holds the byte 0xff."""
    raw = [None if t is None else t.encode() for t in texts]
    raw[row] = b"User \xff"
    binary = pa.array(raw, pa.binary())
    if pa.types.is_binary(kind):
        return binary
    return pa.Array.from_buffers(pa.string(), len(binary), binary.buffers())


@pytest.mark.parametrize("kind", [pa.string(), pa.binary()], ids=str)
def test_text_that_is_not_utf8_in_parquet_is_a_report_row(
    kind: pa.DataType,
    tmp_path: Path,
    engine: Engine,
    db_env: dict[str, str],
    settings: Settings,
) -> None:
    users = text_table("user", pa.string())
    name = users.schema.get_field_index("name")
    users = users.set_column(name, "name", _not_utf8(users.column("name").to_pylist(), 2, kind))
    path = as_parquet({"user": users}, tmp_path)["user"]
    report = seedbed.validate([path])
    assert [(r["line"], r["column"], r["rule"]) for r in report.to_records()] == [
        (2, "name", "encoding")
    ]
    assert "not UTF-8 (byte 0xff)" in report.to_records()[0]["message"]
    before = snapshot(engine)
    with pytest.raises(DataError):
        seedbed.load([path], engine=engine, progress=False)
    assert snapshot(engine) == before
    env = dict(db_env, SEEDBED_SCHEMA=settings.schema)
    for command in ("validate", "load"):
        done = run_cli(command, str(path), env=env)
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr and "user.parquet:2" in done.stdout + done.stderr


def test_text_that_is_not_utf8_in_an_arrow_table_is_a_report_row(engine: Engine) -> None:
    users = text_table("user", pa.string())
    name = users.schema.get_field_index("name")
    bad = _not_utf8(users.column("name").to_pylist(), 3, pa.string())
    users = users.set_column(name, "name", bad)
    report = seedbed.validate({"user": users})
    assert [(r["line"], r["column"], r["rule"]) for r in report.to_records()] == [
        (3, "name", "encoding")
    ]
    with pytest.raises(DataError):
        seedbed.load({"user": users}, engine=engine, progress=False)


@pytest.mark.parametrize("dtype", ["object", "string[python]", "category"])
def test_a_lone_surrogate_in_a_frame_is_a_report_row(dtype: str, engine: Engine) -> None:
    users = csv_frame("user").astype(object).where(csv_frame("user").notna(), None)
    users.loc[4, "name"] = "User \ud800"
    if dtype == "category":  # categories of Python text (pandas would infer str, which refuses it)
        names = pd.Index(users["name"].unique(), dtype=object)
        users["name"] = pd.Categorical(users["name"], categories=names)
    else:
        users["name"] = users["name"].astype(dtype)
    report = seedbed.validate({"user": users})
    records = report.to_records()
    assert [(r["line"], r["column"], r["rule"]) for r in records] == [(4, "name", "encoding")]
    assert "lone surrogate, U+D800" in str(records[0]["message"])
    before = snapshot(engine)
    with pytest.raises(DataError):
        seedbed.load({"user": users}, engine=engine, progress=False)
    assert snapshot(engine) == before


class GadgetModel:
    """A model of one table with integer, numeric, boolean and timestamp columns."""

    name = "test model: gadget"

    def metadata(self, schema: str) -> sa.MetaData:
        metadata = sa.MetaData(schema=schema)
        sa.Table(
            "gadget",
            metadata,
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("units", sa.Integer),
            sa.Column("stock", sa.SmallInteger, nullable=False),
            sa.Column("price", sa.Numeric(12, 2)),
            sa.Column("ok", sa.Boolean),
            sa.Column("made_at", sa.DateTime(timezone=True)),
        )
        return metadata

    def declared_metadata(self) -> sa.MetaData:
        return self.metadata("gadget")

    def declaring_class(self, table: sa.Table) -> type | None:
        return None


GADGETS = pd.DataFrame(
    {
        "id": ["a", "b", "c"],
        "units": pd.array([1, None, 2**31 - 1], dtype="Int64"),
        "stock": pd.array([0, -5, 32767], dtype="Int16"),
        "price": pd.array([1.5, None, 9999999999.25], dtype="Float64"),
        "ok": pd.array([True, None, False], dtype="boolean"),
        "made_at": pd.to_datetime(
            ["2024-05-01T12:00:00Z", None, "1999-12-31T23:59:59.5Z"], utc=True, format="ISO8601"
        ),
    }
)
GADGET_ROWS = [
    ("a", 1, 0, "1.50", True, pd.Timestamp("2024-05-01T12:00:00Z")),
    ("b", None, -5, None, None, None),
    ("c", 2**31 - 1, 32767, "9999999999.25", False, pd.Timestamp("1999-12-31T23:59:59.5Z")),
]


@pytest.fixture
def gadget_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The test's namespace with the gadget model in use and its table created."""
    model = GadgetModel()
    monkeypatch.setattr("seedbed.facts.source._chosen", model)
    model.metadata(schema_of(engine)).create_all(engine)
    return engine


def gadget_rows(engine: Engine) -> list[tuple[Any, ...]]:
    query = f'SELECT id, units, stock, price::text, ok, made_at FROM "{schema_of(engine)}".gadget'
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(sa.text(query)))


def _decimal_price(table: pa.Table) -> pa.Table:
    price = table.schema.get_field_index("price")
    return table.set_column(price, "price", table.column("price").cast(pa.decimal128(12, 2)))


GADGET_DTYPES: dict[str, Callable[[pd.DataFrame], Any]] = {
    "Int64, Float64, boolean, datetime64[ns, UTC]": lambda f: f,
    "ArrowDtype(int64, float64, bool, timestamp)": lambda f: f.astype(
        {
            "units": pd.ArrowDtype(pa.int64()),
            "stock": pd.ArrowDtype(pa.int16()),
            "price": pd.ArrowDtype(pa.float64()),
            "ok": pd.ArrowDtype(pa.bool_()),
            "made_at": pd.ArrowDtype(pa.timestamp("us", tz="UTC")),
        }
    ),
    "arrow table": lambda f: pa.Table.from_pandas(f, preserve_index=False),
    "parquet": lambda f: pa.Table.from_pandas(f, preserve_index=False),
    "parquet with decimal128(12, 2) price": lambda f: _decimal_price(
        pa.Table.from_pandas(f, preserve_index=False)
    ),
    # as Spark or DuckDB write it: no pandas metadata to bring back Int64 and boolean
    "parquet without pandas metadata": lambda f: pa.Table.from_pandas(
        f, preserve_index=False
    ).replace_schema_metadata(None),
}


@pytest.mark.parametrize("dtype", GADGET_DTYPES)
def test_nullable_number_boolean_and_timestamp_dtypes_validate_and_load(
    dtype: str, gadget_engine: Engine, tmp_path: Path
) -> None:
    source: Any = GADGET_DTYPES[dtype](GADGETS)
    if dtype.startswith("parquet"):
        pq.write_table(source, tmp_path / "gadget.parquet")
        source = tmp_path / "gadget.parquet"
    report = seedbed.validate({"gadget": source})
    assert report.ok, report.failures[["column", "rule", "message"]].to_dict("records")
    seedbed.load({"gadget": source}, engine=gadget_engine, progress=False)
    assert gadget_rows(gadget_engine) == GADGET_ROWS


def test_a_number_out_of_its_column_range_is_a_report_row_whatever_its_dtype(
    gadget_engine: Engine,
) -> None:
    for dtype in ("Int64", pd.ArrowDtype(pa.int64())):
        frame = GADGETS.astype({"stock": dtype})
        frame.loc[1, "stock"] = 40000  # beyond smallint
        report = seedbed.validate({"gadget": frame})
        assert [(r["line"], r["column"], r["rule"]) for r in report.to_records()] == [
            (1, "stock", "type")
        ], dtype
