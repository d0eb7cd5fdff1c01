"""The declared model, compiled without a server."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from seedbed.models import metadata, metadata_for
from seedbed.models.rules import all_rules

# The design's tables; a project adds its own beside them.
DESIGN_TABLES = {"user", "session", "account", "verification", "post", "tag", "post_tag"}


def names(table: sa.Table) -> set[str]:
    found = {str(c.name) for c in table.constraints}
    return found | {str(i.name) for i in table.indexes}


def test_every_design_table_is_declared() -> None:
    assert {t.name for t in metadata.sorted_tables} >= DESIGN_TABLES


def test_every_constraint_and_index_is_named() -> None:
    for table in metadata.sorted_tables:
        for item in [*table.constraints, *table.indexes]:
            assert item.name, f"{table.name}: unnamed {item!r}"


def test_names_follow_the_convention() -> None:
    tables = metadata_for("conv").tables
    assert {"pk_user", "uq_user_email", "ck_user_email_format", "ck_user_id_uuid_v4"} <= names(
        tables["conv.user"]
    )
    assert {"fk_session_user_id_user", "ix_session_user_id", "uq_session_token"} <= names(
        tables["conv.session"]
    )
    assert "uq_account_provider_id_account_id" in names(tables["conv.account"])
    assert {"uq_post_slug_live", "ix_post_published_listing", "ck_post_metadata_shape"} <= names(
        tables["conv.post"]
    )


def test_metadata_for_moves_everything_into_the_namespace() -> None:
    other = metadata_for("elsewhere")
    ddl = "\n".join(
        str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in other.sorted_tables
    )
    assert "elsewhere.post_status" in ddl
    assert 'REFERENCES elsewhere."user"' in ddl
    assert "seedbed." not in ddl.replace("elsewhere.", "")


def test_partial_indexes_compile_with_their_predicates() -> None:
    post = metadata_for("p").tables["p.post"]
    compiled = {
        i.name: str(CreateIndex(i).compile(dialect=postgresql.dialect())) for i in post.indexes
    }
    assert compiled["uq_post_slug_live"].endswith("WHERE deleted_at IS NULL")
    assert "UNIQUE" in compiled["uq_post_slug_live"]
    assert "status = 'published'" in compiled["ix_post_published_listing"]


def test_rules_are_reachable_from_their_constraints() -> None:
    post = metadata.tables[f"{metadata.schema}.post"]
    assert {r.name for r in all_rules(post)} == {
        "id_uuid_v4",
        "title_length",
        "slug_format",
        "published_at_required",
        "metadata_shape",
    }


def test_sensitive_columns_are_marked() -> None:
    marked = {
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if c.info.get("sensitive")
    }
    assert marked >= {
        "session.token",
        "account.access_token",
        "account.refresh_token",
        "account.id_token",
        "account.password",
        "verification.value",
    }


def test_metadata_for_keeps_rules_docs_and_index_purposes() -> None:
    moved = metadata_for("carried").tables["carried.post"]
    assert {r.name for r in all_rules(moved)} == {
        r.name for r in all_rules(metadata.tables[f"{metadata.schema}.post"])
    }
    assert moved.c.title.info["doc"]
    assert all(index.info.get("purpose") for index in moved.indexes)
