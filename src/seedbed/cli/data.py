"""``seedbed load`` and ``seedbed generate``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seedbed.config import load_settings
from seedbed.db import get_engine
from seedbed.loading import load_seed_folder
from seedbed.synthetic import generate_seed_set


def register(commands: Any) -> None:
    load = commands.add_parser("load", help="load a seed folder into the namespace")
    load.add_argument("path", type=Path, help="folder with one <table>.csv per table")
    load.set_defaults(handler=_load)

    generate = commands.add_parser("generate", help="write a synthetic seed set")
    generate.add_argument("out_dir", type=Path, help="folder to write <table>.csv files into")
    generate.add_argument("--users", type=int, required=True, help="number of users")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.set_defaults(handler=_generate)


def _print_counts(counts: dict[str, int]) -> None:
    width = max((len(name) for name in counts), default=5)
    for name, rows in counts.items():
        print(f"{name:<{width}}  {rows:>10,}")


def _load(args: argparse.Namespace) -> int:
    counts = load_seed_folder(args.path, get_engine(load_settings()))
    _print_counts(counts)
    return 0


def _generate(args: argparse.Namespace) -> int:
    _print_counts(generate_seed_set(args.users, args.out_dir, seed=args.seed))
    return 0
