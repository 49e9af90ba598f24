"""analytics: outcomes of implemented ideas; audit events indexed by entity for a campaign's audit trail

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idea_outcomes",
        sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("metric_name", sa.String(length=100), nullable=False),
        sa.Column("metric_value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("metric_unit", sa.String(length=32), nullable=False),
        sa.Column("recorded_by_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column(
            "recorded_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.CheckConstraint("char_length(note) BETWEEN 1 AND 2000", name=op.f("ck_idea_outcomes_note_length")),
        sa.CheckConstraint(
            "char_length(metric_name) BETWEEN 1 AND 100", name=op.f("ck_idea_outcomes_metric_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_idea_outcomes_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_outcomes_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_idea_outcomes_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_outcomes")),
    )
    op.create_index("ix_idea_outcomes_idea", "idea_outcomes", ["idea_id", "recorded_at"], unique=False)
    op.create_index("ix_idea_outcomes_campaign", "idea_outcomes", ["campaign_id", "recorded_at"], unique=False)
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id", "occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
    op.drop_index("ix_idea_outcomes_campaign", table_name="idea_outcomes")
    op.drop_index("ix_idea_outcomes_idea", table_name="idea_outcomes")
    op.drop_table("idea_outcomes")
