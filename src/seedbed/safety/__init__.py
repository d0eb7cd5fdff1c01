"""Migration safety: the seed's migration guidelines as functions (and CLI commands).

- :func:`lint` checks pending revisions with static rules and the rows there now;
- :func:`dry_run` runs them in one transaction and rolls back;
- :func:`backup` / :func:`restore` write and put back the namespace with pg_dump.

:func:`seedbed.migrate.upgrade` (``db migrate``) builds on them: lint, refuse,
back up if data will be lost, apply.

A revision acknowledges findings in its own file with a module-level set of
rule ids, ``seedbed_safety_assured = {"ban-drop-column"}``.
"""

from __future__ import annotations

from seedbed.safety.backup import backup, restore
from seedbed.safety.dryrun import DryRunResult, Step, dry_run
from seedbed.safety.findings import Finding, LintReport, Severity
from seedbed.safety.lint import lint
from seedbed.safety.rules import INDEX_SIZE_THRESHOLD, RULES

__all__ = [
    "INDEX_SIZE_THRESHOLD",
    "RULES",
    "DryRunResult",
    "Finding",
    "LintReport",
    "Severity",
    "Step",
    "backup",
    "dry_run",
    "lint",
    "restore",
]
