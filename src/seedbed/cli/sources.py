"""The seed arguments ``validate`` and ``load`` share: paths, and ``--table NAME``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from seedbed.errors import SeedError
from seedbed.validation.formats import known_suffixes

if TYPE_CHECKING:
    from seedbed.validation.sources import SeedInput


def seed_files() -> str:
    """The seed files the registered formats read, for help text: ``<table>.csv (.csv.gz, …)``."""
    first, *rest = known_suffixes()
    return f"<table>{first} ({', '.join(rest)})"


def add_table_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--table",
        metavar="NAME",
        help="read the one PATH given as the seed of table NAME, whatever its file is called",
    )


def seed_input(args: argparse.Namespace) -> SeedInput:
    """The paths as :func:`seedbed.validate` and :func:`seedbed.load` take them."""
    if args.table is None:
        return list(args.paths)
    if len(args.paths) != 1:
        raise SeedError("--table binds one file or folder to a table; give exactly one PATH")
    return {args.table: args.paths[0]}
