"""``seedbed db generate | push | migrate | downgrade | check | reset``."""

from __future__ import annotations

import argparse
from typing import Any

from seedbed import migrate
from seedbed.config import load_settings


def register(commands: Any) -> None:
    db = commands.add_parser(
        "db",
        help="create, migrate and check the namespaced schema",
        description="Create, migrate and check the tables of the namespace (SEEDBED_SCHEMA) "
        "in the database (DATABASE_URL, or the embedded server in SEEDBED_HOME).",
    )
    db.set_defaults(uses_database=True)
    verbs = db.add_subparsers(dest="verb", metavar="VERB", required=True)

    generate = verbs.add_parser(
        "generate",
        help="autogenerate a revision into migrations/",
        description="Compare the database with the models and write the difference as a new "
        "Alembic revision file in migrations/versions/. The namespace is not baked into it.",
    )
    generate.add_argument("-m", "--message", required=True, help="what the revision does")
    generate.set_defaults(handler=_generate)

    push = verbs.add_parser(
        "push",
        help="dev: apply the models' diff directly, no revision",
        description="For development: apply the difference between the models and the "
        "database directly, without writing a revision file.",
    )
    push.set_defaults(handler=_push)

    upgrade = verbs.add_parser(
        "migrate",
        help="apply revisions up to head (or --to)",
        description="Create the namespace if needed and apply the revisions in "
        "migrations/versions/ up to head (or --to REV). Run it before the first load.",
    )
    upgrade.add_argument("--to", default="head", help="target revision (default: head)")
    upgrade.set_defaults(handler=_migrate)

    downgrade = verbs.add_parser(
        "downgrade",
        help="undo revisions down to --to",
        description="Undo applied revisions, one by default, or down to --to REV "
        "(`base` undoes all of them).",
    )
    downgrade.add_argument("--to", default="-1", help="target revision (default: -1)")
    downgrade.set_defaults(handler=_downgrade)

    check = verbs.add_parser(
        "check",
        help="exit 1 and list differences if DB != models",
        description="Compare the database with the models (tables, columns, indexes, "
        "constraints, triggers). Exit 0 when they match, 1 with the differences listed.",
    )
    check.set_defaults(handler=_check)

    reset = verbs.add_parser(
        "reset",
        help="drop the namespace and everything in it",
        description="Drop the namespace with every table and row in it. Needs --yes.",
    )
    reset.add_argument("--yes", action="store_true", help="really drop it")
    reset.set_defaults(handler=_reset)


def _generate(args: argparse.Namespace) -> int:
    path = migrate.generate(load_settings(), args.message)
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
