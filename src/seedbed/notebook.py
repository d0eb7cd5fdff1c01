"""Jupyter and IPython: telling a notebook kernel apart, and showing uncaught data errors.

:func:`in_notebook` is what progress displays ask to choose HTML over a
terminal bar. :func:`use_notebook_display` makes an *uncaught*
:class:`~seedbed.errors.DataError` render as its message over its report
instead of as a bare traceback; it runs only when called, never on
``import seedbed``. In a terminal the error stays its one-line message.
"""

from __future__ import annotations

import sys
from typing import Any

from seedbed.errors import NOTEBOOK_ROWS, DataError


def in_notebook() -> bool:
    """True inside a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    app = get_ipython() if get_ipython else None
    return app is not None and "IPKernelApp" in getattr(app, "config", {})


def _show_uncaught(
    shell: Any, kind: type[BaseException], error: BaseException, trace: Any, tb_offset: Any = None
) -> list[str]:
    """IPython's custom exception handler: the report as HTML, one line as the traceback.

    IPython leaves the showing to the handler, so it shows the error as the
    usual error output too (one line), which marks the cell as failed.
    """
    if in_notebook():
        from IPython.display import display

        display(error)  # type: ignore[no-untyped-call]
    elif isinstance(error, DataError):
        print(error.report.to_text(NOTEBOOK_ROWS), file=sys.stderr)
    short = [f"{kind.__name__}: {error}"]
    show = getattr(shell, "_showtraceback", None)
    if show is not None:
        show(kind, error, short)
    return short


def use_notebook_display() -> bool:
    """Show uncaught :class:`~seedbed.errors.DataError` s with their report; True if installed.

    Outside IPython it does nothing. (``seedbed.explore.use_notebook_display``
    is the one for DataFrames.)
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        return False
    shell.set_custom_exc((DataError,), _show_uncaught)
    return True


__all__ = ["in_notebook", "use_notebook_display"]
