"""The ``account`` table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from seedbed.models.base import Base, created_at, sensitive, updated_at, uuid_pk
from seedbed.models.rules import checks, uuid_v4


class Account(Base):
    """Sign-in methods of a user: one row per OAuth provider or password login."""

    __tablename__ = "account"
    __table_args__ = (
        *checks(uuid_v4("id")),
        sa.UniqueConstraint("provider_id", "account_id"),
        sa.Index(None, "user_id", info={"purpose": "list and cascade-delete a user's accounts"}),
    )

    id: Mapped[str] = uuid_pk()
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"),
        nullable=False,
        info={"doc": "owner of the account"},
    )
    account_id: Mapped[str] = mapped_column(
        sa.Text, nullable=False, info={"doc": "the user's id at the provider"}
    )
    provider_id: Mapped[str] = mapped_column(
        sa.Text, nullable=False, info={"doc": "provider name, e.g. github or credential"}
    )
    access_token: Mapped[str | None] = mapped_column(sa.Text, info=sensitive("OAuth access token"))
    refresh_token: Mapped[str | None] = mapped_column(
        sa.Text, info=sensitive("OAuth refresh token")
    )
    id_token: Mapped[str | None] = mapped_column(sa.Text, info=sensitive("OpenID id token"))
    access_token_expires_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), info={"doc": "when the access token expires"}
    )
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), info={"doc": "when the refresh token expires"}
    )
    scope: Mapped[str | None] = mapped_column(sa.Text, info={"doc": "granted OAuth scopes"})
    password: Mapped[str | None] = mapped_column(
        sa.Text, info=sensitive("password hash for credential logins")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
