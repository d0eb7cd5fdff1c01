"""The progress display in a real terminal: tmux runs ``seedbed load``, capture-pane reads it.

While a 200,000-user seed set loads, every screen shows whole rows (one per
phase, each with its total and ETA); when the load ends, successfully or not,
no bar is left behind and the summary or report stands alone. Set
``SEEDBED_TMUX_USERS`` to try another size.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedbed.config import Settings
from seedbed.progress import ProgressDisplay, progress_bar
from tests.helpers import ROOT, run_cli

USERS = int(os.environ.get("SEEDBED_TMUX_USERS", "200000"))
WIDTH = 200
BAR_GLYPHS = ("━", "╸", "╺")
# One row of the display: name, bar, percent, done/total, speed, eta
ROW = re.compile(r"^\S+\s+[━╸╺ ]+\s+\d+%\s+\S+ \S+/\S+ \S+( +\S+ \S+/s)?\s+eta [-\d:]+$")

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Pane:
    """A detached tmux session of its own running bash, WIDTH columns wide."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        exports = " ".join(
            f"{k}={shlex.quote(v)}" for k, v in env.items() if k.startswith("SEEDBED")
        )
        self._tmux("new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", "50", "bash --norc")
        self._tmux("set-option", "-t", name, "history-limit", "5000")
        self.type(f"export {exports} PS1='$ '; cd {shlex.quote(str(ROOT))}; clear")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)
        return done.stdout

    def type(self, line: str) -> None:
        self._tmux("send-keys", "-t", self.name, line, "Enter")

    def screen(self) -> list[str]:
        """Every line of the pane's history and screen, trailing blanks removed."""
        text = self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", self.name)
        return [line.rstrip() for line in text.splitlines() if line.strip() not in ("", "$")]

    def run(self, command: str, timeout: float) -> tuple[list[str], list[list[str]]]:
        """Run ``command``; return the final screen and the screens seen while it ran."""
        self.type("clear")
        time.sleep(0.3)
        self.type(f"{command}; echo EXIT=$?")
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            screen = self.screen()
            if any(line.startswith("EXIT=") for line in screen):
                return screen, seen
            seen.append(screen)
        raise AssertionError(f"{command} did not finish in {timeout} s:\n" + "\n".join(seen[-1]))

    def close(self) -> None:
        self._tmux("kill-session", "-t", self.name)


@pytest.fixture(scope="module")
def big_set(tmp_path_factory: pytest.TempPathFactory, db_env: dict[str, str]) -> Path:
    out = tmp_path_factory.mktemp("big") / "seeds"
    done = run_cli("generate", "--users", str(USERS), str(out), env=db_env)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def pane(settings: Settings, db_env: dict[str, str]) -> Iterator[Pane]:
    env = {**db_env, "SEEDBED_SCHEMA": settings.schema}
    tmux = Pane(f"seedbed-test-{os.getpid()}", env)
    yield tmux
    tmux.close()


def _bars(screen: list[str]) -> list[str]:
    return [line for line in screen if any(glyph in line for glyph in BAR_GLYPHS)]


def _assert_clean_while_running(seen: list[list[str]], command: str) -> None:
    rows = [line for screen in seen for line in _bars(screen)]
    assert rows, "no progress was shown"
    garbled = [line for line in rows if not ROW.match(line)]
    assert garbled == [], "progress rows overwrote each other"
    for screen in seen:  # the command line itself is never overwritten
        assert screen[0].startswith(f"$ {command}"), screen


@needs_tmux
def test_a_200k_user_load_leaves_a_clean_screen(pane: Pane, big_set: Path) -> None:
    command = f"{sys.executable} -m seedbed load {big_set}"
    screen, seen = pane.run(command, timeout=600)
    _assert_clean_while_running(seen, command)
    names = {line.split()[0] for s in seen for line in _bars(s)}
    assert {"validate", "user", "session", "post_tag"} <= names
    assert _bars(screen) == []
    assert screen[0] == f"$ {command}; echo EXIT=$?"
    assert screen[1].startswith("using ")
    header = screen[2].split()
    assert header[0] == "table" and {"inserted", "updated", "skipped"} <= set(header)
    # A busy machine may add one line after the summary: which side was the critical path.
    summary = [line for line in screen[-3:-1] if line.startswith("loaded ")]
    assert len(summary) == 1, screen[-3:]
    assert re.fullmatch(r"loaded [\d,]+ rows into 7 tables \(insert\) in .+", summary[0])
    assert screen[-1] == "EXIT=0"


@needs_tmux
def test_a_failed_load_leaves_only_the_report(pane: Pane, big_set: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(big_set, broken)
    with (broken / "user.csv").open("a", encoding="utf-8") as handle:
        handle.write("not-a-uuid,not-an-email,Someone,false,,2024-01-01T00:00:00Z\n")
    command = f"{sys.executable} -m seedbed load {broken} --max-rows 5"
    screen, seen = pane.run(command, timeout=600)
    _assert_clean_while_running(seen, command)
    assert _bars(screen) == []
    assert screen[1].startswith("using ")
    assert re.fullmatch(r"invalid: \d+ problem\(s\) in 1 table\(s\) \(7 files, .+ s\)", screen[2])
    assert screen[3] == "problems per table and rule:"
    assert screen[-2].startswith("seedbed: error: ") and "nothing was loaded" in screen[-2]
    assert screen[-1] == "EXIT=1"


def test_a_step_outside_any_display_gets_a_display_of_its_own() -> None:
    bar = progress_bar(True, description="index", total=3, unit="steps")
    for _ in range(3):
        bar.update(1)
    bar.close()
    with ProgressDisplay(True) as display:
        inner = progress_bar(True, description="copy", total=10, unit="rows")
        assert type(inner).__name__ == "_Task"  # a row of the open display, not a new one
        inner.close()
        assert display.enabled
    assert type(progress_bar(False, description="x", total=1, unit="rows")).__name__ == "_Silent"


@needs_tmux
def test_validate_shows_progress_then_files_rows_and_seconds(pane: Pane, big_set: Path) -> None:
    command = f"{sys.executable} -m seedbed validate {big_set}"
    screen, seen = pane.run(command, timeout=600)
    _assert_clean_while_running(seen, command)
    assert {line.split()[0] for s in seen for line in _bars(s)} == {"validate"}
    assert _bars(screen) == []
    assert re.fullmatch(
        r"valid: no problems found \(7 files, [\d,]+ rows checked in [\d.]+ s\)", screen[1]
    )
    assert screen[-1] == "EXIT=0"


class _Row:
    """A display row that records what a meter tells it."""

    def __init__(self) -> None:
        self.total: float | None = None
        self.done = 0.0
        self.seen: list[float] = []

    def task(self, description: str, *, total: float | None, unit: str) -> _Row:
        assert (description, unit) == ("validate", "B")
        self.total = total
        return self

    def update(self, n: float | None = 1) -> None:
        self.done += n or 0
        self.seen.append(self.done)

    def close(self) -> None:
        return None


def test_validation_counts_the_bytes_of_its_files_up_to_their_size() -> None:
    from seedbed.models import metadata
    from seedbed.validation.api import check_sources
    from seedbed.validation.meter import ValidationMeter
    from seedbed.validation.sources import resolve_sources

    seeds = ROOT / "data" / "seeds"
    sources = resolve_sources(seeds, str(metadata.schema))
    row = _Row()
    check_sources(sources, meter=ValidationMeter(row, sources))  # type: ignore[arg-type]
    size = sum(path.stat().st_size for path in seeds.glob("*.csv"))
    assert row.total == size
    assert row.done == pytest.approx(size)
    assert row.seen == sorted(row.seen) and len(row.seen) > len(sources)  # chunk by chunk
