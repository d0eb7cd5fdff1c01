"""One progress display for a whole command: validation, COPY per table, rebuild steps.

Every phase is a row (a *task*) of one display, so rows never overwrite each
other. In a terminal the display is ``rich.progress`` on stderr; in Jupyter it
is one HTML block updated in place (no widgets needed, nothing on stderr);
anywhere else, or when turned off, nothing at all. The display is
*transient*: when it stops, after success or failure, it leaves nothing on
screen, so the summary or the error that follows stands alone.

It sits below validation and loading, which both draw on it (validation's
byte meter is :class:`seedbed.validation.meter.ValidationMeter`).

How the loader uses it::

    with progress_display(progress) as display:          # None: on in terminals and notebooks
        bar = display.task("user", total=file_bytes, unit="B")
        bar.update(len(block))
        bar.close()

:func:`progress_bar` gives a task on the display that is open (from any
thread), or a display of its own when none is, so a step such as an index
rebuild only needs ``progress_bar(enabled, description=..., total=..., unit=...)``.
"""

from __future__ import annotations

import html
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from seedbed.notebook import in_notebook

if TYPE_CHECKING:
    from rich.progress import Progress


class Bar(Protocol):
    """What callers hold: ``update(n)`` adds ``n`` units done, ``close()`` ends the row."""

    def update(self, n: float | None = 1) -> bool | None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: float | None = 1) -> bool | None:
        return None

    def close(self) -> None:
        return None


def wanted(progress: bool | None) -> bool:
    """Explicit choice, else: on in notebooks and when stderr is a terminal."""
    if progress is not None:
        return progress
    return in_notebook() or sys.stderr.isatty()


class _Task:
    """One row of a display; safe to update from any thread."""

    def __init__(self, board: _Board, key: int) -> None:
        self._board = board
        self._key = key

    def update(self, n: float | None = 1) -> bool | None:
        self._board.advance(self._key, float(n or 0))
        return None

    def close(self) -> None:
        self._board.finish(self._key)


class _Board(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def add(self, description: str, total: float | None, unit: str) -> int: ...
    def advance(self, key: int, n: float) -> None: ...
    def finish(self, key: int) -> None: ...


def _amount(value: float, unit: str) -> str:
    """``1.2 MB``, ``340k rows``: short, for a progress row."""
    if unit == "B":
        for power, suffix in ((30, "GB"), (20, "MB"), (10, "kB")):
            if value >= 1 << power:
                return f"{value / (1 << power):.1f} {suffix}"
        return f"{value:.0f} B"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{suffix} {unit}"
    return f"{value:.0f} {unit}"


class _RichBoard:
    """``rich.progress`` on stderr, transient."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self._units: dict[int, str] = {}
        self._progress: Progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[done]}"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
            refresh_per_second=8,
        )
        self._lock = threading.Lock()

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def add(self, description: str, total: float | None, unit: str) -> int:
        with self._lock:
            done = _amount(0, unit) + (f"/{_amount(total, unit)}" if total else "")
            key = int(self._progress.add_task(description, total=total, done=done, speed=""))
            self._units[key] = unit
            return key

    def advance(self, key: int, n: float) -> None:
        from rich.progress import TaskID

        with self._lock:
            self._progress.advance(TaskID(key), n)
            task = self._progress.tasks[key]
            unit = self._units[key]
            done = _amount(task.completed, unit)
            total = f"/{_amount(task.total, unit)}" if task.total else ""
            speed = task.speed
            rate = f"{_amount(speed, unit)}/s" if speed else ""
            self._progress.update(TaskID(key), done=done + total, speed=rate)

    def finish(self, key: int) -> None:
        from rich.progress import TaskID

        with self._lock:
            task = self._progress.tasks[key]
            if task.total is not None and task.completed < task.total:
                self._progress.update(TaskID(key), completed=task.total)
            self._progress.stop_task(TaskID(key))


class _HtmlBoard:
    """One HTML block in a Jupyter cell, updated in place at most every 0.3 s, then cleared."""

    INTERVAL = 0.3

    def __init__(self) -> None:
        self._rows: list[list[Any]] = []  # description, done, total, unit, started, finished
        self._lock = threading.Lock()
        self._handle: Any = None
        self._shown = 0.0

    def start(self) -> None:
        from IPython.display import display

        self._handle = display(  # type: ignore[no-untyped-call]
            {"text/html": ""}, raw=True, display_id=True
        )

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.update({"text/html": ""}, raw=True)

    def add(self, description: str, total: float | None, unit: str) -> int:
        with self._lock:
            self._rows.append([description, 0.0, total, unit, time.monotonic(), None])
            key = len(self._rows) - 1
        self._show(force=True)
        return key

    def advance(self, key: int, n: float) -> None:
        with self._lock:
            self._rows[key][1] += n
        self._show()

    def finish(self, key: int) -> None:
        with self._lock:
            row = self._rows[key]
            row[1] = row[2] if row[2] is not None else row[1]
            row[5] = time.monotonic()
        self._show(force=True)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._handle is None or (not force and now - self._shown < self.INTERVAL):
            return
        self._shown = now
        with self._lock:
            body = "".join(self._row_html(row, now) for row in self._rows)
        self._handle.update({"text/html": f"<table>{body}</table>"}, raw=True)

    @staticmethod
    def _row_html(row: list[Any], now: float) -> str:
        description, done, total, unit, started, finished = row
        elapsed = (finished or now) - started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = _amount(done, unit) + (f" / {_amount(total, unit)}" if total else "")
        if total and rate > 0 and finished is None:
            text += f", {_amount(rate, unit)}/s, eta {max(total - done, 0) / rate:.0f} s"
        value = f' value="{min(done, total):.0f}" max="{total:.0f}"' if total else ""
        return (
            f"<tr><td><code>{html.escape(description)}</code></td>"
            f"<td><progress{value}></progress></td><td>{html.escape(text)}</td></tr>"
        )


class ProgressDisplay:
    """A display whose rows are the phases of one command; a context manager.

    Disabled, it hands out silent tasks and shows nothing.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._board: _Board | None = None
        self._closed = False

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._board = _HtmlBoard() if in_notebook() else _RichBoard()
            self._board.start()
            _open.append(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the display and clear it from the screen."""
        if self._board is not None and not self._closed:
            self._closed = True
            if self in _open:
                _open.remove(self)
            self._board.stop()

    def task(self, description: str, *, total: float | None, unit: str) -> Bar:
        """A new row counting ``unit`` (``"B"`` for bytes, else e.g. ``"rows"``) to ``total``."""
        if self._board is None or self._closed:
            return _Silent()
        return _Task(self._board, self._board.add(description, total, unit))


_open: list[ProgressDisplay] = []


def progress_display(progress: bool | None) -> ProgressDisplay:
    """A display, on when :func:`wanted` says so; enter it with ``with``."""
    return ProgressDisplay(wanted(progress))


class _Standalone:
    """A task on a display of its own, which closes with it."""

    def __init__(self, display: ProgressDisplay, bar: Bar) -> None:
        self._display = display
        self._bar = bar

    def update(self, n: float | None = 1) -> bool | None:
        return self._bar.update(n)

    def close(self) -> None:
        self._bar.close()
        self._display.close()


def progress_bar(enabled: bool, *, description: str, total: float | None, unit: str) -> Bar:
    """A row on the display that is open, else on a new one; silent when not ``enabled``."""
    if not enabled:
        return _Silent()
    if _open:
        return _open[-1].task(description, total=total, unit=unit)
    display = ProgressDisplay(True).__enter__()
    return _Standalone(display, display.task(description, total=total, unit=unit))


__all__ = [
    "Bar",
    "ProgressDisplay",
    "progress_bar",
    "progress_display",
    "wanted",
]
