"""``seedbed load`` and ``seedbed generate``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from seedbed.cli import summary
from seedbed.cli._output import add_output_options, announce, show_problems, whole_number
from seedbed.cli.sources import add_table_option, seed_files, seed_input
from seedbed.errors import DataError
from seedbed.loadmode import LoadMode, Strategy


def register(commands: Any) -> None:
    load = commands.add_parser(
        "load",
        help=summary("load"),
        description=(
            "Validate every file first, then COPY all tables in foreign-key order inside one "
            "transaction. Invalid data exits 1 and writes nothing."
        ),
    )
    load.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help=f"a seed folder, files named {seed_files()}, or <table>/ folders of part files",
    )
    add_table_option(load)
    load.add_argument(
        "--mode",
        choices=LoadMode.choices(),
        default="insert",
        help=LoadMode.described(),
    )
    load.add_argument(
        "--strategy",
        choices=Strategy.choices(),
        default="auto",
        help=Strategy.described(),
    )
    load.add_argument(
        "--dry-run", action="store_true", help="do everything but commit; report what would happen"
    )
    add_output_options(load, json_help="print the result (or every problem) as JSON")
    load.set_defaults(handler=_load)

    generate = commands.add_parser(
        "generate",
        help=summary("generate"),
        description=(
            "Write one CSV per table of the model, tables added later included; rows are "
            "proportional to --users (or to --rows, the rows of each table without a parent) "
            "and satisfy every key, foreign key and rule."
        ),
    )
    generate.add_argument("out_dir", type=Path, help="folder to write <table>.csv files into")
    size = generate.add_mutually_exclusive_group(required=True)
    size.add_argument("--users", type=whole_number, help="number of users")
    size.add_argument(
        "--rows",
        type=whole_number,
        help="rows of each table without a parent (any model, with or without a user table); "
        "the others scale with them",
    )
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument(
        "--invalid-fraction",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of rows (0 to 1) to make invalid, for demos (default 0)",
    )
    generate.set_defaults(handler=_generate)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(name) for name in counts), default=5)
    for name, rows in counts.items():
        print(f"{name:<{width}}  {rows:>10,}")


def _load(args: argparse.Namespace) -> int:
    from seedbed.config import load_settings
    from seedbed.db import get_database
    from seedbed.loading import load

    source = seed_input(args)
    settings = load_settings()
    announce(settings, args.quiet)
    get_database(settings)  # started and checked before the seeds are read
    try:
        result = load(
            source,
            mode=args.mode,
            strategy=args.strategy,
            dry_run=args.dry_run,
            progress=False if args.quiet else None,
        )
    except DataError as exc:
        show_problems(exc.report, args, sys.stderr)
        raise
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
    elif not args.quiet:
        print(result)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from seedbed.synthetic import generate_seed_set

    users = args.users if args.users is not None else args.rows
    counts = generate_seed_set(
        users,
        args.out_dir,
        seed=args.seed,
        invalid_fraction=args.invalid_fraction,
        rows=args.rows,
    )
    _print_counts(counts)
    return 0
