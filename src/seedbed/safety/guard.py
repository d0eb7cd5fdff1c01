"""``upgrade``: what ``seedbed db migrate`` does, lint first, a backup when data will be lost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seedbed import migrate
from seedbed.config import Settings, load_settings
from seedbed.errors import UnsafeMigrationError
from seedbed.safety.backup import backup
from seedbed.safety.findings import LintReport
from seedbed.safety.lint import lint

DATA_LOSS_RULES = frozenset({"ban-drop-column", "ban-drop-table"})
"""Acknowledged findings of these rules, with rows affected, make :func:`upgrade` back up first."""


@dataclass(frozen=True)
class UpgradeOutcome:
    """What :func:`upgrade` checked, the backup it took (if any), and the revision reached."""

    report: LintReport
    backup: Path | None
    revision: str | None


def upgrade(settings: Settings | None = None, revision: str = "head") -> UpgradeOutcome:
    """Lint the revisions pending up to ``revision``, refuse or back up, then apply them.

    Raises :class:`~seedbed.errors.UnsafeMigrationError` (exit code 1, with
    the report) when a finding is an error the revision does not acknowledge;
    then nothing is applied. When a revision acknowledges losing data that is
    there now, the namespace is backed up first (:func:`~seedbed.safety.backup`).
    Lint and upgrade are separate transactions: rows written in between are
    not in the lint's counts.
    """
    settings = settings or load_settings()
    report = lint(settings, target=revision)
    if not report.ok:
        raise UnsafeMigrationError(
            f"{len(report.blocking)} error-level finding(s) in pending revisions; nothing "
            "applied (fix them, or acknowledge them with seedbed_safety_assured in the revision)",
            report,
        )
    loses_data = any(f.rule in DATA_LOSS_RULES and f.affected > 0 for f in report)
    saved = backup(settings) if loses_data else None
    migrate.upgrade(settings, revision)
    return UpgradeOutcome(report, saved, migrate.current_revision(settings))
