"""``infinity``, ``epoch``, far years and ``BC`` in date and time columns, as PostgreSQL reads them.

seedbed's verdict on each literal is PostgreSQL's (``pg_input_is_valid``) and
the value it holds is the server's, except for the listed forms seedbed refuses
on purpose. Such values validate, load and read back as the server gives the
same literal, from CSV, a DataFrame and Parquet, and rules order them as
PostgreSQL does.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine, schema_of
from seedbed.facts import ColumnSpec
from seedbed.facts import spec as kinds
from seedbed.sqltext import quote_ident
from seedbed.validation.coerce import (
    DATE_INFINITY,
    DATE_MINUS_INFINITY,
    PANDAS_MINUS_INFINITY,
    RELATIVE_MESSAGE,
    STAMP_INFINITY,
    STAMP_MINUS_INFINITY,
    arrow_series,
    coerce_text,
)
from tests.helpers import ROOT, pushed_models, run_cli

SEEDS = ROOT / "data" / "seeds"
KINDS = (kinds.TIMESTAMPTZ, kinds.TIMESTAMP, kinds.DATE)

LITERALS = [
    # the special words, in any case, with PostgreSQL's white space around
    "infinity",
    "Infinity",
    "INFINITY",
    "+infinity",
    "+Infinity",
    "-infinity",
    "-INFINITY",
    " infinity",
    "infinity ",
    "  -infinity  ",
    "\tinfinity\n",
    "epoch",
    "EPOCH",
    " Epoch ",
    # near misses
    "infinityx",
    "+-infinity",
    "--infinity",
    "-epoch",
    "+epoch",
    "epoch1",
    "infinit",
    "inf",
    "Infinity Z",
    "-infinity+00",
    "in finity",
    # far years and BC
    "10000-01-01 00:00:00Z",
    "10000-01-01T00:00:00Z",
    "99999-12-31 23:59:59.999999+00",
    "100000-02-29 12:00:00+05:30",
    "100001-02-29 12:00:00Z",
    "012024-01-01 00:00:00Z",
    "9999-12-31 23:59:59-05:00",
    "0001-01-01 00:00:00+01",
    "2024-01-01 00:00:00+00 BC",
    "2024-01-01 00:00:00.5+05:30 bc",
    "0044-03-15 12:00:00Z BC",
    "0001-02-29 00:00:00Z BC",
    "0002-02-29 00:00:00Z BC",
    "0001-01-01 00:00:00Z BC",
    "0000-01-01 00:00:00Z",
    "0000-01-01 00:00:00Z BC",
    # the range's edges, both sides
    "4714-11-24 00:00:00+00 BC",
    "4714-11-23 23:59:59.999999+00 BC",
    "4714-11-24 00:00:00+01 BC",
    "4714-11-24 00:00:00-01 BC",
    "4713-01-01 00:00:00Z BC",
    "294247-01-10 04:00:54.775806Z",
    "294247-01-10 04:00:54.775807Z",
    "294247-01-10 04:00:54.775806-01",
    "294247-01-11 00:00:00Z",
    "294276-12-31 23:59:59.999999Z",
    "294277-01-01 00:00:00Z",
    # dates alone
    "2024-01-01",
    "10000-01-01",
    "2024-01-01 BC",
    "4714-11-24 BC",
    "4714-11-23 BC",
    "294247-01-10",
    "294247-01-11",
    "5874897-12-31",
    "5874898-01-01",
    # without an offset (a timestamptz refuses them by policy), and other forms
    "2024-01-01 00:00:00",
    "10000-01-01 00:00:00",
    "2024-01-01 00:00:00 BC",
    "2024-01-01 BC 00:00:00Z",
    "2024-01-01 00:00:00+00BC",
    "2024-01-01 00:00:00+00 AD",
    "infinity BC",
    "now",
    " Today ",
    "tomorrow",
    "yesterday",
    "",
]

#: (kind, literal) PostgreSQL reads and seedbed refuses on purpose, and why.
STRICTER = {
    "now": "the time of loading: differs from load to load",
    " Today ": "the time of loading",
    "tomorrow": "the time of loading",
    "yesterday": "the time of loading",
    "294247-01-10 04:00:54.775807Z": "the largest int64 microsecond is infinity",
    "294247-01-11 00:00:00Z": "past Arrow's timestamp[us]",
    "294247-01-10 04:00:54.775806-01": "past Arrow's timestamp[us] in UTC",
    "294276-12-31 23:59:59.999999Z": "past Arrow's timestamp[us]",
    "294247-01-11": "past Arrow's timestamp[us]",
    "5874897-12-31": "past Arrow's timestamp[us], which date comparisons need",
    "2024-01-01 BC 00:00:00Z": "BC only at the end",
    "2024-01-01 00:00:00+00BC": "BC only after a space",
    "2024-01-01 00:00:00+00 AD": "AD is not read",
    "infinity BC": "BC only after a date",
}
#: Refused by one kind on purpose: a timestamptz needs an explicit offset and seconds,
#: a date is a date alone.
ZONELESS = {
    "2024-01-01",
    "10000-01-01",
    "2024-01-01 BC",
    "4714-11-24 BC",
    "294247-01-10",
    "2024-01-01 00:00:00",
    "10000-01-01 00:00:00",
    "2024-01-01 00:00:00 BC",
}


def column(kind: str) -> ColumnSpec:
    return ColumnSpec("value", kind, True, False, False, kind)


def server_values(engine: Engine, kind: str) -> list[str | None]:
    """Per literal: None when the server refuses it, else its value as microseconds
    (days for a date) since 1970-01-01 in UTC, or ``infinity`` / ``-infinity``."""
    unit = (
        "(v - date '1970-01-01')::text"
        if kind == kinds.DATE
        else "(extract(epoch FROM v) * 1000000)::numeric(30)::text"
    )
    query = sa.text(
        f"SELECT CASE WHEN NOT pg_input_is_valid(:t, '{kind}') THEN NULL "
        f"ELSE (SELECT CASE WHEN isfinite(v) THEN {unit} ELSE v::text END "
        f"FROM (SELECT CAST(:t AS {kind}) AS v) AS s) END"
    )
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        return [conn.execute(query, {"t": text}).scalar() for text in LITERALS]


def seedbed_values(values: pa.Array, bad: np.ndarray, kind: str) -> list[str | None]:
    top, bottom = (
        (DATE_INFINITY, DATE_MINUS_INFINITY)
        if kind == kinds.DATE
        else (STAMP_INFINITY, STAMP_MINUS_INFINITY)
    )
    held = values.cast(pa.int32() if kind == kinds.DATE else pa.int64()).to_pylist()
    out: list[str | None] = []
    for value, refused in zip(held, bad, strict=True):
        if refused:
            out.append(None)
        else:
            out.append(
                "infinity" if value == top else "-infinity" if value == bottom else str(value)
            )
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_special_times_read_as_postgresql_reads_them(engine: Engine, kind: str) -> None:
    server = server_values(engine, kind)
    texts = pa.array(LITERALS, pa.string())
    readings = {}
    for columnar in (True, False):
        read = coerce_text(column(kind), texts, columnar=columnar)
        readings[f"columnar={columnar}"] = seedbed_values(read.values, read.bad, kind)
        # each literal after an ISO value: the byte reader takes the first value's layout
        first = "2024-05-01 12:00:00Z" if kind != kinds.DATE else "2024-05-01"
        for i, text in enumerate(LITERALS):
            pair = coerce_text(column(kind), pa.array([first, text]), columnar=columnar)
            assert (
                seedbed_values(pair.values, pair.bad, kind)[1]
                == readings[f"columnar={columnar}"][i]
            ), (kind, text)
    assert readings["columnar=True"] == readings["columnar=False"]
    mine = readings["columnar=True"]
    for text, ours, theirs in zip(LITERALS, mine, server, strict=True):
        if ours is not None:
            assert ours == theirs, (kind, text)  # accepted: PostgreSQL accepts the same value
        elif theirs is not None:
            deliberate = (
                text in STRICTER
                or (kind == kinds.TIMESTAMPTZ and text in ZONELESS)
                or (kind == kinds.DATE and ":" in text)  # a date is a date alone
            )
            assert deliberate, f"seedbed refuses what PostgreSQL reads as {kind}: {text!r}"
    accepted = {text for text, ours in zip(LITERALS, mine, strict=True) if ours is not None}
    assert {"infinity", "-INFINITY", "  -infinity  ", "\tinfinity\n", " Epoch "} <= accepted
    assert "2024-01-01 BC" in accepted if kind != kinds.TIMESTAMPTZ else True
    assert len(LITERALS) >= 40


def test_relative_words_are_refused_with_a_message_of_their_own(tmp_path: Path) -> None:
    rows = session_rows(["now", "garbage", "infinity"], ["2024-01-01 00:00:00Z"] * 3)
    report = seedbed.validate(seed_folder(tmp_path, rows))
    found = {r["value"]: (r["rule"], r["message"]) for r in report.to_records()}
    assert set(found) == {"now", "garbage"}
    assert found["now"] == ("type", RELATIVE_MESSAGE)
    assert found["garbage"][0] == "type" and "infinity, -infinity, epoch" in found["garbage"][1]


def session_rows(expires: list[str], created: list[str]) -> list[dict[str, str]]:
    with (SEEDS / "session.csv").open(newline="") as handle:
        seeds = list(csv.DictReader(handle))
    rows = []
    for i, (expires_at, created_at) in enumerate(zip(expires, created, strict=True)):
        rows.append({**seeds[i], "expires_at": expires_at, "created_at": created_at})
    return rows


def csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def seed_folder(folder: Path, rows: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "user.csv").write_bytes((SEEDS / "user.csv").read_bytes())
    (folder / "session.csv").write_text(csv_text(rows))
    return folder


EXPIRES = ["infinity", "10000-01-01 00:00:00Z", "2024-05-01 12:00:00.5+05:30", "epoch"]
CREATED = ["2024-01-01 00:00:00Z", "-infinity", "0044-03-15 12:00:00Z BC", "1969-12-31 00:00:00Z"]


def read_back(engine: Engine) -> list[tuple[str, str]]:
    schema = schema_of(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        query = f'SELECT expires_at::text, created_at::text FROM "{schema}".session ORDER BY token'
        return [tuple(row) for row in conn.execute(sa.text(query))]  # type: ignore[misc]


def literal_values(engine: Engine) -> list[tuple[str, str]]:
    """What the server makes of the same literals, in the rows' order (by token)."""
    rows = session_rows(EXPIRES, CREATED)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TimeZone = 'UTC'")
        found = []
        for row in sorted(rows, key=lambda r: r["token"]):
            found.append(
                tuple(
                    conn.execute(
                        sa.text(
                            "SELECT CAST(:e AS timestamptz)::text, CAST(:c AS timestamptz)::text"
                        ),
                        {"e": row["expires_at"], "c": row["created_at"]},
                    ).one()
                )
            )
    return found  # type: ignore[return-value]


def typed_frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    """The rows as a DataFrame, the times read by seedbed into ``datetime64[us, UTC]``."""
    frame = pd.DataFrame(rows)
    for name in ("expires_at", "created_at"):
        read = coerce_text(column(kinds.TIMESTAMPTZ), pa.array(frame[name], pa.string()))
        assert not read.bad.any()
        frame[name] = arrow_series(read.values)
    return frame


@pytest.mark.parametrize("form", ["csv", "text frame", "typed frame", "parquet"])
def test_infinity_and_far_years_load_as_postgresql_reads_them(
    engine: Engine, tmp_path: Path, form: str
) -> None:
    rows = session_rows(EXPIRES, CREATED)
    folder = seed_folder(tmp_path / "seeds", rows)
    source: object = folder
    if form != "csv":
        frame = pd.DataFrame(rows) if form == "text frame" else typed_frame(rows)
        session: object = frame
        if form == "parquet":
            session = tmp_path / "session.parquet"
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), session)
        source = {"user": folder / "user.csv", "session": session}
    report = seedbed.validate(source)  # type: ignore[arg-type]
    assert report.ok, report.failures.to_dict("records")
    seedbed.load(source, engine=engine, progress=False)  # type: ignore[arg-type]
    assert read_back(engine) == literal_values(engine)
    assert ("infinity", "2024-01-01 00:00:00+00") in read_back(engine)


def test_a_typed_frame_holds_minus_infinity_above_nat() -> None:
    read = coerce_text(column(kinds.TIMESTAMPTZ), pa.array(["-infinity", None, "infinity"]))
    series = arrow_series(read.values)
    held = series.to_numpy(dtype="datetime64[us]").view("i8")
    assert held[0] == PANDAS_MINUS_INFINITY and held[2] == STAMP_INFINITY
    assert series.isna().tolist() == [False, True, False]
    dates = coerce_text(column(kinds.DATE), pa.array(["-infinity", "10000-01-01", "2024-01-01"]))
    objects = arrow_series(dates.values)
    assert objects.dtype == object and str(objects[2]) == "2024-01-01"
    assert objects[0] < objects[1]  # numpy.datetime64 values, ordered


#: (expires_at, created_at, PostgreSQL's CHECK expires_at > created_at passes)
ORDERS = [
    ("infinity", "2024-01-01 00:00:00Z", True),
    ("2024-01-01 00:00:00Z", "infinity", False),
    ("infinity", "infinity", False),
    ("2024-01-01 00:00:00Z", "-infinity", True),
    ("-infinity", "2024-01-01 00:00:00Z", False),
    ("10000-01-01 00:00:00Z", "9999-12-31 23:59:59Z", True),
    ("0044-03-15 12:00:00Z BC", "2024-01-01 00:00:00Z", False),
]


@pytest.mark.parametrize("engine_kind", ["polars", "pandas"])
def test_rules_order_infinity_as_postgresql_does(
    engine: Engine, tmp_path: Path, engine_kind: str
) -> None:
    expires = [e for e, _, _ in ORDERS]
    created = [c for _, c, _ in ORDERS]
    rows = session_rows(expires, created)
    with engine.connect() as conn:
        server = [
            conn.execute(
                sa.text("SELECT CAST(:e AS timestamptz) > CAST(:c AS timestamptz)"),
                {"e": e, "c": c},
            ).scalar()
            for e, c, _ in ORDERS
        ]
    assert server == [ok for _, _, ok in ORDERS]
    folder = seed_folder(tmp_path, rows)
    source: object = folder
    if engine_kind == "pandas":  # text in object columns: read through pandas
        source = {"user": folder / "user.csv", "session": pd.DataFrame(rows, dtype=object)}
    report = seedbed.validate(source)  # type: ignore[arg-type]
    failing = {r["line"] for r in report.to_records() if "expires_at_after_created_at" in r["rule"]}
    first = 2 if engine_kind == "polars" else 0  # a file's first row is line 2
    expected = {first + i for i, ok in enumerate(server) if not ok}
    assert failing == expected, report.failures.to_dict("records")
    assert len(report) == len(expected)
    shown = {r["line"] - first: r["value"] for r in report.to_records()}  # as PostgreSQL writes
    assert (shown[2], shown[4], shown[6]) == (
        "infinity",
        "-infinity",
        "0044-03-15 12:00:00.000000+00 BC",
    )


def test_pandera_schemas_take_infinity(tmp_path: Path) -> None:
    """pandas: the text parsed into ``datetime64[us, UTC]`` with infinity's microsecond;
    Polars: a typed frame whose rows pass (a failing row holding such a time is one
    Pandera's Polars backend cannot show; docs/validating.md)."""
    rows = session_rows(
        ["infinity", "10000-01-01 00:00:00Z"], ["2024-01-01 00:00:00Z", "-infinity"]
    )
    checked = seedbed.pandera_schema("session").validate(pd.DataFrame(rows), lazy=True)
    held = checked["expires_at"].to_numpy(dtype="datetime64[us]").view("i8")
    assert held[0] == STAMP_INFINITY
    assert (
        checked["created_at"].to_numpy(dtype="datetime64[us]").view("i8")[1]
        == PANDAS_MINUS_INFINITY
    )
    bad = pd.DataFrame(session_rows(["infinity", "now"], ["2024-01-01 00:00:00Z"] * 2))
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        seedbed.pandera_schema("session").validate(bad, lazy=True)
    assert "expires_at" in set(caught.value.failure_cases["column"])
    typed = pl.from_pandas(typed_frame(rows))
    assert seedbed.pandera_schema("session", backend="polars").validate(typed).height == 2


def test_times_sent_to_postgresql_as_text_read_back_as_the_same_values(engine: Engine) -> None:
    """The text a CHECK only PostgreSQL can judge gets (``sqlchecks``) and the report shows."""
    from seedbed.facts.sqlchecks import _as_text

    literals = ["infinity", "-infinity", "0044-03-15 12:00:00.5Z BC", "10000-01-01 00:00:00Z"]
    read = coerce_text(column(kinds.TIMESTAMPTZ), pa.array([*literals, None]))
    texts = _as_text(arrow_series(read.values))
    dates = coerce_text(column(kinds.DATE), pa.array(["-infinity", "0001-02-29 BC", "2024-01-01"]))
    date_texts = _as_text(arrow_series(dates.values))
    assert texts[:2] == ["infinity", "-infinity"] and texts[4] is None
    assert date_texts == ["-infinity", "0001-02-29 BC", "2024-01-01"]
    with engine.connect() as conn:
        for given, sent in zip(literals, texts, strict=False):
            same = conn.execute(
                sa.text("SELECT CAST(:a AS timestamptz) = CAST(:b AS timestamptz)"),
                {"a": given, "b": sent},
            ).scalar()
            assert same, (given, sent)


def test_minus_infinity_in_an_arrow_table_is_not_null(tmp_path: Path) -> None:
    """Arrow (and Parquet) hold -infinity as PostgreSQL does, the smallest int64, which
    pandas would read as NaT: it stays -infinity, and the rule sees it."""
    rows = session_rows(["-infinity", "infinity"], ["2024-01-01 00:00:00Z", "-infinity"])
    table = pa.Table.from_pandas(typed_frame(rows), preserve_index=False)
    stamps = table.column("expires_at").cast(pa.int64()).to_pylist()
    held = pa.array([STAMP_MINUS_INFINITY, stamps[1]], pa.int64())
    kind = table.schema.field("expires_at").type
    table = table.set_column(
        table.schema.get_field_index("expires_at"), "expires_at", held.cast(kind)
    )
    folder = seed_folder(tmp_path, rows)
    report = seedbed.validate({"user": folder / "user.csv", "session": table})
    assert [(r["line"], r["value"]) for r in report.to_records()] == [(0, "-infinity")]


SLOTS = """
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import mapped_column

from .base import Base


class Slot(Base):
    __tablename__ = "slot"

    id = mapped_column(sa.Integer, primary_key=True)
    opens = mapped_column(sa.Time)
    closes = mapped_column(sa.Time(timezone=True))
    during = mapped_column(pg.TSTZRANGE)
    days = mapped_column(pg.ARRAY(sa.Date))
    note = mapped_column(pg.ARRAY(sa.Text))  # words in text are text
"""


def test_relative_words_in_times_left_to_postgresql_are_refused_too(
    tmp_path: Path, db_env: dict[str, str], empty_settings: Settings
) -> None:
    """``time``, ``timetz``, ranges and arrays of times: PostgreSQL reads ``now`` there as
    the time of loading too, so the rows would differ from load to load."""
    env = pushed_models(tmp_path / "models", db_env, empty_settings, slots=SLOTS)
    engine = get_engine(empty_settings)
    relative = {  # column: (text, its type)
        "opens": ("now", "time"),
        "closes": (" NOW ", "timetz"),
        "during": ("[now,infinity)", "tstzrange"),
        "days": ("{today}", "date[]"),
    }
    rows = [
        {"id": 1, "note": "{now}"},  # words in text are text
        *({"id": 2 + i, name: text} for i, (name, (text, _)) in enumerate(relative.items())),
        {"id": 6, "opens": "10:00", "closes": "10:00+02", "during": "[2024-01-01 00:00+00,)"},
    ]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    with (seeds / "slot.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "opens", "closes", "during", "days", "note"])
        writer.writeheader()
        writer.writerows(rows)
    with engine.connect() as conn:  # PostgreSQL itself reads every one of them
        for text, sql_type in relative.values():
            valid = conn.exec_driver_sql("SELECT pg_input_is_valid(%s, %s)", (text, sql_type))
            assert valid.scalar(), text
    report = seedbed.validate(seeds, models=env["SEEDBED_MODELS"])
    found = {
        (int(r["line"]), str(r["column"])): (r["rule"], r["message"]) for r in report.to_records()
    }
    assert found == {(3 + i, name): ("type", RELATIVE_MESSAGE) for i, name in enumerate(relative)}
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    with engine.connect() as conn:
        count = conn.exec_driver_sql(
            f"SELECT count(*) FROM {quote_ident(empty_settings.schema)}.slot"
        ).scalar()
    assert count == 0
