"""The ``user`` table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, updated_at, uuid_pk
from seedbed.models.rules import checks, email, url, uuid_v4


class User(Base):
    """User accounts and profiles: one row per person who can sign in."""

    __tablename__ = "user"
    __table_args__ = (*checks(uuid_v4("id"), email("email"), url("image")),)

    id: Mapped[str] = uuid_pk()
    email: Mapped[str] = mapped_column(
        sa.Text, nullable=False, unique=True, info={"doc": "sign-in address, unique"}
    )
    name: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "display name"})
    email_verified: Mapped[bool] = mapped_column(
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        info={"doc": "false until the address is verified"},
    )
    image: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "avatar URL"})
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
