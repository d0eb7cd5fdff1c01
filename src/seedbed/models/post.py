"""The ``post`` table, the seed's example entity."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, updated_at, uuid_pk
from seedbed.models.rules import JsonKey, JsonShape, checks, length, required_when, slug, uuid_v4


class PostStatus(enum.Enum):
    draft = "draft"
    published = "published"
    archived = "archived"


POST_METADATA = JsonShape(
    "metadata_shape",
    ("metadata",),
    "must be a JSON object with only the optional keys tags and reading_minutes",
    keys={
        "tags": JsonKey("string_list", "a list of strings"),
        "reading_minutes": JsonKey("non_negative_integer", "an integer of at least 0"),
    },
)


class Post(Base):
    """Posts written by users; soft-deleted by setting ``deleted_at``."""

    __tablename__ = "post"
    __table_args__ = (
        *checks(
            uuid_v4("id"),
            length("title", 1, 200),
            slug("slug"),
            required_when("published_at", "status", "published"),
            POST_METADATA,
        ),
        sa.Index(None, "author_id", info={"purpose": "list and join an author's posts"}),
        sa.Index(
            "uq_post_slug_live",
            "slug",
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
            info={"purpose": "a slug is unique among posts that are not deleted"},
        ),
        sa.Index(
            "ix_post_published_listing",
            sa.text("published_at DESC"),
            postgresql_where=sa.text("status = 'published' AND deleted_at IS NULL"),
            info={"purpose": "list live published posts, newest first"},
        ),
    )

    id: Mapped[str] = uuid_pk()
    author_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id"), nullable=False, info={"doc": "the user who wrote the post"}
    )
    title: Mapped[str] = mapped_column(sa.Text, nullable=False, info={"doc": "1 to 200 chars"})
    slug: Mapped[str] = mapped_column(
        sa.Text, nullable=False, info={"doc": "URL name, unique among live posts"}
    )
    body: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "the post's text"})
    status: Mapped[PostStatus] = mapped_column(
        sa.Enum(PostStatus, name="post_status"),
        nullable=False,
        server_default=PostStatus.draft.value,
        info={"doc": "draft, published or archived"},
    )
    metadata_: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, info={"doc": "JSON object: tags, reading_minutes"}
    )
    published_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), info={"doc": "required when status is published"}
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    deleted_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), info={"doc": "set when soft-deleted; NULL while live"}
    )
