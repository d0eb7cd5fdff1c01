"""``seedbed validate PATH... [--against-db] [--mode M] [--json] [--failures F] [--max-rows N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seedbed.cli import summary
from seedbed.cli._output import add_output_options, announce, show_problems
from seedbed.cli.sources import add_table_option, seed_files, seed_input
from seedbed.config import load_settings
from seedbed.loadmode import LoadMode, spoken
from seedbed.validation.hints import in_database_hint


def register(commands: Any) -> None:
    command = commands.add_parser(
        "validate",
        help=summary("validate"),
        description=(
            f"Check seed files ({seed_files()}, folders of part files, or folders of those) "
            "against every rule of the model and report file, line, "
            "column, rule and value for each problem. "
            "Exit 0 valid, 1 invalid, 2 unreadable input or no database."
        ),
    )
    command.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="seed file or folder")
    add_table_option(command)
    command.add_argument(
        "--against-db",
        action="store_true",
        help="also check foreign keys and unique values against the database's rows",
    )
    command.add_argument(
        "--mode",
        choices=LoadMode.choices(),
        default="insert",
        help=_mode_help(),
    )
    add_output_options(command, json_help="print every problem as JSON")
    command.set_defaults(handler=_validate)


def _mode_help() -> str:
    flagging = [mode.value for mode in LoadMode if mode.existing_keys_are_errors]
    merging = [mode.value for mode in LoadMode if not mode.existing_keys_are_errors]
    return (
        f"the verdict `seedbed load --mode M` would give: with --against-db, "
        f"{spoken(flagging, 'and')} flag{'s' * (len(flagging) == 1)} keys already in the "
        f"database, {spoken(merging, 'and')} do{'es' * (len(merging) == 1)} not (default insert)"
    )


def _validate(args: argparse.Namespace) -> int:
    from seedbed.validation import validate

    engine = None
    if args.against_db:
        from seedbed.db import get_engine

        settings = load_settings()
        announce(settings, args.quiet)
        engine = get_engine(settings)
    report = validate(
        seed_input(args), engine=engine, mode=args.mode, progress=False if args.quiet else None
    )
    if report.ok:
        if args.json:
            print(report.to_json(indent=2))
        elif not args.quiet:
            print(report)
        return 0
    show_problems(report, args, sys.stdout)
    hint = in_database_hint(report)
    if hint and not args.json:
        print(hint, file=sys.stderr)
    return 1
