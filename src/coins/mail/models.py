"""The record of every email the product sends (the outbox without SMTP, the delivery queue with it)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

EMAIL_STATUSES = ("outbox", "pending", "sending", "sent", "failed")


class EmailMessage(UUIDv7Base):
    """Every email the product sends, recorded in the transaction that caused it.

    With SMTP configured a worker job delivers it (status pending -> sending -> sent); without SMTP it
    stays in the local outbox, readable by admins, so reset and invitation links work on a laptop.
    """

    __tablename__ = "email_messages"
    __table_args__ = (
        CheckConstraint("status IN ('outbox', 'pending', 'sending', 'sent', 'failed')", name="email_status_known"),
    )

    to_address: Mapped[str] = mapped_column(String(320), index=True)
    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    # Extra MIME headers (List-Unsubscribe, List-Unsubscribe-Post), added by `mail.build_mime`.
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), default="outbox", server_default=text("'outbox'"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now(), index=True)
    # When a delivery job claimed it (status `sending`): the sweeper frees only claims far older than any
    # delivery attempt can last, so a slow send in progress is never sent a second time.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
