"""The ER diagram, as Mermaid text and as a matplotlib figure; no database needed."""

from __future__ import annotations

import io
import re

import matplotlib
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from seedbed.erd import column_type, er_figure, mermaid_er, relationships
from seedbed.models import metadata, metadata_for

TABLES = sorted(t.name for t in metadata.tables.values())
FOREIGN_KEYS = sorted(
    (fk.constraint.name, fk.parent.table.name, fk.column.table.name)
    for table in metadata.tables.values()
    for fk in table.foreign_keys
)


def _entity_block(text: str, table: str) -> str:
    match = re.search(rf"^    {table} \{{\n(.*?)^    \}}", text, re.M | re.S)
    assert match, f"no entity block for {table}"
    return match.group(1)


def test_mermaid_starts_with_er_diagram_and_ends_with_newline():
    text = mermaid_er(metadata)
    assert text.startswith("erDiagram\n")
    assert text.endswith("\n")


@pytest.mark.parametrize("table", TABLES)
def test_mermaid_lists_every_table_with_every_column(table):
    block = _entity_block(mermaid_er(metadata), table)
    for column in metadata.tables[f"{metadata.schema}.{table}"].columns:
        assert re.search(rf"^        \S+ {column.name}\b", block, re.M), column.name


def test_mermaid_has_one_relationship_per_foreign_key():
    lines = [line for line in mermaid_er(metadata).splitlines() if "--" in line]
    assert len(lines) == len(FOREIGN_KEYS)
    for _, child, parent in FOREIGN_KEYS:
        assert any(line.split()[0] == parent and line.split()[2] == child for line in lines)


@pytest.mark.parametrize(
    "line",
    [
        'user ||--o{ session : "user_id"',
        'user ||--o{ account : "user_id"',
        'user ||--o{ post : "author_id"',
        'post ||--o{ post_tag : "post_id"',
        'tag ||--o{ post_tag : "tag_id"',
    ],
)
def test_mermaid_cardinalities(line):
    assert f"    {line}\n" in mermaid_er(metadata)


@pytest.mark.parametrize(
    ("table", "attribute"),
    [
        ("user", "text id PK"),
        ("user", "text email UK"),
        ("session", "text user_id FK"),
        ("session", "text token UK"),
        ("post_tag", "text post_id PK, FK"),
        ("post", "post_status status"),
        ("post", "jsonb metadata"),
        ("post", "timestamptz published_at"),
        ("session", "inet ip_address"),
    ],
)
def test_mermaid_types_and_key_markers(table, attribute):
    assert f"        {attribute} " in _entity_block(mermaid_er(metadata), table)


def test_mermaid_marks_sensitive_columns():
    block = _entity_block(mermaid_er(metadata), "account")
    assert 'text password "sensitive: ' in block


def test_partial_unique_index_is_not_a_unique_key():
    block = _entity_block(mermaid_er(metadata), "post")
    assert re.search(r"^        text slug \"", block, re.M)


def test_output_does_not_depend_on_the_namespace():
    assert mermaid_er(metadata_for("other_place")) == mermaid_er(metadata)
    assert "other_place" not in mermaid_er(metadata_for("other_place"))


def test_enum_type_is_named_without_namespace():
    post = metadata_for("other_place").tables["other_place.post"]
    assert column_type(post.c.status) == "post_status"


def test_relationships_carry_on_delete_and_cardinality():
    by_name = {rel.name: rel for rel in relationships(metadata)}
    assert by_name["fk_session_user_id_user"].ondelete == "CASCADE"
    assert by_name["fk_post_author_id_user"].ondelete == "NO ACTION"
    assert by_name["fk_session_user_id_user"].phrase == "one user has zero or more session rows"
    assert not any(rel.parent_optional for rel in by_name.values())


def _gids(figure, kind):
    return sorted(
        p.get_gid()
        for p in figure.axes[0].patches
        if isinstance(p, kind) and (p.get_gid() or "").startswith(("table:", "fk:"))
    )


def test_figure_has_one_box_per_table():
    figure = er_figure(metadata)
    assert _gids(figure, FancyBboxPatch) == [f"table:{name}" for name in TABLES]


def test_figure_has_one_arrow_per_foreign_key():
    figure = er_figure(metadata)
    assert _gids(figure, FancyArrowPatch) == sorted(f"fk:{name}" for name, _, _ in FOREIGN_KEYS)


def test_figure_shows_every_table_name_and_column():
    texts = {t.get_text() for t in er_figure(metadata).axes[0].texts}
    for table in metadata.tables.values():
        assert table.name in texts
        assert set(table.columns.keys()) <= texts


def test_figure_is_deterministic():
    def svg() -> bytes:
        buffer = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "seedbed"}):
            er_figure(metadata).savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()

    assert svg() == svg()


def test_boxes_do_not_overlap():
    boxes = [
        p.get_bbox()
        for p in er_figure(metadata).axes[0].patches
        if (p.get_gid() or "").startswith("table:")
    ]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            assert not first.overlaps(second)


def test_mermaid_attribute_types_use_only_allowed_characters():
    for line in mermaid_er(metadata).splitlines():
        if line.startswith("        "):
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_()\[\]-]*", line.split()[0]), line
