"""The ``post_tag`` join table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base


class PostTag(Base):
    """Which tags each post carries: the many-to-many join of post and tag."""

    __tablename__ = "post_tag"
    __table_args__ = (
        sa.Index(None, "tag_id", info={"purpose": "find the posts that carry a tag"}),
    )

    post_id: Mapped[str] = mapped_column(
        sa.ForeignKey("post.id", ondelete="CASCADE"),
        primary_key=True,
        info={"doc": "the tagged post"},
    )
    tag_id: Mapped[str] = mapped_column(
        sa.ForeignKey("tag.id", ondelete="CASCADE"),
        primary_key=True,
        info={"doc": "the tag"},
    )
