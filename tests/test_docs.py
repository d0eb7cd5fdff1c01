"""The generated data-model document: current, deterministic, complete; --check names what is stale.

No database is needed: the document comes from the models alone.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedbed.cli import build_parser, main
from seedbed.docs import check_docs, render_data_models, write_docs
from seedbed.erd import mermaid_er
from seedbed.models import metadata, metadata_for
from seedbed.models.rules import JsonShape, all_rules
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "data-models.md"
TABLES = sorted(t.name for t in metadata.tables.values())


@pytest.fixture(scope="module")
def document() -> str:
    return render_data_models(metadata)


@pytest.fixture
def doc_copy(tmp_path: Path, document: str) -> Path:
    """A current copy of the document in a temporary folder."""
    path = tmp_path / "data-models.md"
    path.write_text(document, encoding="utf-8")
    return path


def _table(name: str) -> sa.Table:
    return next(t for t in metadata.tables.values() if t.name == name)


def _section(document: str, table: str) -> str:
    match = re.search(rf"^### `{table}`\n(.*?)^---$", document, re.M | re.S)
    assert match, f"no section for table {table}"
    return match.group(1)


def test_committed_document_is_current():
    assert check_docs(COMMITTED, metadata) == [], (
        "run `seedbed docs` and commit docs/data-models.md"
    )


def test_rendering_is_byte_identical_each_time(document):
    assert render_data_models(metadata).encode() == document.encode()


def test_document_does_not_depend_on_the_namespace(document):
    elsewhere = render_data_models(metadata_for("elsewhere_ns"))
    assert elsewhere == document
    assert "elsewhere_ns" not in elsewhere
    assert "`seedbed`" in document


def test_namespace_can_be_named_explicitly():
    assert "This document shows the default namespace, `shop`." in render_data_models(
        metadata, namespace="shop"
    )


def test_document_has_no_dates(document):
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", document)
    assert document.endswith("\n") and not document.endswith("\n\n")


@pytest.mark.parametrize(
    "heading",
    [
        "## Schema Namespace",
        "## Tables Overview",
        "## Table Definitions",
        "## Relationships Diagram",
        "## Migration Strategy",
        "## Enum Types",
        "## JSON Fields",
        "## Timestamps",
        "## Soft Deletes",
        "## Data Integrity Rules",
    ],
)
def test_document_follows_the_seed_sections(document, heading):
    assert f"\n{heading}\n" in document


def test_namespace_section_explains_seedbed_schema(document):
    assert "SEEDBED_SCHEMA" in document
    assert "at most 63 bytes" in document
    assert "`pg_`" in document


@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_an_overview_row_and_a_section(document, table):
    purpose = document.split("## Table Definitions")[0]
    assert re.search(rf"^\| `{table}` \| \S", purpose, re.M)
    _section(document, table)


@pytest.mark.parametrize("table", TABLES)
def test_every_column_is_listed_with_its_doc(document, table):
    section = _section(document, table)
    for column in _table(table).columns:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{column.name}` |"))
        assert column.info.get("doc", "") in row
        assert ("**S**" in row) == bool(column.info.get("sensitive"))
        assert ("NOT NULL" in row) == (not column.nullable)


@pytest.mark.parametrize("table", TABLES)
def test_every_rule_is_described_with_its_constraint_name(document, table):
    section = _section(document, table)
    for rule in all_rules(_table(table)):
        assert f"{rule.description} (`ck_{table}_{rule.name}`)" in section
        if isinstance(rule, JsonShape):
            for key, spec in rule.keys.items():
                assert f"`{key}`: {spec.description}" in section


@pytest.mark.parametrize("table", TABLES)
def test_every_index_is_named_with_its_purpose(document, table):
    section = _section(document, table)
    for index in _table(table).indexes:
        line = next(line for line in section.splitlines() if line.startswith(f"- `{index.name}`"))
        assert line.endswith(index.info["purpose"])
        where = index.dialect_options["postgresql"].get("where")
        if where is not None:
            assert f"where `{where}`" in line


@pytest.mark.parametrize("table", TABLES)
def test_every_foreign_key_is_listed_with_on_delete(document, table):
    section = _section(document, table)
    for fk in _table(table).foreign_key_constraints:
        ondelete = fk.ondelete or "NO ACTION"
        assert re.search(rf"`{fk.name}`\), ON DELETE {ondelete}: ", section)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("user", "- `email`: required (NOT NULL); unique (`uq_user_email`)"),
        ("post", "unique among rows where `deleted_at IS NULL` (`uq_post_slug_live`)"),
        ("post", "one of `draft`, `published`, `archived` (enum `post_status`)"),
        ("post", "must match an existing `user.id` (`fk_post_author_id_user`)"),
        ("account", "unique together (`uq_account_provider_id_account_id`)"),
        ("session", "deleting a `user` row deletes its `session` rows"),
        ("post", "a `user` row that still has `post` rows cannot be deleted"),
        ("post_tag", "- Joins `post` and `tag`: many-to-many"),
        ("tag", "- Many-to-many with `post` through `post_tag`"),
    ],
)
def test_rules_and_relationships_in_plain_words(document, table, expected):
    assert expected in _section(document, table)


def test_enums_and_json_shapes_have_their_sections(document):
    assert "| `post_status` | `draft`, `published`, `archived` | `post.status` |" in document
    assert "### `post.metadata`" in document
    assert "| `reading_minutes` | `non_negative_integer` |" in document


def test_mermaid_diagram_is_embedded(document):
    assert f"```mermaid\n{mermaid_er(metadata)}```\n" in document


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_db_command_is_documented(document):
    verbs = _subcommands(_subcommands(build_parser())["db"])
    assert {"generate", "push", "migrate", "check", "reset"} <= set(verbs)
    for verb in verbs:
        assert f"seedbed db {verb}" in document


def test_check_names_the_stale_table_section(doc_copy):
    text = doc_copy.read_text(encoding="utf-8")
    doc_copy.write_text(text.replace("must be 1 to 200 characters long", "short"), encoding="utf-8")
    assert check_docs(doc_copy, metadata) == ["section 'Table Definitions > post' differs"]


def test_check_names_missing_and_extra_sections(doc_copy):
    text = doc_copy.read_text(encoding="utf-8")
    text = text.replace("## Soft Deletes", "## Hard Deletes")
    doc_copy.write_text(text, encoding="utf-8")
    assert check_docs(doc_copy, metadata) == [
        "section 'Soft Deletes' is missing",
        "section 'Hard Deletes' is not generated any more",
    ]


def test_check_reports_a_missing_file(tmp_path):
    missing = tmp_path / "nowhere" / "data-models.md"
    assert check_docs(missing, metadata) == [f"{missing} does not exist"]


def test_check_reports_whitespace_only_changes(doc_copy):
    doc_copy.write_bytes(doc_copy.read_bytes().replace(b"\n", b"\r\n"))
    assert len(check_docs(doc_copy, metadata)) >= 1


def test_write_creates_folders_and_reports_changes(tmp_path, document):
    path = tmp_path / "docs" / "data-models.md"
    assert write_docs(path, metadata) is True
    assert path.read_text(encoding="utf-8") == document
    assert write_docs(path, metadata) is False
    assert check_docs(path, metadata) == []


def test_cli_check_exits_1_and_names_what_is_stale(doc_copy, capsys):
    text = doc_copy.read_text(encoding="utf-8")
    doc_copy.write_text(text.replace("the label, unique", "the label"), encoding="utf-8")
    assert main(["docs", "--check", "--out", str(doc_copy)]) == 1
    out = capsys.readouterr().out
    assert "is stale" in out
    assert "section 'Table Definitions > tag' differs" in out


def test_cli_check_exits_0_when_current(doc_copy, capsys):
    assert main(["docs", "--check", "--out", str(doc_copy)]) == 0
    assert "is current" in capsys.readouterr().out


def test_cli_writes_the_document(tmp_path, document, capsys):
    path = tmp_path / "out.md"
    assert main(["docs", "--out", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == document
    assert f"wrote {path}" in capsys.readouterr().out


@pytest.mark.parametrize("check", [False, True])
def test_cli_io_error_exits_2_without_traceback(tmp_path, capsys, check):
    argv = ["docs", "--out", str(tmp_path)] + (["--check"] if check else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("seedbed: error: cannot ")
    assert "Traceback" not in err


def test_cli_help_mentions_check(capsys):
    with pytest.raises(SystemExit):
        main(["docs", "--help"])
    assert "--check" in capsys.readouterr().out


def test_cli_check_ignores_seedbed_schema():
    env = dict(os.environ, SEEDBED_SCHEMA="somewhere_else")
    result = run_cli("docs", "--check", "--out", str(COMMITTED), env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_links_the_document_and_the_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/reference/data-models.md)" in readme
    assert "`seedbed docs [--out PATH] [--check]`" in readme
