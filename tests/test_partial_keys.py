"""A partial unique index whose predicate seedbed reads as a rule (``WHERE status = 'new'``,
``WHERE is_primary``, as Django's ``UniqueConstraint(condition=...)`` writes them) is checked
by validation among the rows where that predicate is true, as PostgreSQL checks it: within
and across chunks, by both row engines, against the database's rows, in the Pandera schema;
and ``seedbed generate`` writes sets that keep it."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import seedbed
from seedbed import facts
from seedbed.config import Settings
from seedbed.db import get_engine
from tests.helpers import generated_rows, model_folder, report_in_chunks, run_cli

ORDERS = """
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Order(Base):
    __tablename__ = "order"
    __table_args__ = (
        sa.Index(
            "one_open_order", "customer", unique=True, postgresql_where=sa.text("status = 'new'")
        ),
        sa.Index(
            "one_primary_address",
            "customer",
            "kind",
            unique=True,
            postgresql_where=sa.text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    customer = mapped_column(sa.Integer, nullable=False)
    status = mapped_column(sa.Enum("new", "paid", name="order_status"), nullable=False)
    kind = mapped_column(sa.Text, nullable=False)
    is_primary = mapped_column(sa.Boolean)
"""

HEADER = ["id", "customer", "status", "kind", "is_primary"]
ROWS = [
    ["1", "7", "new", "home", "true"],
    ["2", "7", "paid", "home", "false"],  # another order of 7, not open; not primary
    ["3", "7", "new", "work", ""],  # a second open order of 7: refused; is_primary NULL
    ["4", "8", "paid", "home", "true"],
    ["5", "8", "paid", "home", "true"],  # a second primary home address of 8: refused
    ["6", "9", "paid", "home", ""],
    ["7", "9", "paid", "home", ""],  # NULL: not held by the index
]
#: (line, rule) PostgreSQL refuses, as seedbed reports them
REFUSED = {(4, "one_open_order"), (6, "one_primary_address")}


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "order_models", orders=ORDERS)


def _write(folder: Path, rows: list[list[str]]) -> Path:
    folder.mkdir(exist_ok=True)
    with (folder / "order.csv").open("w", newline="") as out:
        csv.writer(out).writerows([HEADER, *rows])
    return folder


def _refused(records: list[dict[str, object]]) -> set[tuple[int, str]]:
    return {(int(str(r["line"])), str(r["rule"])) for r in records}


def _create(settings: Settings, models: Path) -> None:
    metadata = facts.model_source(models).metadata(settings.schema)
    with get_engine(settings).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{settings.schema}"'))
        metadata.create_all(conn)


def test_duplicates_among_the_rows_a_predicate_holds_are_refused_as_postgresql_does(
    orders: Path, db_env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    seeds = _write(tmp_path / "seeds", ROWS)
    report = seedbed.validate(seeds, models=orders)
    assert _refused(report.to_records()) == REFUSED
    message = str(report.to_records()[0]["message"])
    assert "among rows where status = 'new'" in message
    for engine in ("polars", "pandas"):  # two rows a chunk: duplicates across chunks too
        assert _refused(report_in_chunks(orders, seeds, engine, ["order"])) == REFUSED

    # PostgreSQL refuses exactly those rows: the file without them loads, each one alone fails
    _create(empty_settings, orders)
    engine = get_engine(empty_settings)
    kept = [row for line, row in enumerate(ROWS, 2) if line not in {n for n, _ in REFUSED}]
    seedbed.load(_write(tmp_path / "kept", kept), engine=engine, models=orders)
    table = f'"{empty_settings.schema}"."order"'
    for line, rule in REFUSED:
        row = [str(100 + line), *ROWS[line - 2][1:]]
        again = _write(tmp_path / f"again{line}", [row])
        assert _refused(seedbed.validate(again, models=orders).to_records()) == set()
        with pytest.raises(seedbed.SeedbedError, match="nothing was loaded") as failed:
            seedbed.load(again, engine=engine, models=orders)
        assert "upsert" not in str(failed.value)  # no key over every row meets this one
        with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError, match=rule):
            values = dict(zip(HEADER, row, strict=True))
            conn.execute(
                sa.text(
                    f"INSERT INTO {table} VALUES (CAST(:id AS int), CAST(:customer AS int), "
                    ":status, :kind, CAST(NULLIF(:is_primary, '') AS boolean))"
                ),
                values,
            )
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == len(kept)
    # checked against the database's rows when asked (the rows above are there now)
    cli = run_cli(
        "-q",
        "validate",
        str(tmp_path / "again4"),
        "--against-db",
        env={**db_env, "SEEDBED_MODELS": str(orders), "SEEDBED_SCHEMA": empty_settings.schema},
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "one_open_order" in cli.stdout and "the database has" in cli.stdout
    # upsert and skip-existing go by a key over every row: no advice to use them here
    assert "--mode upsert" not in cli.stdout + cli.stderr


def test_the_pandera_schemas_check_the_partial_key(orders: Path) -> None:
    frame = pd.DataFrame(ROWS, columns=HEADER).astype({"id": int, "customer": int})
    truth = frame["is_primary"].map({"true": True, "false": False, "": None})
    frame["is_primary"] = truth.astype("boolean")
    schema = seedbed.pandera_schema("order", models=orders)
    with pytest.raises(Exception) as failed:
        schema.validate(frame, lazy=True)
    cases = failed.value.failure_cases  # type: ignore[attr-defined]
    assert set(cases["check"]) == {"one_open_order", "one_primary_address"}
    assert set(cases["index"]) == {2, 4}
    schema.validate(frame.drop(index=[2, 4]), lazy=True)


def test_a_generated_set_keeps_the_partial_keys(
    orders: Path, db_env: dict[str, str], empty_settings: Settings, tmp_path: Path
) -> None:
    env = {**db_env, "SEEDBED_MODELS": str(orders), "SEEDBED_SCHEMA": empty_settings.schema}
    seeds = tmp_path / "made"
    written = generated_rows(env, seeds, "order", 200, seed=4)
    open_orders = [row["customer"] for row in written if row["status"] == "new"]
    assert len(open_orders) == len(set(open_orders)) > 0
    loaded = run_cli("-q", "load", str(seeds), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr


@pytest.mark.parametrize(
    ("mode", "rows", "refused"),
    [
        ("upsert", [["1", "7", "new", "home", "true"]], False),  # the row itself, unchanged
        ("upsert", [["2", "7", "new", "home", "false"]], True),  # now a second open order
        ("upsert", [["50", "7", "new", "away", ""]], True),  # a new one, the same
        ("skip-existing", [["2", "7", "new", "home", "false"]], False),  # skipped: kept as is
        ("skip-existing", [["50", "7", "new", "away", ""]], True),  # inserted: refused
    ],
    ids=["upsert-same", "upsert-update", "upsert-insert", "skip-existing", "skip-insert"],
)
def test_validate_in_a_merge_mode_gives_the_verdict_of_the_load_on_other_keys(
    orders: Path,
    db_env: dict[str, str],
    empty_settings: Settings,
    tmp_path: Path,
    mode: str,
    rows: list[list[str]],
    refused: bool,
) -> None:
    _create(empty_settings, orders)
    engine = get_engine(empty_settings)
    kept = [row for line, row in enumerate(ROWS, 2) if line not in {n for n, _ in REFUSED}]
    seedbed.load(_write(tmp_path / "kept", kept), engine=engine, models=orders)
    env = {**db_env, "SEEDBED_MODELS": str(orders), "SEEDBED_SCHEMA": empty_settings.schema}
    seeds = str(_write(tmp_path / "merge", rows))
    checked = run_cli("-q", "validate", seeds, "--against-db", "--mode", mode, env=env)
    loaded = run_cli("-q", "load", seeds, "--mode", mode, env=env)
    assert (checked.returncode, loaded.returncode) == ((1, 1) if refused else (0, 0)), (
        checked.stdout + checked.stderr + loaded.stderr
    )
    if refused:
        assert "one_open_order" in checked.stdout and "--mode" not in checked.stderr
