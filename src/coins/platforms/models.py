"""Platforms (registered integrators), their permalinks, the ideas that came through them, and webhooks.

Secrets are never stored in clear: a platform's API key only as its SHA-256 (the key is 256 random bits,
so a plain hash is enough to make a stolen table useless), a webhook endpoint's signing secret not at all
(it is derived from SECRET_KEY and a random salt stored here, see `coins.platforms.webhooks`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import DefaultBase, UUIDv7AuditBase, UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

WEBHOOK_EVENTS = ("idea.submitted", "idea.status_changed", "idea.coins_threshold")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class Platform(UUIDv7AuditBase):
    __tablename__ = "platforms"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("char_length(key_hash) = 64", name="key_hash_is_sha256"),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    owner_email: Mapped[str] = mapped_column(String(320))
    # sha256 hex of the whole key (`cfc_...`); the hint is its first characters, to recognise it in lists.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(16))
    key_rotated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    created_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class PlatformCampaign(DefaultBase):
    """The campaigns a platform may create permalinks into (chosen by an admin)."""

    __tablename__ = "platform_campaigns"
    __table_args__ = (
        PrimaryKeyConstraint("platform_id", "campaign_id", name="pk_platform_campaigns"),
        Index("ix_platform_campaigns_campaign", "campaign_id"),
    )

    platform_id: Mapped[UUID] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))


class Permalink(UUIDv7Base):
    __tablename__ = "permalinks"
    __table_args__ = (
        CheckConstraint("char_length(token) >= 10", name="token_length"),
        CheckConstraint("char_length(context_id) BETWEEN 1 AND 200", name="context_length"),
        Index("ix_permalinks_platform", "platform_id", "created_at"),
        Index("ix_permalinks_campaign", "campaign_id", "created_at"),
    )

    token: Mapped[str] = mapped_column(String(32), unique=True)
    # None: made by a manager without a platform (ideas keep the context but no platform hears of them).
    platform_id: Mapped[UUID | None] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), default=None)
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(200))
    tag_ids: Mapped[list[UUID]] = mapped_column(ARRAY(postgresql.UUID(as_uuid=True)), default=list)
    title: Mapped[str] = mapped_column(String(255), default="", server_default=text("''"))
    description: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    return_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class PlatformIdea(DefaultBase):
    """An idea submitted through a permalink: whose context it belongs to (the context API reads this)."""

    __tablename__ = "platform_ideas"
    __table_args__ = (Index("ix_platform_ideas_context", "platform_id", "context_id", "idea_id"),)

    idea_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    platform_id: Mapped[UUID | None] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"), default=None)
    permalink_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("permalinks.id", ondelete="SET NULL"), default=None, index=True
    )
    context_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class WebhookEndpoint(UUIDv7AuditBase):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("url ~ '^https?://'", name="url_http"),
        CheckConstraint("cardinality(events) >= 1", name="has_events"),
        CheckConstraint("coins_threshold IS NULL OR coins_threshold >= 1", name="threshold_positive"),
        CheckConstraint("consecutive_failures >= 0", name="failures_non_negative"),
        Index("ix_webhook_endpoints_platform", "platform_id"),
    )

    platform_id: Mapped[UUID] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    coins_threshold: Mapped[int | None] = mapped_column(Integer, default=None)
    # The signing secret is HMAC(SECRET_KEY, salt): rolling the secret is a new salt.
    secret_salt: Mapped[str] = mapped_column(String(64))
    secret_hint: Mapped[str] = mapped_column(String(16))
    # Health: failing_since is the first failure after the last success (None while healthy); a day of
    # failures disables the endpoint (disabled_at) and tells the platform's owner.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    failing_since: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="", server_default=text("''"))


class WebhookDelivery(UUIDv7Base):
    """One event for one endpoint: the exact body (signed afresh on every attempt) and what happened."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_pending", "created_at", postgresql_where=text("status = 'pending'")),
    )

    endpoint_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    idea_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="SET NULL"), default=None)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    response_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(String(2000), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class WebhookThresholdCrossing(DefaultBase):
    """An idea that reached an endpoint's coin threshold: the event is sent once per endpoint and idea."""

    __tablename__ = "webhook_threshold_crossings"
    __table_args__ = (PrimaryKeyConstraint("endpoint_id", "idea_id", name="pk_webhook_threshold_crossings"),)

    endpoint_id: Mapped[UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    idea_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"))
    coins: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
