"""How errors that carry a report look in Jupyter and IPython.

:class:`ReportDisplay` gives :class:`~seedbed.errors.DataError` and
:class:`~seedbed.errors.LoadError` a ``_repr_html_``: the message, then the
report (problems per rule first, then the rows). :func:`install_ipython_hook`
makes an *uncaught* one render the same way instead of as a bare traceback;
``import seedbed`` installs it when it runs inside IPython. In a terminal the
error stays its one-line message.
"""

from __future__ import annotations

import html
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seedbed.validation import ValidationReport

#: Problem rows an error shows in a notebook (``error.report.failures`` has them all).
NOTEBOOK_ROWS = 20


class ReportDisplay:
    """Mixin for exceptions with an optional ``report`` and, for load errors, a place."""

    def problem_report(self) -> ValidationReport:
        """The report carried, or a one-row report naming what the database refused."""
        from seedbed.validation import ValidationReport

        report = getattr(self, "report", None)
        if isinstance(report, ValidationReport):
            return report
        return ValidationReport.from_rows(
            file=getattr(self, "file", None) or "",
            table=getattr(self, "table", None) or "",
            lines=[getattr(self, "line", None)],
            column=None,
            rule=getattr(self, "constraint", None) or "load",
            values=None,
            message=str(self),
        )

    def _repr_html_(self) -> str:
        title = f"<strong>{type(self).__name__}</strong>: {html.escape(str(self))}"
        body = self.problem_report().to_html(NOTEBOOK_ROWS)
        return (
            '<div style="border-left: 4px solid #c62828; padding-left: 0.6em">'
            f"<p>{title}</p>{body}</div>"
        )


def _show_uncaught(
    shell: Any, kind: type[BaseException], error: BaseException, trace: Any, tb_offset: Any = None
) -> list[str]:
    """IPython's custom exception handler: the report as HTML, one line as the traceback.

    IPython leaves the showing to the handler, so it shows the error as the
    usual error output too (one line), which marks the cell as failed.
    """
    from seedbed.loading.progress import in_notebook

    if in_notebook():
        from IPython.display import display

        display(error)  # type: ignore[no-untyped-call]
    elif isinstance(error, ReportDisplay):
        print(error.problem_report().to_text(NOTEBOOK_ROWS), file=sys.stderr)
    short = [f"{kind.__name__}: {error}"]
    show = getattr(shell, "_showtraceback", None)
    if show is not None:
        show(kind, error, short)
    return short


def install_ipython_hook() -> bool:
    """Render uncaught :class:`~seedbed.errors.DataError` s with their report; True if installed."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        return False
    from seedbed.errors import DataError

    shell.set_custom_exc((DataError,), _show_uncaught)
    return True


__all__ = ["NOTEBOOK_ROWS", "ReportDisplay", "install_ipython_hook"]
