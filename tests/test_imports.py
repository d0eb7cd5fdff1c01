"""Every module of seedbed imports on its own, in a fresh interpreter.

A module that only works when another one happens to be imported first (an
import cycle that breaks, or a name read from a partially initialised module)
fails here. One runner process imports the heavy third-party libraries once,
then forks a child per module; each child has imported no seedbed module
before it imports its one.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import seedbed
from tests.helpers import ROOT

# Imported by the runner before it forks; none of them imports seedbed.
_PRELOADED = ("numpy", "pandas", "pyarrow", "sqlalchemy", "pandera", "alembic", "psycopg")

_RUNNER = textwrap.dedent(
    """
    import importlib, json, os, sys, traceback

    for name in sys.argv[2:]:
        importlib.import_module(name)
    if any(m == "seedbed" or m.startswith("seedbed.") for m in sys.modules):
        sys.exit("the runner imported seedbed before forking")

    def child(module, write):
        try:
            importlib.import_module(module)
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            os._exit(1)
        os._exit(0)

    def start(module):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            child(module, write)
        os.close(write)
        return pid, read

    def finish(pid, read):
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.close(read)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")

    modules = json.loads(sys.argv[1])
    failures, running = {}, []
    width = max(2, os.cpu_count() or 2)
    for module in modules + [None] * width:
        if module is not None:
            running.append((module, *start(module)))
        if len(running) >= width or (module is None and running):
            name, pid, read = running.pop(0)
            code, text = finish(pid, read)
            if code != 0:
                failures[name] = text or f"exit code {code}"
    print(json.dumps(failures))
    """
)


def seedbed_modules() -> list[str]:
    """Every module and package under ``seedbed``, found by walking the installed package.

    ``seedbed._migrations`` is the migrations folder as an installed wheel
    carries it (absent from a source checkout); its ``env`` is run by Alembic,
    not imported.
    """
    names = ["seedbed"]
    names += [m.name for m in pkgutil.walk_packages(seedbed.__path__, "seedbed.")]
    if importlib.util.find_spec("seedbed._migrations") is not None:
        migrations = importlib.import_module("seedbed._migrations")
        walk = pkgutil.walk_packages(migrations.__path__, "seedbed._migrations.")
        names += ["seedbed._migrations", *(m.name for m in walk)]
    return sorted(set(names) - {"seedbed._migrations.env"})


def import_each_alone(modules: list[str]) -> dict[str, str]:
    """Import each of ``modules`` in a fresh forked child; the traceback of each that fails."""
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(modules), *_PRELOADED],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    failures: dict[str, str] = json.loads(result.stdout.splitlines()[-1])
    return failures


def test_the_walk_finds_subpackages_and_their_modules():
    modules = seedbed_modules()
    assert "seedbed.validation.formats" in modules
    assert any(m.startswith("seedbed.validation.formats.") for m in modules)
    assert "seedbed.cli.docs" in modules


def test_every_module_imports_alone_in_a_fresh_interpreter():
    failures = import_each_alone(seedbed_modules())
    assert not failures, "\n\n".join(f"import {m} failed:\n{tb}" for m, tb in failures.items())


def test_a_module_that_fails_alone_is_reported():
    failures = import_each_alone(["seedbed.config", "seedbed.no_such_module"])
    assert list(failures) == ["seedbed.no_such_module"]
    assert "ModuleNotFoundError" in failures["seedbed.no_such_module"]


@pytest.mark.parametrize(
    "use",
    [
        "from seedbed.erd import mermaid_er",
        "from seedbed.erd import er_figure",
        "from seedbed.docs import render_data_models",
        "from seedbed.cli import build_parser; build_parser()",
    ],
)
def test_matplotlib_waits_for_a_figure(use):
    code = f"import sys; {use}; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
