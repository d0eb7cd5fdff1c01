"""The ER diagram, as Mermaid text and as a matplotlib figure; no database needed."""

from __future__ import annotations

import io
import itertools
import re

import matplotlib
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from seedbed.erd import edge_paths, er_figure, mermaid_er
from seedbed.facts import column_type, relationships
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


def test_no_edge_runs_under_a_box():
    """Every arrow stays in the gaps between boxes; it only touches its two boxes' sides."""
    figure = er_figure(metadata)
    boxes = {
        p.get_gid().removeprefix("table:"): p.get_bbox()
        for p in figure.axes[0].patches
        if (p.get_gid() or "").startswith("table:")
    }
    inset = 0.05
    for name, points in edge_paths(metadata).items():
        assert len(points) >= 3
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            assert x0 == x1 or y0 == y1, f"{name}: not a horizontal or vertical segment"
            for table, box in boxes.items():
                inside_x = min(x0, x1) < box.x1 - inset and max(x0, x1) > box.x0 + inset
                inside_y = min(y0, y1) < box.y1 - inset and max(y0, y1) > box.y0 + inset
                assert not (inside_x and inside_y), f"{name} runs under {table}"


def test_every_arrow_follows_its_path():
    figure = er_figure(metadata)
    arrows = {
        p.get_gid(): p for p in figure.axes[0].patches if (p.get_gid() or "").startswith("fk:")
    }
    for name, points in edge_paths(metadata).items():
        # the path the arrow was given, before matplotlib turns it into an arrow outline
        vertices = arrows[f"fk:{name}"]._path_original.vertices
        assert [tuple(float(c) for c in v) for v in vertices] == points


def test_primary_and_foreign_keys_are_marked():
    texts = [t.get_text() for t in er_figure(metadata).axes[0].texts]
    primary = sum(len(t.primary_key.columns) for t in metadata.tables.values())
    foreign = sum(1 for t in metadata.tables.values() for c in t.columns if c.foreign_keys)
    assert texts.count("PK") == primary
    assert texts.count("FK") == foreign


def test_labels_are_readable():
    figure = er_figure(metadata)
    sizes = [t.get_fontsize() for t in figure.axes[0].texts]
    assert min(sizes) >= 7
    # every column name fits inside its box, clear of the type on the right
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [
        p.get_window_extent(renderer)
        for p in figure.axes[0].patches
        if (p.get_gid() or "").startswith("table:")
    ]
    extents = [t.get_window_extent(renderer) for t in figure.axes[0].texts]
    inside = [e for e in extents if any(b.contains(e.x0, e.y0) for b in boxes)]
    for i, first in enumerate(inside):
        for second in inside[i + 1 :]:
            overlap = first.intersection(first, second)
            assert overlap is None or overlap.width < 1 or overlap.height < 1


#: Mermaid erDiagram's words (checked against mermaid 11.17's parser): an entity is a word
#: or a quoted name, an attribute ``type name [keys] ["comment"]`` of words.
_WORD = r"[A-Za-z_][A-Za-z0-9_-]*"
_ENTITY_LINE = re.compile(rf'^    ({_WORD}|"[^"\n]*") \{{$')
_ATTRIBUTE_LINE = re.compile(
    rf'^        [A-Za-z_][A-Za-z0-9_()\[\]-]* ({_WORD})( (PK|FK|UK)(, (PK|FK|UK))*)?( "[^"\n]*")?$'
)
_RELATION_LINE = re.compile(rf'^    ({_WORD}|"[^"\n]*") \S+ ({_WORD}|"[^"\n]*") : "[^"\n]*"$')
_KEYWORDS = {"erdiagram", "acctitle", "accdescr", "classdef", "class", "style", "end"}
_KEYWORDS |= {"subgraph", "one", "many", "to"}


def test_names_that_are_no_mermaid_words_are_quoted_or_written_as_one():
    import sqlalchemy as sa

    odd = sa.MetaData()
    sa.Table("class", odd, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "order items",
        odd,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("Order Id", sa.ForeignKey("class.id")),
        sa.Column("pk", sa.Text, info={"doc": "a key"}),
        sa.Column("1st", sa.Text),
        sa.Column('say "hi"', sa.Text),
        sa.Column("a b", sa.Text),
        sa.Column("a_b", sa.Text),
    )
    lines = mermaid_er(odd).splitlines()[1:]
    entities = [_ENTITY_LINE.match(line) for line in lines if line.endswith("{")]
    assert [m.group(1) for m in entities if m] == ['"class"', '"order items"']
    attributes = [_ATTRIBUTE_LINE.match(line) for line in lines if line.startswith(" " * 8)]
    assert all(attributes), lines
    names = [m.group(1) for m in attributes if m]
    assert not {name.lower() for name in names} & ({"pk", "fk", "uk"} | _KEYWORDS)
    assert names == ["id", "id", "Order_Id", "_pk", "_1st", "say__hi_", "a_b", "a_b_2"]
    assert '        text _pk "pk: a key"' in lines and '        text a_b "a b"' in lines
    (relation,) = [line for line in lines if "--" in line]
    assert _RELATION_LINE.match(relation) and relation.startswith('    "class" ')
