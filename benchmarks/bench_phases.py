"""Where validation's CPU goes: the phases of ``seedbed.validate()``, one thread, CPU seconds.

Run it from the repository root, after ``bench_validate.py`` has written its file::

    .venv/bin/python benchmarks/bench_phases.py
    .venv/bin/python benchmarks/bench_phases.py bench-data/validate/user-200000/user.csv

It reads every chunk of the file in turn, on the calling thread, and sums the
CPU time (``time.process_time``: every thread of the process, so Arrow's and
Polars' own threads count) of each phase over the chunks:

- ``read``: the reader cutting the file into blocks at record ends;
- ``parse+type``: a block parsed the way COPY reads it, each column typed;
- ``rows``: the chunk's own checks (NOT NULL, the rules, keys within it);
- ``across``: keys across chunks, files and the database.

The first pass includes first-use costs (imports, compiled patterns); the
second is warm. CPU seconds do not depend on how busy the machine is as much
as wall time does, so before/after comparisons can run on a shared machine.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from seedbed.facts import declared_metadata
from seedbed.validation.sources import SeedSource, read_seed_pieces, resolve_sources
from seedbed.validation.validator import SeedValidator

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "bench-data" / "validate" / "user-1000000" / "user.csv"


def phases(path: Path) -> dict[str, float]:
    """CPU seconds of each phase over every chunk of ``path``."""
    sources = resolve_sources([path], str(declared_metadata().schema))
    validator = SeedValidator([s.table for s in sources.values()])
    spent: dict[str, float] = defaultdict(float)
    for seed in sources.values():
        for fmt in seed.format.files():
            source = SeedSource(seed.table, fmt)
            pieces = iter(read_seed_pieces(source))
            while True:
                start = time.process_time()
                typed = next(pieces, None)
                read = time.process_time()
                spent["read"] += read - start
                if typed is None:
                    break
                chunk = typed()
                parsed = time.process_time()
                rows = validator.check_rows(source, chunk)
                checked = time.process_time()
                validator.check_across(source, chunk, rows)
                spent["parse+type"] += parsed - read
                spent["rows"] += checked - parsed
                spent["across"] += time.process_time() - checked
        validator.table_done(seed.table.name)  # as check_sources does after a source
    validator.finish()
    return spent


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        sys.exit(f"{path}: no such file (run benchmarks/bench_validate.py first)")
    for label in ("first", "warm"):
        spent = phases(path)
        shown = "  ".join(f"{name} {seconds:.3f}" for name, seconds in spent.items())
        print(f"{label}: {shown}  total {sum(spent.values()):.3f} CPU-s")


if __name__ == "__main__":
    main()
