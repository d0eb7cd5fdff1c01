"""The ``verification`` table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, sensitive, updated_at, uuid_pk
from seedbed.models.rules import checks, uuid_v4


class Verification(Base):
    """One-time verification values, e.g. for email confirmation or password reset."""

    __tablename__ = "verification"
    __table_args__ = (
        *checks(uuid_v4("id")),
        sa.Index(None, "identifier", info={"purpose": "look up pending verifications"}),
    )

    id: Mapped[str] = uuid_pk()
    identifier: Mapped[str] = mapped_column(
        sa.Text, nullable=False, info={"doc": "what is being verified, e.g. an email"}
    )
    value: Mapped[str] = mapped_column(
        sa.Text, nullable=False, info=sensitive("the secret to compare against")
    )
    expires_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, info={"doc": "when the value stops working"}
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
