"""The ``tag`` table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, uuid_pk
from seedbed.models.rules import checks, length, uuid_v4


class Tag(Base):
    """Labels that posts can carry, many-to-many through ``post_tag``."""

    __tablename__ = "tag"
    __table_args__ = (*checks(uuid_v4("id"), length("name", 1, 64)),)

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(
        sa.Text, nullable=False, unique=True, info={"doc": "the label, unique"}
    )
