"""The README stays a newcomer's page, and the guides it points to stay reachable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
GENERATED = DOCS / "reference"
DECISIONS = DOCS / "decisions"
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
DIARY_PHRASES = ("this evening", "tonight", "an earlier run")


def _written_pages() -> list[Path]:
    """README.md and every page under docs/ that a person writes (not docs/reference/)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if GENERATED not in p.parents)
    return [README, *pages]


def _prose(page: Path) -> str:
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(heading) for heading in HEADING.findall(_prose(page))}


def _relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(page))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_readme_is_at_most_250_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("page", _written_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](gone.md) [b](#title) [c](#nowhere) [d](https://x.org/y)\n")
    assert _relative_links(page) == ["gone.md", "#title", "#nowhere"]
    assert _anchors(page) == {"title"}
    assert _anchor("Empty tables: the rebuild strategy") == "empty-tables-the-rebuild-strategy"


def test_no_written_page_reads_like_a_lab_diary() -> None:
    found = [
        f"{page.relative_to(ROOT)}: {phrase!r}"
        for page in _written_pages()
        for phrase in DIARY_PHRASES
        if phrase in page.read_text(encoding="utf-8").lower()
    ]
    assert not found, found


def test_the_first_guide_the_readme_links_is_the_architecture() -> None:
    guides = [t for t in _relative_links(README) if t.startswith("docs/")]
    assert guides and guides[0] == "docs/architecture.md"


def test_every_decision_record_is_dated_has_a_status_and_is_listed() -> None:
    index = (DECISIONS / "README.md").read_text(encoding="utf-8")
    records = sorted(p for p in DECISIONS.glob("20*.md"))
    assert (DECISIONS / "2026-11-uuid-v4-check.md") in records
    for record in records:
        text = record.read_text(encoding="utf-8")
        assert re.search(r"^- Date: \d{4}-\d{2}-\d{2}$", text, re.MULTILINE), record.name
        assert re.search(r"^- Status: (kept|rejected)", text, re.MULTILINE), record.name
        for section in ("## Context", "## Decision", "## Measurements", "## Consequences"):
            assert section in text, f"{record.name} has no {section}"
        assert "Machine: " in text, f"{record.name} does not name the machine"
        assert f"({record.name})" in index, f"{record.name} is missing from the index"


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", README.read_text(encoding="utf-8"))
    test_command = next(c for c in commands if "pytest" in c)
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines
