"""``seedbed validate PATH... [--json] [--against-db]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seedbed.cli.sources import add_table_option, seed_input
from seedbed.config import load_settings
from seedbed.db import get_engine
from seedbed.validation import validate


def register(commands: Any) -> None:
    command = commands.add_parser(
        "validate",
        help="check seed files against the model's rules; exit 1 when invalid",
        description=(
            "Check seed files (CSV, TSV, .csv.gz, JSON Lines, Parquet, folders of part files, "
            "or folders of those) against every rule of the model and report file, line, "
            "column, rule and value for each problem. "
            "Exit 0 valid, 1 invalid, 2 unreadable input or no database."
        ),
    )
    command.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="seed file or folder")
    command.add_argument("--json", action="store_true", help="print the problems as JSON")
    add_table_option(command)
    command.add_argument(
        "--against-db",
        action="store_true",
        help="also check foreign keys and unique values against the database's rows",
    )
    command.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    engine = get_engine(load_settings()) if args.against_db else None
    report = validate(seed_input(args), engine=engine)
    if args.json:
        print(report.to_json(indent=2))
    else:
        print(report)
    sys.stdout.flush()
    return 0 if report.ok else 1
