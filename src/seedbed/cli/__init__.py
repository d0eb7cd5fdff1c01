"""The ``seedbed`` command: a thin layer over the library.

Each subcommand parses its arguments, calls one public function and turns a
:class:`~seedbed.errors.SeedbedError` into a one-line message and exit code:
0 success, 1 invalid data (or a database that differs from the models),
2 usage, file, configuration or connection errors. Subcommands live in the
modules of this package, one module per group, each exposing ``register``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from seedbed import __version__
from seedbed.cli._output import announce
from seedbed.config import load_settings
from seedbed.errors import SeedbedError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from seedbed.cli import data, db, docs, validate

    parser = argparse.ArgumentParser(
        prog="seedbed",
        description="Declare a PostgreSQL data model once; validate, load and document it.",
        epilog="Start with `seedbed db migrate`, then `seedbed load data/seeds`. "
        "`seedbed COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"seedbed {__version__}")
    parser.add_argument(
        "-q",
        "--quiet",
        dest="quiet_all",
        action="store_true",
        help="no progress and no line naming the database; errors still print",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    db.register(commands)
    data.register(commands)
    docs.register(commands)
    validate.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seedbed`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `seedbed`: what it can do, not a usage error
        parser.print_help()
        return 0
    if args.quiet_all:
        args.quiet = True
    handler: Handler = args.handler
    try:
        if getattr(args, "uses_database", False):
            announce(load_settings(), getattr(args, "quiet", False))
        return handler(args)
    except SeedbedError as exc:
        print(f"seedbed: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("seedbed: interrupted", file=sys.stderr)
        return 130
