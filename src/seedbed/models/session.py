"""The ``session`` table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, sensitive, updated_at, uuid_pk
from seedbed.models.rules import checks, later, uuid_v4


class Session(Base):
    """User authentication sessions: one row per signed-in browser or device."""

    __tablename__ = "session"
    __table_args__ = (
        *checks(uuid_v4("id"), later("expires_at", "created_at")),
        sa.Index(None, "user_id", info={"purpose": "list and cascade-delete a user's sessions"}),
    )

    id: Mapped[str] = uuid_pk()
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"),
        nullable=False,
        info={"doc": "owner of the session"},
    )
    token: Mapped[str] = mapped_column(
        sa.Text, nullable=False, unique=True, info=sensitive("session token, unique")
    )
    expires_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, info={"doc": "when the session ends"}
    )
    ip_address: Mapped[str | None] = mapped_column(
        INET, info={"doc": "client IPv4 or IPv6 address"}
    )
    user_agent: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "client user agent"})
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
