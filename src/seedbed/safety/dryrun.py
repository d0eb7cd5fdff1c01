"""``dry_run``: run pending revisions in one transaction on the real database, roll back.

Each operation is executed through :class:`TracingOperations`, which notes it
as a :class:`Step`; the first database error stops the run and is kept as
that step's one-line reason. Operations inside
``op.get_context().autocommit_block()`` (such as CREATE INDEX CONCURRENTLY)
cannot run inside a transaction that is rolled back, so they are listed as
skipped. A namespace that does not exist yet is created inside the
transaction, so it still does not exist afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops

from seedbed.citus import allow_row_triggers
from seedbed.config import Settings, load_settings
from seedbed.db import create_namespace, database_errors, get_engine
from seedbed.errors import reason
from seedbed.safety.revisions import (
    RevisionOperations,
    migration_context,
    pending_scripts,
)


@dataclass(frozen=True)
class Step:
    """One operation of one revision, and what became of it: ok, failed or skipped."""

    revision: str
    operation: str
    status: str
    error: str | None = None

    def render(self) -> str:
        line = f"{self.revision}  {self.operation}  {self.status}"
        return f"{line}: {self.error}" if self.error else line


@dataclass(frozen=True)
class DryRunResult:
    """The steps of a dry run, in order; ``ok`` when none failed."""

    revisions: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def ok(self) -> bool:
        return all(step.status != "failed" for step in self.steps)

    @property
    def failure(self) -> Step | None:
        return next((step for step in self.steps if step.status == "failed"), None)

    def render(self) -> str:
        lines = [step.render() for step in self.steps]
        if self.failure is not None:
            failed = self.failure
            lines.append(
                f"would fail: {failed.revision} {failed.operation}: {failed.error} "
                "(rolled back, nothing changed)"
            )
        elif self.revisions:
            lines.append(
                f"would succeed: {', '.join(self.revisions)} (rolled back, nothing changed)"
            )
        else:
            lines.append("nothing to do: no pending revision")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class _StepFailed(Exception):
    """Raised by :class:`TracingOperations` to stop the revision after a failed step."""


class TracingOperations(RevisionOperations):
    """``alembic.op`` that executes each operation and notes it as a :class:`Step`."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.steps: list[Step] = []

    def invoke(self, operation: ops.MigrateOperation) -> Any:
        name = describe(operation)
        if self.in_autocommit_block:
            self.steps.append(Step(self.script.revision, name, "skipped (autocommit block)"))
            return None
        try:
            result = super().invoke(operation)
        except sa.exc.DBAPIError as exc:
            self.steps.append(Step(self.script.revision, name, "failed", reason(exc)))
            raise _StepFailed from None
        self.steps.append(Step(self.script.revision, name, "ok"))
        return result


def dry_run(settings: Settings | None = None, target: str = "head") -> DryRunResult:
    """Run the revisions pending up to ``target`` in one transaction, then roll it back.

    >>> result = dry_run(load_settings(schema="shop"))   # doctest: +SKIP
    >>> result.ok, result.failure                          # doctest: +SKIP
    """
    settings = settings or load_settings()
    steps: list[Step] = []
    with (
        database_errors("dry run failed"),
        get_engine(settings).connect() as connection,
        connection.begin() as transaction,
    ):
        scripts = pending_scripts(connection, settings, target)
        allow_row_triggers(connection)
        create_namespace(connection, settings.schema)
        for script in scripts:
            tracer = TracingOperations(migration_context(connection, settings), script)
            failed = _run(tracer)
            steps.extend(tracer.steps)
            if failed is not None:
                steps.append(failed)
            if failed is not None or any(s.status == "failed" for s in tracer.steps):
                break
        transaction.rollback()
    return DryRunResult(tuple(s.revision for s in scripts), tuple(steps))


def _run(tracer: TracingOperations) -> Step | None:
    """Run one revision; a failure outside an operation becomes a step of its own."""
    try:
        tracer.run_upgrade()
    except _StepFailed:
        return None
    except (Exception, SystemExit) as exc:  # revision code may raise anything; reported
        return Step(tracer.script.revision, "revision code", "failed", reason(exc))
    return None


def describe(operation: ops.MigrateOperation) -> str:
    """A short name for an operation, e.g. ``add_column user.nickname``."""
    kind = type(operation).__name__.removesuffix("Op")
    verb = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
    if isinstance(operation, ops.ExecuteSQLOp):
        text = " ".join(str(operation.sqltext).split())
        return f"execute {text[:57] + '...' if len(text) > 60 else text}"
    table = getattr(operation, "table_name", None) or getattr(operation, "source_table", None)
    column = getattr(operation, "column_name", None)
    if isinstance(operation, ops.AddColumnOp):
        column = operation.column.name
    name = getattr(operation, "index_name", None) or getattr(operation, "constraint_name", None)
    target = ".".join(str(part) for part in (table, column) if part)
    if name:
        target = f"{name} on {target}" if target else str(name)
    return f"{verb} {target}".strip()
