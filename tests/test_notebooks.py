"""Every notebook in ``notebooks/`` executes, top to bottom, against the test server.

Outputs are not compared: they hold timings. A notebook that raises fails
here. The kernel is this interpreter (a kernelspec written to a temporary
``JUPYTER_PATH``), so a fresh ``pip install -e '.[test]'`` is all it needs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from seedbed import migrate
from seedbed.config import load_settings
from seedbed.explore import sample_settings

from .conftest import ROOT, fresh_namespace

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "seedbed-tests"
ROWS = "400"  # users in each notebook's sample: small, so the suite stays fast
TIMEOUT = 240  # seconds per cell


@pytest.fixture(scope="module")
def kernel_env(db_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for kernels: the test server, a small sample, and this interpreter as kernel."""
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "seedbed tests", "language": "python"})
    )
    env = dict(db_env)
    env["JUPYTER_PATH"] = str(jupyter_path)
    env["SEEDBED_NOTEBOOK_ROWS"] = ROWS
    env["SEEDBED_NOTEBOOK_REPEAT"] = "2"
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def test_every_named_notebook_exists() -> None:
    names = " ".join(n.name for n in NOTEBOOKS)
    for word in ("quickstart", "relationships", "index-choices", "query-performance"):
        assert word in names, f"no notebook named *{word}*"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(
    path: Path, kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = fresh_namespace("nb")
    for name, value in {**kernel_env, "SEEDBED_SCHEMA": namespace}.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        _drop_namespaces(namespace, kernel_env)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells), "a code cell did not run"
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert errors == []


def _drop_namespaces(namespace: str, env: dict[str, str]) -> None:
    """Drop the namespace a notebook used and the ``<namespace>_<suffix>`` samples it built."""
    settings = load_settings(schema=namespace, home=env["SEEDBED_HOME"])
    migrate.reset(settings)
    suffixes = ("quickstart", "relationships", "index_choices", "query_performance")
    for suffix in suffixes:
        migrate.reset(sample_settings(suffix, settings))
