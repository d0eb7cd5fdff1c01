"""``seedbed docs [--out docs/reference/data-models.md] [--check]``."""

from __future__ import annotations

import argparse
from typing import Any

from seedbed.cli import summary
from seedbed.docs import DEFAULT_PATH, check_docs, write_docs


def register(commands: Any) -> None:
    docs = commands.add_parser(
        "docs",
        help=summary("docs"),
        description=(
            "Generate the Markdown data-model document from the models. With --check, "
            "write nothing: exit 1 and name the stale sections when the file differs."
        ),
    )
    docs.add_argument(
        "--out",
        default=str(DEFAULT_PATH),
        metavar="PATH",
        help=f"the document to write or check (default: {DEFAULT_PATH})",
    )
    docs.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 and list what is stale when the file is not current",
    )
    docs.set_defaults(handler=_docs)


def _docs(args: argparse.Namespace) -> int:
    if args.check:
        stale = check_docs(args.out)
        if not stale:
            print(f"{args.out} is current")
            return 0
        print(f"{args.out} is stale; run `seedbed docs --out {args.out}`:")
        for line in stale:
            print(f"  - {line}")
        return 1
    changed = write_docs(args.out)
    print(f"wrote {args.out}" if changed else f"{args.out} is already current")
    return 0
