"""notifications: the notification centre, preferences, fan-outs, digests; email headers and claims

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:32:01.908281
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email_mode", sa.String(length=16), nullable=False),
        sa.Column(
            "updated_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email_mode IN ('immediate', 'digest', 'never')",
            name=op.f("ck_notification_preferences_email_mode_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event", name="pk_notification_preferences"),
    )
    op.create_table(
        "digest_runs",
        sa.Column("user_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("email_message_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["email_message_id"],
            ["email_messages.id"],
            name=op.f("fk_digest_runs_email_message_id_email_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_digest_runs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name="pk_digest_runs"),
    )
    op.create_table(
        "notification_fanouts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("idea_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("audience", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("cursor", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("recipients", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("notified", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("emails", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("batches", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("finished_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done')", name=op.f("ck_notification_fanouts_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_notification_fanouts_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_notification_fanouts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_notification_fanouts_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_fanouts")),
    )
    op.create_index(
        "ix_notification_fanouts_open",
        "notification_fanouts",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status <> 'done'"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", advanced_alchemy.types.GUID(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("idea_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("link", sa.String(length=500), server_default=sa.text("''"), nullable=False),
        sa.Column("in_app", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("emailed", sa.String(length=16), server_default=sa.text("'none'"), nullable=False),
        sa.Column("email_message_id", advanced_alchemy.types.GUID(length=16), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("read_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.CheckConstraint(
            "emailed IN ('none', 'pending', 'sent', 'digest', 'suppressed')",
            name=op.f("ck_notifications_emailed_known"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_notifications_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_notifications_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["email_message_id"],
            ["email_messages.id"],
            name=op.f("fk_notifications_email_message_id_email_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_notifications_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_dedupe"),
    )
    op.create_index(
        "ix_notifications_digest",
        "notifications",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("emailed = 'digest'"),
    )
    op.create_index(
        "ix_notifications_email_message",
        "notifications",
        ["email_message_id"],
        unique=False,
        postgresql_where=sa.text("email_message_id IS NOT NULL"),
    )
    op.create_index(
        "ix_notifications_user_created",
        "notifications",
        ["user_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_notifications_user_unread",
        "notifications",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL AND in_app"),
    )
    op.create_table(
        "idea_coin_notices",
        sa.Column("idea_id", sa.BigInteger(), nullable=False),
        sa.Column("last_ledger_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=True),
        sa.Column("unemailed_coins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("emailed_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            advanced_alchemy.types.DateTimeUTC(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_coin_notices_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_idea_coin_notices_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("idea_id", name=op.f("pk_idea_coin_notices")),
    )
    op.add_column(
        "email_messages",
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "email_messages",
        sa.Column("claimed_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("email_messages", "claimed_at")
    op.drop_column("email_messages", "headers")
    op.drop_table("idea_coin_notices")
    op.drop_index(
        "ix_notifications_user_unread",
        table_name="notifications",
        postgresql_where=sa.text("read_at IS NULL AND in_app"),
    )
    op.drop_index("ix_notifications_user_created", table_name="notifications")
    op.drop_index(
        "ix_notifications_email_message",
        table_name="notifications",
        postgresql_where=sa.text("email_message_id IS NOT NULL"),
    )
    op.drop_index("ix_notifications_digest", table_name="notifications", postgresql_where=sa.text("emailed = 'digest'"))
    op.drop_table("notifications")
    op.drop_index(
        "ix_notification_fanouts_open",
        table_name="notification_fanouts",
        postgresql_where=sa.text("status <> 'done'"),
    )
    op.drop_table("notification_fanouts")
    op.drop_table("digest_runs")
    op.drop_table("notification_preferences")
