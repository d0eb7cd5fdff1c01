"""``infinity``, ``epoch``, far years and BC read back by the explore helpers.

``read_table``, ``read_query`` and the pages return such values as the
DataFrame load takes them, so a frame read from one namespace loads into
another as the same values; ordinary values come as psycopg gives them.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.engine import Connection, Engine

import seedbed
from seedbed import explore, migrate
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.errors import QueryError
from seedbed.explore import _core
from seedbed.facts import ColumnSpec
from seedbed.facts import spec as kinds
from seedbed.validation.coerce import STAMP_INFINITY, arrow_series, coerce_text
from tests.helpers import ROOT, fresh_settings

SEEDS = ROOT / "data" / "seeds"
# expires_at must follow created_at (a CHECK): -infinity and BC go in created_at too.
EXPIRES = [
    "infinity",
    "10000-01-01 00:00:00Z",
    "0044-03-15 12:00:00Z BC",
    "epoch",
    "2024-05-01 12:00:00.5+05:30",
    "294247-01-10 04:00:54.775806Z",
]
CREATED = [
    "-infinity",
    "2024-01-01 00:00:00Z",
    "0100-01-01 00:00:00Z BC",
    "1969-12-31 00:00:00Z",
    "1999-01-01 00:00:00Z",
    "4714-11-24 00:00:00Z BC",
]


def session_csv(folder: Path) -> Path:
    with (SEEDS / "session.csv").open(newline="") as handle:
        seeds = list(csv.DictReader(handle))
    rows = [
        {**seeds[i], "expires_at": e, "created_at": c}
        for i, (e, c) in enumerate(zip(EXPIRES, CREATED, strict=True))
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "user.csv").write_bytes((SEEDS / "user.csv").read_bytes())
    (folder / "session.csv").write_text(out.getvalue())
    return folder


def as_text(engine: Engine, order: str = "token") -> list[tuple[str, str, str]]:
    schema = schema_of(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        query = (
            f"SELECT token, expires_at::text, created_at::text "
            f'FROM "{schema}".session ORDER BY {order}'
        )
        return [tuple(row) for row in conn.exec_driver_sql(query)]  # type: ignore[misc]


@pytest.fixture
def special(engine: Engine, tmp_path: Path) -> Engine:
    """A namespace whose sessions hold ``infinity``, far years, BC and ``epoch``."""
    seedbed.load(session_csv(tmp_path / "seeds"), engine=engine, progress=False)
    return engine


@pytest.fixture
def other(base_settings: Settings) -> Iterator[Engine]:
    """A second, empty namespace."""
    settings = fresh_settings(base_settings, "readback")
    migrate.upgrade_unchecked(settings)
    yield get_engine(settings)
    migrate.reset(settings)


def test_read_table_returns_infinity_far_years_and_bc(special: Engine) -> None:
    sessions = explore.read_table(special, "session")
    assert len(sessions) == len(EXPIRES)
    # in UTC whatever the session's zone: pandas shows such years in UTC only
    assert str(sessions["expires_at"].dtype) == "datetime64[us, UTC]"
    assert "-043-03-15 12:00:00" in sessions["expires_at"].to_string()  # year 0 is 1 BC
    held = sessions.set_index("token")["expires_at"]
    texts = {token: expires for token, expires, _ in as_text(special)}
    infinite = next(t for t, e in texts.items() if e == "infinity")
    assert held[infinite] == held.max()
    assert held[infinite].asm8.view("i8") == STAMP_INFINITY
    epoch = next(t for t, e in texts.items() if e == "1970-01-01 00:00:00+00")
    assert held[epoch] == pd.Timestamp(0, unit="us", tz="UTC")
    far = next(t for t, e in texts.items() if e.startswith("10000-"))
    assert held[far].year == 10000
    assert held.isna().sum() == 0


def test_read_values_order_as_postgresql_orders_them(special: Engine) -> None:
    sessions = explore.read_table(special, "session")
    for name in ("expires_at", "created_at"):
        ours = sessions.sort_values([name, "token"], kind="stable")["token"].tolist()
        assert ours == [row[0] for row in as_text(special, f"session.{name}, token")]


def test_pages_and_queries_read_the_same_values(special: Engine) -> None:
    table = explore.read_table(special, "session", order_by="token")
    query = explore.read_query(special, "select * from session order by token")
    pages = pd.concat(list(explore.keyset_pages(special, "session", order_by="token", limit=4)))
    pd.testing.assert_frame_equal(table, query)
    pd.testing.assert_frame_equal(table, pages.reset_index(drop=True))


def test_a_round_trip_through_the_frame_load_keeps_the_values(
    special: Engine, other: Engine
) -> None:
    users = explore.read_table(special, "user", include_deleted=True)
    sessions = explore.read_table(special, "session", include_deleted=True)
    assert {type(a).__name__ for a in sessions["ip_address"]} == {"IPv4Address"}
    seedbed.load({"user": users, "session": sessions}, engine=other, progress=False)
    assert as_text(other) == as_text(special)
    assert ("infinity", "-infinity") in [row[1:] for row in as_text(other)]


@pytest.mark.parametrize(
    ("kind", "sql_type", "literals"),
    [
        (
            kinds.TIMESTAMPTZ,
            "timestamptz",
            ["infinity", "-infinity", "epoch", "10000-01-01 00:00:00Z", "0044-03-15 12:00:00Z BC"],
        ),
        (
            kinds.TIMESTAMP,
            "timestamp",
            ["infinity", "-infinity", "epoch", "10000-01-01 00:00:00", "0044-03-15 12:00:00 BC"],
        ),
        (
            kinds.DATE,
            "date",
            ["infinity", "-infinity", "epoch", "10000-01-01", "0044-03-15 BC", "2024-02-29"],
        ),
    ],
)
def test_each_time_type_reads_as_the_load_path_holds_it(
    engine: Engine, kind: str, sql_type: str, literals: list[str]
) -> None:
    values = ", ".join(f"(CAST('{t}' AS {sql_type}), {i})" for i, t in enumerate(literals))
    query = f"select v from (values {values}, (NULL, {len(literals)})) as t (v, i) order by i"
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        read = explore.read_query(conn, query)["v"]
    column = ColumnSpec("v", kind, True, False, False, kind)
    coerced = coerce_text(column, pa.array([*literals, None], pa.string()))
    assert not coerced.bad.any()
    expected = arrow_series(coerced.values).rename("v")
    pd.testing.assert_series_equal(read, expected)


def psycopg_frame(conn: Connection, sql: str) -> pd.DataFrame:
    """The rows as psycopg's own loaders give them, built as ``frame`` builds a frame."""
    result = conn.exec_driver_sql(sql)
    columns = list(result.keys())
    values = list(zip(*result.fetchall(), strict=True))
    data = pd.DataFrame({i: pd.Series(v) for i, v in enumerate(values)})
    data.columns = pd.Index(columns)
    return data


@pytest.mark.parametrize("few", [0, _core._FEW])  # read column-wise, and value by value
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
def test_ordinary_times_come_as_psycopg_gives_them(
    populated: Settings, zone: str, few: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_core, "_FEW", few)
    engine = get_engine(populated)
    for table in ("session", "user", "post"):
        sql = f'select * from "{table}" order by id'
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET TimeZone = '{zone}'")
            read = explore.read_query(conn, sql)
            conn.exec_driver_sql(f"SET search_path = {populated.schema}")
            expected = psycopg_frame(conn, sql)
        pd.testing.assert_frame_equal(read, expected, check_exact=True)
        assert list(read.dtypes) == list(expected.dtypes)
        stamps = [c for c in read if str(read[c].dtype).startswith("datetime64")]
        assert stamps, table
        for name in stamps:
            assert read[name].dtype == expected[name].dtype
            assert getattr(read[name].dt.tz, "key", None) == getattr(
                expected[name].dt.tz, "key", None
            )


def test_a_date_style_other_than_iso_reads_as_before(engine: Engine) -> None:
    sql = "select d::date from generate_series(date '2024-01-01', date '2024-03-01', '1 day') d"
    with engine.connect() as conn:
        conn.exec_driver_sql("SET DateStyle = 'German'")
        read = explore.read_query(conn, sql)
        expected = psycopg_frame(conn, sql)
    pd.testing.assert_frame_equal(read, expected, check_exact=True)
    assert read["d"].iloc[-1] == datetime.date(2024, 3, 1)


def test_a_time_pandas_cannot_hold_is_a_one_line_error(engine: Engine) -> None:
    with pytest.raises(QueryError, match=r"column v: .*\n?") as caught:
        explore.read_query(engine, "select CAST('294270-01-01' AS timestamp) as v")
    assert "\n" not in str(caught.value)


def test_a_statement_without_rows_still_counts_them(populated: Settings) -> None:
    engine = get_engine(populated)
    with engine.connect() as conn:
        done = explore.read_query(conn, "update session set expires_at = 'infinity'")
        assert done.attrs["rowcount"] > 0
        assert (explore.read_table(conn, "session")["expires_at"].dt.year > 9999).all()
        conn.rollback()


def test_arrays_and_ranges_of_times_come_as_psycopg_gives_them(engine: Engine) -> None:
    sql = (
        "select array[timestamptz '2024-01-01 00:00:00Z', NULL] as a, "
        "array[date '2024-01-01'] as d, tstzrange(now(), now() + interval '1 day') as r, "
        "datemultirange(daterange('2024-01-01', '2024-02-01')) as m, "
        "array[tsrange('2024-01-01', '2024-02-01')] as ra"
    )
    with engine.connect() as conn:
        read = explore.read_query(conn, sql)
        expected = psycopg_frame(conn, sql)
    for name in read:
        assert repr(read[name].iloc[0]) == repr(expected[name].iloc[0]), name
    assert read["a"].iloc[0] == [datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC), None]


def test_the_text_loaders_stay_inside_the_helper(engine: Engine) -> None:
    with engine.connect() as conn:
        explore.read_query(conn, "select now() as t")
        after = conn.exec_driver_sql("select now(), current_date").one()
    with engine.connect() as conn:
        fresh = conn.exec_driver_sql("select now(), current_date").one()
    for value in (*after, *fresh):
        assert isinstance(value, datetime.date), value


@pytest.mark.parametrize("key", ["created_at", "expires_at"])
def test_keyset_pages_step_over_infinity_and_far_years(special: Engine, key: str) -> None:
    pages = list(
        itertools.islice(explore.keyset_pages(special, "session", order_by=key, limit=1), 9)
    )
    tokens = [token for page in pages for token in page["token"]]
    assert tokens == [row[0] for row in as_text(special, f"session.{key}")]
