"""Running notebooks in tests: a kernel on this interpreter, a small sample, one run each.

``NotebookRuns`` executes a notebook at most once per test session, each in a
namespace of its own that is dropped afterwards, so the test that a notebook
runs and the test of its HTML export share one execution.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from seedbed import migrate
from seedbed.config import load_settings
from seedbed.explore import sample_settings
from tests.helpers import fresh_namespace

KERNEL = "seedbed-tests"
ROWS = "400"  # users in each notebook's sample: small, so the suite stays fast
TIMEOUT = 240  # seconds per cell


def kernel_environment(db_env: dict[str, str], jupyter_path: Path) -> dict[str, str]:
    """Environment for kernels: the test server, a small sample, this interpreter as kernel."""
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "seedbed tests", "language": "python"})
    )
    return {
        **db_env,
        "JUPYTER_PATH": str(jupyter_path),
        "SEEDBED_NOTEBOOK_ROWS": ROWS,
        "SEEDBED_NOTEBOOK_REPEAT": "2",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


def execute(
    notebook: NotebookNode, env: dict[str, str], *, cwd: Path | None = None, **options: object
) -> NotebookNode:
    """Run ``notebook`` in a new namespace with ``env`` set, then drop what it built."""
    namespace = fresh_namespace("nb")
    saved = dict(os.environ)
    os.environ.update({**env, "SEEDBED_SCHEMA": namespace})
    resources = {"metadata": {"path": str(cwd)}} if cwd else {}
    client = NotebookClient(
        notebook, kernel_name=KERNEL, timeout=TIMEOUT, resources=resources, **options
    )
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        drop_namespaces(namespace, env)
    return notebook


def drop_namespaces(namespace: str, env: dict[str, str]) -> None:
    """Drop the namespace a notebook used and the ``<namespace>_<suffix>`` samples it built."""
    settings = load_settings(
        schema=namespace, database_url=env.get("DATABASE_URL"), home=env["SEEDBED_HOME"]
    )
    migrate.reset(settings)
    for suffix in ("quickstart", "relationships", "index_choices", "query_performance"):
        migrate.reset(sample_settings(suffix, settings))


class NotebookRuns:
    """Each notebook executed at most once per session (the run is kept, errors included)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._runs: dict[Path, NotebookNode] = {}

    def of(self, path: Path) -> NotebookNode:
        if path not in self._runs:
            notebook = nbformat.read(path, as_version=4)
            self._runs[path] = execute(notebook, self.env, cwd=path.parent, allow_errors=True)
        return self._runs[path]
