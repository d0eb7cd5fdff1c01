"""Notebook 02's HTML export shows the ER diagram in a real browser, with no network.

The notebook is executed at a small size, exported with nbconvert to HTML,
and opened by headless Chromium (Debian's ``chromium``) with every host name
unresolvable. The diagram must be in the rendered page as an embedded image
(nothing fetched), and the Mermaid text must be readable there too.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from nbconvert import HTMLExporter

from tests.helpers import ROOT
from tests.notebook_runs import NotebookRuns

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
]


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *OFFLINE, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def exported(notebook_runs: NotebookRuns, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Notebook 02, executed at a small size (the run test_notebooks checks) and exported."""
    notebook = notebook_runs.of(ROOT / "notebooks" / "02-relationships.ipynb")
    body, _ = HTMLExporter().from_notebook_node(notebook)
    out = tmp_path_factory.mktemp("html") / "02-relationships.html"
    out.write_text(body, encoding="utf-8")
    return out


def test_the_er_diagram_is_an_image_in_the_offline_page(exported: Path) -> None:
    done = _chromium("--dump-dom", exported.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    heading = dom.index("The ER diagram, generated from the models")
    after = dom[heading:]
    image = re.search(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', after)
    assert image is not None, "no embedded image after the ER diagram heading"
    assert after.index(image.group(0)) < after.index("The foreign keys and their delete rules")
    png = base64.b64decode(image.group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 800 and height > 600
    assert "erDiagram" in after and "user ||--o{ session" in after  # the Mermaid text too


def test_a_screenshot_of_the_page_shows_the_diagram(exported: Path, tmp_path: Path) -> None:
    shot = tmp_path / "02.png"
    done = _chromium("--window-size=1300,2600", f"--screenshot={shot}", exported.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        gray = image.convert("L").tobytes()
    dark = sum(1 for value in gray if value < 128)
    assert dark > 10_000  # text and the diagram's boxes, not a blank page
