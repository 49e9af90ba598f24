"""The campaign's advisory lock: coin operations take it shared, whatever must not run beside them exclusively.

Completing a campaign and settling an idea's coins (accept, withdraw, reject, merge) take it exclusively
first, so nothing moves after completion and a settlement never runs beside a member's own operation (which
takes it shared inside the coin function, `coins/coins/sql/coin_member_move.sql`, with the same key).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


def campaign_lock_key(campaign_id: UUID) -> Any:
    return func.hashtextextended(str(campaign_id), 0)


async def lock_campaign_shared(session: AsyncSession, campaign_id: UUID) -> None:
    await session.execute(select(func.pg_advisory_xact_lock_shared(campaign_lock_key(campaign_id))))


async def lock_campaign_exclusive(session: AsyncSession, campaign_id: UUID) -> None:
    """Wait for in-flight coin operations of the campaign to finish and keep new ones out until commit."""
    await session.execute(select(func.pg_advisory_xact_lock(campaign_lock_key(campaign_id))))


async def holds_campaign_exclusive(session: AsyncSession, campaign_id: UUID) -> bool:
    """Whether this transaction may act as the exclusive holder: it holds the lock already, or nobody holds
    it (then it takes it now, which is just as safe).  Never waits."""
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(campaign_lock_key(campaign_id)))))
