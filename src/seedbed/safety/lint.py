"""``lint``: read pending revisions' operations and check them against the rows there now.

Nothing is executed against the database: each revision's ``upgrade()`` runs
with ``alembic.op`` bound to :class:`RecordingOperations`, which collects the
operations instead of running them, and the whole lint happens in a
read-only transaction that is rolled back, so even SQL a revision sends
through ``op.get_bind()`` cannot change anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from alembic.operations import ops
from alembic.script import Script

from seedbed.config import Settings, load_settings
from seedbed.db import database_errors, get_engine
from seedbed.errors import reason
from seedbed.safety import checks
from seedbed.safety.findings import Finding, LintReport
from seedbed.safety.owner import refuse_when_database_is_model
from seedbed.safety.rawsql import enum_value_added, may_change_rows
from seedbed.safety.revisions import (
    RevisionOperations,
    acknowledged_rules,
    migration_context,
    named_scripts,
    pending_scripts,
)
from seedbed.safety.rules import INDEX_SIZE_THRESHOLD
from seedbed.safety.scope import Scope, added_value, converted_value


class RecordingOperations(RevisionOperations):
    """``alembic.op`` that records every operation and executes none."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.recorded: list[ops.MigrateOperation] = []

    def invoke(self, operation: ops.MigrateOperation) -> Any:
        self.recorded.append(operation)
        if isinstance(operation, ops.CreateTableOp):
            # op.create_table returns the Table; revisions may pass it to bulk_insert.
            return operation.to_table(self.migration_context)
        return None


def lint(
    settings: Settings | None = None,
    revisions: Sequence[str] = (),
    *,
    target: str = "head",
    index_size_threshold: int = INDEX_SIZE_THRESHOLD,
) -> LintReport:
    """Check ``revisions`` (default: those pending up to ``target``) against the namespace.

    Raises :class:`~seedbed.errors.MigrationError` for an unknown revision and
    :class:`~seedbed.errors.DatabaseError` when the database cannot be read.

    >>> report = lint(load_settings(schema="shop"))     # doctest: +SKIP
    >>> report.ok, report.to_frame()                      # doctest: +SKIP
    """
    refuse_when_database_is_model("db lint")  # no revisions of its own to check
    settings = settings or load_settings()
    with (
        database_errors("lint failed"),
        get_engine(settings).connect() as connection,
        connection.begin() as transaction,
    ):
        connection.exec_driver_sql("set transaction read only")
        if revisions:
            scripts = named_scripts(settings, revisions)
        else:
            scripts = pending_scripts(connection, settings, target)
        scope = Scope(connection, settings.schema, index_size_threshold=index_size_threshold)
        findings = [f for script in scripts for f in lint_script(script, scope, settings)]
        transaction.rollback()
    return LintReport(tuple(s.revision for s in scripts), tuple(findings))


def lint_script(script: Script, scope: Scope, settings: Settings) -> list[Finding]:
    """The findings for one revision, in the order of its operations."""
    scope.revision = script.revision
    recorder = RecordingOperations(migration_context(scope.connection, settings), script)
    stopped: list[Finding] = []
    savepoint = scope.connection.begin_nested()
    try:
        recorder.run_upgrade()
        savepoint.commit()
    except (Exception, SystemExit) as exc:  # revision code may raise anything; reported
        savepoint.rollback()
        stopped.append(
            scope.finding(
                "unchecked-code",
                "(revision code)",
                f"upgrade() stopped after {len(recorder.recorded)} operation(s): {reason(exc)}",
                error=False,
            )
        )
    findings: list[Finding] = []
    for operation in recorder.recorded:
        findings.extend(checks.check(operation, scope))
        _remember(operation, scope)
    findings.extend(stopped)
    assured = acknowledged_rules(script)
    return [dataclasses.replace(f, acknowledged=f.rule in assured) for f in findings]


def _remember(operation: ops.MigrateOperation, scope: Scope) -> None:
    """Tables and columns created by this step hold no rows for the steps after it, columns
    it converts hold their converted values; enum
    labels it adds cannot be used by the steps after it (one transaction)."""
    scope.raw_sql_before |= may_change_rows(operation, scope.connection)
    added = enum_value_added(operation, scope.connection)
    if added is not None:
        scope.new_enum_values.add(added)
    if isinstance(operation, ops.CreateTableOp):
        scope.new_tables.add(operation.table_name)
    elif isinstance(operation, ops.AddColumnOp):
        key = (operation.table_name, operation.column.name)
        scope.new_columns[key] = added_value(operation.column, scope.connection)
    elif isinstance(operation, ops.AlterColumnOp) and operation.modify_type is not None:
        key = (operation.table_name, operation.column_name)
        if key not in scope.new_columns:
            scope.converted_columns[key] = converted_value(operation, scope.connection)
