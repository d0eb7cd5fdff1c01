"""CHECKs PostgreSQL judges vs CHECKs run in-process: ``seedbed validate`` on the same rows.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_sqlchecks.py                # 200,000 rows
    .venv/bin/python benchmarks/bench_sqlchecks.py --rows 50000   # a quick run

It creates two tables with the same columns in namespace ``bench_sqlchecks``
(``SEEDBED_MODELS=database`` reads them from the catalog):

- ``reading_db``: four CHECKs that only PostgreSQL can judge (``mod``,
  arithmetic between two columns, ``date_part``, ``regexp_replace``), each a
  :class:`~seedbed.models.rules.SqlCheck` evaluated in the database per chunk;
- ``reading_py``: four CHECKs that run in-process as rule objects.

It writes one valid CSV (kept in ``bench-data/sqlchecks/``, git-ignored, and
reused), validates it against each table, and prints both times, the rows per
second, and the ratio; then times the evaluator alone on the typed rows (one
chunk of all of them). Uses ``DATABASE_URL`` when set, else the embedded server
under ``SEEDBED_HOME`` (default ``.seedbed``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from seedbed.config import load_settings
from seedbed.db import get_engine
from seedbed.facts import DatabaseEvaluator, DatabaseSource, SqlCheck, table_spec
from seedbed.validation import coerce_frame, validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_sqlchecks"
COLUMNS = "id bigint PRIMARY KEY, qty integer, price numeric(10,2), taken_on date, code text"
IN_DATABASE = [
    "mod(qty, 5) = 0",
    "price * qty < 100000000",
    "date_part('year', taken_on) >= 2000",
    "length(regexp_replace(code, '[0-9]', '', 'g')) = 3",
]
IN_PROCESS = [
    "qty >= 0",
    "price > 0",
    "taken_on >= '2000-01-01'",
    "code ~ '^[A-Z]{3}[0-9]+$'",
]


def write_rows(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of ``rows`` rows that every CHECK of both tables accepts."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 9000, size=rows)
    table = pa.table(
        {
            "id": np.arange(rows),
            "qty": rng.integers(0, 1000, size=rows) * 5,
            "price": (rng.integers(1, 1_000_000, size=rows) / 100).round(2),
            "taken_on": (np.datetime64("2001-01-01") + days).astype("datetime64[D]"),
            "code": np.char.add("ABC", np.arange(rows).astype(str)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)


def create_tables() -> None:
    settings = load_settings(schema=SCHEMA)
    with get_engine(settings).begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        for table, checks in (("reading_db", IN_DATABASE), ("reading_py", IN_PROCESS)):
            ddl = ", ".join([COLUMNS, *(f"CHECK ({check})" for check in checks)])
            conn.exec_driver_sql(f"CREATE TABLE {SCHEMA}.{table} ({ddl})".replace("%", "%%"))


def timed(folder: Path, repeat: int) -> float:
    engine = get_engine(load_settings(schema=SCHEMA))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        report = validate(folder, engine=engine, models="database")
        best = min(best, time.perf_counter() - start)
        if not report.ok:
            sys.exit(f"the generated file should be valid:\n{report}")
    return best


def time_evaluator(metadata: sa.MetaData, source: Path, repeat: int) -> float:
    """Seconds the database takes to judge ``reading_db``'s SqlChecks on the typed rows."""
    table = metadata.tables[f"{SCHEMA}.reading_db"]
    frame = coerce_frame(table, pacsv.read_csv(source).to_pandas().astype(str))
    rules = [item.rule for item in table_spec(table).rules if isinstance(item.rule, SqlCheck)]
    evaluator = rules[0].evaluator
    assert isinstance(evaluator, DatabaseEvaluator)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        refused = evaluator.refused(rules, frame)
        best = min(best, time.perf_counter() - start)
        if any(r.any() for r in refused):
            sys.exit("the generated rows should pass every CHECK")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="validation runs; best is kept")
    args = parser.parse_args()

    data = ROOT / "bench-data" / "sqlchecks" / f"rows-{args.rows}"
    source = data / "reading.csv"
    if not source.exists():
        print(f"writing {source.relative_to(ROOT)} …", flush=True)
        write_rows(source, args.rows)
    create_tables()
    engine = get_engine(load_settings(schema=SCHEMA))
    metadata = DatabaseSource(engine).metadata(SCHEMA)
    for table, expected in (("reading_db", len(IN_DATABASE)), ("reading_py", 0)):
        rules = table_spec(metadata.tables[f"{SCHEMA}.{table}"]).rules
        judged = sum(isinstance(item.rule, SqlCheck) for item in rules)
        if judged != expected:
            sys.exit(f"{table}: {judged} CHECKs judged by PostgreSQL, expected {expected}")

    timings = {}
    for table in ("reading_db", "reading_py"):
        folder = data / table
        folder.mkdir(exist_ok=True)
        shutil.copyfile(source, folder / f"{table}.csv")
        timings[table] = timed(folder, args.repeat)

    evaluate_s = time_evaluator(metadata, source, args.repeat)

    rows = args.rows
    print(f"reading.csv: {rows:,} rows; 4 CHECKs per table")
    labels = {
        "reading_db": "validate, CHECKs in the database",
        "reading_py": "validate, CHECKs in-process",
    }
    for table, seconds in timings.items():
        print(f"{labels[table]:<36}{seconds:8.2f} s  {rows / seconds:>12,.0f} rows/s")
    ratio = timings["reading_db"] / timings["reading_py"]
    print(f"{'ratio database / in-process':<36}{ratio:8.2f}")
    label = "the 4 SqlChecks alone, typed rows"
    print(f"{label:<36}{evaluate_s:8.2f} s  {rows / evaluate_s:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
