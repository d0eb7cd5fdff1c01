"""``seedbed db generate | push | migrate | downgrade | check | reset``."""

from __future__ import annotations

import argparse
from typing import Any

from seedbed import migrate
from seedbed.config import load_settings


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="create, migrate and check the namespaced schema")
    verbs = db.add_subparsers(dest="verb", metavar="VERB", required=True)

    generate = verbs.add_parser("generate", help="autogenerate a revision into migrations/")
    generate.add_argument("-m", "--message", required=True, help="what the revision does")
    generate.set_defaults(handler=_generate)

    push = verbs.add_parser("push", help="dev: apply the models' diff directly, no revision")
    push.set_defaults(handler=_push)

    upgrade = verbs.add_parser("migrate", help="apply revisions up to head (or --to)")
    upgrade.add_argument("--to", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=_migrate)

    downgrade = verbs.add_parser("downgrade", help="undo revisions down to --to")
    downgrade.add_argument("--to", default="-1", help="target revision (default: -1)")
    downgrade.set_defaults(handler=_downgrade)

    check = verbs.add_parser("check", help="exit 1 and list differences if DB != models")
    check.set_defaults(handler=_check)

    reset = verbs.add_parser("reset", help="drop the namespace and everything in it")
    reset.add_argument("--yes", action="store_true", help="really drop it")
    reset.set_defaults(handler=_reset)


def _generate(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = migrate.generate(settings, args.message)
    if path is None:
        print(f"{settings.schema}: database matches the models; no revision written")
        return 0
    print(f"wrote {path}")
    return 0


def _push(args: argparse.Namespace) -> int:
    settings = load_settings()
    changes = migrate.push(settings)
    for line in changes:
        print(line)
    print(f"{settings.schema}: {len(changes)} change(s) applied" if changes else "up to date")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.upgrade(settings, args.to)
    print(f"{settings.schema}: at revision {migrate.current_revision(settings)}")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.downgrade(settings, args.to)
    print(f"{settings.schema}: at revision {migrate.current_revision(settings) or 'base'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = load_settings()
    differences = migrate.check(settings)
    if not differences:
        print(f"{settings.schema}: database matches the models")
        return 0
    print(f"{settings.schema}: {len(differences)} difference(s) between database and models:")
    for line in differences:
        print(f"  - {line}")
    return 1


def _reset(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.yes:
        print(f"refusing to drop namespace {settings.schema!r} without --yes")
        return 2
    migrate.reset(settings)
    print(f"dropped namespace {settings.schema}")
    return 0
