"""What a lint finds: one :class:`Finding` per problem, collected in a :class:`LintReport`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class Severity(StrEnum):
    """``error`` blocks ``db migrate`` unless the revision acknowledges it; ``warning`` never."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem of one operation in one revision.

    ``target`` is ``table.column`` (or ``table`` for table-level rules),
    ``effect`` says what will happen to the rows there now (with counts from
    the database), ``fix`` what to write instead. ``affected`` is the number of
    rows or values the effect counts (0 when there are none).
    """

    rule: str
    severity: Severity
    revision: str
    target: str
    effect: str
    fix: str
    affected: int = 0
    acknowledged: bool = False

    @property
    def blocking(self) -> bool:
        """An error-level finding its revision did not acknowledge."""
        return self.severity is Severity.ERROR and not self.acknowledged

    def render(self) -> str:
        label = "acknowledged" if self.acknowledged else self.severity.value
        return (
            f"{label}: {self.rule} in {self.revision} on {self.target}\n"
            f"  {self.effect}\n"
            f"  fix: {self.fix}"
        )


@dataclass(frozen=True)
class LintReport:
    """The findings for the revisions that were checked, in upgrade order."""

    revisions: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default=())

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    @property
    def ok(self) -> bool:
        """True when no finding blocks (warnings and acknowledged errors do not)."""
        return not self.blocking

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    def to_frame(self) -> pd.DataFrame:
        """One row per finding, with every field of :class:`Finding` as a column."""
        import pandas as pd  # only when asked: the CLI does not need it

        columns = ["rule", "severity", "revision", "target", "effect", "fix", "affected"]
        rows = [
            {
                **{c: getattr(f, c) for c in columns},
                "severity": f.severity.value,
                "acknowledged": f.acknowledged,
            }
            for f in self.findings
        ]
        return pd.DataFrame(rows, columns=[*columns, "acknowledged"])

    def render(self) -> str:
        """Every finding, then a one-line summary."""
        checked = ", ".join(self.revisions) if self.revisions else "no pending revision"
        errors = sum(f.blocking for f in self.findings)
        warnings = sum(f.severity is Severity.WARNING and not f.acknowledged for f in self.findings)
        acknowledged = sum(f.acknowledged for f in self.findings)
        lines = [f.render() for f in self.findings]
        lines.append(
            f"checked {checked}: {errors} error(s), {warnings} warning(s), "
            f"{acknowledged} acknowledged"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()
