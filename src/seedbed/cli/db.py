"""``seedbed db``: generate, push, migrate, downgrade, check, reset, lint, backup, restore.

:mod:`seedbed.migrate` and :mod:`seedbed.safety` (with Alembic) are imported by
the commands that use them, not when the parser is built: ``seedbed load``
does not wait for them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seedbed.cli import summary
from seedbed.config import load_settings
from seedbed.errors import SeedbedError, UnsafeMigrationError


def register(commands: Any) -> None:
    db = commands.add_parser(
        "db",
        help=summary("db"),
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
        help="lint, then apply revisions up to head (or --to); --dry-run rolls back",
        description="Create the namespace if needed, lint the pending revisions and apply "
        "them up to head (or --to REV); --dry-run runs them in one transaction and rolls "
        "back. Run it before the first load.",
    )
    upgrade.add_argument("--to", default="head", help="target revision (default: head)")
    upgrade.add_argument(
        "--dry-run",
        action="store_true",
        help="run the pending revisions in one transaction, print each step, roll back",
    )
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

    pull = verbs.add_parser(
        "pull",
        help="write the namespace's tables as model modules (SEEDBED_MODELS=DIR)",
        description="Read the namespace's tables from the database and write them into "
        "DIR as model modules, one per table, with base.py; print what was carried, what "
        "was left alone (views, functions, triggers, policies) and where each CHECK runs.",
    )
    pull.add_argument(
        "--out", type=Path, default=Path("models"), help="empty folder to write (default: models)"
    )
    pull.add_argument(
        "--adopt",
        action="store_true",
        help="also write a baseline revision into --migrations and stamp the namespace at it, "
        "so seedbed's migrations own it from here on",
    )
    pull.add_argument(
        "--migrations",
        type=Path,
        help="with --adopt: the Alembic folder to start (default: SEEDBED_MIGRATIONS, else "
        "migrations/ beside --out)",
    )
    pull.set_defaults(handler=_pull)

    reset = verbs.add_parser(
        "reset",
        help="drop the namespace and everything in it",
        description="Drop the namespace with every table and row in it. Needs --yes.",
    )
    reset.add_argument("--yes", action="store_true", help="really drop it")
    reset.set_defaults(handler=_reset)

    lint = verbs.add_parser(
        "lint",
        help="check revisions (default: pending) against the rules and the data there now",
        description="Check revisions (default: the pending ones) against the migration "
        "rules and the rows in the namespace now; each finding names the rule, the revision "
        "and the table.column, what happens to the rows and the fix. Exit 1 on error findings.",
    )
    lint.add_argument("revisions", nargs="*", metavar="REV", help="revisions to check")
    lint.set_defaults(handler=_lint)

    backup = verbs.add_parser(
        "backup",
        help="pg_dump the namespace (schema and data) to a file",
        description="Write the namespace, schema and data, with pg_dump in custom format "
        "(default: .seedbed/backups/<schema>-<UTC time>.dump) and print the file's path.",
    )
    backup.add_argument("--out", type=Path, help="file to write (default: .seedbed/backups/)")
    backup.set_defaults(handler=_backup)

    restore = verbs.add_parser(
        "restore",
        help="replace the namespace with a backup",
        description="Replace the namespace with a file written by `seedbed db backup`, in "
        "one transaction: a failed restore changes nothing. Needs --yes.",
    )
    restore.add_argument("file", type=Path, help="a file written by `seedbed db backup`")
    restore.add_argument("--yes", action="store_true", help="really replace the namespace")
    restore.set_defaults(handler=_restore)


def _generate(args: argparse.Namespace) -> int:
    from seedbed import migrate, safety
    from seedbed.safety.revisions import revision_at

    settings = load_settings()
    path = migrate.generate(settings, args.message)
    if path is None:
        print(f"{settings.schema}: database matches the models; no revision written")
        return 0
    print(f"wrote {path}")
    report = safety.lint(settings, [revision_at(settings, path)])
    if len(report):
        print(report.render())
    return 0


def _push(args: argparse.Namespace) -> int:
    from seedbed import migrate

    settings = load_settings()
    changes = migrate.push(settings)
    for line in changes:
        print(line)
    print(f"{settings.schema}: {len(changes)} change(s) applied" if changes else "up to date")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from seedbed import migrate, safety

    settings = load_settings()
    if args.dry_run:
        result = safety.dry_run(settings, args.to)
        print(result.render())
        return 0 if result.ok else 1
    try:
        outcome = migrate.upgrade(settings, args.to)
    except UnsafeMigrationError as exc:
        print(exc.report.render())
        raise
    if len(outcome.report):
        print(outcome.report.render())
    if outcome.backup is not None:
        print(f"backed up {settings.schema} to {outcome.backup} before losing data")
    print(f"{settings.schema}: at revision {outcome.revision or 'base'}")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    from seedbed import migrate

    settings = load_settings()
    migrate.downgrade(settings, args.to)
    print(f"{settings.schema}: at revision {migrate.current_revision(settings) or 'base'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from seedbed import migrate

    settings = load_settings()
    differences = migrate.check(settings)
    if not differences:
        print(f"{settings.schema}: database matches the models")
        return 0
    print(f"{settings.schema}: {len(differences)} difference(s) between database and models:")
    for line in differences:
        print(f"  - {line}")
    return 1


def _pull(args: argparse.Namespace) -> int:
    if args.adopt:
        from seedbed.adopt import adopt

        lines = adopt(load_settings(), args.out, args.migrations).lines()
    else:
        from seedbed.facts.pull import pull

        if args.migrations is not None:
            raise SeedbedError("db pull: --migrations needs --adopt")
        lines = pull(load_settings(), args.out).lines()
    for line in lines:
        print(line)
    return 0


def _reset(args: argparse.Namespace) -> int:
    from seedbed import migrate

    settings = load_settings()
    _require_yes(args, "drop", settings.schema)
    migrate.reset(settings)
    print(f"dropped namespace {settings.schema}")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from seedbed import safety

    report = safety.lint(load_settings(), args.revisions)
    print(report.render())
    return 0 if report.ok else 1


def _backup(args: argparse.Namespace) -> int:
    from seedbed import safety

    settings = load_settings()
    path = safety.backup(settings, args.out)
    print(f"backed up {settings.schema} to {path}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from seedbed import safety

    settings = load_settings()
    _require_yes(args, "replace", settings.schema)
    safety.restore(settings, args.file)
    print(f"restored {settings.schema} from {args.file}")
    return 0


def _require_yes(args: argparse.Namespace, verb: str, schema: str) -> None:
    """Refuse a destructive verb not confirmed with ``--yes``: an error (exit 2), nothing done."""
    if not args.yes:
        raise SeedbedError(f"refusing to {verb} namespace {schema!r} without --yes")
