"""platforms: API keys, allowed campaigns, permalinks, platform ideas, webhook endpoints and deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_hint", sa.String(length=16), nullable=False),
        sa.Column("key_rotated_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_by_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("char_length(key_hash) = 64", name=op.f("ck_platforms_key_hash_is_sha256")),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name=op.f("ck_platforms_name_length")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_platforms_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_platforms_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_platforms_name")),
    )
    op.create_table(
        "permalinks",
        sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("platform_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("context_id", sa.String(length=200), nullable=False),
        sa.Column("tag_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=True)), nullable=False),
        sa.Column("title", sa.String(length=255), server_default=sa.text("''"), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=True),
        sa.Column("created_by_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.CheckConstraint("char_length(context_id) BETWEEN 1 AND 200", name=op.f("ck_permalinks_context_length")),
        sa.CheckConstraint("char_length(token) >= 10", name=op.f("ck_permalinks_token_length")),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_permalinks_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_permalinks_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_permalinks_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permalinks")),
        sa.UniqueConstraint("token", name=op.f("uq_permalinks_token")),
    )
    op.create_index("ix_permalinks_campaign", "permalinks", ["campaign_id", "created_at"], unique=False)
    op.create_index("ix_permalinks_platform", "permalinks", ["platform_id", "created_at"], unique=False)
    op.create_table(
        "platform_campaigns",
        sa.Column("platform_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_platform_campaigns_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_platform_campaigns_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("platform_id", "campaign_id", name="pk_platform_campaigns"),
    )
    op.create_index("ix_platform_campaigns_campaign", "platform_campaigns", ["campaign_id"], unique=False)
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("platform_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("coins_threshold", sa.Integer(), nullable=True),
        sa.Column("secret_salt", sa.String(length=64), nullable=False),
        sa.Column("secret_hint", sa.String(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failing_since", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_success_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_failure_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("disabled_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=500), server_default=sa.text("''"), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f("ck_webhook_endpoints_url_http")),
        sa.CheckConstraint("cardinality(events) >= 1", name=op.f("ck_webhook_endpoints_has_events")),
        sa.CheckConstraint(
            "coins_threshold IS NULL OR coins_threshold >= 1", name=op.f("ck_webhook_endpoints_threshold_positive")
        ),
        sa.CheckConstraint("consecutive_failures >= 0", name=op.f("ck_webhook_endpoints_failures_non_negative")),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_webhook_endpoints_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_platform", "webhook_endpoints", ["platform_id"], unique=False)
    op.create_table(
        "platform_ideas",
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("platform_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("permalink_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("context_id", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_platform_ideas_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["permalink_id"],
            ["permalinks.id"],
            name=op.f("fk_platform_ideas_permalink_id_permalinks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_platform_ideas_platform_id_platforms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_platform_ideas")),
    )
    op.create_index(
        "ix_platform_ideas_context", "platform_ideas", ["platform_id", "context_id", "idea_id"], unique=False
    )
    op.create_index(op.f("ix_platform_ideas_permalink_id"), "platform_ideas", ["permalink_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("endpoint_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=2000), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_attempt_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("delivered_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_webhook_deliveries_status_known")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_webhook_deliveries_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_webhook_deliveries_idea_id_ideas"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "created_at"], unique=False)
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_threshold_crossings",
        sa.Column("endpoint_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("coins", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_threshold_crossings_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_webhook_threshold_crossings_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "idea_id", name="pk_webhook_threshold_crossings"),
    )


def downgrade() -> None:
    op.drop_table("webhook_threshold_crossings")
    op.drop_index(
        "ix_webhook_deliveries_pending", table_name="webhook_deliveries", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_platform_ideas_permalink_id"), table_name="platform_ideas")
    op.drop_index("ix_platform_ideas_context", table_name="platform_ideas")
    op.drop_table("platform_ideas")
    op.drop_index("ix_webhook_endpoints_platform", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_platform_campaigns_campaign", table_name="platform_campaigns")
    op.drop_table("platform_campaigns")
    op.drop_index("ix_permalinks_platform", table_name="permalinks")
    op.drop_index("ix_permalinks_campaign", table_name="permalinks")
    op.drop_table("permalinks")
    op.drop_table("platforms")
