"""Outcomes of implemented ideas, and the indexes the analytics read through.

An outcome is what a manager says a completed idea achieved: a note and one metric (name, value, unit).
Several may be recorded for one idea (a cost saving and a satisfaction score, say); each is audited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from coins.lib.audit import AuditEvent


class IdeaOutcome(UUIDv7Base):
    __tablename__ = "idea_outcomes"
    __table_args__ = (
        CheckConstraint("char_length(note) BETWEEN 1 AND 2000", name="note_length"),
        CheckConstraint("char_length(metric_name) BETWEEN 1 AND 100", name="metric_name_length"),
        Index("ix_idea_outcomes_idea", "idea_id", "recorded_at"),
        Index("ix_idea_outcomes_campaign", "campaign_id", "recorded_at"),
    )

    idea_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"))
    # Denormalised from the idea: the executive dashboard lists outcomes per campaign without a join.
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(Text)
    metric_name: Mapped[str] = mapped_column(String(100))
    metric_value: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    metric_unit: Mapped[str] = mapped_column(String(32), default="")
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


# A campaign's audit trail looks events up by entity (the campaign, its ideas, tags and invitations); the
# audit table belongs to lib/audit.py, the index to the reader that needs it (declared here so Alembic's
# comparison sees it).
Index("ix_audit_events_entity", AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.occurred_at)
