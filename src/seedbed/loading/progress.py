"""Progress bars for long loads: tqdm in a terminal, a widget in Jupyter, nothing otherwise."""

from __future__ import annotations

import sys
from typing import Any, Protocol


class Bar(Protocol):
    def update(self, n: float | None = 1) -> bool | None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: float | None = 1) -> bool | None:
        return None

    def close(self) -> None:
        return None


def in_notebook() -> bool:
    """True inside a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(shell, "get_ipython", None)
    app = get_ipython() if get_ipython else None
    return app is not None and "IPKernelApp" in getattr(app, "config", {})


def wanted(progress: bool | None) -> bool:
    """Explicit choice, else: on in notebooks and when stderr is a terminal."""
    if progress is not None:
        return progress
    return in_notebook() or sys.stderr.isatty()


def progress_bar(enabled: bool, *, description: str, total: int | None, unit: str) -> Bar:
    """A bar counting ``unit`` up to ``total``; a silent stand-in when not ``enabled``."""
    if not enabled:
        return _Silent()
    options: dict[str, Any] = {
        "desc": description,
        "total": total,
        "unit": unit,
        "unit_scale": True,
        "leave": True,
        "dynamic_ncols": True,
    }
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm

            bar: Bar = notebook_tqdm(**options)
            return bar
        except ImportError:
            pass  # no widgets installed: the text bar below renders in the notebook too
    from tqdm import tqdm

    text_bar: Bar = tqdm(file=sys.stderr, **options)
    return text_bar
