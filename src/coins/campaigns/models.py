from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase, UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

CAMPAIGN_TYPES = ("open", "mediated", "closed")
CAMPAIGN_STATUSES = ("draft", "active", "completed", "archived")
MEMBER_ROLES = ("member", "manager")
TAG_KINDS = ("category", "feature", "priority", "platform")
INVITATION_STATUSES = ("pending", "accepted", "expired", "revoked")
PRICING = ("linear", "quadratic")


class Campaign(UUIDv7AuditBase):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug_format"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("campaign_type IN ('open', 'mediated', 'closed')", name="type_known"),
        CheckConstraint("status IN ('draft', 'active', 'completed', 'archived')", name="status_known"),
        CheckConstraint("initial_allocation >= 0", name="initial_allocation_non_negative"),
        CheckConstraint("idea_submission_reward >= 0", name="reward_non_negative"),
        CheckConstraint("min_allocation_amount >= 1", name="min_allocation_positive"),
        CheckConstraint(
            "max_allocation_per_idea IS NULL OR max_allocation_per_idea >= min_allocation_amount",
            name="max_allocation_at_least_min",
        ),
        CheckConstraint("pricing IN ('linear', 'quadratic')", name="pricing_known"),
        CheckConstraint("cost_cents IS NULL OR cost_cents >= 0", name="cost_non_negative"),
    )

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Rendered and sanitised once on save, so pages never run Markdown on the hot path.
    description_html: Mapped[str] = mapped_column(Text, default="")
    banner_path: Mapped[str | None] = mapped_column(String(300), default=None)
    icon_path: Mapped[str | None] = mapped_column(String(300), default=None)
    starts_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    campaign_type: Mapped[str] = mapped_column(String(16), default="open")
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default=text("'draft'"), index=True)
    # The coin policy (SPEC.md defaults).
    initial_allocation: Mapped[int] = mapped_column(Integer, default=100)
    idea_submission_reward: Mapped[int] = mapped_column(Integer, default=0)
    allow_reallocation: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_recycling: Mapped[bool] = mapped_column(Boolean, default=True)
    max_allocation_per_idea: Mapped[int | None] = mapped_column(Integer, default=None)
    min_allocation_amount: Mapped[int] = mapped_column(Integer, default=1)
    pricing: Mapped[str] = mapped_column(String(16), default="linear")
    # Entered by an admin for the executive dashboard (cost per engaged member).
    cost_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    activated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    archived_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # Set by the conditional update that sends the "ends in 48 hours" notice: it is sent once.
    ending_notice_sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class CampaignMember(UUIDv7Base):
    __tablename__ = "campaign_members"
    __table_args__ = (
        CheckConstraint("role IN ('member', 'manager')", name="role_known"),
        Index("uq_campaign_members_campaign_user", "campaign_id", "user_id", unique=True),
        Index("ix_campaign_members_user", "user_id"),
    )

    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default="member")
    joined_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    # A member who leaves keeps their row (and their coins where they are); rejoining clears it.
    left_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class Invitation(UUIDv7Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("role IN ('member', 'manager')", name="role_known"),
        CheckConstraint("status IN ('pending', 'accepted', 'expired', 'revoked')", name="status_known"),
        # One live invitation per address and campaign; history rows stay.
        Index(
            "uq_invitations_pending_email",
            "campaign_id",
            "email",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16), default="member")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    invited_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    send_count: Mapped[int] = mapped_column(Integer, default=1)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    accepted_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class Tag(UUIDv7Base):
    __tablename__ = "tags"
    __table_args__ = (
        CheckConstraint("kind IN ('category', 'feature', 'priority', 'platform')", name="kind_known"),
        CheckConstraint("colour ~ '^#[0-9a-f]{6}$'", name="colour_hex"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index("uq_tags_campaign_name", "campaign_id", text("lower(name)"), unique=True),
    )

    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(String(500), default="")
    colour: Mapped[str] = mapped_column(String(7), default="#8a5a00")
    kind: Mapped[str] = mapped_column(String(16), default="category")
    parent_id: Mapped[UUID | None] = mapped_column(ForeignKey("tags.id", ondelete="SET NULL"), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
