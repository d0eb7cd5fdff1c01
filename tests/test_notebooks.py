"""Every notebook in ``notebooks/`` executes, top to bottom, against the test server.

Outputs are not compared: they hold timings. A notebook that raises fails
here. The kernel is this interpreter (a kernelspec written to a temporary
``JUPYTER_PATH``), so a fresh ``pip install -e '.[test]'`` is all it needs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.helpers import ROOT
from tests.notebook_runs import NotebookRuns, execute

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_named_notebook_exists() -> None:
    names = " ".join(n.name for n in NOTEBOOKS)
    for word in ("quickstart", "relationships", "index-choices", "query-performance"):
        assert word in names, f"no notebook named *{word}*"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, notebook_runs: NotebookRuns) -> None:
    notebook = notebook_runs.of(path)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells), "a code cell did not run"
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_a_failed_load_in_a_notebook_shows_its_report_as_html_and_nothing_on_stderr(
    kernel_env: dict[str, str],
) -> None:
    cells = [
        "import seedbed\nfrom seedbed import migrate\nseedbed.use_notebook_display()\n"
        "settings = seedbed.load_settings()\nmigrate.upgrade(settings)\n"
        "engine = seedbed.get_engine(settings)",
        f"seedbed.load({str(ROOT / 'data' / 'seeds')!r}, engine=engine)",  # progress: default
        f"seedbed.load({str(ROOT / 'data' / 'seeds')!r}, engine=engine)",  # fails: keys taken
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    execute(notebook, kernel_env, allow_errors=True, record_timing=False)
    outputs = [o for c in notebook.cells for o in c.outputs]
    assert [o for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []
    loaded, failed = notebook.cells[1].outputs, notebook.cells[2].outputs
    assert loaded[-1].output_type == "execute_result"
    assert "<table>" in loaded[-1].data["text/html"]
    # the progress display was there, and is cleared once the load is over
    progress = [o for o in loaded if o.output_type == "display_data"]
    assert progress and all(o.data["text/html"] == "" for o in progress)
    shown = [o for o in failed if o.output_type == "display_data"]
    html = shown[-1].data["text/html"]
    assert "DataError" in html and "problems per table and rule" not in html
    assert "<th>problems</th>" in html and "uq_user_email" in html and "--mode upsert" in html
    assert html.index("<th>problems</th>") < html.index("<th>message</th>")  # summary first
    error = next(o for o in failed if o.output_type == "error")
    assert error.ename == "DataError" and len(error.traceback) == 1
