"""Loads on a Citus cluster against plain PostgreSQL: each strategy, the same files.

Run it from the repository root, naming each server by a label::

    .venv/bin/seedbed generate --users 20000 bench-data/citus-20k
    .venv/bin/python benchmarks/bench_citus.py --repeat 5 \\
        --server citus=postgresql://postgres@127.0.0.1:55450/postgres \\
        --server pg15=postgresql://postgres@127.0.0.1:55460/postgres \\
        data/seeds bench-data/citus-20k

For every seed folder, server and strategy (``rebuild``, ``incremental``) it
loads the folder into a freshly migrated namespace (``bench_citus``, dropped and
migrated again before every timing, outside it) with ``seedbed.load()`` in
this process, in turns, and prints the median of ``--repeat`` runs: the whole
load (validation included) and the writer's database work (COPY plus rebuild),
and each one's ratio to the same strategy on the first server. On a Citus
coordinator with ``citus.enable_schema_based_sharding`` on, the namespace is
a distributed schema.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from seedbed import migrate
from seedbed.config import load_settings
from seedbed.db import get_engine
from seedbed.loading import load

SCHEMA = "bench_citus"
STRATEGIES = ("rebuild", "incremental")


def _server(text: str) -> tuple[str, str]:
    label, sep, url = text.partition("=")
    if not sep or not label or not url:
        raise argparse.ArgumentTypeError(f"expected LABEL=URL, got {text!r}")
    return label, url


def _timed(url: str, folder: Path, strategy: str) -> tuple[float, float]:
    settings = load_settings(schema=SCHEMA, database_url=url)
    migrate.reset(settings)
    migrate.upgrade_unchecked(settings)
    result = load(folder, strategy=strategy, engine=get_engine(settings), progress=False)
    return result.total_seconds, result.write_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="seed folders to load")
    parser.add_argument("--server", action="append", type=_server, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    servers: list[tuple[str, str]] = args.server
    for folder in args.folders:
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for label, url in servers:
                for strategy in STRATEGIES:
                    times.setdefault((label, strategy), []).append(_timed(url, folder, strategy))
        print(f"\n{folder} (median of {args.repeat})")
        heads = ("load s", "ratio", "write s", "ratio")
        print(f"{'server':<10} {'strategy':<12} " + " ".join(f"{h:>8}" for h in heads))
        for strategy in STRATEGIES:
            base = times[(servers[0][0], strategy)]
            base_total = statistics.median(t for t, _ in base)
            base_write = statistics.median(w for _, w in base)
            for label, _ in servers:
                runs = times[(label, strategy)]
                total = statistics.median(t for t, _ in runs)
                write = statistics.median(w for _, w in runs)
                print(
                    f"{label:<10} {strategy:<12} {total:>8.2f} {total / base_total:>8.2f} "
                    f"{write:>8.2f} {write / base_write:>8.2f}"
                )
        for _, url in servers:
            migrate.reset(load_settings(schema=SCHEMA, database_url=url))


if __name__ == "__main__":
    main()
