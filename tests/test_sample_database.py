"""A public-sample-style database (``tests/fixtures/pagila_mini.sql``), adopted end to end.

Created with plain SQL in a namespace, pulled, checked, exported with ``COPY
... TO`` (CSV with a header, as ``\\copy`` writes it), validated against the
pulled model and against the catalog, loaded into a namespace pushed from the
pulled model, and compared row for row. Planted errors each get a report row
with file, line, column and the database's constraint name, and nothing is
written.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

import seedbed
from seedbed.config import Settings
from seedbed.db import get_engine
from seedbed.errors import LoadError
from seedbed.facts.pull import PullResult, pull
from seedbed.facts.referenced import namespace_domains
from seedbed.sqltext import qualified_name, quote_ident
from tests.helpers import ROOT, fresh_settings, run_cli_here

SAMPLE = ROOT / "tests" / "fixtures" / "pagila_mini.sql"
TABLES = ("actor", "customer", "film", "film_actor", "language", "payment", "rental")


@dataclass
class Sample:
    source: Settings  # the namespace the SQL created
    empty: Settings  # the same SQL's schema, without rows: what validation checks against
    target: Settings  # a namespace pushed from the pulled model, empty
    models: Path  # the pulled model
    exports: Path  # one CSV per table, as COPY ... TO wrote it
    pulled: PullResult

    def env(self, db_env: dict[str, str], settings: Settings, models: str) -> dict[str, str]:
        return {**db_env, "SEEDBED_SCHEMA": settings.schema, "SEEDBED_MODELS": models}


def _export(settings: Settings, folder: Path) -> None:
    folder.mkdir()
    raw = get_engine(settings).raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            for table in TABLES:
                relation = qualified_name(settings.schema, table)
                with (
                    (folder / f"{table}.csv").open("wb") as out,
                    # A partitioned table is copied out through a query, as PostgreSQL asks.
                    cursor.copy(
                        f"COPY (SELECT * FROM {relation}) TO STDOUT (FORMAT csv, HEADER)"
                    ) as copy,
                ):
                    for block in copy:
                        out.write(block)
        raw.driver_connection.rollback()
    finally:
        raw.close()


def _contents(settings: Settings) -> dict[str, tuple[int, str]]:
    """Rows and an md5 of the ordered row text, per table."""
    with get_engine(settings).connect() as conn:
        return {
            table: tuple(
                conn.exec_driver_sql(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f"FROM {qualified_name(settings.schema, table)} AS t"
                ).one()
            )
            for table in TABLES
        }


@pytest.fixture(scope="module")
def sample(
    base_settings: Settings, db_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sample]:
    source, empty, target = (
        fresh_settings(base_settings, prefix=p) for p in ("pagila", "empty", "pushed")
    )
    folder = tmp_path_factory.mktemp("sample")
    engine = get_engine(source)
    for settings in (source, empty):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {quote_ident(settings.schema)}")
            conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(settings.schema)}")
            conn.connection.driver_connection.execute(SAMPLE.read_text())  # no placeholders
    with engine.begin() as conn:
        names = ", ".join(qualified_name(empty.schema, t) for t in TABLES)
        conn.exec_driver_sql(f"TRUNCATE {names}")
    try:
        pulled = pull(source, folder / "models")
        _export(source, folder / "exports")
        made = Sample(source, empty, target, folder / "models", folder / "exports", pulled)
        # db push alone makes the namespace: its enums, its domains, its tables.
        pushed = run_cli_here("-q", "db", "push", env=made.env(db_env, target, str(made.models)))
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        yield made
    finally:
        with engine.begin() as conn:
            for settings in (source, empty, target):
                conn.exec_driver_sql(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE"
                )


def test_pull_carries_the_partitions_and_check_finds_no_drift(sample, db_env):
    lines = sample.pulled.lines()
    payment = next(line for line in lines if line.startswith("  payment "))
    assert payment.endswith("partitioned by RANGE (payment_date) into 3 partitions")
    assert not any(line.startswith("  payment_p2022") for line in lines)
    assert "  trigger film_fulltext_trigger on film" in lines
    film = (sample.models / "film.py").read_text()
    assert "info={'filled_by_trigger': 'film_fulltext_trigger'}" in film  # a seed may leave it out
    for models in (str(sample.models), "database"):
        check = run_cli_here("-q", "db", "check", env=sample.env(db_env, sample.source, models))
        assert check.returncode == 0, check.stdout + check.stderr
    pushed = run_cli_here(
        "-q", "db", "check", env=sample.env(db_env, sample.target, str(sample.models))
    )
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    with get_engine(sample.target).connect() as conn:
        bounds = conn.execute(
            sa.text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_class AS c "
                "JOIN pg_inherits AS i ON i.inhrelid = c.oid "
                "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY 1"
            ),
            {"parent": qualified_name(sample.target.schema, "payment")},
        ).all()
    assert [name for name, _ in bounds] == [f"payment_p2022_0{m}" for m in (1, 2, 3)]
    assert bounds[0][1] == "FOR VALUES FROM ('2022-01-01 00:00:00') TO ('2022-02-01 00:00:00')"


def test_push_alone_creates_the_namespaces_own_domain_as_the_source_has_it(sample):
    def domains(settings: Settings) -> dict[str, str]:
        with get_engine(settings).begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL search_path TO {quote_ident(settings.schema)}")
            return namespace_domains(conn, settings.schema)

    assert domains(sample.target) == domains(sample.source)
    assert domains(sample.target) == {
        "year": "AS integer CONSTRAINT year_check CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))"
    }
    assert "Base.metadata.info[DOMAINS]" in (sample.models / "base.py").read_text()


def test_push_leaves_an_integer_key_without_a_default_as_the_source_has_it(sample):
    def defaults(settings: Settings) -> list[tuple[str, str, str | None, str]]:
        with get_engine(settings).connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    sa.text(
                        "SELECT table_name, column_name, "
                        "replace(column_default, :schema || '.', ''), is_identity "
                        "FROM information_schema.columns WHERE table_schema = :schema "
                        "AND table_name = ANY(:tables) ORDER BY 1, 2"
                    ),
                    {"schema": settings.schema, "tables": list(TABLES)},
                )
            ]

    def sequences(settings: Settings) -> int:
        with get_engine(settings).connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM pg_sequences WHERE schemaname = :schema"),
                {"schema": settings.schema},
            ).scalar_one()

    pushed = defaults(sample.target)
    assert ("language", "language_id", None, "NO") in pushed  # not made a serial
    assert pushed == defaults(sample.source)
    assert sequences(sample.target) == sequences(sample.source) == 0
    assert "autoincrement=False" in (sample.models / "language.py").read_text()


@pytest.mark.parametrize("models", ["pulled", "database"])
def test_the_exports_validate_clean(sample, models):
    chosen = str(sample.models) if models == "pulled" else "database"
    report = seedbed.validate(sample.exports, engine=get_engine(sample.empty), models=chosen)
    assert report.ok, report.failures.to_string()


def test_the_exports_load_into_a_namespace_pushed_from_the_pulled_model(sample):
    engine = get_engine(sample.target)
    result = seedbed.load(sample.exports, engine=engine, models=str(sample.models), progress=False)
    try:
        assert result.committed
        assert _contents(sample.target) == _contents(sample.source)
        notes = {t.table: t.note for t in result.tables}
        assert "partitioned" in notes["payment"]
        assert {t.table: t.strategy for t in result.tables}["payment"] == "incremental"
    finally:
        with engine.begin() as conn:
            names = ", ".join(qualified_name(sample.target.schema, t) for t in TABLES)
            conn.exec_driver_sql(f"TRUNCATE {names}")


def _plant(folder: Path, table: str, row: int, column: str, value: str) -> int:
    """Set ``column`` of data row ``row`` (1-based) of ``table.csv``; the physical line it is on."""
    path = folder / f"{table}.csv"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if column == "*duplicate*":
        rows.insert(row + 1, rows[row])
        row += 1
    else:
        rows[row][rows[0].index(column)] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        for _ in range(row):
            next(reader)
        return reader.line_num + 1


PLANTED = [
    # table, data row, column, value, the rule the report names (the constraint where one exists)
    ("film", 2, "rating", "X", "enum"),
    ("film", 3, "release_year", "1800", "year_check"),
    ("film", 5, "rental_duration", "20", "film_rental_duration_check"),
    ("film_actor", 4, "actor_id", "999", "film_actor_actor_id_fkey"),
    ("actor", 6, "*duplicate*", "", "actor_pkey"),
    ("customer", 7, "first_name", "", "not_null"),
]


def _planted(entry: object) -> tuple[str, int, str, str, str]:
    values = entry.values if hasattr(entry, "values") else entry
    table, row, column, value, rule = values  # type: ignore[misc]
    return table, row, column, value, rule


@pytest.fixture(scope="module")
def planted(sample, tmp_path_factory) -> tuple[Path, dict[tuple[str, str], int]]:
    folder = Path(shutil.copytree(sample.exports, tmp_path_factory.mktemp("planted") / "seeds"))
    lines = {}
    for entry in PLANTED:
        table, row, column, value, rule = _planted(entry)
        lines[(table, rule)] = _plant(folder, table, row, column, value)
    return folder, lines


@pytest.fixture(scope="module")
def planted_reports(sample, planted) -> dict[str, object]:
    """The report on the planted seeds, with the pulled model and with the catalog."""
    engine = get_engine(sample.empty)
    return {
        models: seedbed.validate(
            planted[0], engine=engine, models=models if models == "database" else str(sample.models)
        ).failures
        for models in ("pulled", "database")
    }


@pytest.mark.parametrize("models", ["pulled", "database"])
@pytest.mark.parametrize(("table", "row", "column", "value", "rule"), PLANTED)
def test_a_planted_error_gets_a_row_with_file_line_column_and_rule(
    planted, planted_reports, models, table, row, column, value, rule
):
    failures = planted_reports[models]
    found = failures[(failures["table"] == table) & (failures["rule"] == rule)]
    assert len(found) == 1, failures.to_string()
    hit = found.iloc[0]
    assert hit["file"].endswith(f"{table}.csv")
    assert hit["line"] == planted[1][(table, rule)]
    assert hit["column"] == (column if column != "*duplicate*" else "actor_id")


@pytest.mark.parametrize("models", ["pulled", "database"])
def test_the_planted_seeds_get_no_other_report_row(planted_reports, models):
    failures = planted_reports[models]
    assert len(failures) == len(PLANTED), failures.to_string()
    assert "mpaa_rating" in failures[failures["rule"] == "enum"].iloc[0]["message"]


def test_a_load_with_planted_errors_exits_1_and_writes_nothing(sample, planted, db_env):
    folder, _ = planted
    env = sample.env(db_env, sample.target, str(sample.models))
    result = run_cli_here("-q", "load", str(folder), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert {rows for rows, _ in _contents(sample.target).values()} == {0}


def test_a_row_no_partition_takes_is_refused_with_its_file_and_line(sample, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for table in ("customer", "rental", "payment", "film", "language"):
        shutil.copy(sample.exports / f"{table}.csv", seeds)
    line = _plant(seeds, "payment", 9, "payment_date", "2023-06-01 10:00:00")
    engine = get_engine(sample.target)
    for mode in ("insert", "upsert"):
        with pytest.raises(LoadError) as caught:
            seedbed.load(seeds, engine=engine, models=str(sample.models), mode=mode, progress=False)
        error = caught.value
        assert "no partition" in str(error) and error.line == line, str(error)
        assert error.file.endswith("payment.csv")
    assert {rows for rows, _ in _contents(sample.target).values()} == {0}
