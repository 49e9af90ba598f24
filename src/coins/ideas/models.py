from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

IDEA_STATUSES = (
    "pending",
    "competing",
    "rejected",
    "accepted",
    "in_progress",
    "complete",
    "withdrawn",
    "merged",
)


class Idea(DefaultBase):
    __tablename__ = "ideas"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'competing', 'rejected', 'accepted', 'in_progress', 'complete', "
            "'withdrawn', 'merged')",
            name="status_known",
        ),
        CheckConstraint("char_length(title) BETWEEN 1 AND 255", name="title_length"),
        CheckConstraint("char_length(description) BETWEEN 1 AND 5000", name="description_length"),
        CheckConstraint("coins >= 0", name="coins_non_negative"),
        CheckConstraint("supporters >= 0", name="supporters_non_negative"),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
        Index("ix_ideas_campaign_status", "campaign_id", "status"),
        Index("ix_ideas_campaign_context", "campaign_id", "context_id"),
        Index("ix_ideas_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
        Index("ix_ideas_search", "search_vector", postgresql_using="gin"),
        # No index on `coins`: every allocation updates it, and an unindexed counter is updated in place
        # (HOT), with room left on each page for it (migration 0007).
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    author_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    description_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rejection_reason: Mapped[str] = mapped_column(String(1000), default="", server_default=text("''"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ideas.id", ondelete="SET NULL"), default=None)
    # Where the idea came from: a platform's permalink context, and which front door.
    context_id: Mapped[str | None] = mapped_column(String(200), default=None)
    source: Mapped[str] = mapped_column(String(16), default="web", server_default=text("'web'"))
    # Denormalised totals, kept in step by the coin operations in the same transaction (the audit checks).
    coins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    supporters: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    status_changed_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(description, '')), 'B')",
            persisted=True,
        ),
    )


class IdeaTag(DefaultBase):
    __tablename__ = "idea_tags"
    __table_args__ = (
        PrimaryKeyConstraint("idea_id", "tag_id", name="pk_idea_tags"),
        Index("ix_idea_tags_tag", "tag_id", "idea_id"),
    )

    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    tag_id: Mapped[UUID] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))


class IdeaVersion(DefaultBase):
    """Every edit: who, when, and the full text after it (so any two versions can be compared)."""

    __tablename__ = "idea_versions"
    __table_args__ = (Index("ix_idea_versions_idea", "idea_id", "number"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    editor_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    tag_names: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    changed: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class IdeaStatusChange(DefaultBase):
    __tablename__ = "idea_status_changes"
    __table_args__ = (Index("ix_idea_status_changes_idea", "idea_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    actor_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
