"""Balances and the append-only ledger. The database itself refuses a negative or inconsistent balance."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

LEDGER_KINDS = ("grant", "reward", "allocate", "release", "move", "expend", "recycle", "forfeit")


class CoinBalance(DefaultBase):
    """One row per member and campaign: `granted = available + allocated + expended`, nothing negative."""

    __tablename__ = "coin_balances"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "user_id", name="pk_coin_balances"),
        CheckConstraint("available >= 0", name="available_non_negative"),
        CheckConstraint("allocated >= 0", name="allocated_non_negative"),
        CheckConstraint("expended >= 0", name="expended_non_negative"),
        CheckConstraint("granted = available + allocated + expended", name="granted_is_sum"),
        Index("ix_coin_balances_user", "user_id"),
    )

    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    granted: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    available: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    allocated: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    expended: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class LedgerEntry(DefaultBase):
    """Append-only: rows are inserted, never updated or deleted (a trigger refuses both)."""

    __tablename__ = "coin_ledger"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('grant', 'reward', 'allocate', 'release', 'move', 'expend', 'recycle', 'forfeit')",
            name="kind_known",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("votes >= 0", name="votes_non_negative"),
        Index("ix_coin_ledger_member", "campaign_id", "user_id", "id"),
        Index("ix_coin_ledger_idea", "idea_id"),
        # The initial grant happens once per member and campaign, however often activation or joining runs.
        Index(
            "uq_coin_ledger_one_initial_grant",
            "campaign_id",
            "user_id",
            unique=True,
            postgresql_where=text("kind = 'grant'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    actor_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    idea_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ideas.id"), default=None)
    # For a move: the idea the coins came from (`idea_id` is where they went).
    from_idea_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ideas.id"), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    reason: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class CoinAllocation(DefaultBase):
    """A member's coins on one idea. `votes` equals `coins` under linear pricing and isqrt(coins) under
    quadratic pricing; rows disappear when their coins go back to the member (release, recycle)."""

    __tablename__ = "coin_allocations"
    __table_args__ = (
        PrimaryKeyConstraint("idea_id", "user_id", name="pk_coin_allocations"),
        CheckConstraint("coins >= 0", name="coins_non_negative"),
        CheckConstraint("votes >= 0", name="votes_non_negative"),
        Index("ix_coin_allocations_member", "campaign_id", "user_id"),
    )

    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    idea_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ideas.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    coins: Mapped[int] = mapped_column(Integer, default=0)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())


class CoinRequest(DefaultBase):
    """One row per Idempotency-Key: a repeat of the request returns `response` and moves nothing."""

    __tablename__ = "coin_requests"
    __table_args__ = (PrimaryKeyConstraint("user_id", "key", name="pk_coin_requests"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(300))
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), server_default=func.now())
