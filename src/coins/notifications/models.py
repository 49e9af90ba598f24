from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

EMAIL_MODES = ("immediate", "digest", "never")
# What happened to the email side of a notification: none wanted (mode never), an immediate email recorded
# (pending) and delivered (sent), waiting for the daily digest (digest, then sent), or withheld (suppressed:
# coalesced into another email, or the recipient switched email off before the digest went out).
EMAILED = ("none", "pending", "sent", "digest", "suppressed")
FANOUT_STATUSES = ("pending", "running", "done")


class Notification(DefaultBase):
    """One thing a user hears about: shown in the notification centre (`in_app`) and/or emailed.

    A row with `in_app` false only carries an email (the user turned the centre off for this event type but
    wants the email, immediately or in the digest).  `dedupe_key` makes batch inserts idempotent: a fan-out
    job that is killed and runs again inserts nothing twice (`ON CONFLICT (user_id, dedupe_key) DO NOTHING`).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("emailed IN ('none', 'pending', 'sent', 'digest', 'suppressed')", name="emailed_known"),
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_dedupe"),
        # The centre: a user's notifications, newest first; and the unread count (the bell).
        Index("ix_notifications_user_created", "user_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_notifications_user_unread",
            "user_id",
            postgresql_where=text("read_at IS NULL AND in_app"),
        ),
        Index("ix_notifications_digest", "user_id", postgresql_where=text("emailed = 'digest'")),
        Index(
            "ix_notifications_email_message",
            "email_message_id",
            postgresql_where=text("email_message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[UUID | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), default=None)
    idea_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"), default=None)
    actor_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # A path inside the app (the email turns it into an absolute link).
    link: Mapped[str] = mapped_column(String(500), default="", server_default=text("''"))
    in_app: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    emailed: Mapped[str] = mapped_column(String(16), default="none", server_default=text("'none'"))
    email_message_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("email_messages.id", ondelete="SET NULL"), default=None
    )
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    # Counts that change while the notification is unread (coins received: coins and supporters so far).
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class NotificationPreference(DefaultBase):
    """A user's choice for one event type; without a row the event type's defaults apply (catalog.py)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "event", name="pk_notification_preferences"),
        CheckConstraint("email_mode IN ('immediate', 'digest', 'never')", name="email_mode_known"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    email_mode: Mapped[str] = mapped_column(String(16), default="immediate")
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class NotificationFanout(DefaultBase):
    """One event for many recipients, recorded in the transaction that caused it and spread by a job.

    The job inserts the notifications (and emails) in batches ordered by user id, advancing `cursor` in
    the same transaction as each batch; a job killed mid-batch loses only the uncommitted batch, and the
    unique (user_id, dedupe_key) makes any repeat harmless.
    """

    __tablename__ = "notification_fanouts"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done')", name="status_known"),
        Index("ix_notification_fanouts_open", "updated_at", postgresql_where=text("status <> 'done'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[UUID | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), default=None)
    idea_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"), default=None)
    actor_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Who: an `Audience` (services.py) as JSON, re-run by every batch.
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default=text("'pending'"))
    cursor: Mapped[UUID | None] = mapped_column(default=None)
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    notified: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    emails: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    batches: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class DigestRun(DefaultBase):
    """The claim on one user's daily digest: the primary key makes it once per user and day, whatever
    number of workers run the digest job at the same moment."""

    __tablename__ = "digest_runs"
    __table_args__ = (PrimaryKeyConstraint("user_id", "day", name="pk_digest_runs"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    email_message_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("email_messages.id", ondelete="SET NULL"), default=None
    )
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class IdeaCoinNotice(DefaultBase):
    """Where "coins received" stands for one idea: coalesces a burst of allocations into one notice.

    `last_ledger_id` is the newest ledger entry already counted; `emailed_at` caps emails at one an hour;
    `unemailed_coins` are counted in-app but not yet in an email.
    """

    __tablename__ = "idea_coin_notices"

    idea_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    last_ledger_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    notification_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="SET NULL"), default=None
    )
    unemailed_coins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    emailed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
